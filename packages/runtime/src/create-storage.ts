import path from 'node:path';
import { QdrantChunkIndex } from '@passage/index-qdrant';
import { LocalChunkIndex } from '@passage/retrieval';
import type { ApiKeyStore, Catalog, ChunkIndex, Config, FileStore, Logger } from '@passage/spec';
import { RedisApiKeyStore, RedisCatalog } from '@passage/store-redis';
import { LocalFileStore, SqliteApiKeyStore, SqliteCatalog, SqliteChunkStore, openDatabase, type SqliteDatabase } from '@passage/store-sqlite';

export interface Storage {
  catalog: Catalog;
  /** API keys, beside the catalog (SQLite, or Redis with REDIS_URL). */
  apiKeys: ApiKeyStore;
  files: FileStore;
  index: ChunkIndex;
  /** Folder for uploads in flight, on the same file system as the file store. */
  uploadDirectory: string;
  close(): Promise<void>;
}

/**
 * Catalog, originals and chunk index as configured; each backend is chosen on its own:
 *
 * - catalog: Redis with REDIS_URL (shared by API replicas and workers; a Redis Cluster with
 *   REDIS_CLUSTER), else the embedded SQLite database in DATA_DIR;
 * - chunk index: Qdrant with QDRANT_URL, else the embedded index (SQLite in DATA_DIR, ranked in
 *   memory; dense search through an HNSW graph in DATA_DIR/dense-indexes per DENSE_INDEX), which
 *   processes on one machine share through DATA_DIR;
 * - originals: files in STORAGE_DIR (a volume shared by API and workers), default DATA_DIR/originals.
 */
export async function createStorage(config: Config, logger: Logger): Promise<Storage> {
  const dataDirectory = path.resolve(config.DATA_DIR);
  const storageDirectory = path.resolve(config.STORAGE_DIR ?? path.join(dataDirectory, 'originals'));
  let database: SqliteDatabase | null = null;
  const embeddedDatabase = () => (database ??= openDatabase({ dataDirectory }));

  const catalog: Catalog =
    config.REDIS_URL === undefined
      ? new SqliteCatalog(embeddedDatabase())
      : new RedisCatalog({ url: config.REDIS_URL, cluster: config.REDIS_CLUSTER, keyPrefix: config.QUEUE_PREFIX, logger });
  const redisApiKeys =
    config.REDIS_URL === undefined
      ? null
      : new RedisApiKeyStore({ url: config.REDIS_URL, cluster: config.REDIS_CLUSTER, keyPrefix: config.QUEUE_PREFIX, logger });
  const apiKeys: ApiKeyStore = redisApiKeys ?? new SqliteApiKeyStore(embeddedDatabase());
  const index: ChunkIndex =
    config.QDRANT_URL === undefined
      ? new LocalChunkIndex({
          store: new SqliteChunkStore(embeddedDatabase()),
          fusion: config.HYBRID_FUSION,
          rrfK: config.RRF_K,
          lexicalCacheBytes: config.LEXICAL_CACHE_MB * 1024 * 1024,
          dense: {
            mode: config.DENSE_INDEX,
            approximateFrom: config.DENSE_APPROXIMATE_FROM,
            connectivity: config.DENSE_HNSW_M,
            expansionAdd: config.DENSE_HNSW_EF_CONSTRUCTION,
            expansionSearch: config.DENSE_HNSW_EF_SEARCH,
            // Each generation's HNSW graph, kept beside the database and rebuilt from it when missing or stale.
            directory: path.join(dataDirectory, 'dense-indexes'),
          },
          onBackgroundError: (error) => logger.warn({ err: error }, 'background index build failed; searches go on with the index as it was'),
        })
      : new QdrantChunkIndex({
          url: config.QDRANT_URL,
          ...(config.QDRANT_API_KEY === undefined ? {} : { apiKey: config.QDRANT_API_KEY }),
          collectionPrefix: config.QDRANT_COLLECTION_PREFIX,
          fusion: config.HYBRID_FUSION,
          rrfK: config.RRF_K,
          shards: config.QDRANT_SHARDS,
          replicas: config.QDRANT_REPLICAS,
          writeConsistency: config.QDRANT_WRITE_CONSISTENCY,
          logger,
        });
  logger.info(
    {
      catalog: config.REDIS_URL === undefined ? 'sqlite' : config.REDIS_CLUSTER ? 'redis-cluster' : 'redis',
      index: config.QDRANT_URL === undefined ? 'embedded' : 'qdrant',
      originals: storageDirectory,
    },
    'storage',
  );
  return {
    catalog,
    apiKeys,
    files: new LocalFileStore({ directory: storageDirectory }),
    index,
    uploadDirectory: path.join(storageDirectory, '.uploads'),
    async close() {
      await index.close();
      await catalog.close();
      await redisApiKeys?.close();
      database?.close();
    },
  };
}
