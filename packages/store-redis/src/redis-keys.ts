import type { Redis } from 'ioredis';
import { createRedisClient, isClusterClient } from './redis-client.js';
import { toRedisError } from './redis-error.js';

/**
 * Deletes every key that starts with `prefix` (SCAN, then UNLINK in batches): what a deployment or
 * a test leaves behind under its QUEUE_PREFIX. With `cluster`, `url` is a node of a Redis Cluster
 * and every master is scanned. Returns how many keys were deleted.
 */
export async function deleteKeysWithPrefix(options: { url: string; prefix: string; cluster?: boolean; signal?: AbortSignal }): Promise<number> {
  if (options.prefix.length === 0) throw new RangeError('Refusing to delete every key: the prefix is empty');
  const client = createRedisClient({ url: options.url, cluster: options.cluster ?? false, connectionName: 'passage-cleanup' });
  // Failures reach the caller through the commands below; the listener keeps ioredis quiet.
  client.on('error', () => {});
  const pattern = `${options.prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  try {
    if (!isClusterClient(client)) return await deleteMatching(client, pattern, (keys) => client.unlink(...keys), options.signal);
    // SCAN reads one node; each key is unlinked through the cluster client, which sends it to its slot's master.
    // Answered once the cluster's nodes are known.
    await client.ping();
    let deleted = 0;
    for (const node of client.nodes('master')) {
      deleted += await deleteMatching(
        node,
        pattern,
        async (keys) => (await Promise.all(keys.map((key) => client.unlink(key)))).reduce((sum, count) => sum + count, 0),
        options.signal,
      );
    }
    return deleted;
  } catch (error) {
    throw toRedisError(error, 'cleanup');
  } finally {
    client.disconnect();
  }
}

async function deleteMatching(node: Redis, pattern: string, unlink: (keys: string[]) => Promise<number>, signal: AbortSignal | undefined): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    signal?.throwIfAborted();
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await unlink(keys);
  } while (cursor !== '0');
  return deleted;
}
