import { Redis } from 'ioredis';
import { silentLogger, type Logger, type RateDecision, type RateLimiter, type TokenBucketSettings } from '@passage/spec';
import { toRedisError } from './redis-error.js';

/**
 * takeToken (packages/spec, rate-limiter.ts) in Lua, on the Redis server's clock so that replicas
 * with clocks apart share one bucket. KEYS[1]: the bucket; ARGV: tokens per ms, burst. Returns
 * {allowed (0|1), retry after in ms}. A bucket left alone until full expires.
 */
const takeTokenScript = `
local perMs = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * perMs)
local allowed = 0
local waitMs = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  waitMs = math.ceil((1 - tokens) / perMs)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / perMs) + 1000)
return {allowed, waitMs}
`;

export interface RedisRateLimiterOptions extends TokenBucketSettings {
  url: string;
  /** Start of every key; buckets are `${keyPrefix}:rate:<caller>`. Default: `passage`. */
  keyPrefix?: string;
  logger?: Logger;
}

type RateClient = Redis & { passageTakeToken(key: string, perMs: string, burst: string): Promise<[number, number]> };

/** Token buckets in Redis, shared by every API replica (the scaled mode). */
export class RedisRateLimiter implements RateLimiter {
  readonly #client: RateClient;
  readonly #prefix: string;
  readonly #settings: TokenBucketSettings;

  constructor(options: RedisRateLimiterOptions) {
    this.#prefix = `${options.keyPrefix ?? 'passage'}:rate:`;
    this.#settings = { perMinute: options.perMinute, burst: options.burst };
    const client = new Redis(options.url, { connectionName: 'passage-rate-limit', maxRetriesPerRequest: 2 });
    const logger = options.logger ?? silentLogger;
    client.on('error', (error: Error) => logger.warn({ err: error }, 'Redis connection problem (rate limits)'));
    client.defineCommand('passageTakeToken', { lua: takeTokenScript, numberOfKeys: 1 });
    this.#client = client as RateClient;
  }

  async take(caller: string): Promise<RateDecision> {
    try {
      const [allowed, waitMs] = await this.#client.passageTakeToken(
        `${this.#prefix}${caller}`,
        String(this.#settings.perMinute / 60_000),
        String(this.#settings.burst),
      );
      return { allowed: allowed === 1, retryAfterSeconds: allowed === 1 ? 0 : Math.max(1, Math.ceil(waitMs / 1000)) };
    } catch (error) {
      throw toRedisError(error, 'rate limit');
    }
  }

  async close(): Promise<void> {
    await this.#client.quit().catch(() => this.#client.disconnect());
  }
}
