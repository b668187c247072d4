import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { standaloneTestRedis, startRedisCluster, uniqueRedisPrefix } from '@passage/testing';
import { RedisRateLimiter } from './redis-rate-limiter.js';

const cluster = await startRedisCluster();
after(() => cluster.stop());

for (const redis of [standaloneTestRedis, cluster]) {
  describe(`RedisRateLimiter: token buckets shared through a ${redis.description}`, () => {
    it('shares one bucket between two limiters (two API replicas): the burst is spent once, then 429 with a wait', async () => {
      const { prefix, cleanup } = uniqueRedisPrefix('rate', redis);
      // One token a minute: nothing refills while the test runs, however slow the machine.
      const settings = { url: redis.url, cluster: redis.cluster, keyPrefix: prefix, perMinute: 1, burst: 3 };
      const first = new RedisRateLimiter(settings);
      const second = new RedisRateLimiter(settings);
      try {
        const decisions = [await first.take('key:a'), await second.take('key:a'), await first.take('key:a'), await second.take('key:a')];
        assert.deepEqual(
          decisions.map((decision) => decision.allowed),
          [true, true, true, false],
        );
        assert.ok(decisions[3]!.retryAfterSeconds > 1 && decisions[3]!.retryAfterSeconds <= 60, String(decisions[3]!.retryAfterSeconds));
        assert.equal((await second.take('key:b')).allowed, true);
      } finally {
        await first.close();
        await second.close();
        await cleanup();
      }
    });

    it('refills as time passes on the Redis server’s clock', async () => {
      const { prefix, cleanup } = uniqueRedisPrefix('rate-refill', redis);
      const limiter = new RedisRateLimiter({ url: redis.url, cluster: redis.cluster, keyPrefix: prefix, perMinute: 600, burst: 1 });
      try {
        assert.equal((await limiter.take('key:a')).allowed, true);
        const refused = await limiter.take('key:a');
        assert.equal(refused.allowed, false);
        assert.equal(refused.retryAfterSeconds, 1);
        // Ten tokens a second: 300 ms is surely enough for one.
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal((await limiter.take('key:a')).allowed, true);
      } finally {
        await limiter.close();
        await cleanup();
      }
    });
  });
}
