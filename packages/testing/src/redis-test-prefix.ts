import { randomUUID } from 'node:crypto';
import { deleteKeysWithPrefix } from '@passage/store-redis';

/** The Redis that integration tests use: TEST_REDIS_URL, default the local server. */
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A key prefix of its own for one test (`passage-test-<label>-<random>`), to pass as QUEUE_PREFIX
 * or keyPrefix, and the cleanup that deletes every key under it.
 */
export function uniqueRedisPrefix(label: string): { prefix: string; cleanup: () => Promise<number> } {
  const prefix = `passage-test-${label}-${randomUUID().slice(0, 8)}`;
  return { prefix, cleanup: () => deleteKeysWithPrefix({ url: testRedisUrl, prefix: `${prefix}:` }) };
}
