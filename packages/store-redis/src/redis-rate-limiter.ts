import { silentLogger, type Logger, type RateDecision, type RateLimiter, type TokenBucketSettings } from '@passage/spec';
import { createRedisClient, type RedisClient } from './redis-client.js';
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
  /** `redis://[user:password@]host:port[/db]`; with `cluster`, one node of the cluster. */
  url: string;
  /** Start of every key; buckets are `${keyPrefix}:rate:<caller>` (one key each, so any slot of a cluster). Default: `passage`. */
  keyPrefix?: string;
  /** `true`: `url` is a node of a Redis Cluster. Default: false. */
  cluster?: boolean;
  logger?: Logger;
}

type RateClient = RedisClient & { passageTakeToken(key: string, perMs: string, burst: string): Promise<[number, number]> };

/** Token buckets in Redis, shared by every API replica (the scaled mode). */
export class RedisRateLimiter implements RateLimiter {
  readonly #client: RateClient;
  readonly #prefix: string;
  readonly #settings: TokenBucketSettings;

  constructor(options: RedisRateLimiterOptions) {
    this.#prefix = `${options.keyPrefix ?? 'passage'}:rate:`;
    this.#settings = { perMinute: options.perMinute, burst: options.burst };
    const client = createRedisClient({ url: options.url, cluster: options.cluster ?? false, connectionName: 'passage-rate-limit', maxRetriesPerRequest: 2 });
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
