import type { RetrieveRequest } from '@passage/retrieval';
import {
  AbortedError,
  InvalidRequestError,
  silentLogger,
  toAppError,
  type AnswerEvent,
  type ChatMessage,
  type ChatModel,
  type Logger,
  type RetrievalMode,
  type SearchHit,
  type Source,
  type TextAnalyzer,
} from '@passage/spec';
import { checkCitations } from './citations.js';
import { extractiveDeltas, selectSentences, type ExtractiveOptions } from './extractive-answer.js';
import { buildPrompt, type PromptOptions } from './prompt.js';

/** What answering needs of retrieval (the Retriever, or a stand-in in tests). */
export interface PassageSearch {
  search(request: RetrieveRequest): Promise<SearchHit[]>;
}

export interface AnswerServiceOptions {
  retriever: PassageSearch;
  analyzer: TextAnalyzer;
  /** Answers come from this model when given; otherwise they are extractive. Default: none. */
  chatModel?: ChatModel | null;
  prompt?: PromptOptions;
  extractive?: ExtractiveOptions;
  /** Passages retrieved when a request names no topK. Default: 5. */
  defaultTopK?: number;
  /** Earlier user turns added to the retrieval query when there is history. Default: 2. */
  retrievalHistoryTurns?: number;
  logger?: Logger;
}

export interface AnswerRequest {
  knowledgeBaseId: string;
  question: string;
  history?: ChatMessage[];
  topK?: number;
  mode?: RetrievalMode;
  signal: AbortSignal;
}

/**
 * Drives a question through retrieval and generation as one sequence of events: `sources`, then
 * `text-delta`s, then `end` or `error`. Failures before `sources` (unknown knowledge base, bad
 * request) are thrown, so transports can answer them with a status code; after that every failure
 * is an `error` event and never answer text. An abort ends the sequence without further events.
 */
export class AnswerService {
  readonly #options: AnswerServiceOptions;
  readonly #logger: Logger;

  constructor(options: AnswerServiceOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  get mode(): 'llm' | 'extractive' {
    return this.#options.chatModel ? 'llm' : 'extractive';
  }

  async *answer(request: AnswerRequest): AsyncGenerator<AnswerEvent, void, undefined> {
    const started = performance.now();
    const question = request.question.trim();
    if (question.length === 0) throw new InvalidRequestError('question must not be empty');
    const history = request.history ?? [];

    const hits = await this.#options.retriever.search({
      knowledgeBaseId: request.knowledgeBaseId,
      query: this.#retrievalQuery(question, history),
      topK: request.topK ?? this.#options.defaultTopK ?? 5,
      signal: request.signal,
      ...(request.mode === undefined ? {} : { mode: request.mode }),
    });
    const retrievalMs = performance.now() - started;
    const retrieved: Source[] = hits.map((hit, position) => ({
      index: position + 1,
      documentId: hit.chunk.documentId,
      documentName: hit.chunk.documentName,
      page: hit.chunk.page,
      chunkId: hit.chunk.id,
      score: hit.score,
      text: hit.chunk.text,
    }));

    const chatModel = this.#options.chatModel;
    const prompt = chatModel ? buildPrompt({ question, history, sources: retrieved }, this.#options.prompt) : null;
    const sources = prompt?.sources ?? retrieved;
    yield { type: 'sources', sources };

    let answer = '';
    let firstTokenMs: number | null = null;
    try {
      const deltas = chatModel && prompt
        ? chatModel.stream({ messages: prompt.messages, signal: request.signal })
        : extractiveDeltas(selectSentences(question, sources, this.#options.analyzer, this.#options.extractive), sources.length > 0);
      for await (const delta of deltas) {
        if (request.signal.aborted) return;
        if (delta.length === 0) continue;
        firstTokenMs ??= performance.now() - started;
        answer += delta;
        yield { type: 'text-delta', delta };
      }
    } catch (error) {
      if (request.signal.aborted || error instanceof AbortedError) return;
      const appError = toAppError(error);
      this.#logger.warn({ code: appError.code, err: error, knowledgeBaseId: request.knowledgeBaseId }, 'answer failed');
      yield { type: 'error', code: appError.code, message: appError.message };
      return;
    }
    // A model stream cut short by the abort may end quietly; that is not a finished answer.
    if (request.signal.aborted) return;
    const check = checkCitations(answer, sources.length);
    yield {
      type: 'end',
      answer,
      citations: check.citations,
      invalidCitations: check.invalidCitations,
      mode: chatModel ? 'llm' : 'extractive',
      timings: {
        retrievalMs: round(retrievalMs),
        firstTokenMs: firstTokenMs === null ? null : round(firstTokenMs),
        totalMs: round(performance.now() - started),
      },
    };
  }

  /** Without a model to condense the conversation, recent user turns give a follow-up its subject. */
  #retrievalQuery(question: string, history: ChatMessage[]): string {
    const turns = this.#options.retrievalHistoryTurns ?? 2;
    if (turns === 0) return question;
    const earlier = history.filter((message) => message.role === 'user').slice(-turns).map((message) => message.content);
    return [...earlier, question].join('\n');
  }
}

function round(milliseconds: number): number {
  return Math.round(milliseconds * 10) / 10;
}
