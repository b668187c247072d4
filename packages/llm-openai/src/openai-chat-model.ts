import OpenAI from 'openai';
import { AbortedError, AppError, type ChatModel, type ChatStreamRequest } from '@passage/spec';
import { mapOpenAiError } from './map-openai-error.js';

export interface OpenAiChatModelOptions {
  model: string;
  /** Any OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp). Default: the SDK's (api.openai.com). */
  baseUrl?: string;
  /** Servers that need none (Ollama, llama.cpp) get a placeholder. */
  apiKey?: string;
  /** Default: 0.1. */
  temperature?: number;
  /** Default: 1024 tokens. */
  maxTokens?: number;
  /**
   * Retries of connection errors and 408/409/429/5xx before the first token, with exponential
   * backoff honouring Retry-After (the SDK's own retry). Default: 2.
   */
  maxRetries?: number;
  /** Longest wait for the next token (the first included), ms. Default: 30000. */
  idleTimeoutMs?: number;
  /** Longest time for a whole answer, ms. Default: 120000. */
  timeoutMs?: number;
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
}

/** A ChatModel over any OpenAI-compatible chat completions endpoint, streamed. */
export class OpenAiChatModel implements ChatModel {
  readonly name: string;
  readonly #client: OpenAI;
  readonly #options: OpenAiChatModelOptions;

  constructor(options: OpenAiChatModelOptions) {
    this.name = options.model;
    this.#options = options;
    this.#client = new OpenAI({
      apiKey: options.apiKey ?? 'not-needed',
      maxRetries: options.maxRetries ?? 2,
      timeout: options.timeoutMs ?? 120_000,
      ...(options.baseUrl === undefined ? {} : { baseURL: options.baseUrl }),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
  }

  async *stream(request: ChatStreamRequest): AsyncGenerator<string, void, undefined> {
    request.signal.throwIfAborted();
    const controller = new AbortController();
    const abortFromCaller = () => controller.abort(request.signal.reason);
    request.signal.addEventListener('abort', abortFromCaller, { once: true });
    let timedOut: 'idle' | 'total' | null = null;
    const idleTimeoutMs = this.#options.idleTimeoutMs ?? 30_000;
    const totalTimeoutMs = this.#options.timeoutMs ?? 120_000;
    let idleTimer = setTimeout(() => expire('idle'), idleTimeoutMs);
    const totalTimer = setTimeout(() => expire('total'), totalTimeoutMs);
    function expire(kind: 'idle' | 'total') {
      timedOut ??= kind;
      controller.abort();
    }
    try {
      const completion = await this.#client.chat.completions.create(
        {
          model: this.#options.model,
          messages: request.messages,
          stream: true,
          temperature: request.temperature ?? this.#options.temperature ?? 0.1,
          max_tokens: request.maxTokens ?? this.#options.maxTokens ?? 1024,
        },
        { signal: controller.signal },
      );
      for await (const chunk of completion) {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => expire('idle'), idleTimeoutMs);
        const delta = chunk.choices[0]?.delta?.content;
        if (typeof delta === 'string' && delta.length > 0) yield delta;
      }
      // The SDK ends the iteration quietly when its signal fires; an abort is never a complete answer.
      if (controller.signal.aborted) throw new AbortedError();
    } catch (error) {
      if (timedOut === 'idle') {
        throw new AppError('llm_timeout', `The language model sent nothing for ${idleTimeoutMs} ms; the request was stopped`, { cause: error });
      }
      if (timedOut === 'total') {
        throw new AppError('llm_timeout', `The language model did not finish within ${totalTimeoutMs} ms; the request was stopped`, { cause: error });
      }
      if (request.signal.aborted) throw new AbortedError();
      throw mapOpenAiError(error, 'llm');
    } finally {
      clearTimeout(idleTimer);
      clearTimeout(totalTimer);
      request.signal.removeEventListener('abort', abortFromCaller);
      // Leaving the loop early (consumer stopped) must also end the upstream request.
      controller.abort();
    }
  }
}
