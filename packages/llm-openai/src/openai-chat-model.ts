import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { AppError, type ChatModel, type ChatStreamRequest } from '@passage/spec';
import { chatCompletionDeltas } from './chat-completion-deltas.js';
import { mapOpenAiError } from './map-openai-error.js';
import { createNodeHttpFetch, eventStreamOf } from './node-http-fetch.js';
import { TimedChatStream } from './timed-chat-stream.js';

export interface OpenAiChatModelOptions {
  model: string;
  /** Any OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp). Default: https://api.openai.com/v1. */
  baseUrl?: string;
  /** Servers that need none (Ollama, llama.cpp) get a placeholder. */
  apiKey?: string;
  /** Default: 0.1. */
  temperature?: number;
  /** Default: 1024 tokens. */
  maxTokens?: number;
  /**
   * Retries of connection errors and 408/409/429/5xx before the first token, with exponential
   * backoff (0.5 s, 1 s, 2 s … up to 8 s) or the server's Retry-After. Default: 2.
   */
  maxRetries?: number;
  /** Longest wait for the next token (the first included), ms. Default: 30000. */
  idleTimeoutMs?: number;
  /** Longest time for a whole answer, ms. Default: 120000. */
  timeoutMs?: number;
  /** Idle kept-alive connections to the model server kept for the next answers. Default: 1024. */
  maxIdleConnections?: number;
}

/**
 * A ChatModel over any OpenAI-compatible chat completions endpoint, streamed.
 * The official `openai` SDK builds, authenticates and sends each request (with the request's
 * AbortSignal) and turns HTTP failures into its error classes; its transport is `node:http`
 * (node-http-fetch.ts) and the answer's events are decoded from the Node stream
 * (chat-completion-deltas.ts) instead of through fetch and web streams, which cost more CPU per
 * token than everything else a relay does; deadlines and error mapping are TimedChatStream's.
 * Retries are ours, not the SDK's (`maxRetries: 0` there), so that they happen only before the
 * first token and never outlast the idle and total timeouts.
 */
export class OpenAiChatModel implements ChatModel {
  readonly name: string;
  readonly #options: OpenAiChatModelOptions;
  readonly #client: OpenAI;

  constructor(options: OpenAiChatModelOptions) {
    this.name = options.model;
    this.#options = options;
    this.#client = new OpenAI({
      apiKey: options.apiKey ?? 'not-needed',
      fetch: createNodeHttpFetch(options.maxIdleConnections === undefined ? {} : { maxIdleConnections: options.maxIdleConnections }).fetch,
      maxRetries: 0,
      timeout: options.timeoutMs ?? 120_000,
      ...(options.baseUrl === undefined ? {} : { baseURL: options.baseUrl }),
    });
  }

  stream(request: ChatStreamRequest): AsyncIterableIterator<string> {
    const body: OpenAI.Chat.ChatCompletionCreateParamsStreaming = {
      model: this.#options.model,
      messages: request.messages,
      stream: true,
      temperature: request.temperature ?? this.#options.temperature ?? 0.1,
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- OpenAI-compatible servers (vLLM, llama.cpp, Ollama) read max_tokens, not max_completion_tokens
      max_tokens: request.maxTokens ?? this.#options.maxTokens ?? 1024,
    };
    return new TimedChatStream(request.signal, {
      idleTimeoutMs: this.#options.idleTimeoutMs ?? 30_000,
      totalTimeoutMs: this.#options.timeoutMs ?? 120_000,
      open: (signal, remainingMs) => this.#open(body, signal, remainingMs),
    });
  }

  /**
   * Opens the stream, retrying what may succeed (connection errors, 408/409/429/5xx) with
   * exponential backoff, or after Retry-After when the server names a wait. Retries happen only
   * here, before the first token: a stream that already sent text is never silently restarted. A
   * wait that would outlast the time left (`remainingMs`) fails at once with the server's reason
   * instead of ending later as a timeout.
   */
  async #open(body: OpenAI.Chat.ChatCompletionCreateParamsStreaming, signal: AbortSignal, remainingMs: () => number): Promise<AsyncIterableIterator<string>> {
    const maxRetries = this.#options.maxRetries ?? 2;
    for (let attempt = 0; ; attempt += 1) {
      try {
        // The raw Response: the SDK has sent the request and checked the status; the body is ours to decode.
        const response = await this.#client.chat.completions.create(body, { signal }).asResponse();
        const stream = eventStreamOf(response);
        if (stream === undefined) {
          throw new AppError(
            'llm_failed',
            `The language model answered ${response.headers.get('content-type') ?? 'no content type'} instead of an event stream`,
          );
        }
        return chatCompletionDeltas(stream, response.headers);
      } catch (error) {
        if (signal.aborted) throw error;
        const failure = mapOpenAiError(error, 'llm');
        if (!failure.retryable || attempt >= maxRetries) throw failure;
        const delayMs = retryDelayMs(attempt, failure.retryAfterSeconds);
        if (delayMs >= remainingMs()) throw failure;
        await sleep(delayMs, undefined, { signal });
      }
    }
  }
}

/** Retry-After when given (up to a minute), else 0.5 s doubling up to 8 s, less up to 25% jitter. */
export function retryDelayMs(attempt: number, retryAfterSeconds: number | undefined): number {
  if (retryAfterSeconds !== undefined && retryAfterSeconds <= 60) return retryAfterSeconds * 1000;
  return Math.min(500 * 2 ** attempt, 8000) * (1 - Math.random() * 0.25);
}
