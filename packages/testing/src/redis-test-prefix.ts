import { randomUUID } from 'node:crypto';
import { createRedisClient, deleteKeysWithPrefix, type RedisClient } from '@passage/store-redis';

/** The Redis that integration tests use: TEST_REDIS_URL, default the local server. */
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A Redis that tests run against: the standalone test server, or a cluster of redis-cluster.ts. */
export interface TestRedis {
  /** REDIS_URL: the server, or one node of the cluster. */
  url: string;
  /** REDIS_CLUSTER. */
  cluster: boolean;
  /** What it is, for test titles (`standalone Redis at redis://127.0.0.1:6379`). */
  description: string;
}

/** The standalone Redis at testRedisUrl. */
export const standaloneTestRedis: TestRedis = { url: testRedisUrl, cluster: false, description: `standalone Redis at ${testRedisUrl}` };

/** A client of `redis` (an ioredis Cluster for a cluster), made the way the runtime makes its own. */
export function connectTestRedis(redis: TestRedis, purpose: { connectionName: string; maxRetriesPerRequest?: number | null }): RedisClient {
  return createRedisClient({ url: redis.url, cluster: redis.cluster, ...purpose });
}

/**
 * A key prefix of its own for one test (`passage-test-<label>-<random>`), to pass as QUEUE_PREFIX
 * or keyPrefix, and the cleanup that deletes every key under it in `redis` (default: the standalone
 * test server): keys that start with `<prefix>:`, and the hash-tagged keys of a cluster,
 * `{<prefix>:...}...` and `{<prefix>}:...`. Returns how many keys were deleted.
 */
export function uniqueRedisPrefix(label: string, redis: TestRedis = standaloneTestRedis): { prefix: string; cleanup: () => Promise<number> } {
  const prefix = `passage-test-${label}-${randomUUID().slice(0, 8)}`;
  const cleanup = async () => {
    let deleted = 0;
    for (const start of [`${prefix}:`, `{${prefix}:`, `{${prefix}}:`]) {
      deleted += await deleteKeysWithPrefix({ url: redis.url, cluster: redis.cluster, prefix: start });
    }
    return deleted;
  };
  return { prefix, cleanup };
}
