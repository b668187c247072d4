/** The outcome of one request against a rate limit. */
export interface RateDecision {
  allowed: boolean;
  /** When refused: seconds until a request would be allowed (HTTP Retry-After). 0 when allowed. */
  retryAfterSeconds: number;
}

/** Token bucket settings: `perMinute` tokens refilled per minute, continuously, into a bucket of `burst`. */
export interface TokenBucketSettings {
  perMinute: number;
  burst: number;
}

/**
 * A token bucket per caller (an API key, or a client address). In one process it lives in
 * memory; API replicas share theirs through Redis.
 */
export interface RateLimiter {
  /** Takes one token from `caller`'s bucket, or says how long until one is there. */
  take(caller: string): Promise<RateDecision>;
  close(): Promise<void>;
}

/**
 * One step of a token bucket: the bucket (`tokens` at `updatedAtMs`) refilled up to `nowMs`, then
 * one token taken when there is one. The Redis adapter runs the same arithmetic in Lua.
 */
export function takeToken(
  bucket: { tokens: number; updatedAtMs: number } | undefined,
  nowMs: number,
  settings: TokenBucketSettings,
): { bucket: { tokens: number; updatedAtMs: number }; decision: RateDecision } {
  const perMs = settings.perMinute / 60_000;
  const elapsed = bucket === undefined ? 0 : Math.max(0, nowMs - bucket.updatedAtMs);
  const tokens = Math.min(settings.burst, (bucket?.tokens ?? settings.burst) + elapsed * perMs);
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, updatedAtMs: nowMs }, decision: { allowed: true, retryAfterSeconds: 0 } };
  return { bucket: { tokens, updatedAtMs: nowMs }, decision: { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) } };
}
