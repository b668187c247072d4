import type { AnswerEndEvent, AnswerUsage } from '@passage/answering';
import type { Source } from '@passage/spec';
import type { OpenAiErrorBody } from './http-errors.js';
import { sourcesJson } from './sources-json.js';

/** What every chunk and the completion of one answer share. */
export interface CompletionIdentity {
  id: string;
  created: number;
  model: string;
}

/** OpenAI's `usage`. */
export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** A `chat.completion`, with the extra `sources`, `citations` and `invalid_citations`. */
export interface ChatCompletion extends CompletionIdentity {
  object: 'chat.completion';
  choices: Array<{ index: 0; message: { role: 'assistant'; content: string; refusal: null }; logprobs: null; finish_reason: 'stop' }>;
  usage: CompletionUsage;
  sources: Source[];
  citations: number[];
  invalid_citations: number[];
}

export function usageOf(usage: AnswerUsage): CompletionUsage {
  return { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.promptTokens + usage.completionTokens };
}

/** The non-streamed answer. */
export function chatCompletion(completion: CompletionIdentity, sources: Source[], end: AnswerEndEvent): ChatCompletion {
  return {
    ...completion,
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: end.answer, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: usageOf(end.usage),
    sources,
    citations: end.citations,
    invalid_citations: end.invalidCitations,
  };
}

/**
 * The SSE blocks of one streamed answer, one function per kind of `chat.completion.chunk`. The
 * fields every chunk repeats (id, created, model, and `usage: null` when usage was asked for) are
 * rendered once per answer; a delta chunk is rendered around its JSON-escaped text.
 */
export class ChatCompletionChunks {
  /** The end of the stream. */
  static readonly done = 'data: [DONE]\n\n';

  readonly #head: string;
  readonly #usageNull: string;
  readonly #deltaHead: string;
  readonly #deltaTail: string;

  constructor(completion: CompletionIdentity, includeUsage: boolean) {
    this.#head = `data: {"id":${JSON.stringify(completion.id)},"object":"chat.completion.chunk","created":${completion.created},"model":${JSON.stringify(completion.model)},`;
    this.#usageNull = includeUsage ? ',"usage":null' : '';
    this.#deltaHead = `${this.#head}"choices":[{"index":0,"delta":{"content":`;
    this.#deltaTail = `},"logprobs":null,"finish_reason":null}]${this.#usageNull}}\n\n`;
  }

  /** The first chunk: the assistant role, and the passages in the extra `sources` field. */
  first(sources: Source[]): string {
    return `${this.#head}"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]${this.#usageNull},"sources":${sourcesJson.render(sources)}}\n\n`;
  }

  /** A piece of the answer. */
  delta(text: string): string {
    return `${this.#deltaHead}${JSON.stringify(text)}${this.#deltaTail}`;
  }

  /** The last chunk with a choice: `finish_reason: "stop"` and the checked citations. */
  stop(citations: number[], invalidCitations: number[]): string {
    return `${this.#head}"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]${this.#usageNull},"citations":${JSON.stringify(citations)},"invalid_citations":${JSON.stringify(invalidCitations)}}\n\n`;
  }

  /** The chunk with `choices: []` and the usage, sent when `stream_options.include_usage` asked for it. */
  usage(usage: AnswerUsage): string {
    return `${this.#head}"choices":[],"usage":${JSON.stringify(usageOf(usage))}}\n\n`;
  }

  /** OpenAI's way to fail a stream that has started; its clients raise it as an error. */
  static error(body: OpenAiErrorBody): string {
    return `data: ${JSON.stringify(body)}\n\n`;
  }
}
