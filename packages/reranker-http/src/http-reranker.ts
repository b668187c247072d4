/**
 * A Reranker over the `/rerank` HTTP API that Text Embeddings Inference, vLLM, Jina and Cohere
 * share: a query and texts in, one relevance score per text out. The adapter for
 * `RERANK_PROVIDER=http`.
 *
 * Request: `POST <baseUrl>/rerank` with `{ model, query, documents, texts, top_n, return_documents: false }`:
 * `documents` is the field of Cohere, Jina and vLLM, `texts` the one of TEI (each server ignores the
 * other). Response: TEI's `[{ index, score }]` or the others' `{ results: [{ index, relevance_score }] }`.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { AbortedError, AppError, throwIfAborted, type Reranker } from '@passage/spec';

export interface HttpRerankerOptions {
  /** The server's API root, to which `/rerank` is appended: `http://localhost:8080` (TEI), `http://host:8000/v1` (vLLM), `https://api.cohere.com/v2`. */
  baseUrl: string;
  /** Sent as `model`; servers that serve one model ignore it. Default: none sent. */
  model?: string;
  /** Sent as a bearer token. Default: none. */
  apiKey?: string;
  /** Texts per request (TEI's default server limit is 32). Default 32. */
  batchSize?: number;
  /**
   * Retries of connection errors and HTTP 408/409/429/5xx per request, waiting as Retry-After says
   * (seconds or a date; up to 60 s, a longer wait fails at once) or else 0.5 s doubling to 8 s. Default 4.
   */
  maxRetries?: number;
  /** Longest time for one request, ms. Default 60000. */
  timeoutMs?: number;
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
}

const longestRetryAfterSeconds = 60;

/** Scores texts against a query with a remote cross-encoder. Batches of one call are sent together. */
export class HttpReranker implements Reranker {
  readonly name: string;
  readonly #url: string;
  readonly #options: HttpRerankerOptions;
  readonly #batchSize: number;

  constructor(options: HttpRerankerOptions) {
    const batchSize = options.batchSize ?? 32;
    if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    this.#url = `${options.baseUrl.replace(/\/+$/u, '')}/rerank`;
    this.name = options.model ?? this.#url;
    this.#options = options;
    this.#batchSize = batchSize;
  }

  async score(query: string, texts: string[], signal?: AbortSignal): Promise<number[]> {
    throwIfAborted(signal);
    if (texts.length === 0) return [];
    // One failed batch stops the others: their scores would be thrown away.
    const controller = new AbortController();
    const abortAll = () => controller.abort();
    signal?.addEventListener('abort', abortAll, { once: true });
    try {
      const batches: Array<Promise<number[]>> = [];
      for (let offset = 0; offset < texts.length; offset += this.#batchSize) {
        const batch = this.#withRetries(query, texts.slice(offset, offset + this.#batchSize), controller.signal);
        batch.catch(abortAll);
        batches.push(batch);
      }
      const settled = await Promise.allSettled(batches);
      if (signal?.aborted) throw new AbortedError();
      // The first failure is the cause; the others are the aborts it triggered.
      const failure =
        settled.find((outcome) => outcome.status === 'rejected' && !(outcome.reason instanceof AbortedError)) ??
        settled.find((outcome) => outcome.status === 'rejected');
      if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
      return settled.flatMap((outcome) => (outcome as PromiseFulfilledResult<number[]>).value);
    } finally {
      signal?.removeEventListener('abort', abortAll);
    }
  }

  async #withRetries(query: string, texts: string[], signal: AbortSignal): Promise<number[]> {
    const maxRetries = this.#options.maxRetries ?? 4;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.#request(query, texts, signal);
      } catch (error) {
        if (!(error instanceof AppError) || !error.retryable || attempt >= maxRetries || signal.aborted) throw error;
        const waitSeconds = error.retryAfterSeconds ?? Math.min(8, 0.5 * 2 ** attempt);
        if (waitSeconds > longestRetryAfterSeconds) throw error;
        try {
          await delay(waitSeconds * 1000, undefined, { signal });
        } catch {
          throw new AbortedError();
        }
      }
    }
  }

  async #request(query: string, texts: string[], signal: AbortSignal): Promise<number[]> {
    throwIfAborted(signal);
    const timeoutMs = this.#options.timeoutMs ?? 60_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const body = {
      ...(this.#options.model === undefined ? {} : { model: this.#options.model }),
      query,
      documents: texts,
      texts,
      top_n: texts.length,
      return_documents: false,
    };
    let response: Response;
    let payload: unknown;
    try {
      response = await (this.#options.fetch ?? fetch)(this.#url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.#options.apiKey === undefined ? {} : { authorization: `Bearer ${this.#options.apiKey}` }),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.any([signal, timeout]),
      });
      const text = await response.text();
      payload = parseJson(text);
      if (!response.ok) throw httpError(response, payload ?? text);
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (signal.aborted) throw new AbortedError();
      if (timeout.aborted) throw new AppError('rerank_failed', `The rerank server did not answer within ${timeoutMs} ms`, { retryable: true, cause: error });
      throw new AppError('rerank_failed', `The rerank server cannot be reached: ${(error as Error).message}`, { retryable: true, cause: error });
    }
    return scoresFrom(payload, texts.length);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function httpError(response: Response, payload: unknown): AppError {
  const status = response.status;
  const detail = typeof payload === 'string' ? payload.slice(0, 300) : JSON.stringify(payload).slice(0, 300);
  const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
  const retryAfter = retryable ? retryAfterSeconds(response.headers) : undefined;
  return new AppError('rerank_failed', `The rerank server failed (HTTP ${status}): ${detail}`, {
    retryable,
    ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
  });
}

function retryAfterSeconds(headers: Headers): number | undefined {
  const milliseconds = Number(headers.get('retry-after-ms') ?? Number.NaN);
  if (Number.isFinite(milliseconds)) return Math.max(0, milliseconds / 1000);
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

/** Scores in input order from either answer shape; throws `rerank_failed` on anything else. */
function scoresFrom(payload: unknown, count: number): number[] {
  const entries = Array.isArray(payload) ? payload : (payload as { results?: unknown } | null)?.results;
  if (!Array.isArray(entries)) throw new AppError('rerank_failed', 'The rerank server answered without a list of scores');
  const scores = new Array<number | undefined>(count).fill(undefined);
  for (const entry of entries as Array<Record<string, unknown>>) {
    const index = entry['index'];
    const score = entry['relevance_score'] ?? entry['score'];
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= count || scores[index] !== undefined) {
      throw new AppError('rerank_failed', `The rerank server answered with an unexpected index ${JSON.stringify(index)}`);
    }
    if (typeof score !== 'number' || !Number.isFinite(score)) {
      throw new AppError('rerank_failed', `The rerank server answered with a score that is not a number for text ${index}`);
    }
    scores[index] = score;
  }
  const missing = scores.findIndex((score) => score === undefined);
  if (missing !== -1) throw new AppError('rerank_failed', `The rerank server returned ${entries.length} scores for ${count} texts`);
  return scores as number[];
}
