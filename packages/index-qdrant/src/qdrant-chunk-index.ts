import { QdrantClient, type Schemas } from '@qdrant/js-client-rest';
import {
  AppError,
  defaultHybridFusion,
  GenerationNotFoundError,
  InvalidRequestError,
  silentLogger,
  throwIfAborted,
  type Chunk,
  type ChunkIndex,
  type GenerationSchema,
  type HybridFusion,
  type IndexedChunk,
  type IndexSearchRequest,
  type Logger,
  type SearchHit,
} from '@passage/spec';
import { CollectionNames } from './collection-names.js';
import { httpStatusOf, mapQdrantError } from './map-qdrant-error.js';
import { documentSparseVector, querySparseVector, type Bm25WeightOptions } from './sparse-vector.js';

export interface QdrantChunkIndexOptions {
  /** Qdrant's REST endpoint, e.g. `http://qdrant:6333` (a path, behind a proxy, is kept). */
  url: string;
  /** Sent as the `api-key` header; use https when set. */
  apiKey?: string;
  /** Start of every collection and alias name. Default: `passage`. */
  collectionPrefix?: string;
  /**
   * How hybrid searches fuse the sparse and dense prefetches when a request names no fusion
   * (HYBRID_FUSION): `dbsf` (`fusion: "dbsf"`) or `rrf`. Default {@link defaultHybridFusion}, as the embedded index.
   */
  fusion?: HybridFusion;
  /** k of reciprocal rank fusion in hybrid searches fused by `rrf` (RRF_K). Default: Qdrant's own (`fusion: "rrf"`). */
  rrfK?: number;
  /** Candidates each of the sparse and the dense prefetch brings to a hybrid fusion, at least topK. Default: 100, as the embedded index. */
  fusionCandidates?: number;
  /** BM25 weighting of the sparse vectors (see sparse-vector.ts). */
  bm25?: Bm25WeightOptions;
  /** Longest wait for one request, ms. Default: 30000. */
  timeoutMs?: number;
  /** Points per upsert request. Default: 256. */
  upsertBatchSize?: number;
  /** `shard_number` of each new collection (QDRANT_SHARDS). Default: 1. */
  shards?: number;
  /** `replication_factor` of each new collection: copies of every shard on different peers (QDRANT_REPLICAS). Default: 1. */
  replicas?: number;
  /** `write_consistency_factor`: replicas that confirm a write before it counts (QDRANT_WRITE_CONSISTENCY). Default: 1. */
  writeConsistency?: number;
  logger?: Logger;
}

/** What each point carries besides its vectors: enough to cite the passage without another store. */
type ChunkPayload = {
  knowledgeBaseId: string;
  documentId: string;
  documentName: string;
  generation: number;
  ordinal: number;
  page: number;
  start: number;
  end: number;
  text: string;
  tokens: number;
};

const sparseName = 'bm25';
const denseName = 'dense';

/** Payload fields that filters use, and their index types. */
const payloadIndexes: Array<{ field: keyof ChunkPayload; schema: Schemas['PayloadSchemaType'] }> = [
  { field: 'documentId', schema: 'keyword' },
  { field: 'ordinal', schema: 'integer' },
];

/**
 * The chunk index in Qdrant: a named sparse vector `bm25` (the analyzer's terms, BM25-weighted,
 * `modifier: "idf"`) and, with an embedder, a named dense vector `dense`; hybrid searches fuse the
 * two with the Query API (prefetch both, then distribution-based score fusion or reciprocal rank
 * fusion). One collection per knowledge base and generation (collection-names.ts), so IDF
 * statistics are those of the knowledge base alone, as in the embedded index, and deleting a
 * knowledge base drops its collections.
 *
 * Each generation is created explicitly with its schema (`createGeneration`: the dense vector size
 * is per collection); nothing creates a collection or alias implicitly, so a writer that outlives
 * its generation (dropped by a reindex, or with its knowledge base) gets GenerationNotFoundError
 * instead of bringing the collection back. Writes and searches address the generation's collection
 * by name (the catalog says which generation is live); the alias is kept pointing at the live one
 * for tools that read it. Every write waits for Qdrant to apply it (`wait: true`), so a search
 * after a delete resolves never returns the deleted chunks.
 */
export class QdrantChunkIndex implements ChunkIndex {
  readonly #client: QdrantClient;
  readonly #names: CollectionNames;
  readonly #options: QdrantChunkIndexOptions;
  readonly #logger: Logger;
  readonly #sharding: { shards: number; replicas: number; writeConsistency: number };
  /** Dense vector size (null: lexical only) of each collection this process created or looked up. */
  readonly #denseSizes = new Map<string, Promise<number | null>>();

  constructor(options: QdrantChunkIndexOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    const replicas = options.replicas ?? 1;
    this.#sharding = { shards: options.shards ?? 1, replicas, writeConsistency: Math.min(options.writeConsistency ?? 1, replicas) };
    this.#names = new CollectionNames(options.collectionPrefix ?? 'passage');
    const url = new URL(options.url);
    const prefix = url.pathname.replace(/\/+$/, '');
    this.#client = new QdrantClient({
      url: url.origin,
      ...(prefix === '' ? {} : { prefix }),
      ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
      // Timeouts are ours (below), combined with each caller's AbortSignal: the client's own
      // timeout would replace that signal.
      timeout: Number.POSITIVE_INFINITY,
      checkCompatibility: false,
    });
  }

  async upsertDocumentChunks(
    target: { knowledgeBaseId: string; generation: number; documentId: string },
    chunks: IndexedChunk[],
    signal?: AbortSignal,
  ): Promise<void> {
    throwIfAborted(signal);
    const collection = this.#names.collection(target.knowledgeBaseId, target.generation);
    const dense = await this.#denseSize(target, signal);
    const points: Schemas['PointStruct'][] = chunks.map((chunk) => {
      const vector: Record<string, Schemas['Vector']> = {};
      const sparse = documentSparseVector(chunk.terms, this.#options.bm25);
      // A chunk without terms (punctuation, stop words) gets no sparse vector rather than an empty one.
      if (sparse.indices.length > 0) vector[sparseName] = sparse;
      if (chunk.vector !== undefined) {
        if (dense === null || chunk.vector.length !== dense) {
          throw new AppError(
            'internal_error',
            `A ${chunk.vector.length}-dimensional vector does not fit generation ${target.generation} of the index (dense vectors: ${dense ?? 'none'})`,
          );
        }
        vector[denseName] = chunk.vector;
      }
      return { id: chunk.id, vector, payload: toPayload(chunk, target) };
    });
    const batchSize = this.#options.upsertBatchSize ?? 256;
    try {
      for (let offset = 0; offset < points.length; offset += batchSize) {
        const batch = points.slice(offset, offset + batchSize);
        await this.#call('an upsert', signal, (init) => this.#client.api().upsertPoints({ collection_name: collection, wait: true, points: batch }, init));
      }
      // Chunk ids are deterministic (document, generation, ordinal): the upsert overwrote the
      // document's earlier chunks in place, and only a longer earlier version leaves a tail.
      await this.#call('a delete', signal, (init) =>
        this.#client.api().deletePoints(
          {
            collection_name: collection,
            wait: true,
            filter: { must: [matchDocument(target.documentId), { key: 'ordinal', range: { gte: chunks.length } }] },
          },
          init,
        ),
      );
    } catch (error) {
      // The collection may have been dropped (and even recreated with another size) meanwhile: the
      // next write reads it again.
      this.#denseSizes.delete(collection);
      if (isNotFound(error)) throw new GenerationNotFoundError(target.knowledgeBaseId, target.generation);
      throw error;
    }
  }

  async createGeneration(target: { knowledgeBaseId: string; generation: number }, schema: GenerationSchema, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    const collection = this.#names.collection(target.knowledgeBaseId, target.generation);
    const dense = schema.denseDimensions;
    const exists = async () =>
      (await this.#call('an existence check', signal, (init) => this.#client.api().collectionExists({ collection_name: collection }, init))).exists;
    if (await exists()) {
      const existing = await this.#readDenseSize(target, signal);
      if (existing !== dense) {
        throw new AppError(
          'internal_error',
          `Generation ${target.generation} of knowledge base ${target.knowledgeBaseId} exists with dense vectors of size ${existing ?? 'none'}, not ${dense ?? 'none'}`,
        );
      }
    } else {
      const body: Schemas['CreateCollection'] = {
        sparse_vectors: { [sparseName]: { modifier: 'idf' } },
        shard_number: this.#sharding.shards,
        replication_factor: this.#sharding.replicas,
        write_consistency_factor: this.#sharding.writeConsistency,
        ...(dense === null ? {} : { vectors: { [denseName]: { size: dense, distance: 'Cosine' } } }),
      };
      try {
        await this.#call('a collection creation', signal, (init) => this.#client.api().createCollection({ collection_name: collection, ...body }, init));
        this.#logger.info({ collection, denseDimensions: dense }, 'Qdrant collection created');
      } catch (error) {
        // Another process created it at the same moment; anything else is a real failure.
        if (!(await exists())) throw error;
      }
    }
    for (const { field, schema: fieldSchema } of payloadIndexes) {
      // Creating an index that exists is accepted by Qdrant and changes nothing.
      await this.#call('a payload index creation', signal, (init) =>
        this.#client.api().createFieldIndex({ collection_name: collection, wait: true, field_name: field, field_schema: fieldSchema }, init),
      );
    }
    this.#denseSizes.set(collection, Promise.resolve(dense));
    // A knowledge base's first generation is live from the start; later ones (a reindex) become
    // live through activateGeneration.
    if (target.generation === 1 && (await this.#aliasTarget(target.knowledgeBaseId, signal)) === null) {
      await this.#call('an alias change', signal, (init) =>
        this.#client
          .api()
          .updateAliases({ actions: [{ create_alias: { alias_name: this.#names.alias(target.knowledgeBaseId), collection_name: collection } }] }, init),
      );
    }
  }

  async activateGeneration(target: { knowledgeBaseId: string; generation: number }, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    const alias = this.#names.alias(target.knowledgeBaseId);
    const collection = this.#names.collection(target.knowledgeBaseId, target.generation);
    const current = await this.#aliasTarget(target.knowledgeBaseId, signal);
    if (current === collection) return;
    // One request: Qdrant applies its actions atomically, so readers of the alias never find it missing.
    const actions: Schemas['AliasOperations'][] = [
      ...(current === null ? [] : [{ delete_alias: { alias_name: alias } }]),
      { create_alias: { alias_name: alias, collection_name: collection } },
    ];
    try {
      await this.#call('an alias change', signal, (init) => this.#client.api().updateAliases({ actions }, init));
    } catch (error) {
      if (isNotFound(error)) throw new GenerationNotFoundError(target.knowledgeBaseId, target.generation);
      throw error;
    }
  }

  async dropGeneration(target: { knowledgeBaseId: string; generation: number }, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    const collection = this.#names.collection(target.knowledgeBaseId, target.generation);
    this.#denseSizes.delete(collection);
    try {
      await this.#call('a collection delete', signal, (init) => this.#client.api().deleteCollection({ collection_name: collection }, init));
    } catch (error) {
      // Already gone: what was asked for holds.
      if (!isNotFound(error)) throw error;
    }
  }

  async deleteDocument(knowledgeBaseId: string, documentId: string, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    for (const collection of await this.#collectionsOf(knowledgeBaseId, signal)) {
      try {
        await this.#call('a delete', signal, (init) =>
          this.#client.api().deletePoints({ collection_name: collection, wait: true, filter: { must: [matchDocument(documentId)] } }, init),
        );
      } catch (error) {
        // Dropped meanwhile (the knowledge base was deleted): nothing of the document is left there.
        if (!isNotFound(error)) throw error;
      }
    }
  }

  async deleteKnowledgeBase(knowledgeBaseId: string, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    const alias = this.#names.alias(knowledgeBaseId);
    if ((await this.#aliasTarget(knowledgeBaseId, signal)) !== null) {
      await this.#call('an alias change', signal, (init) => this.#client.api().updateAliases({ actions: [{ delete_alias: { alias_name: alias } }] }, init));
    }
    for (const collection of await this.#collectionsOf(knowledgeBaseId, signal)) {
      this.#denseSizes.delete(collection);
      await this.#call('a collection delete', signal, (init) => this.#client.api().deleteCollection({ collection_name: collection }, init));
    }
  }

  async search(request: IndexSearchRequest): Promise<SearchHit[]> {
    throwIfAborted(request.signal);
    const sparse = querySparseVector(request.terms);
    const hasTerms = sparse.indices.length > 0;
    if (request.mode !== 'lexical' && request.vector === undefined) {
      throw new InvalidRequestError(`Retrieval mode "${request.mode}" needs a query vector`);
    }
    if (request.mode !== 'lexical' && (await this.#denseSize(request, request.signal)) === null) {
      throw new InvalidRequestError(`Retrieval mode "${request.mode}" needs dense vectors; generation ${request.generation} has none`);
    }
    let query: Schemas['QueryRequest'];
    const limit = request.topK;
    if (request.mode === 'lexical' || (request.mode === 'hybrid' && request.vector === undefined)) {
      if (!hasTerms) return [];
      query = { query: sparse, using: sparseName, limit, with_payload: true };
    } else if (request.mode === 'dense' || !hasTerms) {
      query = { query: request.vector!, using: denseName, limit, with_payload: true };
    } else {
      // Candidates from each side, then Qdrant fuses the two: by their scores' distributions, or by rank.
      const candidates = Math.max(limit, this.#options.fusionCandidates ?? 100);
      const fusion = request.fusion ?? this.#options.fusion ?? defaultHybridFusion;
      query = {
        prefetch: [
          { query: sparse, using: sparseName, limit: candidates },
          { query: request.vector!, using: denseName, limit: candidates },
        ],
        query: fusion === 'dbsf' ? { fusion: 'dbsf' } : this.#options.rrfK === undefined ? { fusion: 'rrf' } : { rrf: { k: this.#options.rrfK } },
        limit,
        with_payload: true,
      };
    }
    const collection = this.#names.collection(request.knowledgeBaseId, request.generation);
    try {
      const result = await this.#call('a search', request.signal, (init) => this.#client.api().queryPoints({ collection_name: collection, ...query }, init));
      return result.points.flatMap((point) => {
        const chunk = toChunk(String(point.id), point.payload);
        return chunk === null ? [] : [{ chunk, score: point.score }];
      });
    } catch (error) {
      if (isNotFound(error)) {
        this.#denseSizes.delete(collection);
        throw new GenerationNotFoundError(request.knowledgeBaseId, request.generation);
      }
      throw error;
    }
  }

  async countChunks(knowledgeBaseId: string, generation: number, documentId?: string): Promise<number> {
    const collection = this.#names.collection(knowledgeBaseId, generation);
    try {
      const result = await this.#call('a count', undefined, (init) =>
        this.#client
          .api()
          .countPoints(
            { collection_name: collection, exact: true, ...(documentId === undefined ? {} : { filter: { must: [matchDocument(documentId)] } }) },
            init,
          ),
      );
      return result.count;
    } catch (error) {
      if (isNotFound(error)) return 0;
      throw error;
    }
  }

  async close(): Promise<void> {
    this.#denseSizes.clear();
  }

  /** The generation's dense vector size, from this process's memory or else from Qdrant. */
  #denseSize(target: { knowledgeBaseId: string; generation: number }, signal?: AbortSignal): Promise<number | null> {
    const collection = this.#names.collection(target.knowledgeBaseId, target.generation);
    let size = this.#denseSizes.get(collection);
    if (size === undefined) {
      size = this.#readDenseSize(target, signal);
      this.#denseSizes.set(collection, size);
      // A failed read must not stick: the next call asks again.
      size.catch(() => this.#denseSizes.delete(collection));
    }
    return size;
  }

  async #readDenseSize(target: { knowledgeBaseId: string; generation: number }, signal?: AbortSignal): Promise<number | null> {
    const collection = this.#names.collection(target.knowledgeBaseId, target.generation);
    try {
      const info = await this.#call('a collection lookup', signal, (init) => this.#client.api().getCollection({ collection_name: collection }, init));
      const vectors = info.config.params.vectors as Record<string, { size?: number }> | undefined;
      return vectors?.[denseName]?.size ?? null;
    } catch (error) {
      if (isNotFound(error)) throw new GenerationNotFoundError(target.knowledgeBaseId, target.generation);
      throw error;
    }
  }

  /** The collection the knowledge base's alias points at, or null when it has none. */
  async #aliasTarget(knowledgeBaseId: string, signal?: AbortSignal): Promise<string | null> {
    const alias = this.#names.alias(knowledgeBaseId);
    const aliases = await this.#call('listing aliases', signal, (init) => this.#client.api().getCollectionsAliases({}, init));
    return aliases.aliases.find((entry) => entry.alias_name === alias)?.collection_name ?? null;
  }

  async #collectionsOf(knowledgeBaseId: string, signal?: AbortSignal): Promise<string[]> {
    const result = await this.#call('listing collections', signal, (init) => this.#client.api().getCollections({}, init));
    return result.collections.map((entry) => entry.name).filter((name) => this.#names.isCollectionOf(name, knowledgeBaseId));
  }

  /** One request with the caller's signal and our timeout; answers its `result` or a mapped AppError. */
  async #call<T>(what: string, signal: AbortSignal | undefined, send: (init: RequestInit) => Promise<{ data: { result?: T } }>): Promise<T> {
    const timeoutMs = this.#options.timeoutMs ?? 30_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    try {
      const response = await send({ signal: combined });
      if (response.data.result === undefined) throw new AppError('internal_error', `Qdrant answered ${what} without a result`);
      return response.data.result;
    } catch (error) {
      throw mapQdrantError(error, what, { ...(signal === undefined ? {} : { signal }), timedOut: timeout.aborted, timeoutMs });
    }
  }
}

function matchDocument(documentId: string): Schemas['FieldCondition'] {
  return { key: 'documentId', match: { value: documentId } };
}

function isNotFound(error: unknown): boolean {
  return error instanceof AppError && httpStatusOf(error.cause) === 404;
}

function toPayload(chunk: IndexedChunk, target: { knowledgeBaseId: string; generation: number; documentId: string }): ChunkPayload {
  return {
    knowledgeBaseId: target.knowledgeBaseId,
    documentId: target.documentId,
    documentName: chunk.documentName,
    generation: target.generation,
    ordinal: chunk.ordinal,
    page: chunk.page,
    start: chunk.start,
    end: chunk.end,
    text: chunk.text,
    tokens: chunk.tokens,
  };
}

function toChunk(id: string, payload: Record<string, unknown> | null | undefined): Chunk | null {
  if (payload === null || payload === undefined) return null;
  const text = (name: keyof ChunkPayload) => (typeof payload[name] === 'string' ? payload[name] : '');
  const number = (name: keyof ChunkPayload) => (typeof payload[name] === 'number' ? payload[name] : 0);
  return {
    id,
    knowledgeBaseId: text('knowledgeBaseId'),
    documentId: text('documentId'),
    documentName: text('documentName'),
    generation: number('generation'),
    ordinal: number('ordinal'),
    page: number('page'),
    start: number('start'),
    end: number('end'),
    text: text('text'),
    tokens: number('tokens'),
  };
}
