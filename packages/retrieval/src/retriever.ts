import {
  InvalidRequestError,
  NotFoundError,
  throwIfAborted,
  type Catalog,
  type ChunkIndex,
  type Embedder,
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
}

export interface RetrieveRequest {
  knowledgeBaseId: string;
  query: string;
  topK: number;
  mode?: RetrievalMode;
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

  async search(request: RetrieveRequest): Promise<SearchHit[]> {
    const { catalog, index, analyzer, embedder } = this.#options;
    const knowledgeBase = await catalog.getKnowledgeBase(request.knowledgeBaseId);
    if (knowledgeBase === null) {
      throw new NotFoundError('knowledge_base_not_found', `Knowledge base ${request.knowledgeBaseId} does not exist`);
    }
    const mode = request.mode ?? this.defaultMode;
    if (mode !== 'lexical' && !embedder) {
      throw new InvalidRequestError(`Retrieval mode "${mode}" needs an embedder (set EMBEDDING_PROVIDER); use "lexical"`);
    }
    throwIfAborted(request.signal);
    const terms = analyzer.termFrequencies(request.query);
    const vector =
      mode === 'lexical' || !embedder
        ? undefined
        : (await embedder.embed([request.query], 'query', request.signal))[0];
    if (Object.keys(terms).length === 0 && vector === undefined) return [];
    return index.search({
      knowledgeBaseId: knowledgeBase.id,
      generation: knowledgeBase.generation,
      terms,
      ...(vector === undefined ? {} : { vector }),
      mode,
      topK: request.topK,
      ...(request.signal === undefined ? {} : { signal: request.signal }),
    });
  }
}
