/** The BM25 accumulation shared by the in-memory index and the segment index: one term's postings at a time. */

/** One query term's scoring state; `scores` and `touched` are shared by every term of the query. */
export interface Scoring {
  termWeight: number;
  k1: number;
  /** By slot: k1 · (1 − b + b · |d| / avgdl), or −1 for a removed slot. */
  normalizations: Float64Array;
  scores: Float64Array;
  touched: Int32Array;
  /** How many slots `touched` lists; moves on as slots are first touched. */
  touchedCount: number;
}

/**
 * One posting's BM25 contribution: termWeight · f · (k1 + 1) / (f + normalization). Every path that
 * scores a posting (exhaustive or pruned) computes it here, so their scores are equal to the bit.
 */
export function contribution(termWeight: number, k1: number, frequency: number, normalization: number): number {
  return (termWeight * frequency * (k1 + 1)) / (frequency + normalization);
}

/** Adds the term's BM25 contribution of each posting in [first, end) to its slot's score. */
export function addPostings(slots: ArrayLike<number>, frequencies: ArrayLike<number>, first: number, end: number, scoring: Scoring): void {
  const { termWeight, k1, normalizations, scores, touched } = scoring;
  let touchedCount = scoring.touchedCount;
  for (let index = first; index < end; index += 1) {
    const slot = slots[index] as number;
    const normalization = normalizations[slot] as number;
    if (normalization < 0) continue;
    const added = contribution(termWeight, k1, frequencies[index] as number, normalization);
    // Every contribution is positive, so a zero score means the slot was not touched yet.
    if (scores[slot] === 0) touched[touchedCount++] = slot;
    scores[slot] = (scores[slot] as number) + added;
  }
  scoring.touchedCount = touchedCount;
}

/**
 * The largest saturation f / (f + normalization) of the postings in [first, end) (0 when none is
 * live): times termWeight · (k1 + 1), an upper bound of the term's contribution to any slot.
 */
export function maximumSaturation(slots: ArrayLike<number>, frequencies: ArrayLike<number>, first: number, end: number, normalizations: Float64Array): number {
  let maximum = 0;
  for (let index = first; index < end; index += 1) {
    const normalization = normalizations[slots[index] as number] as number;
    if (normalization < 0) continue;
    const frequency = frequencies[index] as number;
    const saturation = frequency / (frequency + normalization);
    if (saturation > maximum) maximum = saturation;
  }
  return maximum;
}
