import type { RetrieveRequest } from '@passage/retrieval';
import {
  AbortedError,
  InvalidRequestError,
  NotFoundError,
  estimateTokens,
  silentLogger,
  toAppError,
  type AnswerEvent,
  type Catalog,
  type ChatMessage,
  type ChatModel,
  type Logger,
  type RetrievalMode,
  type SearchHit,
  type Source,
  type TextAnalyzer,
} from '@passage/spec';
import { checkCitations } from './citations.js';
import { condenseQuestion, type CondenseOptions } from './condense-question.js';
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
  /**
   * Checked before a condense call, so that a question to an unknown knowledge base costs no
   * model request. Default: none (the retriever finds out, after condensing).
   */
  catalog?: Pick<Catalog, 'getKnowledgeBase'> | null;
  prompt?: PromptOptions;
  extractive?: ExtractiveOptions;
  /**
   * Rewriting a follow-up into a standalone question for retrieval, by the chat model, when there
   * is a model and history. `false` turns it off (recent user turns are used instead).
   * Default: on, with the defaults of CondenseOptions.
   */
  condense?: CondenseOptions | false;
  /** Passages retrieved when a request names no topK. Default: 5. */
  defaultTopK?: number;
  /** Earlier user turns added to the retrieval query when history is not condensed. Default: 2. */
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

/** Approximate tokens (estimateTokens) of the model calls of one answer, condensing included. */
export interface AnswerUsage {
  promptTokens: number;
  completionTokens: number;
}

export type AnswerEndEvent = Extract<AnswerEvent, { type: 'end' }> & { usage: AnswerUsage };

/** An `error` event, with the wait the model server asked for when it named one. */
export type AnswerErrorEvent = Extract<AnswerEvent, { type: 'error' }> & { retryAfterSeconds?: number };

/** The events of AnswerService: AnswerEvent, whose `end` also carries usage and `error` a retry hint. */
export type AnswerServiceEvent = Exclude<AnswerEvent, { type: 'end' | 'error' }> | AnswerEndEvent | AnswerErrorEvent;

/**
 * Drives a question through retrieval and generation as one sequence of events: `sources`, then
 * `text-delta`s, then `end` or `error`. Failures before `sources` (unknown knowledge base, bad
 * request, a failed condense call) are thrown, so transports can answer them with a status code;
 * after that every failure is an `error` event and never answer text. An abort ends the sequence
 * without further events and stops the work, the model request included.
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

  async *answer(request: AnswerRequest): AsyncGenerator<AnswerServiceEvent, void, undefined> {
    const started = performance.now();
    const question = request.question.trim();
    if (question.length === 0) throw new InvalidRequestError('question must not be empty');
    const history = request.history ?? [];
    const chatModel = this.#options.chatModel;
    const usage: AnswerUsage = { promptTokens: 0, completionTokens: 0 };

    const query = await this.#retrievalQuery(request, question, history, usage);
    if (request.signal.aborted) throw new AbortedError();
    // The model's request is tied to the caller's signal, and also ends when this sequence ends
    // early: a consumer that stops reading stops the work.
    const work = new AbortController();
    const stopWork = () => work.abort();
    request.signal.addEventListener('abort', stopWork, { once: true });
    let finished = false;
    let deltas: AsyncIterator<string> | null = null;
    try {
      const prepared = await this.#prepare(request, question, query, history, usage, work.signal);
      if (request.signal.aborted) throw new AbortedError();
      const retrievalMs = performance.now() - started;
      // Only the count is needed from here on: the passages' text is not held while the answer streams.
      const sourceCount = prepared.sources.length;
      deltas = toAsyncIterator(prepared.deltas);
      // Asked for now, the model's request leaves while the sources are written rather than after.
      let pending: Promise<IteratorResult<string>> | null = deltas.next();
      // Awaited below; until then a failure must not count as an unhandled rejection.
      pending.catch(() => {});
      yield { type: 'sources', sources: prepared.sources };
      prepared.sources = [];

      let answer = '';
      let firstTokenMs: number | null = null;
      try {
        for (;;) {
          const result = await (pending ?? deltas.next());
          pending = null;
          if (request.signal.aborted) return;
          if (result.done) break;
          const delta = result.value;
          if (delta.length === 0) continue;
          firstTokenMs ??= performance.now() - started;
          answer += delta;
          yield { type: 'text-delta', delta };
        }
      } catch (error) {
        finished = true;
        if (request.signal.aborted || error instanceof AbortedError) return;
        const appError = toAppError(error);
        this.#logger.warn({ code: appError.code, err: error, knowledgeBaseId: request.knowledgeBaseId }, 'answer failed');
        yield {
          type: 'error',
          code: appError.code,
          message: appError.message,
          ...(appError.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: appError.retryAfterSeconds }),
        };
        return;
      }
      finished = true;
      // A model stream cut short by the abort may end quietly; that is not a finished answer.
      if (request.signal.aborted) return;
      const check = checkCitations(answer, sourceCount);
      usage.completionTokens += estimateTokens(answer);
      yield {
        type: 'end',
        answer,
        citations: check.citations,
        invalidCitations: check.invalidCitations,
        mode: chatModel ? 'llm' : 'extractive',
        timings: {
          retrievalMs: round(retrievalMs),
          rerankMs: prepared.rerankMs === null ? null : round(prepared.rerankMs),
          firstTokenMs: firstTokenMs === null ? null : round(firstTokenMs),
          totalMs: round(performance.now() - started),
        },
        usage,
      };
    } finally {
      request.signal.removeEventListener('abort', stopWork);
      if (!finished) {
        work.abort();
        // Lets the model's stream run its own cleanup (timers, connection) now rather than never.
        deltas?.return?.().catch(() => {});
      }
    }
  }

  /**
   * Retrieves the passages and starts the answer: the model's stream over a prompt that fits the
   * budget, or the extractive sentences. Citations are checked against what the model was sent,
   * which the budget may have cut, so the sources are the prompt's.
   */
  async #prepare(
    request: AnswerRequest,
    question: string,
    query: string,
    history: ChatMessage[],
    usage: AnswerUsage,
    signal: AbortSignal,
  ): Promise<{ sources: Source[]; deltas: AsyncIterable<string> | Iterable<string>; rerankMs: number | null }> {
    let rerankMs: number | null = null;
    const hits = await this.#options.retriever.search({
      knowledgeBaseId: request.knowledgeBaseId,
      query,
      topK: request.topK ?? this.#options.defaultTopK ?? 5,
      onRerank: (timing) => (rerankMs = timing.rerankMs),
      signal: request.signal,
      ...(request.mode === undefined ? {} : { mode: request.mode }),
    });
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
    if (chatModel) {
      const prompt = buildPrompt({ question, history, sources: retrieved, sourceTokens: hits.map((hit) => hit.chunk.tokens) }, this.#options.prompt);
      usage.promptTokens += prompt.promptTokens;
      return { sources: prompt.sources, deltas: chatModel.stream({ messages: prompt.messages, signal }), rerankMs };
    }
    // The retrieval query, not the bare question: a follow-up's subject is in the earlier turns.
    const sentences = selectSentences(query, retrieved, this.#options.analyzer, this.#options.extractive);
    return { sources: retrieved, deltas: extractiveDeltas(sentences, retrieved.length > 0), rerankMs };
  }

  /**
   * The text retrieval searches with. A follow-up ("and when was it built?") names its subject
   * only in earlier turns: with a model, the model rewrites it as a standalone question; without
   * one, the recent user turns go in with it.
   */
  async #retrievalQuery(request: AnswerRequest, question: string, history: ChatMessage[], usage: AnswerUsage): Promise<string> {
    if (history.length === 0) return question;
    const chatModel = this.#options.chatModel;
    const condense = this.#options.condense;
    if (chatModel && condense !== false) {
      const catalog = this.#options.catalog;
      if (catalog && (await catalog.getKnowledgeBase(request.knowledgeBaseId)) === null) {
        throw new NotFoundError('knowledge_base_not_found', `Knowledge base ${request.knowledgeBaseId} does not exist`);
      }
      const condensed = await condenseQuestion({ chatModel, question, history, signal: request.signal }, condense);
      usage.promptTokens += condensed.promptTokens;
      usage.completionTokens += condensed.completionTokens;
      this.#logger.debug({ knowledgeBaseId: request.knowledgeBaseId, question, standalone: condensed.question }, 'condensed question');
      return condensed.question;
    }
    const turns = this.#options.retrievalHistoryTurns ?? 2;
    if (turns === 0) return question;
    const earlier = history
      .filter((message) => message.role === 'user')
      .slice(-turns)
      .map((message) => message.content);
    return [...earlier, question].join('\n');
  }
}

function round(milliseconds: number): number {
  return Math.round(milliseconds * 10) / 10;
}

function toAsyncIterator(deltas: AsyncIterable<string> | Iterable<string>): AsyncIterator<string> {
  if (Symbol.asyncIterator in deltas) return deltas[Symbol.asyncIterator]();
  const iterator = deltas[Symbol.iterator]();
  return { next: async () => iterator.next() };
}
