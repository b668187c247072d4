import { contribution } from './bm25-scoring.js';
import type { TopHeap } from './top-heap.js';

/** One query term's postings for {@link searchPruned}: slots ascending, in [first, end). */
export interface PrunedTerm {
  slots: Int32Array;
  frequencies: ArrayLike<number>;
  first: number;
  end: number;
  termWeight: number;
  /** An upper bound of the term's contribution to any slot's score (its largest possible BM25 term). */
  bound: number;
}

export interface PrunedSearchInput {
  /** In the query's order: a slot's score adds its terms' contributions in this order, as the exhaustive loop does. */
  terms: PrunedTerm[];
  k1: number;
  /** By slot: k1 · (1 − b + b · |d| / avgdl), or −1 for a removed slot. */
  normalizations: Float64Array;
  /** What a slot's score adds after its terms (document evidence), or null for nothing. */
  extra: ((slot: number) => number) | null;
  /** An upper bound of `extra` over every slot of the lists. */
  extraBound: number;
  /** Holds the best pairs found so far (other lists' too); the slots that may enter it are pushed. */
  heap: TopHeap;
}

/**
 * Rounding room: a bound or a partial sum is compared with the threshold after this factor, so
 * that a slot whose exact score (summed in another order) equals the threshold is never skipped.
 */
const slack = 1 + 1e-9;

/**
 * Document-at-a-time MaxScore (Turtle and Flood 1995) over sorted posting lists: pushes into the
 * heap every slot whose score could still enter it, with the same score the exhaustive term-at-a-time
 * loop gives (the same contributions added in the same order), and skips the rest. Terms are
 * ordered by their bound; once the heap is full, the terms whose bounds (with the largest `extra`)
 * sum below its threshold are non-essential: only slots of the other lists are candidates, and a
 * candidate's non-essential postings are looked up (galloping search) only while its partial score
 * plus the bounds left can still reach the threshold. Ties at the threshold are scored (the id
 * decides them in the heap), so the heap ends as the exhaustive search would leave it. Returns how
 * many candidates it looked at (slots taken from the essential lists).
 */
export function searchPruned(input: PrunedSearchInput): number {
  const steps = searchPrunedSteps(input);
  for (;;) {
    const next = steps.next();
    if (next.done === true) return next.value;
  }
}

/** Candidates looked at between two yields of {@link searchPrunedSteps}: well under a millisecond of work. */
const candidatesPerStep = 1024;

/**
 * {@link searchPruned} in steps of {@link candidatesPerStep} candidates: it yields between them (the
 * lists and the heap must not change meanwhile) and returns what searchPruned returns.
 */
export function* searchPrunedSteps(input: PrunedSearchInput): Generator<void, number, undefined> {
  const { terms, k1, normalizations, extra, extraBound, heap } = input;
  const count = terms.length;
  if (count === 0) return 0;
  const order = Array.from(terms.keys()).sort((left, right) => (terms[left] as PrunedTerm).bound - (terms[right] as PrunedTerm).bound);
  const bounds = Float64Array.from(order, (term) => (terms[term] as PrunedTerm).bound);
  // prefix[r]: the bounds of the r weakest terms, summed.
  const prefix = new Float64Array(count + 1);
  for (let rank = 0; rank < count; rank += 1) prefix[rank + 1] = (prefix[rank] as number) + (bounds[rank] as number);
  const positions = Int32Array.from(terms, (term) => term.first);
  const contributions = new Float64Array(count);
  const present = new Uint8Array(count);
  let threshold = heap.threshold;
  let essentialFrom = 0;
  const advanceEssential = () => {
    while (essentialFrom < count && ((prefix[essentialFrom + 1] as number) + extraBound) * slack < threshold) essentialFrom += 1;
  };
  advanceEssential();
  let candidates = 0;
  for (;;) {
    if (essentialFrom === count) break;
    // The next candidate: the smallest slot at the head of an essential list.
    let candidate = 0x7fffffff;
    for (let rank = essentialFrom; rank < count; rank += 1) {
      const term = order[rank] as number;
      const position = positions[term] as number;
      const list = terms[term] as PrunedTerm;
      if (position < list.end) {
        const slot = list.slots[position] as number;
        if (slot < candidate) candidate = slot;
      }
    }
    if (candidate === 0x7fffffff) break;
    candidates += 1;
    if (candidates % candidatesPerStep === 0) yield;
    const normalization = normalizations[candidate] as number;
    let upper = 0;
    for (let rank = essentialFrom; rank < count; rank += 1) {
      const term = order[rank] as number;
      const position = positions[term] as number;
      const list = terms[term] as PrunedTerm;
      if (position < list.end && list.slots[position] === candidate) {
        positions[term] = position + 1;
        if (normalization < 0) continue;
        const added = contribution(list.termWeight, k1, list.frequencies[position] as number, normalization);
        contributions[term] = added;
        present[term] = 1;
        upper += added;
      }
    }
    if (normalization < 0) continue;
    const added = extra === null ? 0 : extra(candidate);
    upper += added + (prefix[essentialFrom] as number);
    let skipped = upper * slack < threshold;
    // The non-essential terms, strongest first, while the candidate can still make it.
    for (let rank = essentialFrom - 1; rank >= 0 && !skipped; rank -= 1) {
      const term = order[rank] as number;
      const list = terms[term] as PrunedTerm;
      upper -= bounds[rank] as number;
      const position = seek(list.slots, positions[term] as number, list.end, candidate);
      positions[term] = position;
      if (position < list.end && list.slots[position] === candidate) {
        const value = contribution(list.termWeight, k1, list.frequencies[position] as number, normalization);
        contributions[term] = value;
        present[term] = 1;
        upper += value;
      }
      skipped = upper * slack < threshold;
    }
    if (!skipped) {
      let score = 0;
      for (let term = 0; term < count; term += 1) if (present[term] === 1) score += contributions[term] as number;
      if (extra !== null) score += added;
      if (heap.wouldAccept(candidate, score)) {
        heap.push(candidate, score);
        if (heap.threshold !== threshold) {
          threshold = heap.threshold;
          advanceEssential();
        }
      }
    }
    present.fill(0);
  }
  return candidates;
}

/** The first position in [position, end) whose slot is ≥ target (slots ascending): galloping, then binary search. */
function seek(slots: Int32Array, position: number, end: number, target: number): number {
  if (position >= end || (slots[position] as number) >= target) return position;
  let low = position;
  let step = 1;
  let high = position + 1;
  while (high < end && (slots[high] as number) < target) {
    low = high;
    step *= 2;
    high = low + step;
  }
  if (high > end) high = end;
  // slots[low] < target; the answer is in (low, high].
  let first = low + 1;
  while (first < high) {
    const middle = (first + high) >>> 1;
    if ((slots[middle] as number) < target) first = middle + 1;
    else high = middle;
  }
  return first;
}
