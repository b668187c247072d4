import { takeToken, type RateDecision, type RateLimiter, type TokenBucketSettings } from '@passage/spec';

/** Buckets kept at most; past it the least recently used are dropped (a dropped bucket starts full again). */
const maxBuckets = 100_000;

/** Token buckets in this process's memory: the limiter of a single API process. */
export class MemoryRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; updatedAtMs: number }>();
  readonly #settings: TokenBucketSettings;
  readonly #now: () => number;

  /** `now`: clock in ms (tests). Default: performance.now. */
  constructor(settings: TokenBucketSettings, now: () => number = () => performance.now()) {
    this.#settings = settings;
    this.#now = now;
  }

  take(caller: string): Promise<RateDecision> {
    const { bucket, decision } = takeToken(this.#buckets.get(caller), this.#now(), this.#settings);
    // Deleted and set again: Map keeps insertion order, so the first key is the least recently used.
    this.#buckets.delete(caller);
    this.#buckets.set(caller, bucket);
    if (this.#buckets.size > maxBuckets) this.#buckets.delete(this.#buckets.keys().next().value!);
    return Promise.resolve(decision);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
