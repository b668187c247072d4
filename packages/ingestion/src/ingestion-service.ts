import {
  AbortedError,
  AppError,
  DocumentError,
  GenerationNotFoundError,
  TimeSlice,
  chunkId,
  silentLogger,
  throwIfAborted,
  toAppError,
  type Catalog,
  type Chunk,
  type ChunkIndex,
  type DocumentParser,
  type DocumentRecord,
  type Embedder,
  type FileStore,
  type GenerationSchema,
  type IndexedChunk,
  type Logger,
  type RebuildOutcome,
  type TextAnalyzer,
} from '@passage/spec';
import type { ChunkingOptions } from './chunk.js';
import type { DocumentPasswords } from './document-passwords.js';
import type { OcrSettings } from './ocr.js';
import { prepareChunks } from './prepare-chunks.js';
import { withTermsOnDemand } from './terms-on-demand.js';

/** The stages of an ingestion whose durations an observer hears. */
export type IngestionStage = 'parsing' | 'chunking' | 'embedding' | 'indexing';

/**
 * Hears what the pipeline does, for metrics, without the pipeline knowing who listens (the API
 * feeds prom-client with it). Callbacks run synchronously and must not throw.
 */
export interface IngestionObserver {
  /**
   * A stage of one document ended without error, after `seconds` of wall time: `parsing` (reading
   * the text, OCR included), `chunking` (chunking and term analysis), `embedding` (only with an
   * embedder), `indexing` (writing the chunks and recording the document). Ingestion and rebuilds alike.
   */
  onStageFinished?(stage: IngestionStage, seconds: number): void;
  /** The embedder failed a batch with this error code (after its own retries); aborts are not errors. */
  onEmbedderError?(code: string): void;
}

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
  /** Passwords given with uploads (memory only); each is forgotten once its document is ready or failed. Default: none. */
  passwords?: DocumentPasswords;
  /** OCR of scans and images (OCR_ENABLED, OCR_LANGUAGES, OCR_PAGE_TIMEOUT_MS). Default: `auto`, `eng+chi_sim`. */
  ocr?: OcrSettings;
  /** Told each stage's duration and each embedder error (metrics). Default: none. */
  observer?: IngestionObserver;
}

/** A chunk with its terms (as JSON) and vector, before it is placed in a generation. */
type PreparedChunk = Omit<Chunk, 'id' | 'generation'> & { termsJson: string; vector?: number[] };

/**
 * The chunks as written into one generation: ids derive from it, and vectors go only where the
 * schema has room for them. Terms are decoded as the index reads them, one chunk at a time.
 */
async function forGeneration(prepared: PreparedChunk[], generation: number, schema: GenerationSchema): Promise<IndexedChunk[]> {
  // A chunk id is a hash: for a large document, thousands of them, computed in slices.
  const slice = new TimeSlice();
  const placed: IndexedChunk[] = [];
  for (const chunk of prepared) {
    const entry: IndexedChunk = withTermsOnDemand(
      {
        id: chunkId(chunk.documentId, generation, chunk.ordinal),
        knowledgeBaseId: chunk.knowledgeBaseId,
        documentId: chunk.documentId,
        documentName: chunk.documentName,
        generation,
        ordinal: chunk.ordinal,
        page: chunk.page,
        start: chunk.start,
        end: chunk.end,
        text: chunk.text,
        tokens: chunk.tokens,
      },
      chunk.termsJson,
    );
    if (chunk.vector !== undefined && chunk.vector.length === schema.denseDimensions) entry.vector = chunk.vector;
    placed.push(entry);
    await slice.yieldIfSpent();
  }
  return placed;
}

/** Whether the chunks' vectors (or their absence) match what a generation was built with. */
function fitsSchema(prepared: PreparedChunk[], schema: GenerationSchema): boolean {
  const dimensions = prepared[0]?.vector?.length ?? null;
  return dimensions === schema.denseDimensions;
}

/** What happened to one ingestion attempt, for the queue that drives it. */
export type IngestionOutcome =
  { kind: 'ready'; document: DocumentRecord } | { kind: 'failed'; document: DocumentRecord | null; error: AppError } | { kind: 'skipped'; reason: string };

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
    const { catalog } = this.#options;
    const document = await catalog.claimDocument(documentId);
    if (document === null) return { kind: 'skipped', reason: 'deleted or already finished' };
    const maxAttempts = this.#options.maxAttempts ?? 3;
    if (document.attempts > maxAttempts) {
      return this.#fail(
        document,
        new DocumentError('parse_failed', `Ingestion was interrupted ${maxAttempts} times (the process stopped while it ran); giving up`),
      );
    }
    if ((await catalog.getKnowledgeBase(document.knowledgeBaseId)) === null) return { kind: 'skipped', reason: 'knowledge base deleted' };
    const log = { documentId, knowledgeBaseId: document.knowledgeBaseId, attempt: document.attempts };

    try {
      const prepared = await this.#prepare(document, signal, true);
      await this.#embed(prepared.chunks, signal, (done) =>
        catalog.updateDocument(documentId, { progress: { stage: 'embedding', done, total: prepared.chunks.length } }),
      );
      await catalog.updateDocument(documentId, { progress: { stage: 'indexing', done: 0, total: prepared.chunks.length } });
      const indexingStarted = performance.now();
      const completed = await this.#index(document, prepared.chunks, signal);
      this.#stageFinished('indexing', indexingStarted);
      if (completed === null) {
        // Deleted while we worked: leave nothing behind (searches never saw it: it was not ready).
        await this.#options.index.deleteDocument(document.knowledgeBaseId, documentId).catch((error: unknown) => {
          this.#logger.warn({ ...log, err: error }, 'could not remove the chunks of a document deleted during ingestion');
        });
        return { kind: 'skipped', reason: 'deleted during ingestion' };
      }
      if (completed.replaced !== null) await this.#removeReplaced(document.knowledgeBaseId, completed.replaced);
      this.#logger.info({ ...log, chunks: prepared.chunks.length, ...(completed.replaced === null ? {} : { replaced: completed.replaced }) }, 'document ready');
      this.#options.passwords?.delete(documentId);
      return { kind: 'ready', document: completed.document };
    } catch (error) {
      if (signal.aborted || error instanceof AbortedError) throw new AbortedError('Ingestion was interrupted');
      const appError = toAppError(error);
      if (appError.retryable) throw appError;
      if (appError.code === 'internal_error') this.#logger.error({ ...log, err: error }, 'ingestion failed unexpectedly');
      return this.#fail(document, appError);
    }
  }

  /**
   * Rebuilds a `ready` document from its stored original into a generation (a reindex): parse,
   * chunk, analyze, embed with this process's embedder, write, record. The document's own status
   * does not change. Rejects with a retryable AppError or an AbortedError as `ingest` does.
   */
  async rebuild(
    documentId: string,
    target: { knowledgeBaseId: string; generation: number; schema: GenerationSchema },
    signal: AbortSignal,
  ): Promise<RebuildOutcome> {
    const { catalog, index } = this.#options;
    const document = await catalog.getDocument(target.knowledgeBaseId, documentId);
    if (document === null) return { documentId, kind: 'skipped', reason: 'deleted' };
    if (document.status !== 'ready') return { documentId, kind: 'skipped', reason: `not ready (${document.status})` };
    const dimensions = this.#options.embedder?.dimensions ?? null;
    if (target.schema.denseDimensions !== dimensions) {
      return {
        documentId,
        kind: 'failed',
        error: {
          code: 'invalid_request',
          message:
            `This process embeds with ${this.#options.embedder?.name ?? 'no embedder'} (${dimensions ?? 'no'} dimensions) but generation ` +
            `${target.generation} is built with ${target.schema.embeddingModel ?? 'no embedder'} (${target.schema.denseDimensions ?? 'no'} dimensions): ` +
            'start it with the reindex settings',
        },
      };
    }
    try {
      const prepared = await this.#prepare(document, signal, false);
      await this.#embed(prepared.chunks, signal, async () => {});
      const indexingStarted = performance.now();
      const chunks = await forGeneration(prepared.chunks, target.generation, target.schema);
      await index.upsertDocumentChunks({ knowledgeBaseId: document.knowledgeBaseId, generation: target.generation, documentId }, chunks, signal);
      await catalog.recordDocumentGeneration(documentId, target.generation, chunks.length);
      this.#stageFinished('indexing', indexingStarted);
      return { documentId, kind: 'done', chunks: chunks.length };
    } catch (error) {
      if (signal.aborted || error instanceof AbortedError) throw new AbortedError('Rebuilding was interrupted');
      const appError = toAppError(error);
      if (appError instanceof GenerationNotFoundError) return { documentId, kind: 'skipped', reason: 'the target generation was dropped' };
      if (appError.retryable) throw appError;
      return { documentId, kind: 'failed', error: { code: appError.code, message: appError.message } };
    }
  }

  /** Reads the original and turns it into chunks with their terms (no ids yet: those depend on the generation). */
  async #prepare(document: DocumentRecord, signal: AbortSignal, reportProgress: boolean): Promise<{ chunks: PreparedChunk[] }> {
    const { catalog, files, parser, analyzer } = this.#options;
    const documentId = document.id;
    if (reportProgress) await catalog.updateDocument(documentId, { progress: { stage: 'parsing', done: 0, total: 1 } });
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
    let parsedAt: number | null = null;
    // Parsing, chunking and analysis run in the parsing thread: this thread only collects batches.
    const prepared = await prepareChunks({
      parser,
      analyzer,
      ...(this.#options.chunking === undefined ? {} : { chunking: this.#options.chunking }),
      bytes,
      metadata: {
        fileName: document.name,
        mediaType: document.mediaType,
        ...(this.#options.ocr === undefined ? {} : { ocr: this.#options.ocr }),
        ...optionalPassword(this.#options.passwords?.get(documentId)),
      },
      signal,
      onOcrPage: reportProgress
        ? (page) => catalog.updateDocument(documentId, { progress: { stage: 'ocr', done: page.index - 1, total: page.total } })
        : undefined,
      onParsed: async (parsed) => {
        parsedAt = this.#stageFinished('parsing', started);
        this.#logger.info({ documentId, pages: parsed.pages, parseMs: Math.round(performance.now() - started) }, 'parsed');
        if (reportProgress) {
          await catalog.updateDocument(documentId, { type: parsed.type, pages: parsed.pages, progress: { stage: 'chunking', done: 0, total: parsed.pages } });
        }
      },
    });
    throwIfAborted(signal);
    if (parsedAt !== null) this.#stageFinished('chunking', parsedAt);
    if (prepared.chunks.length === 0) throw new DocumentError('empty_document', 'No text could be extracted from the document');
    // Thousands of chunks for a large document: completed in place, in slices.
    const slice = new TimeSlice();
    const chunks: PreparedChunk[] = prepared.chunks as PreparedChunk[];
    for (const chunk of chunks) {
      chunk.knowledgeBaseId = document.knowledgeBaseId;
      chunk.documentId = documentId;
      chunk.documentName = document.name;
      await slice.yieldIfSpent();
    }
    return { chunks };
  }

  /**
   * Writes the chunks into every generation that should have them: the live one and, while a
   * reindex builds the next, that one too (when this process's vectors fit its schema; otherwise
   * the reindex rebuilds the document itself before it switches). The document becomes `ready`
   * once the live generation has it; generations that change meanwhile (a switch, a drop) are
   * read again until nothing is left to write. Null when the document or its knowledge base was
   * deleted meanwhile.
   */
  async #index(
    document: DocumentRecord,
    prepared: PreparedChunk[],
    signal: AbortSignal,
  ): Promise<{ document: DocumentRecord; replaced: string | null } | null> {
    const { catalog, index } = this.#options;
    const written = new Set<number>();
    let completed: { document: DocumentRecord; replaced: string | null } | null = null;
    // Each round follows at most one switch; a few rounds cover any realistic run of reindexes.
    for (let round = 0; round < 5; round += 1) {
      const knowledgeBase = await catalog.getKnowledgeBase(document.knowledgeBaseId);
      if (knowledgeBase === null) return null;
      const targets = [{ generation: knowledgeBase.generation, schema: knowledgeBase.schema, live: true }];
      if (knowledgeBase.reindex !== null) {
        const { targetGeneration, schema } = knowledgeBase.reindex;
        if (fitsSchema(prepared, schema)) targets.push({ generation: targetGeneration, schema, live: false });
      }
      const pending = targets.filter((target) => !written.has(target.generation));
      if (pending.length === 0 && completed !== null) return completed;
      for (const target of pending) {
        const chunks = await forGeneration(prepared, target.generation, target.schema);
        try {
          await index.upsertDocumentChunks(
            { knowledgeBaseId: document.knowledgeBaseId, generation: target.generation, documentId: document.id },
            chunks,
            signal,
          );
        } catch (error) {
          // Dropped meanwhile (a reindex switched away from it, or the knowledge base went): read again.
          if (error instanceof GenerationNotFoundError) continue;
          throw error;
        }
        await catalog.recordDocumentGeneration(document.id, target.generation, chunks.length);
        written.add(target.generation);
      }
      if (completed === null && written.has(knowledgeBase.generation)) {
        completed = await catalog.completeDocument(document.id, prepared.length);
        if (completed === null) return null;
      }
    }
    if (completed !== null) return completed;
    throw new AppError('service_unavailable', 'The live index generation kept changing while the document was written; it will be tried again', {
      retryable: true,
    });
  }

  /** Removes what is left of a document that a new version replaced (the catalog already forgot it). */
  async #removeReplaced(knowledgeBaseId: string, documentId: string): Promise<void> {
    try {
      await this.#options.index.deleteDocument(knowledgeBaseId, documentId);
      await this.#options.files.delete(documentId);
    } catch (error) {
      // Not searchable any more (the catalog decides that); what is left is storage to reclaim.
      this.#logger.warn({ knowledgeBaseId, documentId, err: error }, 'could not remove every trace of a replaced document');
    }
  }

  /** Marks a document failed after the queue gave up retrying a retryable fault. */
  async giveUp(documentId: string, error: AppError): Promise<void> {
    await this.#options.catalog.updateDocument(documentId, {
      status: 'failed',
      error: { code: error.code, message: error.message },
    });
  }

  async #embed(chunks: PreparedChunk[], signal: AbortSignal, progress: (done: number) => Promise<unknown>): Promise<void> {
    const embedder = this.#options.embedder;
    if (embedder === null || embedder === undefined) return;
    const batchSize = this.#options.embeddingBatchSize ?? 32;
    const batches: PreparedChunk[][] = [];
    for (let offset = 0; offset < chunks.length; offset += batchSize) batches.push(chunks.slice(offset, offset + batchSize));
    await progress(0);
    const started = performance.now();
    // Several batches in flight keep a remote embedder busy while each answer travels back.
    let next = 0;
    let done = 0;
    let failed = false;
    const lane = async () => {
      while (!failed && next < batches.length) {
        const batch = batches[next]!;
        next += 1;
        try {
          const vectors = await embedder.embed(
            batch.map((chunk) => chunk.text),
            'passage',
            signal,
          );
          batch.forEach((chunk, position) => {
            const vector = vectors[position];
            if (vector === undefined) throw new AppError('embedding_failed', 'The embedder returned fewer vectors than texts');
            chunk.vector = vector;
          });
        } catch (error) {
          failed = true;
          if (!signal.aborted && !(error instanceof AbortedError)) this.#options.observer?.onEmbedderError?.(toAppError(error).code);
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
    this.#stageFinished('embedding', started);
  }

  /** Tells the observer that a stage begun at `started` (performance.now()) ended; returns the time it ended. */
  #stageFinished(stage: IngestionStage, started: number): number {
    const now = performance.now();
    this.#options.observer?.onStageFinished?.(stage, (now - started) / 1000);
    return now;
  }

  async #fail(document: DocumentRecord, error: AppError): Promise<IngestionOutcome> {
    this.#options.passwords?.delete(document.id);
    this.#logger.warn({ documentId: document.id, code: error.code, reason: error.message }, 'document failed');
    const failed = await this.#options.catalog.updateDocument(document.id, {
      status: 'failed',
      error: { code: error.code, message: error.message },
    });
    return { kind: 'failed', document: failed, error };
  }
}

function optionalPassword(password: string | undefined): { password?: string } {
  return password === undefined ? {} : { password };
}
