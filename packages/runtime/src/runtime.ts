import { AnswerService } from '@passage/answering';
import { BoundedParser, DocumentPasswords, IngestionService, type IngestionObserver } from '@passage/ingestion';
import { Retriever, createAnalyzer } from '@passage/retrieval';
import type { ApiKeyStore, Catalog, ChatModel, ChunkIndex, Config, Embedder, FileStore, IngestionQueue, Logger, TextAnalyzer } from '@passage/spec';
import { createChatModel } from './create-chat-model.js';
import { createEmbedder } from './create-embedder.js';
import { createReranker } from './create-reranker.js';
import { createQueue } from './create-queue.js';
import { createStorage } from './create-storage.js';

/** Everything an app needs, built from configuration. */
export interface Runtime {
  config: Config;
  catalog: Catalog;
  /** API keys (stored hashed), beside the catalog. */
  apiKeys: ApiKeyStore;
  files: FileStore;
  index: ChunkIndex;
  analyzer: TextAnalyzer;
  embedder: Embedder | null;
  retriever: Retriever;
  answers: AnswerService;
  ingestion: IngestionService;
  queue: IngestionQueue;
  /** Passwords of uploads being ingested in this process (memory only; see DocumentPasswords). */
  passwords: DocumentPasswords;
  chatModel: ChatModel | null;
  /** Folder for uploads in flight, on the same file system as the file store. */
  uploadDirectory: string;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Poll the catalog for queued documents, ms (a separate worker process). Default: off. */
  pollIntervalMs?: number;
  /** Build the chat model and the reranker the configuration names; false in processes that never answer or search (a worker), so no model is loaded for nothing. Default: true. */
  answering?: boolean;
  /** Hears ingestion stage durations and embedder errors (the API's metrics). Default: none. */
  ingestionObserver?: IngestionObserver;
}

/**
 * The composition root: reads nothing from the environment (the app passes a validated Config)
 * and builds the adapters the configuration asks for (create-*.ts, one per port family).
 */
export async function createRuntime(config: Config, logger: Logger, options: RuntimeOptions = {}): Promise<Runtime> {
  const embedder = await createEmbedder(config, logger);
  const storage = await createStorage(config, logger);
  const { catalog, files, index } = storage;
  const analyzer = createAnalyzer();
  const answering = options.answering !== false;
  const chatModel = answering ? await createChatModel(config, logger) : null;
  const reranker = answering ? await createReranker(config, logger) : null;
  const retriever = new Retriever({
    catalog,
    index,
    analyzer,
    embedder,
    reranker,
    rerankCandidates: config.RERANK_CANDIDATES,
    ...(config.RETRIEVAL_MODE === undefined ? {} : { defaultMode: config.RETRIEVAL_MODE }),
  });
  const answers = new AnswerService({
    retriever,
    analyzer,
    chatModel,
    catalog,
    defaultTopK: config.TOP_K,
    prompt: { budgetTokens: config.CONTEXT_TOKEN_BUDGET },
    logger,
  });
  const passwords = new DocumentPasswords();
  const ingestion = new IngestionService({
    catalog,
    files,
    index,
    parser: new BoundedParser({ timeoutMs: config.PARSE_TIMEOUT_MS, memoryMb: config.PARSE_MEMORY_MB }),
    analyzer,
    embedder,
    embeddingBatchSize: config.EMBEDDING_BATCH_SIZE,
    embeddingConcurrency: config.EMBEDDING_MAX_IN_FLIGHT,
    chunking: { targetTokens: config.CHUNK_TOKENS, overlapTokens: config.CHUNK_OVERLAP_TOKENS },
    logger,
    passwords,
    ocr: {
      mode: config.OCR_ENABLED === 'true' ? 'on' : config.OCR_ENABLED === 'false' ? 'off' : 'auto',
      languages: config.OCR_LANGUAGES,
      pageTimeoutMs: config.OCR_PAGE_TIMEOUT_MS,
    },
    ...(options.ingestionObserver === undefined ? {} : { observer: options.ingestionObserver }),
  });
  const queue = createQueue(config, {
    catalog,
    ingestion,
    logger,
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
  });

  return {
    config,
    catalog,
    apiKeys: storage.apiKeys,
    files,
    index,
    analyzer,
    embedder,
    retriever,
    answers,
    ingestion,
    queue,
    passwords,
    chatModel,
    uploadDirectory: storage.uploadDirectory,
    async close() {
      await queue.close();
      await storage.close();
      await chatModel?.close?.();
    },
  };
}
