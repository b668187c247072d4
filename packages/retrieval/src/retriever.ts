import {
  AppError,
  GenerationNotFoundError,
  InvalidRequestError,
  NotFoundError,
  throwIfAborted,
  type Catalog,
  type ChunkIndex,
  type Embedder,
  type KnowledgeBase,
  type Reranker,
  type HybridFusion,
  type RetrievalMode,
  type SearchHit,
  type TextAnalyzer,
} from '@passage/spec';

export interface RetrieverOptions {
  catalog: Catalog;
  index: ChunkIndex;
  analyzer: TextAnalyzer;
  /** Needed for dense and hybrid modes. Default: none. */
  embedder?: Embedder | null;
  /** Mode used when a request names none. Default: "hybrid" with an embedder, else "lexical". */
  defaultMode?: RetrievalMode;
  /** Second stage: reorders the first `rerankCandidates` hits of every search by its scores. Default: none. */
  reranker?: Reranker | null;
  /** Hits of the first stage (lexical, dense or hybrid) the reranker reads (RERANK_CANDIDATES). Default 50. */
  rerankCandidates?: number;
}

export interface RetrieveRequest {
  knowledgeBaseId: string;
  query: string;
  topK: number;
  mode?: RetrievalMode;
  /** How a hybrid search fuses its lists. Default: the index's own (HYBRID_FUSION). */
  fusion?: HybridFusion;
  /** Run the reranker, when one is configured. Default true. */
  rerank?: boolean;
  /** Told how long the reranker took, when it ran. */
  onRerank?: (timing: { rerankMs: number; candidates: number }) => void;
  signal?: AbortSignal;
}

/** Turns a query into index requests: analyzes it, embeds it when the mode needs it, searches. */
export class Retriever {
  readonly #options: RetrieverOptions;

  constructor(options: RetrieverOptions) {
    this.#options = options;
  }

  get defaultMode(): RetrievalMode {
    return this.#options.defaultMode ?? (this.#options.embedder ? 'hybrid' : 'lexical');
  }

  /**
   * Searches the live generation of the knowledge base (the catalog says which) and returns only
   * chunks of documents the catalog holds `ready`: a document deleted, replaced, or still being
   * written never reaches an answer, whatever the index holds at that moment. A generation dropped
   * by a reindex between the two reads is read again from the catalog.
   */
  async search(request: RetrieveRequest): Promise<SearchHit[]> {
    const { catalog } = this.#options;
    for (let attempt = 1; ; attempt += 1) {
      const knowledgeBase = await catalog.getKnowledgeBase(request.knowledgeBaseId);
      if (knowledgeBase === null) {
        throw new NotFoundError('knowledge_base_not_found', `Knowledge base ${request.knowledgeBaseId} does not exist`);
      }
      try {
        return await this.#searchGeneration(knowledgeBase, request);
      } catch (error) {
        if (!(error instanceof GenerationNotFoundError) || attempt >= 3) throw error;
      }
    }
  }

  async #searchGeneration(knowledgeBase: KnowledgeBase, request: RetrieveRequest): Promise<SearchHit[]> {
    const { index, analyzer, embedder } = this.#options;
    const requested = request.mode ?? this.defaultMode;
    if (requested !== 'lexical' && !embedder) {
      throw new InvalidRequestError(`Retrieval mode "${requested}" needs an embedder (set EMBEDDING_PROVIDER); use "lexical"`);
    }
    // Query vectors must come from the model the live generation was built with.
    const vectorsFit = embedder !== null && embedder !== undefined && embedder.dimensions === knowledgeBase.schema.denseDimensions;
    if (requested === 'dense' && !vectorsFit) {
      throw new InvalidRequestError(
        `Dense retrieval needs the knowledge base's vectors to come from the configured embedder (${embedder?.name}, ${embedder?.dimensions} ` +
          `dimensions), but its live generation was built with ${knowledgeBase.schema.embeddingModel ?? 'no embedder'}: reindex the knowledge base`,
      );
    }
    const mode: RetrievalMode = requested === 'hybrid' && !vectorsFit ? 'lexical' : requested;
    throwIfAborted(request.signal);
    const terms = analyzer.termFrequencies(request.query);
    const vector = mode === 'lexical' || !embedder ? undefined : (await embedder.embed([request.query], 'query', request.signal))[0];
    if (Object.keys(terms).length === 0 && vector === undefined) return [];
    const search = (topK: number) =>
      index.search({
        knowledgeBaseId: knowledgeBase.id,
        generation: knowledgeBase.generation,
        terms,
        ...(vector === undefined ? {} : { vector }),
        mode,
        ...(request.fusion === undefined ? {} : { fusion: request.fusion }),
        topK,
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      });
    const reranker = request.rerank === false ? null : (this.#options.reranker ?? null);
    const candidates = reranker === null ? 0 : (this.#options.rerankCandidates ?? 50);
    const wanted = Math.max(request.topK, candidates);
    let hits = await this.#searchable(knowledgeBase.id, await search(wanted));
    if (hits.dropped > 0) {
      // Rare (a delete or replacement whose chunks are still on their way out): ask for enough more to fill topK.
      hits = await this.#searchable(knowledgeBase.id, await search(wanted * 2 + hits.dropped));
    }
    const kept = reranker === null ? hits.kept : await this.#rerank(reranker, request, hits.kept, candidates);
    return kept.slice(0, request.topK);
  }

  /** The first `candidates` hits in the reranker's order (its scores become theirs), then the rest as they were. */
  async #rerank(reranker: Reranker, request: RetrieveRequest, hits: SearchHit[], candidates: number): Promise<SearchHit[]> {
    const head = hits.slice(0, candidates);
    if (head.length === 0) return hits;
    const started = performance.now();
    const scores = await reranker.score(
      request.query,
      head.map((hit) => hit.chunk.text),
      request.signal,
    );
    if (scores.length !== head.length) throw new AppError('rerank_failed', `The reranker returned ${scores.length} scores for ${head.length} texts`);
    request.onRerank?.({ rerankMs: performance.now() - started, candidates: head.length });
    // Stable: equal scores keep the first stage's order.
    const reordered = head
      .map((hit, position) => ({ hit: { ...hit, score: scores[position]! }, position }))
      .sort((a, b) => b.hit.score - a.hit.score || a.position - b.position);
    return [...reordered.map((entry) => entry.hit), ...hits.slice(candidates)];
  }

  async #searchable(knowledgeBaseId: string, hits: SearchHit[]): Promise<{ kept: SearchHit[]; dropped: number }> {
    if (hits.length === 0) return { kept: hits, dropped: 0 };
    const searchable = await this.#options.catalog.searchableDocuments(
      knowledgeBaseId,
      hits.map((hit) => hit.chunk.documentId),
    );
    const kept = hits.filter((hit) => searchable.has(hit.chunk.documentId));
    return { kept, dropped: hits.length - kept.length };
  }
}
