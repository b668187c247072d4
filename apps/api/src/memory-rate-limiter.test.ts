import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRateLimiter } from './memory-rate-limiter.js';

describe('MemoryRateLimiter: a token bucket per caller', () => {
  it('lets a burst through, refuses the next with the wait until a token is back, and refills with time', async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ perMinute: 60, burst: 3 }, () => now);
    for (let request = 0; request < 3; request += 1) assert.deepEqual(await limiter.take('key:a'), { allowed: true, retryAfterSeconds: 0 });
    assert.deepEqual(await limiter.take('key:a'), { allowed: false, retryAfterSeconds: 1 });
    // Another caller has a bucket of its own.
    assert.equal((await limiter.take('key:b')).allowed, true);
    now += 1000; // one token a second
    assert.equal((await limiter.take('key:a')).allowed, true);
    assert.equal((await limiter.take('key:a')).allowed, false);
    now += 60_000; // refilled up to the burst, not beyond
    for (let request = 0; request < 3; request += 1) assert.equal((await limiter.take('key:a')).allowed, true);
    assert.equal((await limiter.take('key:a')).allowed, false);
  });

  it('says how long to wait at a slow rate: one request a minute waits 60 s', async () => {
    const limiter = new MemoryRateLimiter({ perMinute: 1, burst: 1 }, () => 0);
    assert.equal((await limiter.take('address:127.0.0.1')).allowed, true);
    assert.deepEqual(await limiter.take('address:127.0.0.1'), { allowed: false, retryAfterSeconds: 60 });
  });
});
