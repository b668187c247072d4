import {
  AppError,
  GenerationNotFoundError,
  TimeSlice,
  InvalidRequestError,
  throwIfAborted,
  type ChunkIndex,
  type ChunkPostings,
  type ChunkStore,
  type GenerationSchema,
  type IndexedChunk,
  type IndexSearchRequest,
  type SearchHit,
} from '@passage/spec';
import { Bm25Index, type Bm25Options } from './bm25-index.js';
import { defaultRrfK, reciprocalRankFusion } from './reciprocal-rank-fusion.js';
import type { RankedHit } from './top-heap.js';
import { VectorIndex } from './vector-index.js';

/** Chunks removed from the in-memory indexes between two checks of the time slice. */
const removalSliceChunks = 256;

/** Default of {@link LocalChunkIndexOptions.documentWeight}. */
export const defaultDocumentWeight = 0.3;

/** Default of {@link LocalChunkIndexOptions.fusionCandidates}. */
export const defaultFusionCandidates = 100;

export interface LocalChunkIndexOptions {
  /** Where chunks live durably. */
  store: ChunkStore;
  /** BM25 parameters, for chunks and whole documents alike. Default: k1 1.2, b 0.75. */
  bm25?: Bm25Options;
  /**
   * Weight of the whole document's BM25 score in the lexical score of each of its chunks:
   * score(chunk) = BM25(chunk) + documentWeight × BM25(document), the document being the sum of its
   * chunks' terms. Evidence from the rest of the document ranks a passage of a document about the
   * query above an equally matching passage of a document that only mentions it (Callan 1994,
   * "Passage-level evidence in document retrieval"). Default 0.3; 0 turns it off.
   */
  documentWeight?: number;
  /** RRF's k for hybrid searches (RRF_K). Default 60. */
  rrfK?: number;
  /**
   * How many candidates each of the lexical and the dense lists brings to a hybrid fusion, at least
   * the request's topK: Qdrant's prefetch `limit`. Default 100.
   */
  fusionCandidates?: number;
}

interface GenerationState {
  generation: number;
  sequence: number;
  /** BM25 over chunks. */
  lexical: Bm25Index;
  /** BM25 over whole documents, for the document evidence; empty when documentWeight is 0. */
  documents: Bm25Index;
  vectors: VectorIndex;
  /**
   * Chunks whose vector the dense index refused (a size other than the rest: the embedding model
   * changed without a reindex), with the reason. Dense searches fail while any is present.
   */
  rejectedVectors: Map<string, string>;
  chunksByDocument: Map<string, string[]>;
  documentOfChunk: Map<string, string>;
  refreshing: Promise<void> | null;
  /** Set when the change feed says the generation was dropped: searches of it fail from then on. */
  dropped: boolean;
}

/**
 * The embedded chunk index: chunks stored durably in a ChunkStore, ranked in memory. Each
 * knowledge base generation is loaded on first use and then kept current from the store's change
 * feed before every search, which also picks up writes made by other processes on the same store.
 *
 * Modes: `lexical` ranks by BM25 with document evidence (see documentWeight); `dense` by cosine
 * similarity of the chunk vectors to the query vector, exactly (brute force); `hybrid` fuses the
 * lexical and the dense top `max(topK, fusionCandidates)` by reciprocal rank fusion, as Qdrant's
 * Query API does with two prefetches and `fusion: "rrf"`. Chunks stored without a vector (indexed
 * before an embedder was configured) take part in lexical ranking only.
 */
export class LocalChunkIndex implements ChunkIndex {
  readonly #store: ChunkStore;
  readonly #bm25Options: Bm25Options;
  readonly #documentWeight: number;
  readonly #rrfK: number;
  readonly #fusionCandidates: number;
  readonly #states = new Map<string, Promise<GenerationState>>();

  constructor(options: LocalChunkIndexOptions) {
    this.#store = options.store;
    this.#bm25Options = options.bm25 ?? {};
    this.#documentWeight = options.documentWeight ?? defaultDocumentWeight;
    this.#rrfK = options.rrfK ?? defaultRrfK;
    this.#fusionCandidates = options.fusionCandidates ?? defaultFusionCandidates;
    if (!(this.#documentWeight >= 0) || !Number.isFinite(this.#documentWeight)) {
      throw new RangeError(`documentWeight must be a finite number ≥ 0, got ${this.#documentWeight}`);
    }
    if (!(this.#rrfK >= 1) || !Number.isFinite(this.#rrfK)) throw new RangeError(`rrfK must be a finite number ≥ 1, got ${this.#rrfK}`);
    if (!Number.isInteger(this.#fusionCandidates) || this.#fusionCandidates < 1) {
      throw new RangeError(`fusionCandidates must be a positive integer, got ${this.#fusionCandidates}`);
    }
  }

  async createGeneration(target: { knowledgeBaseId: string; generation: number }, _schema: GenerationSchema, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    await this.#store.createGeneration(target.knowledgeBaseId, target.generation);
  }

  /** Nothing to move: searches name the live generation, which the catalog says. */
  async activateGeneration(_target: { knowledgeBaseId: string; generation: number }, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
  }

  async dropGeneration(target: { knowledgeBaseId: string; generation: number }, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    await this.#store.dropGeneration(target.knowledgeBaseId, target.generation);
    this.#states.delete(stateKey(target.knowledgeBaseId, target.generation));
  }

  async upsertDocumentChunks(
    target: { knowledgeBaseId: string; generation: number; documentId: string },
    chunks: IndexedChunk[],
    signal?: AbortSignal,
  ): Promise<void> {
    throwIfAborted(signal);
    await this.#store.replaceDocumentChunks(target, chunks);
  }

  async deleteDocument(knowledgeBaseId: string, documentId: string, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    await this.#store.removeDocument(knowledgeBaseId, documentId);
    // Bring loaded generations up to date now, so no search after this call can see the document.
    await Promise.all(this.#loadedStates(knowledgeBaseId).map(async (state) => this.#refresh(knowledgeBaseId, await state)));
  }

  async deleteKnowledgeBase(knowledgeBaseId: string, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    await this.#store.removeKnowledgeBase(knowledgeBaseId);
    for (const key of [...this.#states.keys()]) {
      if (key.startsWith(`${knowledgeBaseId}\u0000`)) this.#states.delete(key);
    }
  }

  async search(request: IndexSearchRequest): Promise<SearchHit[]> {
    throwIfAborted(request.signal);
    if (request.mode !== 'lexical' && request.vector === undefined) {
      throw new InvalidRequestError(`Retrieval mode "${request.mode}" needs a query vector (an embedder); use "lexical"`);
    }
    const state = await this.#state(request.knowledgeBaseId, request.generation);
    await this.#refresh(request.knowledgeBaseId, state);
    if (state.dropped) throw new GenerationNotFoundError(request.knowledgeBaseId, request.generation);
    throwIfAborted(request.signal);
    const topK = request.topK;
    let ranked: RankedHit[];
    if (request.mode === 'lexical') {
      ranked = this.#lexicalSearch(state, request.terms, topK);
    } else if (request.mode === 'dense') {
      ranked = this.#denseSearch(state, request.vector ?? [], topK);
    } else {
      const candidates = Math.max(topK, this.#fusionCandidates);
      ranked = reciprocalRankFusion([this.#lexicalSearch(state, request.terms, candidates), this.#denseSearch(state, request.vector ?? [], candidates)], {
        k: this.#rrfK,
        limit: topK,
      });
    }
    if (ranked.length === 0) return [];
    const chunks = await this.#store.getChunks(ranked.map((entry) => entry.id));
    const chunksById = new Map(chunks.map((chunk) => [chunk.id, chunk]));
    return ranked.flatMap((entry) => {
      const chunk = chunksById.get(entry.id);
      return chunk === undefined ? [] : [{ chunk, score: entry.score }];
    });
  }

  #lexicalSearch(state: GenerationState, terms: Record<string, number>, topK: number): RankedHit[] {
    if (this.#documentWeight === 0) return state.lexical.search(terms, topK);
    const documentScores = state.documents.scoreAll(terms);
    const weight = this.#documentWeight;
    return state.lexical.search(terms, topK, {
      // A chunk that matches a term belongs to a document that matches it, so the lookup finds a score.
      boost: (id) => weight * (documentScores.get(state.documentOfChunk.get(id) ?? '') ?? 0),
    });
  }

  #denseSearch(state: GenerationState, vector: number[], topK: number): RankedHit[] {
    const [rejected] = state.rejectedVectors.values();
    if (rejected !== undefined) {
      throw new AppError(
        'internal_error',
        `This knowledge base holds chunk vectors of different sizes (${rejected}): the embedding model changed while ` +
          'documents were indexed; reindex the knowledge base',
      );
    }
    if (state.vectors.size === 0) return [];
    if (vector.length !== state.vectors.dimensions) {
      throw new AppError(
        'internal_error',
        `The query vector has ${vector.length} dimensions but this knowledge base's chunks have ${state.vectors.dimensions}: ` +
          'the embedding model changed since they were indexed; reindex the knowledge base',
      );
    }
    return state.vectors.search(vector, topK);
  }

  async countChunks(knowledgeBaseId: string, generation: number, documentId?: string): Promise<number> {
    return this.#store.countChunks(knowledgeBaseId, generation, documentId);
  }

  async close(): Promise<void> {
    this.#states.clear();
  }

  #loadedStates(knowledgeBaseId: string): Array<Promise<GenerationState>> {
    return [...this.#states.entries()].filter(([key]) => key.startsWith(`${knowledgeBaseId}\u0000`)).map(([, state]) => state);
  }

  #state(knowledgeBaseId: string, generation: number): Promise<GenerationState> {
    const key = stateKey(knowledgeBaseId, generation);
    let state = this.#states.get(key);
    if (state === undefined) {
      state = this.#load(knowledgeBaseId, generation);
      this.#states.set(key, state);
      // A failed load must not stick: the next search tries again.
      state.catch(() => this.#states.delete(key));
    }
    return state;
  }

  async #load(knowledgeBaseId: string, generation: number): Promise<GenerationState> {
    if (!(await this.#store.hasGeneration(knowledgeBaseId, generation))) throw new GenerationNotFoundError(knowledgeBaseId, generation);
    const snapshot = await this.#store.snapshot(knowledgeBaseId, generation);
    const state: GenerationState = {
      generation,
      sequence: snapshot.sequence,
      lexical: new Bm25Index(this.#bm25Options),
      documents: new Bm25Index(this.#bm25Options),
      vectors: new VectorIndex(),
      rejectedVectors: new Map(),
      chunksByDocument: new Map(),
      documentOfChunk: new Map(),
      refreshing: null,
      dropped: false,
    };
    await this.#apply(state, snapshot.postings);
    return state;
  }

  /**
   * Puts the postings in the state; each document present in them replaces its earlier version.
   * Works in slices of a few milliseconds with the event loop free between them (a document can
   * have a hundred thousand chunks); searches wait for it (they await the load or the refresh).
   */
  async #apply(state: GenerationState, postings: ChunkPostings[]): Promise<void> {
    const byDocument = new Map<string, ChunkPostings[]>();
    for (const entry of postings) {
      const list = byDocument.get(entry.documentId);
      if (list === undefined) byDocument.set(entry.documentId, [entry]);
      else list.push(entry);
    }
    const slice = new TimeSlice();
    for (const [documentId, entries] of byDocument) {
      await this.#removeDocument(state, documentId);
      const documentTerms = new Map<string, number>();
      for (const entry of entries) {
        state.lexical.add([{ id: entry.id, terms: entry.terms }]);
        if (this.#documentWeight > 0) {
          for (const term in entry.terms) documentTerms.set(term, (documentTerms.get(term) ?? 0) + (entry.terms[term] as number));
        }
        if (entry.vector !== undefined) {
          try {
            state.vectors.add([{ id: entry.id, vector: entry.vector }]);
          } catch (error) {
            if (!(error instanceof RangeError)) throw error;
            // Lexical search keeps working; dense searches report this instead of partial results.
            state.rejectedVectors.set(entry.id, error.message);
          }
        }
        state.documentOfChunk.set(entry.id, documentId);
        await slice.yieldIfSpent();
      }
      if (this.#documentWeight > 0) state.documents.add([{ id: documentId, terms: Object.fromEntries(documentTerms) }]);
      state.chunksByDocument.set(
        documentId,
        entries.map((entry) => entry.id),
      );
    }
  }

  async #removeDocument(state: GenerationState, documentId: string): Promise<void> {
    const ids = state.chunksByDocument.get(documentId);
    if (ids === undefined) return;
    state.chunksByDocument.delete(documentId);
    state.documents.remove([documentId]);
    const slice = new TimeSlice();
    for (let offset = 0; offset < ids.length; offset += removalSliceChunks) {
      const part = ids.slice(offset, offset + removalSliceChunks);
      state.lexical.remove(part, { deferCompaction: true });
      state.vectors.remove(part);
      for (const id of part) {
        state.documentOfChunk.delete(id);
        state.rejectedVectors.delete(id);
      }
      await slice.yieldIfSpent();
    }
    // Rebuilding every posting list at once took hundreds of milliseconds after a large document.
    for (const _step of state.lexical.compactionSteps()) await slice.yieldIfSpent();
  }

  /** Applies the change feed since the state's position; concurrent callers share one refresh. */
  async #refresh(knowledgeBaseId: string, state: GenerationState): Promise<void> {
    while (state.refreshing !== null) await state.refreshing;
    const generation = state.generation;
    state.refreshing = (async () => {
      const changes = await this.#store.changesSince(knowledgeBaseId, state.sequence);
      if (changes.length === 0) return;
      const touched = new Set<string>();
      let cleared = false;
      for (const change of changes) {
        if (change.kind === 'remove-generation') {
          if (change.generation === generation) state.dropped = true;
          // Another process's reindex dropped an older generation: free what this one holds of it.
          else if (change.generation !== null) this.#states.delete(stateKey(knowledgeBaseId, change.generation));
        } else if (change.kind === 'remove-knowledge-base') cleared = true;
        else if (change.documentId !== null && (change.generation === null || change.generation === generation)) {
          touched.add(change.documentId);
        }
      }
      if (cleared || state.dropped) {
        for (const documentId of [...state.chunksByDocument.keys()]) await this.#removeDocument(state, documentId);
      }
      // Each touched document is reloaded as it is now, which makes replaying the feed idempotent.
      for (const documentId of touched) {
        const postings = await this.#store.documentPostings(knowledgeBaseId, generation, documentId);
        await this.#removeDocument(state, documentId);
        await this.#apply(state, postings);
      }
      const last = changes.at(-1);
      if (last !== undefined) state.sequence = last.sequence;
    })();
    try {
      await state.refreshing;
    } finally {
      state.refreshing = null;
    }
  }
}

function stateKey(knowledgeBaseId: string, generation: number): string {
  return `${knowledgeBaseId}\u0000${generation}`;
}
