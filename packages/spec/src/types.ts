/** Domain types shared by every layer. They know no vendor and no framework. */

export interface KnowledgeBase {
  id: string;
  name: string;
  /** ISO 8601 timestamp. */
  createdAt: string;
  /**
   * The index generation that searches read: the one source of truth for every index. Reindexing
   * builds generation + 1 and switches this number in one step.
   */
  generation: number;
  /** How the live generation was built (its dense vector size). */
  schema: GenerationSchema;
  /** The reindex building the next generation, while one runs or waits to be resumed. */
  reindex: ReindexState | null;
}

/** What an index generation was built with; a new embedding model gets a generation of its own. */
export interface GenerationSchema {
  /** Name of the embedding model of the dense vectors, or null when the generation is lexical only. */
  embeddingModel: string | null;
  /** Size of the dense vectors, or null when the generation is lexical only. */
  denseDimensions: number | null;
}

/** A reindex of a knowledge base into `targetGeneration`, as the catalog records it. */
export interface ReindexState {
  targetGeneration: number;
  schema: GenerationSchema;
  /** Who holds the reindex lock (one reindex per knowledge base at a time). */
  owner: string;
  /** ISO 8601; a lock not renewed by then is free (its holder was killed), and the reindex can be resumed. */
  leaseExpiresAt: string;
  /** ISO 8601. */
  startedAt: string;
  progress: ReindexProgress;
}

export interface ReindexProgress {
  /** Documents to rebuild (ready documents when the reindex started, and uploads meanwhile). */
  documentsTotal: number;
  /** Documents already in the target generation. */
  documentsDone: number;
  documentsFailed: number;
  /** Chunks written into the target generation so far. */
  chunks: number;
}

export const documentStatuses = ['queued', 'processing', 'ready', 'failed'] as const;
export type DocumentStatus = (typeof documentStatuses)[number];

export const ingestionStages = ['queued', 'parsing', 'ocr', 'chunking', 'embedding', 'indexing', 'done'] as const;
export type IngestionStage = (typeof ingestionStages)[number];

export interface IngestionProgress {
  stage: IngestionStage;
  done: number;
  total: number;
}

export type DocumentType = 'pdf' | 'text' | 'markdown' | 'html' | 'docx' | 'pptx' | 'xlsx' | 'csv' | 'email' | 'image';

export interface DocumentRecord {
  id: string;
  knowledgeBaseId: string;
  name: string;
  /** Size of the original file in bytes. */
  bytes: number;
  /** SHA-256 of the original, hex. */
  contentHash: string;
  /** Declared by the client at upload; the real type is detected from the bytes while parsing. */
  mediaType: string | null;
  type: DocumentType | null;
  status: DocumentStatus;
  progress: IngestionProgress;
  pages: number | null;
  chunks: number | null;
  error: { code: string; message: string } | null;
  /** How many times ingestion started for this document (restarts and retries count). */
  attempts: number;
  /** The document this upload replaces once it is `ready` (an upload with `replace`), or null. */
  replaces: string | null;
  createdAt: string;
  updatedAt: string;
}

/** One page of extracted text. Page numbers start at 1; non-paginated formats have one page. */
export interface ParsedPage {
  number: number;
  text: string;
}

export interface ParsedDocument {
  type: DocumentType;
  pages: ParsedPage[];
  title?: string;
}

/** A passage of a document: the unit that is indexed, retrieved and cited. */
export interface Chunk {
  /** Deterministic: derived from document id, index generation and ordinal. */
  id: string;
  knowledgeBaseId: string;
  documentId: string;
  documentName: string;
  generation: number;
  /** Position of the chunk in its document, from 0. */
  ordinal: number;
  page: number;
  /** Character offsets into the page's text: `pageText.slice(start, end) === text`. */
  start: number;
  end: number;
  text: string;
  /** Approximate token count (see estimateTokens). */
  tokens: number;
}

/** A chunk with the lexical terms and, when an embedder is configured, its dense vector. */
export interface IndexedChunk extends Chunk {
  /** Term frequencies from the lexical analyzer. */
  terms: Record<string, number>;
  /**
   * The same terms as JSON text, when the producer holds them so (the parsing thread makes them):
   * a store that keeps JSON writes it as it is, instead of decoding and encoding it again on the
   * event loop's thread. Not enumerable where it is set, so copies and clones carry `terms` only.
   */
  readonly termsJson?: string;
  vector?: number[];
}

export type RetrievalMode = 'lexical' | 'dense' | 'hybrid';

/**
 * How a hybrid search fuses its lexical and dense lists, as Qdrant's Query API names them: `rrf`,
 * reciprocal rank fusion (positions only); `dbsf`, distribution-based score fusion (each list's
 * scores normalized by its mean and deviation, then summed).
 */
export type HybridFusion = 'rrf' | 'dbsf';

/** The fusion of hybrid searches unless configured otherwise (HYBRID_FUSION): measured better on both evaluation sets (README). */
export const defaultHybridFusion: HybridFusion = 'dbsf';

export interface SearchHit {
  chunk: Chunk;
  score: number;
}

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** A passage given to the model, numbered as it is cited: [index]. */
export interface Source {
  index: number;
  documentId: string;
  documentName: string;
  page: number;
  chunkId: string;
  score: number;
  text: string;
}

export type AnswerMode = 'llm' | 'extractive';

export interface AnswerTimings {
  retrievalMs: number;
  /** Of retrievalMs, the time the reranker took; null when no reranker ran. */
  rerankMs: number | null;
  /** Null when no text was produced. */
  firstTokenMs: number | null;
  totalMs: number;
}

/** What the answering service yields; every transport renders these same events. */
export type AnswerEvent =
  | { type: 'sources'; sources: Source[] }
  | { type: 'text-delta'; delta: string }
  | {
      type: 'end';
      answer: string;
      citations: number[];
      invalidCitations: number[];
      mode: AnswerMode;
      timings: AnswerTimings;
    }
  | { type: 'error'; code: string; message: string };
