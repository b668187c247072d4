import { after } from 'node:test';
import { describeApiKeyStoreContract, standaloneTestRedis, startRedisCluster, steppingClock, uniqueRedisPrefix } from '@passage/testing';
import { RedisApiKeyStore } from './redis-api-key-store.js';

const cluster = await startRedisCluster();
after(() => cluster.stop());

for (const redis of [standaloneTestRedis, cluster]) {
  describeApiKeyStoreContract(`Redis, ${redis.description}`, async () => {
    const { prefix, cleanup } = uniqueRedisPrefix('api-keys', redis);
    const store = new RedisApiKeyStore({ url: redis.url, cluster: redis.cluster, keyPrefix: prefix, now: steppingClock() });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await cleanup();
      },
    };
  });
}
