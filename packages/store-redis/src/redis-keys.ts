import { Redis } from 'ioredis';
import { toRedisError } from './redis-error.js';

/**
 * Deletes every key that starts with `prefix` (SCAN, then UNLINK in batches): what a deployment or
 * a test leaves behind under its QUEUE_PREFIX. Returns how many keys were deleted.
 */
export async function deleteKeysWithPrefix(options: { url: string; prefix: string; signal?: AbortSignal }): Promise<number> {
  if (options.prefix.length === 0) throw new RangeError('Refusing to delete every key: the prefix is empty');
  const client = new Redis(options.url, { connectionName: 'passage-cleanup' });
  // Failures reach the caller through the commands below; the listener keeps ioredis quiet.
  client.on('error', () => {});
  let deleted = 0;
  try {
    const pattern = `${options.prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    do {
      options.signal?.throwIfAborted();
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  } catch (error) {
    throw toRedisError(error, 'cleanup');
  } finally {
    client.disconnect();
  }
}
