import {
  AppError,
  defaultHybridFusion,
  EventLoopTurns,
  GenerationNotFoundError,
  TimeSlice,
  InvalidRequestError,
  throwIfAborted,
  type ChunkIndex,
  type ChunkPostings,
  type ChunkStore,
  type GenerationSchema,
  type HybridFusion,
  type IndexedChunk,
  type IndexSearchRequest,
  type RandomAccessFile,
  type SearchHit,
} from '@passage/spec';
import type { Bm25Options } from './bm25-index.js';
import { DenseIndex, removeDenseIndexFiles, type DenseIndexOptions } from './dense-index.js';
import { LexicalSegment, LexicalSegmentFormatError, defaultPostingsCacheBytes, type LexicalSegmentOpenOptions } from './lexical-segment.js';
import { LexicalSegmentBuilder, type LexicalSegmentRow } from './lexical-segment-builder.js';
import { buildLexicalSegmentInThread, type SegmentRowPage } from './lexical-segment-thread.js';
import { distributionBasedScoreFusion } from './distribution-based-score-fusion.js';
import { defaultRrfK, reciprocalRankFusion } from './reciprocal-rank-fusion.js';
import { SegmentedBm25Index } from './segmented-bm25-index.js';
import type { RankedHit } from './top-heap.js';

/** Chunks removed from the in-memory indexes between two checks of the time slice. */
const removalSliceChunks = 256;

/** Default of {@link LocalChunkIndexOptions.tailChunksBeforeRebuild}. */
export const defaultTailChunksBeforeRebuild = 20_000;

/**
 * Snapshot pages read before deciding where to build: a generation that ends within them is built
 * on this thread (starting a thread costs more), a larger one in a thread of its own.
 */
const pagesBuiltInProcess = 2;

/**
 * What a ChunkStore may offer beyond the port so that the index is built off the event loop and
 * kept on disk between starts (SqliteChunkStore does): the snapshot with the terms unparsed, the
 * vectors alone, and the segment file.
 */
export interface LexicalSegmentSource {
  snapshotRows(
    knowledgeBaseId: string,
    generation: number,
    options?: { vectors?: boolean },
  ): Promise<{ sequence: number; pages: AsyncIterable<Array<{ id: string; documentId: string; terms: string; vector: Float32Array | null }>> }>;
  vectorPages(knowledgeBaseId: string, generation: number): AsyncIterable<Array<{ id: string; vector: Float32Array }>>;
  /** The generation's segment file, opened for reading (see LexicalSegment.open), or null when there is none. */
  openLexicalSegment(knowledgeBaseId: string, generation: number): Promise<RandomAccessFile | null>;
  writeLexicalSegment(knowledgeBaseId: string, generation: number, bytes: Uint8Array): Promise<void>;
}

function segmentSourceOf(store: ChunkStore): LexicalSegmentSource | null {
  const candidate = store as Partial<LexicalSegmentSource>;
  return typeof candidate.snapshotRows === 'function' &&
    typeof candidate.vectorPages === 'function' &&
    typeof candidate.openLexicalSegment === 'function' &&
    typeof candidate.writeLexicalSegment === 'function'
    ? (candidate as LexicalSegmentSource)
    : null;
}

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
  /**
   * How hybrid searches fuse the lexical and dense lists when a request names no fusion
   * (HYBRID_FUSION): `dbsf`, distribution-based score fusion, or `rrf`, reciprocal rank fusion.
   * Default {@link defaultHybridFusion} (`dbsf`).
   */
  fusion?: HybridFusion;
  /** RRF's k for hybrid searches fused by `rrf` (RRF_K). Default 60. */
  rrfK?: number;
  /**
   * How many candidates each of the lexical and the dense lists brings to a hybrid fusion, at least
   * the request's topK: Qdrant's prefetch `limit`. Default 100.
   */
  fusionCandidates?: number;
  /**
   * Chunks added to a loaded generation since its segment was built (or the segment's chunks
   * removed since) beyond which the segment is rebuilt in the background, off the event loop: the
   * added chunks live in ordinary arrays until then. The bound grows with the index (a quarter of
   * the segment's chunks, if more). Default 20,000.
   */
  tailChunksBeforeRebuild?: number;
  /**
   * How many bytes of segment postings each loaded generation keeps in memory after its searches:
   * a segment is searched from its file, the postings of its recent terms kept up to this budget.
   * Default 256 MiB (LEXICAL_CACHE_MB).
   */
  lexicalCacheBytes?: number;
  /** Told about a background rebuild that failed (searches go on with the index as it was). Default: a process warning. */
  onBackgroundError?: (error: Error) => void;
  /**
   * Dense search: exact, or through an HNSW graph for large knowledge bases (DENSE_INDEX,
   * DENSE_APPROXIMATE_FROM; see DenseIndex). Default: `auto` from 20,000 vectors, graphs not kept
   * between starts unless `directory` is given. Its background errors go to `onBackgroundError`.
   */
  dense?: DenseIndexOptions;
}

interface GenerationState {
  generation: number;
  sequence: number;
  /** BM25 over chunks and whole documents. */
  lexical: SegmentedBm25Index;
  vectors: DenseIndex;
  /**
   * Chunks whose vector the dense index refused (a size other than the rest: the embedding model
   * changed without a reindex), with the reason. Dense searches fail while any is present.
   */
  rejectedVectors: Map<string, string>;
  refreshing: Promise<void> | null;
  /** Set when the change feed says the generation was dropped: searches of it fail from then on. */
  dropped: boolean;
  /** A background rebuild of the segment is under way. */
  rebuilding: boolean;
  /**
   * Settles once the stored vectors are in `vectors` (read in the background after a segment is
   * read back, so lexical searches need not wait for them); never rejects: a failure is in
   * `vectorsError`. Whatever touches `vectors` waits for it.
   */
  vectorsReady: Promise<void>;
  vectorsLoaded: boolean;
  vectorsError: Error | null;
  /** Set when the state is let go: a background read of its vectors stops. */
  abandoned: boolean;
}

/**
 * The embedded chunk index: chunks stored durably in a ChunkStore, ranked in memory. Each
 * knowledge base generation is loaded on first use and then kept current from the store's change
 * feed before every search, which also picks up writes made by other processes on the same store.
 *
 * The lexical index of a generation is a compact segment (typed arrays; see SegmentedBm25Index)
 * plus a tail of the documents written since it was built. With a store that is a
 * {@link LexicalSegmentSource}, the segment is opened from its file at start (nothing to parse;
 * the file is never read whole: each search reads its terms' postings, kept afterwards in a cache
 * of {@link LocalChunkIndexOptions.lexicalCacheBytes}, and the stored vectors are read in the
 * background, so a large segment does not hold up the first search), or else built in a worker
 * thread from the stored terms and written
 * for the next start; it is rebuilt in the background once the tail grows past
 * {@link LocalChunkIndexOptions.tailChunksBeforeRebuild}.
 * A search that arrives while a generation loads waits for it without holding the event loop.
 *
 * Modes: `lexical` ranks by BM25 with document evidence (see documentWeight); `dense` by cosine
 * similarity of the chunk vectors to the query vector, exactly (brute force) or, for a large
 * knowledge base, through an HNSW graph built in a worker thread and kept beside the database
 * (see DenseIndex and {@link LocalChunkIndexOptions.dense}); `hybrid` fuses the
 * lexical and the dense top `max(topK, fusionCandidates)` by distribution-based score fusion or by
 * reciprocal rank fusion ({@link LocalChunkIndexOptions.fusion}), as Qdrant's Query API does with
 * two prefetches and `fusion: "dbsf"` or `"rrf"`. Chunks stored without a vector (indexed
 * before an embedder was configured) take part in lexical ranking only.
 */
export class LocalChunkIndex implements ChunkIndex {
  readonly #store: ChunkStore;
  readonly #turns = new EventLoopTurns();
  readonly #source: LexicalSegmentSource | null;
  readonly #bm25Options: Bm25Options;
  readonly #documentWeight: number;
  readonly #fusion: HybridFusion;
  readonly #rrfK: number;
  readonly #fusionCandidates: number;
  readonly #tailChunksBeforeRebuild: number;
  readonly #segmentOptions: LexicalSegmentOpenOptions;
  readonly #onBackgroundError: (error: Error) => void;
  readonly #dense: DenseIndexOptions;
  readonly #states = new Map<string, Promise<GenerationState>>();
  readonly #rebuilds = new Set<Promise<void>>();

  constructor(options: LocalChunkIndexOptions) {
    this.#store = options.store;
    this.#source = segmentSourceOf(options.store);
    this.#bm25Options = options.bm25 ?? {};
    this.#documentWeight = options.documentWeight ?? defaultDocumentWeight;
    this.#fusion = options.fusion ?? defaultHybridFusion;
    this.#rrfK = options.rrfK ?? defaultRrfK;
    this.#fusionCandidates = options.fusionCandidates ?? defaultFusionCandidates;
    this.#tailChunksBeforeRebuild = options.tailChunksBeforeRebuild ?? defaultTailChunksBeforeRebuild;
    this.#segmentOptions = { cacheBytes: options.lexicalCacheBytes ?? defaultPostingsCacheBytes };
    this.#onBackgroundError = options.onBackgroundError ?? ((error) => process.emitWarning(error));
    this.#dense = { onBackgroundError: this.#onBackgroundError, ...options.dense };
    // Checks the dense options now rather than at the first search.
    new DenseIndex({ knowledgeBaseId: '', generation: 0 }, this.#dense);
    if (!(this.#documentWeight >= 0) || !Number.isFinite(this.#documentWeight)) {
      throw new RangeError(`documentWeight must be a finite number ≥ 0, got ${this.#documentWeight}`);
    }
    if (this.#fusion !== 'rrf' && this.#fusion !== 'dbsf') throw new RangeError(`fusion must be "rrf" or "dbsf", got ${String(this.#fusion)}`);
    if (!(this.#rrfK >= 1) || !Number.isFinite(this.#rrfK)) throw new RangeError(`rrfK must be a finite number ≥ 1, got ${this.#rrfK}`);
    if (!Number.isInteger(this.#fusionCandidates) || this.#fusionCandidates < 1) {
      throw new RangeError(`fusionCandidates must be a positive integer, got ${this.#fusionCandidates}`);
    }
    if (!Number.isInteger(this.#tailChunksBeforeRebuild) || this.#tailChunksBeforeRebuild < 1) {
      throw new RangeError(`tailChunksBeforeRebuild must be a positive integer, got ${this.#tailChunksBeforeRebuild}`);
    }
    const cacheBytes = this.#segmentOptions.cacheBytes as number;
    if (!(cacheBytes >= 0)) throw new RangeError(`lexicalCacheBytes must be a number ≥ 0, got ${cacheBytes}`);
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
    await this.#forget(stateKey(target.knowledgeBaseId, target.generation));
    if (this.#dense.directory !== undefined) await removeDenseIndexFiles(this.#dense.directory, target.knowledgeBaseId, target.generation);
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
      if (key.startsWith(`${knowledgeBaseId}\u0000`)) await this.#forget(key);
    }
    if (this.#dense.directory !== undefined) await removeDenseIndexFiles(this.#dense.directory, knowledgeBaseId);
  }

  /** Drops a loaded generation, and its dense graph once a build under way has ended. */
  async #forget(key: string): Promise<void> {
    const state = this.#states.get(key);
    this.#states.delete(key);
    await state?.then(
      async (loaded) => {
        loaded.abandoned = true;
        await loaded.vectorsReady;
        await Promise.all([loaded.vectors.close(), loaded.lexical.base?.close()]);
      },
      () => {},
    );
  }

  /**
   * Loads the generation if needed, brings it up to date and waits until no dense graph is being
   * built for it; says whether its dense searches now go through the graph. For benchmarks and
   * tests: searches never wait for a graph (they are exact until it is there).
   */
  async settleDenseIndex(knowledgeBaseId: string, generation: number): Promise<{ approximate: boolean; vectors: number }> {
    const state = await this.#state(knowledgeBaseId, generation);
    await state.vectorsReady;
    await this.#refresh(knowledgeBaseId, state);
    await state.vectors.idle();
    return { approximate: state.vectors.approximate, vectors: state.vectors.size };
  }

  async search(request: IndexSearchRequest): Promise<SearchHit[]> {
    throwIfAborted(request.signal);
    if (request.mode !== 'lexical' && request.vector === undefined) {
      throw new InvalidRequestError(`Retrieval mode "${request.mode}" needs a query vector (an embedder); use "lexical"`);
    }
    const state = await this.#state(request.knowledgeBaseId, request.generation);
    await this.#refresh(request.knowledgeBaseId, state);
    if (request.mode !== 'lexical') await state.vectorsReady;
    // A segment opened from its file has the query's postings read first; they stay in memory until
    // the ranking is done. A rebuild may swap the segment meanwhile: the one prepared is searched.
    const lexical = request.mode === 'dense' ? null : state.lexical;
    const release = lexical === null ? () => {} : await lexical.prepare(request.terms);
    try {
      return await this.#rank(state, lexical, request);
    } finally {
      release();
    }
  }

  async #rank(state: GenerationState, lexicalIndex: SegmentedBm25Index | null, request: IndexSearchRequest): Promise<SearchHit[]> {
    const topK = request.topK;
    // Ranking runs on this thread in steps of well under a millisecond: many questions at once take
    // it in turns, with the event loop free between slices of a few milliseconds. The generation may
    // have been dropped by the time this one's turn comes, or between its steps.
    const ranked = await this.#turns.runSteps(
      function* (this: LocalChunkIndex): Generator<void, RankedHit[], undefined> {
        const live = () => {
          if (state.dropped) throw new GenerationNotFoundError(request.knowledgeBaseId, request.generation);
        };
        live();
        if (request.mode === 'dense') return this.#denseSearch(state, request.vector ?? [], topK);
        const lexicalTopK = request.mode === 'lexical' ? topK : Math.max(topK, this.#fusionCandidates);
        const lexical = (lexicalIndex as SegmentedBm25Index).searchSteps(request.terms, lexicalTopK, this.#documentWeight);
        let lexicalHits: RankedHit[];
        try {
          for (;;) {
            const next = lexical.next();
            if (next.done === true) {
              lexicalHits = next.value;
              break;
            }
            yield;
            live();
          }
        } finally {
          // Given up (dropped, or the caller aborted): its scratch scores are cleared.
          lexical.return([]);
        }
        if (request.mode === 'lexical') return lexicalHits;
        const lists = [lexicalHits, this.#denseSearch(state, request.vector ?? [], lexicalTopK)];
        return (request.fusion ?? this.#fusion) === 'rrf'
          ? reciprocalRankFusion(lists, { k: this.#rrfK, limit: topK })
          : distributionBasedScoreFusion(lists, { limit: topK });
      }.bind(this),
      request.signal,
    );
    if (ranked.length === 0) return [];
    const chunks = await this.#store.getChunks(ranked.map((entry) => entry.id));
    const chunksById = new Map(chunks.map((chunk) => [chunk.id, chunk]));
    return ranked.flatMap((entry) => {
      const chunk = chunksById.get(entry.id);
      return chunk === undefined ? [] : [{ chunk, score: entry.score }];
    });
  }

  #denseSearch(state: GenerationState, vector: number[], topK: number): RankedHit[] {
    if (state.vectorsError !== null) {
      throw new AppError('internal_error', `The stored vectors of this knowledge base could not be read: ${state.vectorsError.message}`);
    }
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

  /** Forgets the loaded generations, once background rebuilds have ended (their threads stopped). */
  async close(): Promise<void> {
    await Promise.all([...this.#states.keys()].map((key) => this.#forget(key)));
    await Promise.all(this.#rebuilds);
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
    const state: GenerationState = {
      generation,
      sequence: 0,
      lexical: new SegmentedBm25Index(this.#bm25Options),
      vectors: new DenseIndex({ knowledgeBaseId, generation }, this.#dense),
      rejectedVectors: new Map(),
      refreshing: null,
      dropped: false,
      rebuilding: false,
      vectorsReady: Promise.resolve(),
      vectorsLoaded: true,
      vectorsError: null,
      abandoned: false,
    };
    const source = this.#source;
    if (source === null) {
      // A store without segments: every document goes into the tail, from the parsed snapshot.
      const snapshot = await this.#store.snapshot(knowledgeBaseId, generation);
      state.sequence = snapshot.sequence;
      await this.#apply(state, snapshot.postings, true);
      await this.#openDense(knowledgeBaseId, state);
      return state;
    }
    let segment = await readSegment(source, knowledgeBaseId, generation, this.#segmentOptions);
    if (segment !== null) {
      state.sequence = segment.sequence;
      state.lexical = await SegmentedBm25Index.open(this.#bm25Options, segment);
      if (segment.vectorCount > 0) {
        // Lexical searches go on while the vectors are read (a million of them take seconds).
        state.vectors.exact.reserve(segment.vectorCount);
        state.vectorsLoaded = false;
        state.vectorsReady = this.#loadVectors(source, knowledgeBaseId, state);
      } else {
        await this.#openDense(knowledgeBaseId, state);
      }
      return state;
    }
    // None written yet (or another version's): built from the store, vectors taken in on the way.
    const snapshot = await source.snapshotRows(knowledgeBaseId, generation);
    const bytes = await buildSegment(snapshot, (id, vector) => this.#addVector(state, id, vector));
    await source.writeLexicalSegment(knowledgeBaseId, generation, bytes);
    // Searched from the file just written, as after a restart: the built bytes are not kept.
    segment = (await readSegment(source, knowledgeBaseId, generation, this.#segmentOptions)) ?? new LexicalSegment(bytes);
    state.sequence = segment.sequence;
    state.lexical = await SegmentedBm25Index.open(this.#bm25Options, segment);
    await this.#openDense(knowledgeBaseId, state);
    return state;
  }

  /** Reads the generation's stored vectors into the state, then takes up its dense graph; a failure goes to `vectorsError`. */
  async #loadVectors(source: LexicalSegmentSource, knowledgeBaseId: string, state: GenerationState): Promise<void> {
    try {
      const slice = new TimeSlice();
      for await (const page of source.vectorPages(knowledgeBaseId, state.generation)) {
        for (const entry of page) {
          this.#addVector(state, entry.id, entry.vector);
          await slice.yieldIfSpent();
        }
        if (state.abandoned) return;
      }
      await this.#openDense(knowledgeBaseId, state);
    } catch (error) {
      state.vectorsError = error instanceof Error ? error : new Error(String(error));
    } finally {
      state.vectorsLoaded = true;
    }
  }

  /**
   * Takes up the dense graph kept for the generation, if any: the chunks that may differ from it are
   * those of the documents the change feed touched between the graph's position and the state's
   * (later changes come with the next refresh). A generation emptied or dropped since: none to take.
   */
  async #openDense(knowledgeBaseId: string, state: GenerationState): Promise<void> {
    await state.vectors.open(async (since) => {
      // A graph built after the lexical segment is ahead of the state: the refresh that follows replays what it may lack.
      if (since >= state.sequence) return new Set<string>();
      const changes = (await this.#store.changesSince(knowledgeBaseId, since)).filter((change) => change.sequence <= state.sequence);
      const changed = new Set<string>();
      for (const change of changes) {
        if (change.kind === 'remove-knowledge-base' || (change.kind === 'remove-generation' && change.generation === state.generation)) return null;
        if (change.documentId === null || (change.generation !== null && change.generation !== state.generation)) continue;
        for (const id of state.lexical.chunkIdsOf(change.documentId)) changed.add(id);
      }
      return changed;
    });
  }

  #addVector(state: GenerationState, id: string, vector: ArrayLike<number>): void {
    try {
      state.vectors.add([{ id, vector }]);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      // Lexical search keeps working; dense searches report this instead of partial results.
      state.rejectedVectors.set(id, error.message);
    }
  }

  /**
   * Puts the postings in the state; each document present in them replaces its earlier version.
   * Works in slices of a few milliseconds with the event loop free between them (a document can
   * have a hundred thousand chunks); searches wait for it (they await the load or the refresh).
   * With `withVectors` false only the lexical index is touched.
   */
  async #apply(state: GenerationState, postings: ChunkPostings[], withVectors: boolean, lexical = state.lexical): Promise<void> {
    const byDocument = new Map<string, ChunkPostings[]>();
    for (const entry of postings) {
      const list = byDocument.get(entry.documentId);
      if (list === undefined) byDocument.set(entry.documentId, [entry]);
      else list.push(entry);
    }
    const slice = new TimeSlice();
    for (const [documentId, entries] of byDocument) {
      await this.#removeDocument(state, documentId, withVectors, lexical);
      for (const _step of lexical.addDocument(documentId, entries)) await slice.yieldIfSpent();
      if (!withVectors) continue;
      for (const entry of entries) {
        if (entry.vector !== undefined) this.#addVector(state, entry.id, entry.vector);
        await slice.yieldIfSpent();
      }
    }
  }

  async #removeDocument(state: GenerationState, documentId: string, withVectors: boolean, lexical = state.lexical): Promise<void> {
    const slice = new TimeSlice();
    if (withVectors) {
      const ids = lexical.chunkIdsOf(documentId);
      for (let offset = 0; offset < ids.length; offset += removalSliceChunks) {
        const part = ids.slice(offset, offset + removalSliceChunks);
        state.vectors.remove(part);
        for (const id of part) state.rejectedVectors.delete(id);
        await slice.yieldIfSpent();
      }
    }
    // A document of a segment read from its file: its terms are read first.
    await lexical.prepareRemoval(documentId);
    for (const _step of lexical.removeDocument(documentId)) await slice.yieldIfSpent();
  }

  /** Applies the change feed since the state's position; concurrent callers share one refresh. */
  async #refresh(knowledgeBaseId: string, state: GenerationState): Promise<void> {
    await this.#exclusive(state, () => this.#catchUp(knowledgeBaseId, state));
    this.#rebuildIfWorthwhile(knowledgeBaseId, state);
    if (!state.dropped && state.vectorsLoaded) state.vectors.maintain(state.sequence);
  }

  /** Runs `work` once no refresh of the state is under way, and makes later ones wait for it. */
  async #exclusive(state: GenerationState, work: () => Promise<void>): Promise<void> {
    while (state.refreshing !== null) await state.refreshing;
    state.refreshing = work();
    try {
      await state.refreshing;
    } finally {
      state.refreshing = null;
    }
  }

  /**
   * Applies the feed after the state's position (or after `from`, up to the state's position, to
   * `lexical` only: a rebuilt segment catching up).
   */
  async #catchUp(knowledgeBaseId: string, state: GenerationState, rebuilt?: { lexical: SegmentedBm25Index; from: number }): Promise<void> {
    const generation = state.generation;
    let changes = await this.#store.changesSince(knowledgeBaseId, rebuilt?.from ?? state.sequence);
    if (rebuilt !== undefined) changes = changes.filter((change) => change.sequence <= state.sequence);
    if (changes.length === 0) return;
    // Changes touch the vectors too: applied after the stored ones are read, as they were before them.
    if (rebuilt === undefined) await state.vectorsReady;
    const touched = new Set<string>();
    let cleared = false;
    let dropped = false;
    for (const change of changes) {
      if (change.kind === 'remove-generation') {
        if (change.generation === generation) dropped = true;
        // Another process's reindex dropped an older generation: free what this one holds of it.
        else if (change.generation !== null && rebuilt === undefined)
          this.#forget(stateKey(knowledgeBaseId, change.generation)).catch(this.#reportBackgroundError);
      } else if (change.kind === 'remove-knowledge-base') cleared = true;
      else if (change.documentId !== null && (change.generation === null || change.generation === generation)) {
        touched.add(change.documentId);
      }
    }
    const lexical = rebuilt?.lexical ?? state.lexical;
    if (cleared || dropped) {
      if (rebuilt !== undefined) {
        rebuilt.lexical = new SegmentedBm25Index(this.#bm25Options);
      } else {
        state.dropped ||= dropped;
        state.lexical.base?.close().catch(this.#reportBackgroundError);
        state.lexical = new SegmentedBm25Index(this.#bm25Options);
        void state.vectors.close();
        state.vectors = new DenseIndex({ knowledgeBaseId, generation }, this.#dense);
        state.rejectedVectors.clear();
      }
    }
    // Each touched document is reloaded as it is now, which makes replaying the feed idempotent.
    for (const documentId of touched) {
      const postings = await this.#store.documentPostings(knowledgeBaseId, generation, documentId);
      const target = rebuilt?.lexical ?? (cleared || dropped ? state.lexical : lexical);
      await this.#removeDocument(state, documentId, rebuilt === undefined, target);
      await this.#apply(state, postings, rebuilt === undefined, target);
    }
    const last = changes.at(-1);
    if (last !== undefined && rebuilt === undefined) state.sequence = last.sequence;
  }

  readonly #reportBackgroundError = (error: unknown): void => this.#onBackgroundError(error instanceof Error ? error : new Error(String(error)));

  /** Starts a background rebuild of the state's segment when its tail (or its removals) grew past the bound. */
  #rebuildIfWorthwhile(knowledgeBaseId: string, state: GenerationState): void {
    const source = this.#source;
    if (source === null || state.rebuilding || state.dropped) return;
    const lexical = state.lexical;
    const bound = Math.max(this.#tailChunksBeforeRebuild, Math.floor((lexical.base?.chunkCount ?? 0) / 4));
    if (lexical.tailChunks < bound && lexical.removedSegmentChunks < bound) return;
    state.rebuilding = true;
    const rebuild = this.#rebuild(source, knowledgeBaseId, state)
      .catch(this.#reportBackgroundError)
      .finally(() => {
        state.rebuilding = false;
        this.#rebuilds.delete(rebuild);
      });
    this.#rebuilds.add(rebuild);
  }

  async #rebuild(source: LexicalSegmentSource, knowledgeBaseId: string, state: GenerationState): Promise<void> {
    const snapshot = await source.snapshotRows(knowledgeBaseId, state.generation, { vectors: false });
    const bytes = await buildSegment(snapshot, () => {});
    // Written even when the generation was closed meanwhile: it serves the next start.
    await source.writeLexicalSegment(knowledgeBaseId, state.generation, bytes);
    if (!this.#states.has(stateKey(knowledgeBaseId, state.generation))) return;
    const segment = (await readSegment(source, knowledgeBaseId, state.generation, this.#segmentOptions)) ?? new LexicalSegment(bytes);
    await this.#exclusive(state, async () => {
      // The state first comes up to the feed's end; the new segment then catches up to the same point and takes over.
      await this.#catchUp(knowledgeBaseId, state);
      if (state.dropped) return;
      const rebuilt = { lexical: await SegmentedBm25Index.open(this.#bm25Options, segment), from: segment.sequence };
      await this.#catchUp(knowledgeBaseId, state, rebuilt);
      const replaced = state.lexical;
      state.lexical = rebuilt.lexical;
      await replaced.base?.close();
    });
  }
}

async function readSegment(
  source: LexicalSegmentSource,
  knowledgeBaseId: string,
  generation: number,
  options: LexicalSegmentOpenOptions,
): Promise<LexicalSegment | null> {
  const file = await source.openLexicalSegment(knowledgeBaseId, generation);
  if (file === null) return null;
  try {
    return await LexicalSegment.open(file, options);
  } catch (error) {
    // Written by another version of this code, or damaged: built again from the store.
    if (error instanceof LexicalSegmentFormatError) return null;
    throw error;
  }
}

/**
 * Builds a segment from a snapshot: on this thread when it ends within its first few pages, else in
 * a worker thread (this one only reads the pages and hands each vector to `onVector`).
 */
async function buildSegment(
  snapshot: Awaited<ReturnType<LexicalSegmentSource['snapshotRows']>>,
  onVector: (id: string, vector: Float32Array) => void,
): Promise<Uint8Array> {
  const iterator = snapshot.pages[Symbol.asyncIterator]();
  const slice = new TimeSlice();
  const toPage = (rows: Array<{ id: string; documentId: string; terms: string; vector: Float32Array | null }>): SegmentRowPage => {
    let vectors = 0;
    const page: LexicalSegmentRow[] = [];
    for (const row of rows) {
      if (row.vector !== null) {
        vectors += 1;
        onVector(row.id, row.vector);
      }
      page.push({ id: row.id, documentId: row.documentId, terms: row.terms });
    }
    return { rows: page, vectors };
  };
  // The first pages also go into a builder on this thread, in time slices: the snapshot may end within them.
  const early: SegmentRowPage[] = [];
  const builder = new LexicalSegmentBuilder();
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) return builder.finish(snapshot.sequence);
    const page = toPage(next.value);
    early.push(page);
    if (early.length > pagesBuiltInProcess) break;
    for (const row of page.rows) {
      builder.add(row);
      await slice.yieldIfSpent();
    }
    for (let count = 0; count < page.vectors; count += 1) builder.countVector();
  }
  async function* pages(): AsyncGenerator<SegmentRowPage> {
    yield* early;
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) return;
      yield toPage(next.value);
    }
  }
  return buildLexicalSegmentInThread(pages(), () => snapshot.sequence);
}

function stateKey(knowledgeBaseId: string, generation: number): string {
  return `${knowledgeBaseId}\u0000${generation}`;
}
