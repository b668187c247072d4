/**
 * The local embedder: a sentence-embedding model run in this process by transformers.js (ONNX
 * Runtime on the CPU). The adapter for `EMBEDDING_PROVIDER=local`; the only place that imports
 * `@huggingface/transformers`.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, type FeatureExtractionPipeline } from '@huggingface/transformers';
import { AppError, throwIfAborted, type Embedder, type EmbeddingPurpose } from '@passage/spec';
import { profileFromModelFolder, profileFromModelName, type Pooling } from './embedding-model-profile.js';

/**
 * The model used when EMBEDDING_MODEL is not set: multilingual (the analyzer serves Chinese and
 * English, and an English-only model makes dense retrieval useless on Chinese text), small (118 M
 * parameters, 384 dimensions: about 1.5 kB a chunk in memory) and MIT-licensed.
 */
export const defaultLocalEmbeddingModel = 'Xenova/multilingual-e5-small';

/** Weight formats transformers.js can load; each is a file under `onnx/` (`model.onnx`, `model_quantized.onnx`…). */
export type ModelPrecision = 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'q4f16' | 'bnb4';

export interface TransformersEmbedderOptions {
  /**
   * A Hugging Face hub id with ONNX weights (`Xenova/multilingual-e5-small`), fetched on first use
   * and cached, or the path of a local folder in the same layout (used offline, never fetched).
   * A path is anything that starts with `/`, `./`, `../` or `~/`, or names an existing folder.
   */
  model: string;
  /** Pooling of the token vectors. Default: what the folder declares, else by model family (CLS for BGE, mean otherwise). */
  pooling?: Pooling;
  /** Put before every query. Default: what the folder declares, else by family (`query: ` for E5). */
  queryPrefix?: string;
  /** Put before every passage. Default: what the folder declares, else by family (`passage: ` for E5). */
  passagePrefix?: string;
  /**
   * Texts per model call with fp32 weights. Default 32. With q8 weights every text runs alone: the
   * q8 graph quantizes activations with one scale per call, so a text's vector would depend on the
   * texts beside it (the same passage would embed differently at a reindex). Alone is also faster
   * on a CPU, with no padding: 84 to 94 against 73 chunks/s ingesting SciFact with all-MiniLM-L6-v2.
   */
  batchSize?: number;
  /** Weight format. Default "fp32" (`onnx/model.onnx`); "q8" is about 4 times smaller and 2 to 3 times faster on a CPU. */
  precision?: ModelPrecision;
  /** Where downloaded models are kept. Default: transformers.js's cache, inside its package folder. */
  cacheDirectory?: string;
  /** Never download: a hub id must already be in the cache. Default false (always true for a folder). */
  offline?: boolean;
}

/** Turns texts into unit-length vectors with a local transformer model. Create with {@link TransformersEmbedder.load}. */
export class TransformersEmbedder implements Embedder {
  readonly name: string;
  readonly dimensions: number;
  readonly pooling: Pooling;
  readonly queryPrefix: string;
  readonly passagePrefix: string;
  readonly #extractor: FeatureExtractionPipeline;
  readonly #batchSize: number;
  /** Model calls run one at a time: ONNX Runtime already uses every core for one. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    extractor: FeatureExtractionPipeline,
    settings: { name: string; dimensions: number; pooling: Pooling; queryPrefix: string; passagePrefix: string; batchSize: number },
  ) {
    this.#extractor = extractor;
    this.name = settings.name;
    this.dimensions = settings.dimensions;
    this.pooling = settings.pooling;
    this.queryPrefix = settings.queryPrefix;
    this.passagePrefix = settings.passagePrefix;
    this.#batchSize = settings.batchSize;
  }

  /**
   * Loads the model (downloading a hub model the first time) and embeds one probe text to learn
   * the vector size and prove the model runs. Rejects with the loader's error when it cannot.
   */
  static async load(options: TransformersEmbedderOptions, signal?: AbortSignal): Promise<TransformersEmbedder> {
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    throwIfAborted(signal);
    const folder = await localFolder(options.model);
    const declared = folder === null ? {} : await profileFromModelFolder(folder);
    const byName = profileFromModelName(options.model);
    const extractor = await pipeline('feature-extraction', folder ?? options.model, {
      dtype: options.precision ?? 'fp32',
      // A folder is read in place: transformers.js treats a path that is not a hub id as a location.
      local_files_only: folder !== null || (options.offline ?? false),
      ...(options.cacheDirectory === undefined ? {} : { cache_dir: options.cacheDirectory }),
    });
    const settings = {
      name: options.model,
      pooling: options.pooling ?? declared.pooling ?? byName.pooling,
      queryPrefix: options.queryPrefix ?? declared.queryPrefix ?? byName.queryPrefix,
      passagePrefix: options.passagePrefix ?? declared.passagePrefix ?? byName.passagePrefix,
      batchSize: options.precision === 'q8' ? 1 : batchSize,
    };
    let dimensions: number;
    try {
      const [probe] = await extract(extractor, ['dimension probe'], settings.pooling, settings.name);
      dimensions = probe?.length ?? 0;
    } catch (error) {
      await extractor.dispose();
      throw error;
    }
    return new TransformersEmbedder(extractor, { ...settings, dimensions });
  }

  /** Unit-length vectors, one per text in order; throws AppError `embedding_failed` when the model fails. */
  async embed(texts: string[], purpose: EmbeddingPurpose, signal?: AbortSignal): Promise<number[][]> {
    const prefix = purpose === 'query' ? this.queryPrefix : this.passagePrefix;
    const vectors: number[][] = [];
    for (let offset = 0; offset < texts.length; offset += this.#batchSize) {
      throwIfAborted(signal);
      vectors.push(...(await this.#run(texts.slice(offset, offset + this.#batchSize), prefix)));
    }
    return vectors;
  }

  /** Frees the model's memory; the embedder cannot be used afterwards. */
  async close(): Promise<void> {
    await this.#queue;
    await this.#extractor.dispose();
  }

  #run(texts: string[], prefix: string): Promise<number[][]> {
    const result = this.#queue.then(() =>
      extract(
        this.#extractor,
        texts.map((text) => prefix + text),
        this.pooling,
        this.name,
      ),
    );
    // The next call waits for this one, whether it succeeds or not.
    this.#queue = result.catch(() => undefined);
    return result;
  }
}

/** Runs the model on a batch: pooled, unit-length vectors. */
async function extract(extractor: FeatureExtractionPipeline, texts: string[], pooling: Pooling, name: string): Promise<number[][]> {
  let output;
  try {
    output = await extractor(texts, { pooling, normalize: true });
  } catch (error) {
    throw new AppError('embedding_failed', `The local embedding model ${name} failed: ${(error as Error).message}`, { cause: error });
  }
  try {
    const [rows, columns] = output.dims as [number, number];
    const data = output.data as Float32Array;
    return Array.from({ length: rows }, (_, row) => Array.from(data.subarray(row * columns, (row + 1) * columns)));
  } finally {
    output.dispose();
  }
}

/** The absolute path of the model folder, or null for a hub id; throws when a path names no folder. */
export async function localFolder(model: string): Promise<string | null> {
  const expanded = model.startsWith('~/') ? path.join(process.env.HOME ?? '', model.slice(2)) : model;
  const looksLikePath = /^(\/|\.{1,2}\/|~\/)/u.test(model) || path.isAbsolute(model);
  try {
    if ((await stat(expanded)).isDirectory()) return path.resolve(expanded);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (looksLikePath) throw new Error(`The model folder ${path.resolve(expanded)} does not exist`);
  return null;
}
