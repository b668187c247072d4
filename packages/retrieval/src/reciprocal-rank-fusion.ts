/**
 * Reciprocal rank fusion with the semantics of Qdrant's Query API (`query: {fusion: "rrf"}` over
 * prefetches, or `{rrf: {k}}`), so that the embedded index and Qdrant rank a hybrid query alike.
 *
 * Only the order of each input list counts, never its scores. The item at 0-based position p of a
 * list adds 1 / (k + p) to the item's fused score; that is 1 / (k + r − 1) for rank r counted from 1,
 * as Qdrant computes it (lib/segment/src/common/reciprocal_rank_fusion.rs: `1 / (position + k)`).
 * Cormack et al. write 1 / (k + r): the same ranking with k one larger. An item missing from a list
 * gets nothing from it, so each list's length (Qdrant's prefetch `limit`) bounds what can be fused.
 * Qdrant leaves ties in no defined order; here they go by id ascending, so results are repeatable.
 */
import { rankedHits, type RankedHit } from './top-heap.js';

/** Qdrant's and the literature's usual k; RRF_K in the configuration. */
export const defaultRrfK = 60;

export interface ReciprocalRankFusionOptions {
  /** Damps the advantage of the very first positions. Default {@link defaultRrfK}; must be ≥ 1. */
  k?: number;
  /** Longest result. Default: every item of every list. */
  limit?: number;
}

/** Fuses ranked lists (best first, each id at most once per list) into one, best first. */
export function reciprocalRankFusion(lists: ReadonlyArray<ReadonlyArray<{ id: string }>>, options: ReciprocalRankFusionOptions = {}): RankedHit[] {
  const k = options.k ?? defaultRrfK;
  if (!(k >= 1) || !Number.isFinite(k)) throw new RangeError(`k must be a finite number ≥ 1, got ${k}`);
  const scores = new Map<string, number>();
  for (const list of lists) {
    list.forEach((item, position) => {
      scores.set(item.id, (scores.get(item.id) ?? 0) + 1 / (k + position));
    });
  }
  return rankedHits(scores, options.limit);
}
