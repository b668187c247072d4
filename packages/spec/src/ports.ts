/**
 * Ports: the small interfaces the pipeline needs from the outside world. Each has one contract
 * test suite that every adapter passes. Every async method takes an AbortSignal where the work can
 * be long or remote.
 */
import type {
  Chunk,
  ChatMessage,
  DocumentRecord,
  DocumentStatus,
  IndexedChunk,
  GenerationSchema,
  IngestionProgress,
  KnowledgeBase,
  ReindexProgress,
  ReindexState,
  ParsedDocument,
  RetrievalMode,
  HybridFusion,
  SearchHit,
} from './types.js';

export interface NewDocument {
  id: string;
  knowledgeBaseId: string;
  name: string;
  bytes: number;
  contentHash: string;
  mediaType: string | null;
  /** A document of the same knowledge base that this one replaces once it is `ready`. */
  replaces?: string | null;
}

/** What `createDocuments` did with one upload. */
export interface CreatedDocument {
  document: DocumentRecord;
  /**
   * True when the knowledge base already held a document with the same bytes (sha256): `document`
   * is that one, and nothing new was recorded.
   */
  duplicate: boolean;
}

/** What `beginReindex` records or finds. */
export interface ReindexLease {
  state: ReindexState;
  /** True when an earlier reindex into the same target was interrupted and is taken over. */
  resumed: boolean;
}

/** The outcome of `switchGeneration`. */
export type GenerationSwitch =
  | { switched: true; previousGeneration: number }
  /** Ready documents not yet in the target generation (uploads that arrived meanwhile). */
  | { switched: false; missing: string[] };

export interface DocumentUpdate {
  status?: DocumentStatus;
  progress?: IngestionProgress;
  pages?: number | null;
  chunks?: number | null;
  type?: DocumentRecord['type'];
  error?: { code: string; message: string } | null;
}

/**
 * Knowledge bases and documents with their status, and the one source of truth for which index
 * generation of a knowledge base is live. Every change that must be atomic is one call.
 */
export interface Catalog {
  /** Generation 1 is live from the start, built with `schema`. */
  createKnowledgeBase(input: { id: string; name: string; schema: GenerationSchema }): Promise<KnowledgeBase>;
  getKnowledgeBase(id: string): Promise<KnowledgeBase | null>;
  listKnowledgeBases(): Promise<KnowledgeBase[]>;
  /** Removes the knowledge base and its documents from the catalog. Returns false if it did not exist. */
  deleteKnowledgeBase(id: string): Promise<boolean>;

  /**
   * Takes the reindex lock of a knowledge base for `owner` until `leaseMs` from now. A reindex
   * whose lease expired (its process was killed) is taken over with its target and progress
   * (`resumed`); otherwise a new one targets the live generation + 1 with `schema`. Throws
   * ConflictError `reindex_in_progress` while another owner's lease runs, and
   * `knowledge_base_not_found`.
   */
  beginReindex(knowledgeBaseId: string, input: { owner: string; leaseMs: number; schema: GenerationSchema }): Promise<ReindexLease>;
  /** Extends the lease and records progress; false when the lock was lost (taken over, or the knowledge base deleted). */
  renewReindex(knowledgeBaseId: string, input: { owner: string; leaseMs: number; progress?: ReindexProgress }): Promise<boolean>;
  /** Forgets the reindex without switching (its target generation is the caller's to drop). */
  abandonReindex(knowledgeBaseId: string, owner: string): Promise<void>;
  /**
   * The atomic switch: when every `ready` document of the knowledge base is recorded in the target
   * generation (`recordDocumentGeneration`), makes it the live one and ends the reindex; otherwise
   * names the documents still missing and changes nothing.
   */
  switchGeneration(knowledgeBaseId: string, input: { owner: string; targetGeneration: number }): Promise<GenerationSwitch>;
  /** Records that a document's chunks (`chunks` of them) are complete in a generation of the index. */
  recordDocumentGeneration(documentId: string, generation: number, chunks: number): Promise<void>;
  /** Ids of the documents recorded complete in a generation, with their chunk counts. */
  documentsInGeneration(knowledgeBaseId: string, generation: number): Promise<Map<string, number>>;
  /** Of the given ids, those of documents that exist in the knowledge base and are `ready`: what a search may return. */
  searchableDocuments(knowledgeBaseId: string, documentIds: string[]): Promise<Set<string>>;

  /**
   * Records uploads as `queued`, in one step. An upload whose content hash equals a document
   * already in its knowledge base is not recorded: the existing document is returned with
   * `duplicate: true`. Throws `knowledge_base_not_found` when the knowledge base is gone.
   */
  createDocuments(documents: NewDocument[]): Promise<CreatedDocument[]>;
  /** The newest document of the knowledge base with this name, for `replace=true`. */
  findDocumentByName(knowledgeBaseId: string, name: string): Promise<DocumentRecord | null>;
  getDocument(knowledgeBaseId: string, documentId: string): Promise<DocumentRecord | null>;
  listDocuments(knowledgeBaseId: string): Promise<DocumentRecord[]>;
  /** Documents in the given statuses across all knowledge bases, oldest first. */
  listDocumentsByStatus(statuses: DocumentStatus[]): Promise<DocumentRecord[]>;
  updateDocument(documentId: string, update: DocumentUpdate): Promise<DocumentRecord | null>;
  /**
   * Marks a document `ready` with its chunk count and, when it replaces another document, deletes
   * that one in the same step (its id is returned so that its chunks and file can go). Null when
   * the document was deleted meanwhile.
   */
  completeDocument(documentId: string, chunks: number): Promise<{ document: DocumentRecord; replaced: string | null } | null>;
  /**
   * Moves a document to `processing` and counts an attempt, unless it was deleted or already ended.
   * Returns the record when the caller may process it.
   */
  claimDocument(documentId: string): Promise<DocumentRecord | null>;
  deleteDocument(knowledgeBaseId: string, documentId: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Original uploaded files, addressed by document id. */
export interface FileStore {
  /** Moves or copies the file at `sourcePath` into the store. Atomic: a reader never sees half a file. */
  putFromPath(documentId: string, sourcePath: string, signal?: AbortSignal): Promise<void>;
  read(documentId: string, signal?: AbortSignal): Promise<Uint8Array>;
  delete(documentId: string): Promise<void>;
  exists(documentId: string): Promise<boolean>;
}

export interface IndexSearchRequest {
  knowledgeBaseId: string;
  generation: number;
  /** Analyzed query terms with their weights (query term frequency). */
  terms: Record<string, number>;
  /** Dense query vector, when an embedder is configured. */
  vector?: number[];
  mode: RetrievalMode;
  /** How a hybrid search fuses its two lists. Default: the index's own (HYBRID_FUSION). */
  fusion?: HybridFusion;
  topK: number;
  signal?: AbortSignal;
}

/**
 * The chunk index: lexical (BM25) always, dense when vectors are given. A knowledge base's chunks
 * live in generations, each created explicitly with its schema; writes for one document replace
 * that document's chunks in one generation. Which generation is live is the catalog's to say:
 * searches name it.
 */
export interface ChunkIndex {
  /** Creates a generation (idempotent). Writes into a generation that was never created, or dropped, fail. */
  createGeneration(target: { knowledgeBaseId: string; generation: number }, schema: GenerationSchema, signal?: AbortSignal): Promise<void>;
  /**
   * Tells the index that a generation became live (Qdrant moves the knowledge base's alias in one
   * atomic step, for tools that read the alias). Searches do not depend on it.
   */
  activateGeneration(target: { knowledgeBaseId: string; generation: number }, signal?: AbortSignal): Promise<void>;
  /** Removes a generation and its chunks. Nothing can be written into it afterwards. */
  dropGeneration(target: { knowledgeBaseId: string; generation: number }, signal?: AbortSignal): Promise<void>;
  /** Throws GenerationNotFoundError when the generation does not exist. */
  upsertDocumentChunks(
    target: { knowledgeBaseId: string; generation: number; documentId: string },
    chunks: IndexedChunk[],
    signal?: AbortSignal,
  ): Promise<void>;
  /** Removes the document's chunks from every generation; searches stop returning them before this resolves. */
  deleteDocument(knowledgeBaseId: string, documentId: string, signal?: AbortSignal): Promise<void>;
  /** Removes everything of the knowledge base. */
  deleteKnowledgeBase(knowledgeBaseId: string, signal?: AbortSignal): Promise<void>;
  /** Throws GenerationNotFoundError when the generation does not exist (dropped by a reindex meanwhile). */
  search(request: IndexSearchRequest): Promise<SearchHit[]>;
  countChunks(knowledgeBaseId: string, generation: number, documentId?: string): Promise<number>;
  close(): Promise<void>;
}

/** One document of a reindex: rebuild it from its stored original into `generation`. */
export interface RebuildRequest {
  knowledgeBaseId: string;
  documentIds: string[];
  generation: number;
  /** The target generation's schema: a worker whose embedder does not match refuses the work. */
  schema: GenerationSchema;
  /** Documents rebuilt at once (workers' own concurrency applies in the scaled mode). Default: the queue's. */
  concurrency?: number;
  signal: AbortSignal;
}

/** How the rebuild of one document ended. */
export type RebuildOutcome =
  | { documentId: string; kind: 'done'; chunks: number }
  /** Deleted meanwhile, or no longer ready: nothing to rebuild. */
  | { documentId: string; kind: 'skipped'; reason: string }
  | { documentId: string; kind: 'failed'; error: { code: string; message: string } };

/** Durable queue of documents to ingest. */
export interface IngestionQueue {
  enqueue(documentIds: string[]): Promise<void>;
  /**
   * Rebuilds documents into a generation (a reindex) where documents are ingested: in this process
   * (embedded), or by the workers (BullMQ), following each to its end. Yields every outcome once;
   * an abort stops following (and, in this process, the work).
   */
  rebuild(request: RebuildRequest): AsyncIterable<RebuildOutcome>;
  /** Starts consuming; resolves when consumption has started (recovered work included). */
  start(): Promise<void>;
  /** Stops work on a document that was deleted; best effort. */
  cancel(documentId: string): void;
  /** Stops taking work and waits for running jobs to settle or be abandoned for recovery. */
  close(): Promise<void>;
}

export interface ChatStreamRequest {
  messages: ChatMessage[];
  signal: AbortSignal;
  /** Upper bound on generated tokens. */
  maxTokens?: number;
  temperature?: number;
}

/** A streaming chat model. Yields text deltas; throws AppError with an llm_* code on failure. */
export interface ChatModel {
  readonly name: string;
  stream(request: ChatStreamRequest): AsyncIterable<string>;
}

export type EmbeddingPurpose = 'query' | 'passage';

/** The schema of a generation built with this embedder (or none). */
export function generationSchemaOf(embedder: Pick<Embedder, 'name' | 'dimensions'> | null | undefined): GenerationSchema {
  return embedder === null || embedder === undefined
    ? { embeddingModel: null, denseDimensions: null }
    : { embeddingModel: embedder.name, denseDimensions: embedder.dimensions };
}

export interface Embedder {
  readonly name: string;
  readonly dimensions: number;
  embed(texts: string[], purpose: EmbeddingPurpose, signal?: AbortSignal): Promise<number[][]>;
}

/**
 * Scores retrieval candidates against a query with a model that reads both together (a
 * cross-encoder), for the second stage of retrieval. Adapters: in-process (transformers.js) and
 * the `/rerank` HTTP API of Text Embeddings Inference, vLLM, Jina and Cohere.
 */
export interface Reranker {
  readonly name: string;
  /**
   * One relevance score per text, in the order given; higher is more relevant. Scores compare only
   * within one call. Throws AppError `rerank_failed` when the model fails, AbortedError on abort.
   */
  score(query: string, texts: string[], signal?: AbortSignal): Promise<number[]>;
}

/** One entry of a chunk store's change feed. */
export interface IndexChange {
  sequence: number;
  kind: 'upsert' | 'remove-document' | 'remove-knowledge-base' | 'remove-generation';
  knowledgeBaseId: string;
  generation: number | null;
  documentId: string | null;
}

/** What an in-memory index needs of a chunk: its id, document and lexical terms (and vector). */
export interface ChunkPostings {
  id: string;
  documentId: string;
  terms: Record<string, number>;
  vector?: number[];
}

/**
 * Durable storage of chunks for an index that ranks in memory (the embedded default). Writes are
 * logged in a change feed so that every process sharing the store can catch up incrementally.
 */
export interface ChunkStore {
  createGeneration(knowledgeBaseId: string, generation: number): Promise<void>;
  hasGeneration(knowledgeBaseId: string, generation: number): Promise<boolean>;
  /** Deletes the generation's chunks and logs a `remove-generation` change. */
  dropGeneration(knowledgeBaseId: string, generation: number): Promise<void>;
  /** Throws GenerationNotFoundError when the generation was not created or was dropped. */
  replaceDocumentChunks(target: { knowledgeBaseId: string; generation: number; documentId: string }, chunks: IndexedChunk[]): Promise<void>;
  removeDocument(knowledgeBaseId: string, documentId: string): Promise<void>;
  removeKnowledgeBase(knowledgeBaseId: string): Promise<void>;
  /** Every posting of one generation, with the feed position it is consistent with. */
  snapshot(knowledgeBaseId: string, generation: number): Promise<{ sequence: number; postings: ChunkPostings[] }>;
  changesSince(knowledgeBaseId: string, sequence: number): Promise<IndexChange[]>;
  documentPostings(knowledgeBaseId: string, generation: number, documentId: string): Promise<ChunkPostings[]>;
  getChunks(ids: string[]): Promise<Chunk[]>;
  countChunks(knowledgeBaseId: string, generation: number, documentId?: string): Promise<number>;
}

/** Turns text into lexical terms; the same analyzer serves indexing and queries. */
export interface TextAnalyzer {
  analyze(text: string): string[];
  termFrequencies(text: string): Record<string, number>;
}

/** Structured logging, satisfied by pino. */
export interface Logger {
  debug(object: object, message?: string): void;
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

/** A logger that drops everything, for tests and tools. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

/** Turns an original file into pages of text, within time and memory bounds. */
export interface DocumentParser {
  parse(bytes: Uint8Array, meta: { fileName: string; mediaType?: string | null }, signal?: AbortSignal): Promise<ParsedDocument>;
}

/** A file opened for reading at any position (a lexical segment file, read in parts at start-up). */
export interface RandomAccessFile {
  /** Bytes in the file. */
  readonly size: number;
  /** Fills all of `target` with the file's bytes from `position` on; fails when the file ends first. */
  read(target: Uint8Array, position: number): Promise<void>;
  close(): Promise<void>;
}
