/** A ranked result: an id and its score, best first in every list this package returns. */
export interface RankedHit {
  id: string;
  score: number;
}

/** The order of every ranked list here: higher score first, equal scores by id ascending (repeatable). */
export function compareRankedHits(left: RankedHit, right: RankedHit): number {
  return right.score - left.score || (left.id < right.id ? -1 : left.id > right.id ? 1 : 0);
}

/** Accumulated scores by id as a ranked list, best first, at most `limit` long (default: all). */
export function rankedHits(scores: ReadonlyMap<string, number>, limit?: number): RankedHit[] {
  const hits = [...scores].map(([id, score]) => ({ id, score })).sort(compareRankedHits);
  return limit === undefined ? hits : hits.slice(0, Math.max(0, limit));
}

/**
 * Keeps the k best (slot, score) pairs seen: a binary min-heap whose root is the worst kept pair,
 * where lower score is worse and, at equal scores, the larger id is worse.
 */
export class TopHeap {
  private readonly slots: number[] = [];
  private readonly scores: number[] = [];
  private readonly idOf: (slot: number) => string;

  /** `ids` gives each slot's id: an array by slot, or a function (ids are read only to break ties and at the end). */
  constructor(
    private readonly capacity: number,
    ids: ReadonlyArray<string | undefined> | ((slot: number) => string),
  ) {
    this.idOf = typeof ids === 'function' ? ids : (slot) => ids[slot] as string;
  }

  /** Whether a pair would be kept: cheap, so callers can test it before an expensive filter. */
  wouldAccept(slot: number, score: number): boolean {
    if (this.slots.length < this.capacity) return true;
    return this.isWorse(this.slots[0] as number, this.scores[0] as number, slot, score);
  }

  /** The score a pair must reach (at least; at equal scores the id decides) to be kept: the worst kept score once full, else −∞. */
  get threshold(): number {
    return this.slots.length < this.capacity ? Number.NEGATIVE_INFINITY : (this.scores[0] as number);
  }

  push(slot: number, score: number): void {
    const slots = this.slots;
    const scores = this.scores;
    if (slots.length < this.capacity) {
      slots.push(slot);
      scores.push(score);
      let index = slots.length - 1;
      while (index > 0) {
        const parent = (index - 1) >> 1;
        if (!this.isWorse(slot, score, slots[parent] as number, scores[parent] as number)) break;
        slots[index] = slots[parent] as number;
        scores[index] = scores[parent] as number;
        index = parent;
      }
      slots[index] = slot;
      scores[index] = score;
      return;
    }
    if (!this.wouldAccept(slot, score)) return;
    // Replace the root and sift down.
    let index = 0;
    const size = slots.length;
    for (;;) {
      const left = index * 2 + 1;
      if (left >= size) break;
      const right = left + 1;
      let child = left;
      if (right < size && this.isWorse(slots[right] as number, scores[right] as number, slots[left] as number, scores[left] as number)) {
        child = right;
      }
      if (!this.isWorse(slots[child] as number, scores[child] as number, slot, score)) break;
      slots[index] = slots[child] as number;
      scores[index] = scores[child] as number;
      index = child;
    }
    slots[index] = slot;
    scores[index] = score;
  }

  sorted(): RankedHit[] {
    const hits = this.slots.map((slot, index) => ({ id: this.idOf(slot), score: this.scores[index] as number }));
    return hits.sort(compareRankedHits);
  }

  /** Whether pair a ranks below pair b. */
  private isWorse(slotA: number, scoreA: number, slotB: number, scoreB: number): boolean {
    if (scoreA !== scoreB) return scoreA < scoreB;
    return this.idOf(slotA) > this.idOf(slotB);
  }
}
