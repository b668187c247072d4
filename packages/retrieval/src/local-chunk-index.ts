import {
  AppError,
  throwIfAborted,
  type ChunkIndex,
  type ChunkPostings,
  type ChunkStore,
  type IndexedChunk,
  type IndexSearchRequest,
  type SearchHit,
} from '@passage/spec';
import { Bm25Index, type Bm25Options } from './bm25-index.js';

export interface LocalChunkIndexOptions {
  /** Where chunks live durably. */
  store: ChunkStore;
  /** BM25 parameters. Default: k1 1.2, b 0.75. */
  bm25?: Bm25Options;
}

interface GenerationState {
  generation: number;
  sequence: number;
  lexical: Bm25Index;
  chunksByDocument: Map<string, string[]>;
  refreshing: Promise<void> | null;
}

/**
 * The embedded chunk index: chunks stored durably in a ChunkStore, ranked in memory. Each
 * knowledge base generation is loaded on first use and then kept current from the store's change
 * feed before every search, which also picks up writes made by other processes on the same store.
 */
export class LocalChunkIndex implements ChunkIndex {
  readonly #store: ChunkStore;
  readonly #bm25Options: Bm25Options;
  readonly #states = new Map<string, Promise<GenerationState>>();

  constructor(options: LocalChunkIndexOptions) {
    this.#store = options.store;
    this.#bm25Options = options.bm25 ?? {};
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
    if (request.mode !== 'lexical') {
      throw new AppError('invalid_request', `Retrieval mode "${request.mode}" needs an embedder; only "lexical" is available`);
    }
    const state = await this.#state(request.knowledgeBaseId, request.generation);
    await this.#refresh(request.knowledgeBaseId, state);
    throwIfAborted(request.signal);
    const ranked = state.lexical.search(request.terms, request.topK);
    if (ranked.length === 0) return [];
    const chunks = await this.#store.getChunks(ranked.map((entry) => entry.id));
    const chunksById = new Map(chunks.map((chunk) => [chunk.id, chunk]));
    return ranked.flatMap((entry) => {
      const chunk = chunksById.get(entry.id);
      return chunk === undefined ? [] : [{ chunk, score: entry.score }];
    });
  }

  async countChunks(knowledgeBaseId: string, generation: number, documentId?: string): Promise<number> {
    return this.#store.countChunks(knowledgeBaseId, generation, documentId);
  }

  async close(): Promise<void> {
    this.#states.clear();
  }

  #loadedStates(knowledgeBaseId: string): Array<Promise<GenerationState>> {
    return [...this.#states.entries()]
      .filter(([key]) => key.startsWith(`${knowledgeBaseId}\u0000`))
      .map(([, state]) => state);
  }

  #state(knowledgeBaseId: string, generation: number): Promise<GenerationState> {
    const key = `${knowledgeBaseId}\u0000${generation}`;
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
    const snapshot = await this.#store.snapshot(knowledgeBaseId, generation);
    const state: GenerationState = {
      generation,
      sequence: snapshot.sequence,
      lexical: new Bm25Index(this.#bm25Options),
      chunksByDocument: new Map(),
      refreshing: null,
    };
    this.#apply(state, snapshot.postings);
    return state;
  }

  #apply(state: GenerationState, postings: ChunkPostings[]): void {
    state.lexical.add(postings.map((entry) => ({ id: entry.id, terms: entry.terms })));
    for (const entry of postings) {
      const ids = state.chunksByDocument.get(entry.documentId);
      if (ids === undefined) state.chunksByDocument.set(entry.documentId, [entry.id]);
      else ids.push(entry.id);
    }
  }

  #removeDocument(state: GenerationState, documentId: string): void {
    const ids = state.chunksByDocument.get(documentId);
    if (ids === undefined) return;
    state.lexical.remove(ids);
    state.chunksByDocument.delete(documentId);
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
        if (change.kind === 'remove-knowledge-base') cleared = true;
        else if (change.documentId !== null && (change.generation === null || change.generation === generation)) {
          touched.add(change.documentId);
        }
      }
      if (cleared) {
        for (const documentId of [...state.chunksByDocument.keys()]) this.#removeDocument(state, documentId);
      }
      // Each touched document is reloaded as it is now, which makes replaying the feed idempotent.
      for (const documentId of touched) {
        const postings = await this.#store.documentPostings(knowledgeBaseId, generation, documentId);
        this.#removeDocument(state, documentId);
        this.#apply(state, postings);
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
