/**
 * The local reranker: a cross-encoder (query and passage read together, one relevance logit out)
 * run in this process by transformers.js on ONNX Runtime. The adapter for `RERANK_PROVIDER=local`.
 */
import { AutoModelForSequenceClassification, AutoTokenizer, type PreTrainedModel, type PreTrainedTokenizer, type Tensor } from '@huggingface/transformers';
import { localFolder } from '@passage/embedder-transformers';
import { AbortedError, AppError, throwIfAborted, type Reranker } from '@passage/spec';

/** The cross-encoder used when RERANK_MODEL is not set: MS MARCO MiniLM-L6 (22 M parameters, Apache-2.0). */
export const defaultLocalRerankModel = 'Xenova/ms-marco-MiniLM-L-6-v2';

export interface TransformersRerankerOptions {
  /**
   * A Hugging Face hub id with ONNX weights, fetched on first use and cached, or the path of a local
   * folder in the same layout (`onnx/model.onnx`, `tokenizer.json`, `config.json`), never fetched.
   */
  model: string;
  /**
   * Query–passage pairs per model call with fp32 weights. Default 16. With q8 weights every pair
   * runs alone: the q8 graph quantizes activations with one scale per call, so a pair's score would
   * otherwise depend on the pairs beside it.
   */
  batchSize?: number;
  /** Longest pair in tokens (query and passage together); longer passages are cut. Default: the tokenizer's `model_max_length`, at most 512. */
  maxTokens?: number;
  /** Weight format: "fp32" (`onnx/model.onnx`) or "q8" (`onnx/model_quantized.onnx`, about 2 times faster on a CPU). Default "fp32". */
  precision?: 'fp32' | 'q8';
  /** Where downloaded models are kept. Default: transformers.js's cache. */
  cacheDirectory?: string;
  /** Never download: a hub id must already be in the cache. Default false (always true for a folder). */
  offline?: boolean;
}

/** Scores passages against a query with a local cross-encoder. Create with {@link TransformersReranker.load}. */
export class TransformersReranker implements Reranker {
  readonly name: string;
  readonly #tokenizer: PreTrainedTokenizer;
  readonly #model: PreTrainedModel;
  readonly #batchSize: number;
  readonly #maxTokens: number;
  /** Model calls run one at a time: ONNX Runtime already uses every core for one. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(name: string, tokenizer: PreTrainedTokenizer, model: PreTrainedModel, batchSize: number, maxTokens: number) {
    this.name = name;
    this.#tokenizer = tokenizer;
    this.#model = model;
    this.#batchSize = batchSize;
    this.#maxTokens = maxTokens;
  }

  /** Loads the tokenizer and model and scores one probe pair to prove they run; rejects with the loader's error when they cannot. */
  static async load(options: TransformersRerankerOptions, signal?: AbortSignal): Promise<TransformersReranker> {
    const batchSize = options.batchSize ?? 16;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    throwIfAborted(signal);
    const folder = await localFolder(options.model);
    const loading = {
      local_files_only: folder !== null || (options.offline ?? false),
      ...(options.cacheDirectory === undefined ? {} : { cache_dir: options.cacheDirectory }),
    };
    const tokenizer = await AutoTokenizer.from_pretrained(folder ?? options.model, loading);
    const model = await AutoModelForSequenceClassification.from_pretrained(folder ?? options.model, { ...loading, dtype: options.precision ?? 'fp32' });
    const declared = Number(tokenizer.model_max_length);
    const maxTokens = options.maxTokens ?? (Number.isFinite(declared) && declared > 0 ? Math.min(declared, 512) : 512);
    const reranker = new TransformersReranker(options.model, tokenizer, model, options.precision === 'q8' ? 1 : batchSize, maxTokens);
    try {
      await reranker.score('probe', ['probe passage'], signal);
    } catch (error) {
      await model.dispose();
      throw error;
    }
    return reranker;
  }

  /** Relevance scores in (0, 1), one per text in order: the sigmoid of the model's logit (softmax's last class for a two-class model). */
  async score(query: string, texts: string[], signal?: AbortSignal): Promise<number[]> {
    throwIfAborted(signal);
    const scores: number[] = [];
    for (let offset = 0; offset < texts.length; offset += this.#batchSize) {
      scores.push(...(await this.#run(query, texts.slice(offset, offset + this.#batchSize), signal)));
    }
    return scores;
  }

  /** Frees the model's memory; the reranker cannot be used afterwards. */
  async close(): Promise<void> {
    await this.#queue;
    await this.#model.dispose();
  }

  #run(query: string, texts: string[], signal: AbortSignal | undefined): Promise<number[]> {
    const result = this.#queue.then(() => {
      // A caller that gave up while waiting its turn costs no model time.
      if (signal?.aborted) throw new AbortedError();
      return this.#infer(query, texts);
    });
    // The next call waits for this one, whether it succeeds or not.
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #infer(query: string, texts: string[]): Promise<number[]> {
    let logits: Tensor | undefined;
    try {
      const inputs = this.#tokenizer(
        texts.map(() => query),
        { text_pair: texts, padding: true, truncation: true, max_length: this.#maxTokens },
      );
      ({ logits } = (await this.#model(inputs)) as { logits: Tensor });
      const [rows, columns] = logits.dims as [number, number];
      const data = logits.data as Float32Array;
      return Array.from({ length: rows }, (_, row) => relevance(data.subarray(row * columns, (row + 1) * columns)));
    } catch (error) {
      throw new AppError('rerank_failed', `The local rerank model ${this.name} failed: ${(error as Error).message}`, { cause: error });
    } finally {
      logits?.dispose();
    }
  }
}

function relevance(logits: Float32Array): number {
  if (logits.length === 1) return 1 / (1 + Math.exp(-logits[0]!));
  const largest = Math.max(...logits);
  const exponentials = Array.from(logits, (logit) => Math.exp(logit - largest));
  return exponentials[exponentials.length - 1]! / exponentials.reduce((sum, value) => sum + value, 0);
}
