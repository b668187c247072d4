import {
  AbortedError,
  AppError,
  DocumentError,
  chunkId,
  silentLogger,
  throwIfAborted,
  toAppError,
  type Catalog,
  type ChunkIndex,
  type DocumentParser,
  type DocumentRecord,
  type Embedder,
  type FileStore,
  type IndexedChunk,
  type Logger,
  type TextAnalyzer,
} from '@passage/spec';
import { chunkPages, type ChunkingOptions } from './chunk.js';

export interface IngestionServiceOptions {
  catalog: Catalog;
  files: FileStore;
  index: ChunkIndex;
  parser: DocumentParser;
  analyzer: TextAnalyzer;
  /** Dense embeddings are computed when given. Default: none (lexical only). */
  embedder?: Embedder | null;
  chunking?: ChunkingOptions;
  /** Texts per embedding request. Default: 32. */
  embeddingBatchSize?: number;
  /** Embedding requests of one document in flight at once (EMBEDDING_MAX_IN_FLIGHT). Default: 1. */
  embeddingConcurrency?: number;
  /**
   * Attempts after which a document that keeps being interrupted (a crash, a kill) is failed
   * instead of being tried again. Default: 3.
   */
  maxAttempts?: number;
  logger?: Logger;
}

/** What happened to one ingestion attempt, for the queue that drives it. */
export type IngestionOutcome =
  | { kind: 'ready'; document: DocumentRecord }
  | { kind: 'failed'; document: DocumentRecord | null; error: AppError }
  | { kind: 'skipped'; reason: string };

/**
 * Drives one document through the pipeline: parse (bounded, off the main thread) → chunk →
 * analyze → [embed] → index → `ready`. Bad input ends the document `failed` with the reason;
 * retryable faults are thrown for the queue to retry; an abort leaves the document `processing`
 * so that it is picked up again after a restart.
 */
export class IngestionService {
  readonly #options: IngestionServiceOptions;
  readonly #logger: Logger;

  constructor(options: IngestionServiceOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Processes a document. Resolves with the outcome for input errors; rejects with a retryable
   * AppError (the queue decides about retries) or an AbortedError.
   */
  async ingest(documentId: string, signal: AbortSignal): Promise<IngestionOutcome> {
    const { catalog, files, index, parser, analyzer } = this.#options;
    const document = await catalog.claimDocument(documentId);
    if (document === null) return { kind: 'skipped', reason: 'deleted or already finished' };
    const maxAttempts = this.#options.maxAttempts ?? 3;
    if (document.attempts > maxAttempts) {
      return this.#fail(
        document,
        new DocumentError('parse_failed', `Ingestion was interrupted ${maxAttempts} times (the process stopped while it ran); giving up`),
      );
    }
    const knowledgeBase = await catalog.getKnowledgeBase(document.knowledgeBaseId);
    if (knowledgeBase === null) return { kind: 'skipped', reason: 'knowledge base deleted' };
    const generation = knowledgeBase.generation;
    const log = { documentId, knowledgeBaseId: document.knowledgeBaseId, attempt: document.attempts };

    try {
      await catalog.updateDocument(documentId, { progress: { stage: 'parsing', done: 0, total: 1 } });
      let bytes: Uint8Array;
      try {
        bytes = await files.read(documentId, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new DocumentError('file_missing', 'The uploaded file is missing from storage');
        }
        throw error;
      }
      const started = performance.now();
      const parsed = await parser.parse(bytes, { fileName: document.name, mediaType: document.mediaType }, signal);
      this.#logger.info({ ...log, pages: parsed.pages.length, parseMs: Math.round(performance.now() - started) }, 'parsed');
      throwIfAborted(signal);

      const totalPages = parsed.pages.length;
      await catalog.updateDocument(documentId, {
        type: parsed.type,
        pages: totalPages,
        progress: { stage: 'chunking', done: 0, total: totalPages },
      });
      const drafts = chunkPages(parsed.pages, this.#options.chunking);
      if (drafts.length === 0) throw new DocumentError('empty_document', 'No text could be extracted from the document');
      // The title is indexed with every chunk: a passage rarely repeats what its title says.
      const title = parsed.title?.trim() ?? '';

      const chunks: IndexedChunk[] = drafts.map((draft) => ({
        id: chunkId(documentId, generation, draft.ordinal),
        knowledgeBaseId: document.knowledgeBaseId,
        documentId,
        documentName: document.name,
        generation,
        ordinal: draft.ordinal,
        page: draft.page,
        start: draft.start,
        end: draft.end,
        text: draft.text,
        tokens: draft.tokens,
        terms: analyzer.termFrequencies(title === '' ? draft.text : `${title}\n${draft.text}`),
      }));
      await this.#embed(documentId, chunks, signal);

      await catalog.updateDocument(documentId, { progress: { stage: 'indexing', done: 0, total: chunks.length } });
      await index.upsertDocumentChunks({ knowledgeBaseId: document.knowledgeBaseId, generation, documentId }, chunks, signal);

      const ready = await catalog.updateDocument(documentId, {
        status: 'ready',
        chunks: chunks.length,
        progress: { stage: 'done', done: chunks.length, total: chunks.length },
        error: null,
      });
      if (ready === null) {
        // Deleted while we worked: leave nothing behind.
        await index.deleteDocument(document.knowledgeBaseId, documentId);
        return { kind: 'skipped', reason: 'deleted during ingestion' };
      }
      this.#logger.info({ ...log, chunks: chunks.length }, 'document ready');
      return { kind: 'ready', document: ready };
    } catch (error) {
      if (signal.aborted || error instanceof AbortedError) throw new AbortedError('Ingestion was interrupted');
      const appError = toAppError(error);
      if (appError.retryable) throw appError;
      if (appError.code === 'internal_error') this.#logger.error({ ...log, err: error }, 'ingestion failed unexpectedly');
      return this.#fail(document, appError);
    }
  }

  /** Marks a document failed after the queue gave up retrying a retryable fault. */
  async giveUp(documentId: string, error: AppError): Promise<void> {
    await this.#options.catalog.updateDocument(documentId, {
      status: 'failed',
      error: { code: error.code, message: error.message },
    });
  }

  async #embed(documentId: string, chunks: IndexedChunk[], signal: AbortSignal): Promise<void> {
    const embedder = this.#options.embedder;
    if (embedder === null || embedder === undefined) return;
    const batchSize = this.#options.embeddingBatchSize ?? 32;
    const batches: IndexedChunk[][] = [];
    for (let offset = 0; offset < chunks.length; offset += batchSize) batches.push(chunks.slice(offset, offset + batchSize));
    const progress = (done: number) =>
      this.#options.catalog.updateDocument(documentId, { progress: { stage: 'embedding', done, total: chunks.length } });
    await progress(0);
    // Several batches in flight keep a remote embedder busy while each answer travels back.
    let next = 0;
    let done = 0;
    let failed = false;
    const lane = async () => {
      while (!failed && next < batches.length) {
        const batch = batches[next]!;
        next += 1;
        try {
          const vectors = await embedder.embed(batch.map((chunk) => chunk.text), 'passage', signal);
          batch.forEach((chunk, position) => {
            const vector = vectors[position];
            if (vector === undefined) throw new AppError('embedding_failed', 'The embedder returned fewer vectors than texts');
            chunk.vector = vector;
          });
        } catch (error) {
          failed = true;
          throw error;
        }
        done += batch.length;
        await progress(done);
      }
    };
    const lanes = Math.max(1, Math.min(this.#options.embeddingConcurrency ?? 1, batches.length));
    const settled = await Promise.allSettled(Array.from({ length: lanes }, lane));
    const rejected = settled.find((outcome) => outcome.status === 'rejected');
    if (rejected !== undefined) throw rejected.reason;
  }

  async #fail(document: DocumentRecord, error: AppError): Promise<IngestionOutcome> {
    this.#logger.warn({ documentId: document.id, code: error.code, reason: error.message }, 'document failed');
    const failed = await this.#options.catalog.updateDocument(document.id, {
      status: 'failed',
      error: { code: error.code, message: error.message },
    });
    return { kind: 'failed', document: failed, error };
  }
}
