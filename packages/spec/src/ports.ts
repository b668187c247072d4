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
  IngestionProgress,
  KnowledgeBase,
  ParsedDocument,
  RetrievalMode,
  SearchHit,
} from './types.js';

export interface NewDocument {
  id: string;
  knowledgeBaseId: string;
  name: string;
  bytes: number;
  contentHash: string;
  mediaType: string | null;
}

export interface DocumentUpdate {
  status?: DocumentStatus;
  progress?: IngestionProgress;
  pages?: number | null;
  chunks?: number | null;
  type?: DocumentRecord['type'];
  error?: { code: string; message: string } | null;
}

/** Knowledge bases and documents with their status. */
export interface Catalog {
  createKnowledgeBase(input: { id: string; name: string }): Promise<KnowledgeBase>;
  getKnowledgeBase(id: string): Promise<KnowledgeBase | null>;
  listKnowledgeBases(): Promise<KnowledgeBase[]>;
  /** Removes the knowledge base and its documents from the catalog. Returns false if it did not exist. */
  deleteKnowledgeBase(id: string): Promise<boolean>;
  /** Switches the generation that searches read (reindex). */
  setGeneration(knowledgeBaseId: string, generation: number): Promise<void>;

  createDocuments(documents: NewDocument[]): Promise<DocumentRecord[]>;
  getDocument(knowledgeBaseId: string, documentId: string): Promise<DocumentRecord | null>;
  listDocuments(knowledgeBaseId: string): Promise<DocumentRecord[]>;
  /** Documents in the given statuses across all knowledge bases, oldest first. */
  listDocumentsByStatus(statuses: DocumentStatus[]): Promise<DocumentRecord[]>;
  updateDocument(documentId: string, update: DocumentUpdate): Promise<DocumentRecord | null>;
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
  topK: number;
  signal?: AbortSignal;
}

/**
 * The chunk index: lexical (BM25) always, dense when vectors are given. Writes for one document
 * replace that document's chunks in that generation.
 */
export interface ChunkIndex {
  upsertDocumentChunks(
    target: { knowledgeBaseId: string; generation: number; documentId: string },
    chunks: IndexedChunk[],
    signal?: AbortSignal,
  ): Promise<void>;
  /** Removes the document's chunks from every generation; searches stop returning them before this resolves. */
  deleteDocument(knowledgeBaseId: string, documentId: string, signal?: AbortSignal): Promise<void>;
  /** Removes everything of the knowledge base. */
  deleteKnowledgeBase(knowledgeBaseId: string, signal?: AbortSignal): Promise<void>;
  search(request: IndexSearchRequest): Promise<SearchHit[]>;
  countChunks(knowledgeBaseId: string, generation: number, documentId?: string): Promise<number>;
  close(): Promise<void>;
}

/** Durable queue of documents to ingest. */
export interface IngestionQueue {
  enqueue(documentIds: string[]): Promise<void>;
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

export interface Embedder {
  readonly name: string;
  readonly dimensions: number;
  embed(texts: string[], purpose: EmbeddingPurpose, signal?: AbortSignal): Promise<number[][]>;
}

/** One entry of a chunk store's change feed. */
export interface IndexChange {
  sequence: number;
  kind: 'upsert' | 'remove-document' | 'remove-knowledge-base';
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
  replaceDocumentChunks(
    target: { knowledgeBaseId: string; generation: number; documentId: string },
    chunks: IndexedChunk[],
  ): Promise<void>;
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
  parse(
    bytes: Uint8Array,
    meta: { fileName: string; mediaType?: string | null },
    signal?: AbortSignal,
  ): Promise<ParsedDocument>;
}
