import type { Config, TokenBucketSettings } from '@passage/spec';

/** Requests per minute per key when RATE_LIMIT_PER_MINUTE is unset and keys are configured. */
export const defaultRequestsPerMinute = 600;

/**
 * The token bucket of each caller, or null for no limit: RATE_LIMIT_PER_MINUTE and
 * RATE_LIMIT_BURST when set; unset, 600 a minute with keys, and no limit without them (one user
 * on 127.0.0.1, whose benchmarks run thousands of answers at once).
 */
export function rateLimitSettings(config: Pick<Config, 'RATE_LIMIT_PER_MINUTE' | 'RATE_LIMIT_BURST' | 'ADMIN_API_KEY'>): TokenBucketSettings | null {
  const perMinute = config.RATE_LIMIT_PER_MINUTE ?? (config.ADMIN_API_KEY === undefined ? 0 : defaultRequestsPerMinute);
  return perMinute === 0 ? null : { perMinute, burst: config.RATE_LIMIT_BURST };
}
