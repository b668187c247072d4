import path from 'node:path';
import { AnswerService } from '@passage/answering';
import { BoundedParser, InProcessQueue, IngestionService } from '@passage/ingestion';
import { OpenAiChatModel } from '@passage/llm-openai';
import { LocalChunkIndex, Retriever, createAnalyzer } from '@passage/retrieval';
import type { Catalog, ChatModel, ChunkIndex, Config, FileStore, Logger, TextAnalyzer } from '@passage/spec';
import { LocalFileStore, SqliteCatalog, SqliteChunkStore, openDatabase } from '@passage/store-sqlite';

/** Everything an app needs, built from configuration. */
export interface Runtime {
  config: Config;
  catalog: Catalog;
  files: FileStore;
  index: ChunkIndex;
  analyzer: TextAnalyzer;
  retriever: Retriever;
  answers: AnswerService;
  ingestion: IngestionService;
  queue: InProcessQueue;
  chatModel: ChatModel | null;
  /** Folder for uploads in flight, on the same file system as the file store. */
  uploadDirectory: string;
  close(): Promise<void>;
}

/**
 * The composition root: reads nothing from the environment (the app passes a validated Config)
 * and builds the adapters the configuration asks for. Today that is the embedded default: SQLite
 * catalog and chunk store, originals in DATA_DIR, in-memory BM25, in-process durable queue.
 */
export interface RuntimeOptions {
  /** Poll the catalog for queued documents, ms (a separate worker process). Default: off. */
  pollIntervalMs?: number;
}

export function createRuntime(config: Config, logger: Logger, options: RuntimeOptions = {}): Runtime {
  const dataDirectory = path.resolve(config.DATA_DIR);
  const database = openDatabase({ dataDirectory });
  const catalog = new SqliteCatalog(database);
  const files = new LocalFileStore({ directory: path.join(dataDirectory, 'originals') });
  const index = new LocalChunkIndex({ store: new SqliteChunkStore(database) });
  const analyzer = createAnalyzer();
  const chatModel: ChatModel | null = config.llmEnabled
    ? new OpenAiChatModel({
        model: config.LLM_MODEL,
        ...(config.OPENAI_BASE_URL === undefined ? {} : { baseUrl: config.OPENAI_BASE_URL }),
        ...(config.OPENAI_API_KEY === undefined ? {} : { apiKey: config.OPENAI_API_KEY }),
        temperature: config.LLM_TEMPERATURE,
        maxTokens: config.LLM_MAX_TOKENS,
        maxRetries: config.LLM_MAX_RETRIES,
        idleTimeoutMs: config.LLM_IDLE_TIMEOUT_MS,
        timeoutMs: config.LLM_TIMEOUT_MS,
      })
    : null;
  const retriever = new Retriever({ catalog, index, analyzer });
  const answers = new AnswerService({
    retriever,
    analyzer,
    chatModel,
    defaultTopK: config.TOP_K,
    prompt: { budgetTokens: config.CONTEXT_TOKEN_BUDGET },
    logger,
  });
  const ingestion = new IngestionService({
    catalog,
    files,
    index,
    parser: new BoundedParser({ timeoutMs: config.PARSE_TIMEOUT_MS, memoryMb: config.PARSE_MEMORY_MB }),
    analyzer,
    chunking: { targetTokens: config.CHUNK_TOKENS, overlapTokens: config.CHUNK_OVERLAP_TOKENS },
    logger,
  });
  const queue = new InProcessQueue({
    catalog,
    service: ingestion,
    concurrency: config.INGEST_CONCURRENCY,
    logger,
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
  });

  return {
    config,
    catalog,
    files,
    index,
    analyzer,
    retriever,
    answers,
    ingestion,
    queue,
    chatModel,
    uploadDirectory: path.join(dataDirectory, 'uploads'),
    async close() {
      await queue.close();
      await index.close();
      await catalog.close();
      database.close();
    },
  };
}
