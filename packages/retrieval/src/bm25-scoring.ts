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

/** Adds the term's BM25 contribution of each posting in [first, end) to its slot's score. */
export function addPostings(slots: ArrayLike<number>, frequencies: ArrayLike<number>, first: number, end: number, scoring: Scoring): void {
  const { termWeight, k1, normalizations, scores, touched } = scoring;
  let touchedCount = scoring.touchedCount;
  for (let index = first; index < end; index += 1) {
    const slot = slots[index] as number;
    const normalization = normalizations[slot] as number;
    if (normalization < 0) continue;
    const frequency = frequencies[index] as number;
    const contribution = (termWeight * frequency * (k1 + 1)) / (frequency + normalization);
    // Every contribution is positive, so a zero score means the slot was not touched yet.
    if (scores[slot] === 0) touched[touchedCount++] = slot;
    scores[slot] = (scores[slot] as number) + contribution;
  }
  scoring.touchedCount = touchedCount;
}
