/**
 * An in-memory BM25 inverted index over documents given as term frequencies (from the analyzer).
 *
 * Score of a document d for a query q:
 *
 *   sum over terms t of q:  w(t, q) · idf(t) · f(t, d) · (k1 + 1) / (f(t, d) + k1 · (1 − b + b · |d| / avgdl))
 *
 * with w(t, q) the frequency of t in the query, f(t, d) its frequency in d, |d| the sum of d's term
 * frequencies, avgdl the mean of |d| over the index, and
 *
 *   idf(t) = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
 *
 * where N counts the documents and df(t) those containing t. This is Lucene's non-negative IDF (the
 * classic Robertson form goes negative for terms in more than half the documents), the same as
 * Qdrant's sparse vector `modifier: idf`, so the lexical ranking can move to Qdrant unchanged.
 *
 * Documents live in numeric slots so that a query accumulates scores in a typed array. Removal
 * updates N, df and the total length at once (they stay exact) and leaves tombstones in the
 * postings, which searches skip; once tombstones outnumber live documents the postings are rebuilt.
 */
import { addPostings, type Scoring } from './bm25-scoring.js';
import { TopHeap, type RankedHit } from './top-heap.js';

export interface Bm25Options {
  /** Term-frequency saturation: how fast repeated occurrences stop adding score. Default 1.2. */
  k1?: number;
  /** Length normalisation, from 0 (none) to 1 (full). Default 0.75. */
  b?: number;
}

export interface Bm25Entry {
  id: string;
  /** Term frequencies of the document. Non-positive and non-finite frequencies are ignored. */
  terms: Record<string, number>;
}

export type Bm25Hit = RankedHit;

export interface Bm25SearchOptions {
  /**
   * Drops documents before they take a place. Called only for documents that would rank; must not
   * search this index itself (the per-query buffers are shared).
   */
  filter?: (id: string) => boolean;
  /** Added to a matching document's score before ranking (another signal about the same document). */
  boost?: (id: string) => number;
}

/** Where each live document goes in a compaction, and the per-slot arrays in the new order. */
interface Renumbering {
  newSlotByOld: Int32Array;
  ids: string[];
  lengths: number[];
  documentPostings: PostingList[][];
  totalLength: number;
}

interface PostingList {
  term: string;
  /** Documents containing the term, by slot; may include removed slots until compaction. */
  slots: number[];
  frequencies: number[];
  /** Live documents containing the term. */
  documentFrequency: number;
}

/** Tombstones below this count never trigger a compaction, so small indexes are not rebuilt often. */
const minimumTombstonesForCompaction = 64;

export class Bm25Index {
  private readonly k1: number;
  private readonly b: number;

  private readonly postings = new Map<string, PostingList>();
  private readonly slotById = new Map<string, number>();
  /** By slot; undefined once the document is removed. */
  private ids: Array<string | undefined> = [];
  private lengths: number[] = [];
  private documentPostings: Array<PostingList[] | undefined> = [];
  private liveCount = 0;
  private totalLength = 0;
  /** Moves on with every change, so a compaction in steps notices one made between its steps. */
  private version = 0;

  /** Per-query scratch space, reused across searches. */
  private scores = new Float64Array(0);
  private touched = new Int32Array(0);
  /**
   * By slot: k1 · (1 − b + b · |d| / avgdl), or −1 for a removed slot. Recomputed by the first search
   * after a change, as every add or remove moves avgdl.
   */
  private normalizations = new Float64Array(0);
  private normalizationsCurrent = false;

  constructor(options: Bm25Options = {}) {
    this.k1 = options.k1 ?? 1.2;
    this.b = options.b ?? 0.75;
    if (!(this.k1 >= 0) || !Number.isFinite(this.k1)) throw new RangeError(`k1 must be a finite number ≥ 0, got ${this.k1}`);
    if (!(this.b >= 0 && this.b <= 1)) throw new RangeError(`b must be between 0 and 1, got ${this.b}`);
  }

  /** Number of documents in the index. */
  get size(): number {
    return this.liveCount;
  }

  has(id: string): boolean {
    return this.slotById.has(id);
  }

  /** Adds documents; a document whose id is already present is replaced. */
  add(entries: Iterable<Bm25Entry>): void {
    for (const entry of entries) {
      this.removeOne(entry.id);
      const slot = this.ids.length;
      const lists: PostingList[] = [];
      let length = 0;
      for (const [term, frequency] of Object.entries(entry.terms)) {
        if (!(frequency > 0) || !Number.isFinite(frequency)) continue;
        let list = this.postings.get(term);
        if (list === undefined) {
          list = { term, slots: [], frequencies: [], documentFrequency: 0 };
          this.postings.set(term, list);
        }
        list.slots.push(slot);
        list.frequencies.push(frequency);
        list.documentFrequency += 1;
        lists.push(list);
        length += frequency;
      }
      this.ids.push(entry.id);
      this.lengths.push(length);
      this.documentPostings.push(lists);
      this.slotById.set(entry.id, slot);
      this.liveCount += 1;
      this.totalLength += length;
      this.normalizationsCurrent = false;
      this.version += 1;
    }
    this.compactIfWorthwhile();
  }

  /**
   * Removes documents. The postings are compacted at once when tombstones outnumber live
   * documents, unless `deferCompaction`: the caller then runs {@link compactionSteps} (a rebuild
   * of every posting list is one long step for a large index).
   */
  remove(ids: Iterable<string>, options: { deferCompaction?: boolean } = {}): void {
    for (const id of ids) this.removeOne(id);
    if (options.deferCompaction !== true) this.compactIfWorthwhile();
  }

  /** Whether tombstones outnumber live documents, so that {@link compactionSteps} would pay off. */
  get needsCompaction(): boolean {
    const tombstones = this.ids.length - this.liveCount;
    return tombstones >= minimumTombstonesForCompaction && tombstones > this.liveCount;
  }

  /**
   * Compacts in steps, yielding after about `postingsPerStep` postings: the new posting lists are
   * built aside and put in place in one step at the end, so searches between steps see the index
   * as it was. A change to the index between steps starts the compaction over. Does nothing when
   * not {@link needsCompaction}.
   */
  *compactionSteps(postingsPerStep = 10_000): Generator<void, void, undefined> {
    for (;;) {
      if (!this.needsCompaction) return;
      const version = this.version;
      const renumbered = this.renumberedSlots();
      const rebuilt = new Map<PostingList, { slots: number[]; frequencies: number[] }>();
      let sinceYield = 0;
      let changed = false;
      for (const list of this.postings.values()) {
        if (list.documentFrequency > 0) rebuilt.set(list, this.compactedList(list, renumbered.newSlotByOld));
        sinceYield += list.slots.length;
        if (sinceYield < postingsPerStep) continue;
        sinceYield = 0;
        yield;
        if (this.version !== version) {
          changed = true;
          break;
        }
      }
      if (changed) continue;
      this.install(renumbered, rebuilt);
      return;
    }
  }

  /**
   * The `topK` best documents for the query, by score descending then id ascending (UTF-16 code
   * unit order). Only documents sharing a term with the query are returned.
   */
  search(queryTerms: Record<string, number>, topK: number, options: Bm25SearchOptions = {}): Bm25Hit[] {
    if (!(topK >= 1) || this.liveCount === 0) return [];
    const { filter, boost } = options;
    const touchedCount = this.accumulate(queryTerms);
    const scores = this.scores;
    const touched = this.touched;
    const ids = this.ids;
    const heap = new TopHeap(topK, ids);
    try {
      for (let index = 0; index < touchedCount; index += 1) {
        const slot = touched[index] as number;
        const score = (scores[slot] as number) + (boost === undefined ? 0 : boost(ids[slot] as string));
        if (heap.wouldAccept(slot, score) && (filter === undefined || filter(ids[slot] as string))) heap.push(slot, score);
      }
    } finally {
      // Leave the accumulator zeroed for the next search, even when a callback throws.
      for (let index = 0; index < touchedCount; index += 1) scores[touched[index] as number] = 0;
    }
    return heap.sorted();
  }

  /** The score of every document sharing a term with the query, in no particular order. */
  scoreAll(queryTerms: Record<string, number>): Map<string, number> {
    const result = new Map<string, number>();
    if (this.liveCount === 0) return result;
    const touchedCount = this.accumulate(queryTerms);
    for (let index = 0; index < touchedCount; index += 1) {
      const slot = this.touched[index] as number;
      result.set(this.ids[slot] as string, this.scores[slot] as number);
      this.scores[slot] = 0;
    }
    return result;
  }

  /**
   * Adds every query term's contribution into `scores` by slot and lists the slots it touched in
   * `touched`; returns how many. The caller must zero those slots of `scores` afterwards.
   */
  private accumulate(queryTerms: Record<string, number>): number {
    const slotCount = this.ids.length;
    if (this.scores.length < slotCount) {
      const capacity = Math.max(slotCount, this.scores.length * 2, 1024);
      this.scores = new Float64Array(capacity);
      this.touched = new Int32Array(capacity);
    }
    if (!this.normalizationsCurrent) this.computeNormalizations();
    const scores = this.scores;
    const touched = this.touched;
    const normalizations = this.normalizations;
    const k1 = this.k1;
    const documentCount = this.liveCount;
    let touchedCount = 0;

    for (const [term, weight] of Object.entries(queryTerms)) {
      if (!(weight > 0) || !Number.isFinite(weight)) continue;
      const list = this.postings.get(term);
      if (list === undefined || list.documentFrequency === 0) continue;
      const df = list.documentFrequency;
      const idf = Math.log(1 + (documentCount - df + 0.5) / (df + 0.5));
      const termWeight = weight * idf;
      const scoring: Scoring = { termWeight, k1, normalizations, scores, touched, touchedCount };
      addPostings(list.slots, list.frequencies, 0, list.slots.length, scoring);
      touchedCount = scoring.touchedCount;
    }
    return touchedCount;
  }

  private computeNormalizations(): void {
    const slotCount = this.ids.length;
    if (this.normalizations.length < slotCount) this.normalizations = new Float64Array(Math.max(slotCount, this.scores.length));
    const averageLength = this.totalLength / this.liveCount;
    for (let slot = 0; slot < slotCount; slot += 1) {
      this.normalizations[slot] = this.ids[slot] === undefined ? -1 : this.k1 * (1 - this.b + (this.b * (this.lengths[slot] as number)) / averageLength);
    }
    this.normalizationsCurrent = true;
  }

  private removeOne(id: string): void {
    const slot = this.slotById.get(id);
    if (slot === undefined) return;
    for (const list of this.documentPostings[slot] ?? []) list.documentFrequency -= 1;
    this.slotById.delete(id);
    this.ids[slot] = undefined;
    this.documentPostings[slot] = undefined;
    this.liveCount -= 1;
    this.normalizationsCurrent = false;
    this.version += 1;
    this.totalLength -= this.lengths[slot] as number;
    this.lengths[slot] = 0;
    if (this.liveCount === 0) this.totalLength = 0;
  }

  private compactIfWorthwhile(): void {
    if (!this.needsCompaction) return;
    const renumbered = this.renumberedSlots();
    const rebuilt = new Map<PostingList, { slots: number[]; frequencies: number[] }>();
    for (const list of this.postings.values()) {
      if (list.documentFrequency > 0) rebuilt.set(list, this.compactedList(list, renumbered.newSlotByOld));
    }
    this.install(renumbered, rebuilt);
  }

  /** The live documents renumbered into consecutive slots, keeping their order. */
  private renumberedSlots(): Renumbering {
    const newSlotByOld = new Int32Array(this.ids.length).fill(-1);
    const ids: string[] = [];
    const lengths: number[] = [];
    const documentPostings: PostingList[][] = [];
    let totalLength = 0;
    for (let slot = 0; slot < this.ids.length; slot += 1) {
      const id = this.ids[slot];
      if (id === undefined) continue;
      newSlotByOld[slot] = ids.length;
      ids.push(id);
      lengths.push(this.lengths[slot] as number);
      documentPostings.push(this.documentPostings[slot] as PostingList[]);
      totalLength += this.lengths[slot] as number;
    }
    return { newSlotByOld, ids, lengths, documentPostings, totalLength };
  }

  /** A posting list without its tombstones, in the new slots. */
  private compactedList(list: PostingList, newSlotByOld: Int32Array): { slots: number[]; frequencies: number[] } {
    const slots: number[] = [];
    const frequencies: number[] = [];
    for (let index = 0; index < list.slots.length; index += 1) {
      const newSlot = newSlotByOld[list.slots[index] as number] as number;
      if (newSlot < 0) continue;
      slots.push(newSlot);
      frequencies.push(list.frequencies[index] as number);
    }
    return { slots, frequencies };
  }

  /** Puts a compaction in place: posting lists not rebuilt (no live document) are dropped. */
  private install(renumbered: Renumbering, rebuilt: Map<PostingList, { slots: number[]; frequencies: number[] }>): void {
    for (const [term, list] of this.postings) {
      const lists = rebuilt.get(list);
      if (lists === undefined) {
        this.postings.delete(term);
        continue;
      }
      list.slots = lists.slots;
      list.frequencies = lists.frequencies;
    }
    renumbered.ids.forEach((id, slot) => this.slotById.set(id, slot));
    this.ids = renumbered.ids;
    this.lengths = renumbered.lengths;
    this.documentPostings = renumbered.documentPostings;
    // Summed afresh, so rounding from many incremental updates (non-integer frequencies) is dropped.
    this.totalLength = renumbered.totalLength;
    this.normalizationsCurrent = false;
    this.version += 1;
  }
}
