import { describeApiKeyStoreContract, steppingClock, testRedisUrl, uniqueRedisPrefix } from '@passage/testing';
import { RedisApiKeyStore } from './redis-api-key-store.js';

describeApiKeyStoreContract('Redis', async () => {
  const { prefix, cleanup } = uniqueRedisPrefix('api-keys');
  const store = new RedisApiKeyStore({ url: testRedisUrl, keyPrefix: prefix, now: steppingClock() });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await cleanup();
    },
  };
});
