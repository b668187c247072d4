/**
 * Distribution-based score fusion with the semantics of Qdrant's Query API (`query: {fusion: "dbsf"}`
 * over prefetches), so that the embedded index and Qdrant rank a hybrid query alike.
 *
 * Unlike reciprocal rank fusion, the scores count: each list's scores are mapped to about [0, 1]
 * between its mean minus and plus three standard deviations (sample variance, as Qdrant's
 * lib/segment/src/common/score_fusion.rs, v1.19), and an item's fused score is the sum over the
 * lists it is in. So a BM25 list whose first hit stands far above the rest keeps that lead, where
 * RRF would give it the same credit as the dense list's first hit however weak. A list of one item
 * scores it 0.5, as does a list whose scores are all equal. Values beyond three deviations are not
 * clamped (Qdrant does not clamp them either). Ties go by id ascending, so results are repeatable.
 */
import { rankedHits, type RankedHit } from './top-heap.js';

export interface DistributionBasedScoreFusionOptions {
  /** Longest result. Default: every item of every list. */
  limit?: number;
}

/** Fuses scored lists (each id at most once per list; higher score better) into one, best first. */
export function distributionBasedScoreFusion(lists: ReadonlyArray<ReadonlyArray<RankedHit>>, options: DistributionBasedScoreFusionOptions = {}): RankedHit[] {
  const scores = new Map<string, number>();
  for (const list of lists) {
    const normalized = normalizedScores(list);
    list.forEach((item, position) => {
      scores.set(item.id, (scores.get(item.id) ?? 0) + normalized[position]!);
    });
  }
  return rankedHits(scores, options.limit);
}

function normalizedScores(list: ReadonlyArray<RankedHit>): number[] {
  if (list.length < 2) return list.map(() => 0.5);
  // Welford's one-pass mean and variance, as Qdrant computes them.
  let mean = 0;
  let aggregate = 0;
  list.forEach((item, position) => {
    const before = item.score - mean;
    mean += before / (position + 1);
    aggregate += before * (item.score - mean);
  });
  const deviation = Math.sqrt(aggregate / (list.length - 1));
  const low = mean - 3 * deviation;
  const high = mean + 3 * deviation;
  if (high === low) return list.map(() => 0.5);
  return list.map((item) => (item.score - low) / (high - low));
}
