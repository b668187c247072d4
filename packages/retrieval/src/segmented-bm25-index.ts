import type { Bm25Options } from './bm25-index.js';
import { TimeSlice } from '@passage/spec';
import { addPostings, maximumSaturation, type Scoring } from './bm25-scoring.js';
import type { DocumentTermsRange, LexicalSegment } from './lexical-segment.js';
import { searchPrunedSteps, type PrunedTerm } from './pruned-search.js';
import { TopHeap, type RankedHit } from './top-heap.js';

/** A chunk of a document as the index takes it. */
export interface SegmentedChunk {
  id: string;
  /** Term frequencies. Non-positive and non-finite frequencies are ignored. */
  terms: Record<string, number>;
}

interface TailChunkList {
  slots: number[];
  frequencies: number[];
  /** Live chunks of the tail containing the term. */
  documentFrequency: number;
}

interface TailDocumentList {
  documents: number[];
  frequencies: number[];
  /** Live documents of the tail containing the term. */
  documentFrequency: number;
}

/** Terms looked at between two yields of a removal from the segment. */
const termsPerStep = 65_536;
/** Slots whose normalization is worked out between two yields. */
const slotsPerStep = 65_536;
/** Chunks added between two yields. */
const chunksPerStep = 256;

/** Rounding room of a term's bound (see pruned-search.ts). */
const boundSlack = 1 + 1e-9;

/** How {@link SegmentedBm25Index.search} goes through the segment's postings. */
export interface SegmentSearchOptions {
  /**
   * Score every posting of the query's terms (term at a time) instead of skipping, with MaxScore,
   * the chunks that cannot enter the top k. Both give the same hits and scores; this is for tests
   * and measurements. Default false.
   */
  exhaustive?: boolean;
}

/**
 * BM25 over chunks and over whole documents (the sum of their chunks' terms), with the same scores
 * as {@link Bm25Index} (Lucene's IDF, k1, b; see there), held as an immutable compact
 * {@link LexicalSegment} (typed arrays, built off the event loop or read from disk) plus a small
 * tail of documents added since, in ordinary arrays. Statistics (N, df, average length) are kept
 * exact over both: removing a document of the segment marks its chunks and subtracts its terms'
 * counts (found by binary search in each term's posting list, as the segment keeps no per-document
 * term list); its postings stay as tombstones until the segment is rebuilt.
 *
 * Chunk slots number the segment's chunks first, then the tail's; document slots likewise.
 */
export class SegmentedBm25Index {
  private readonly k1: number;
  private readonly b: number;
  readonly base: LexicalSegment | null;
  private readonly baseChunks: number;
  private readonly baseDocuments: number;
  /** Live chunks of the segment containing each term (its number). */
  private readonly baseChunkFrequency: Int32Array;
  private readonly baseDocumentFrequency: Int32Array;

  private chunkLive: Uint8Array;
  private documentLive: Uint8Array;
  private readonly tailChunkIds: string[] = [];
  private readonly tailChunkLengths: number[] = [];
  private readonly tailChunkDocuments: number[] = [];
  private readonly tailChunkLists: TailChunkList[][] = [];
  private readonly tailDocumentIds: string[] = [];
  private readonly tailDocumentLengths: number[] = [];
  private readonly tailDocumentChunks: Array<[start: number, end: number]> = [];
  private readonly tailDocumentLists: TailDocumentList[][] = [];
  private readonly tailDocumentSlots = new Map<string, number>();
  private readonly tailChunkPostings = new Map<string, TailChunkList>();
  private readonly tailDocumentPostings = new Map<string, TailDocumentList>();

  private liveChunks = 0;
  private totalChunkLength = 0;
  private liveDocuments = 0;
  private totalDocumentLength = 0;
  private removedBaseChunks = 0;

  private scores = new Float64Array(0);
  private touched = new Int32Array(0);
  private documentScores = new Float64Array(0);
  private touchedDocuments = new Int32Array(0);
  private chunkNormalizations = new Float64Array(0);
  private documentNormalizations = new Float64Array(0);
  private normalizationsCurrent = false;
  /** Moves on whenever the statistics the normalizations come from change. */
  private statisticsVersion = 0;
  private normalizing: Promise<void> | null = null;
  private averageChunkLength = 0;
  /**
   * Per term of the segment, its largest saturation f / (f + normalization) and the average chunk
   * length it was taken at: the segment's own (stored at build) when it was built for this k1 and
   * b, else worked out here on the term's first search (NaN until then).
   */
  private termSaturations: Float64Array | null = null;
  private termSaturationAverages: Float64Array | null = null;
  /** The terms of segment documents about to be removed, read from the segment's file by {@link prepareRemoval}. */
  private readonly removalTerms = new Map<number, DocumentTermsRange>();

  /**
   * An index over `base` (and an empty tail). Counting the segment's statistics goes through every
   * term and chunk on this thread unless `countSegment` is false, which leaves it to {@link open}, in slices.
   */
  constructor(options: Bm25Options = {}, base: LexicalSegment | null = null, countSegment = true) {
    this.k1 = options.k1 ?? 1.2;
    this.b = options.b ?? 0.75;
    if (!(this.k1 >= 0) || !Number.isFinite(this.k1)) throw new RangeError(`k1 must be a finite number ≥ 0, got ${this.k1}`);
    if (!(this.b >= 0 && this.b <= 1)) throw new RangeError(`b must be between 0 and 1, got ${this.b}`);
    this.base = base;
    this.baseChunks = base?.chunkCount ?? 0;
    this.baseDocuments = base?.documentCount ?? 0;
    this.baseChunkFrequency = new Int32Array(base?.termCount ?? 0);
    this.baseDocumentFrequency = new Int32Array(base?.termCount ?? 0);
    this.chunkLive = new Uint8Array(Math.max(1024, this.baseChunks * 1.25)).fill(1, 0, this.baseChunks);
    this.documentLive = new Uint8Array(Math.max(1024, this.baseDocuments * 1.25)).fill(1, 0, this.baseDocuments);
    if (countSegment) for (const _step of this.countSegment()) continue;
  }

  /** {@link constructor}, with the event loop free every few milliseconds while the segment's statistics are counted. */
  static async open(options: Bm25Options, base: LexicalSegment): Promise<SegmentedBm25Index> {
    const index = new SegmentedBm25Index(options, base, false);
    const slice = new TimeSlice();
    for (const _step of index.countSegment()) await slice.yieldIfSpent();
    return index;
  }

  /** Document frequencies, lengths and counts of the segment, in steps of {@link slotsPerStep} terms or slots. */
  private *countSegment(): Generator<void, void, undefined> {
    const base = this.base;
    if (base === null) return;
    for (let term = 0; term < base.termCount; term += 1) {
      this.baseChunkFrequency[term] = (base.postingOffsets[term + 1] as number) - (base.postingOffsets[term] as number);
      this.baseDocumentFrequency[term] = (base.documentPostingOffsets[term + 1] as number) - (base.documentPostingOffsets[term] as number);
      if (term % slotsPerStep === slotsPerStep - 1) yield;
    }
    let totalChunkLength = 0;
    for (let slot = 0; slot < this.baseChunks; slot += 1) {
      totalChunkLength += base.chunkLengths[slot] as number;
      if (slot % slotsPerStep === slotsPerStep - 1) yield;
    }
    let totalDocumentLength = 0;
    for (let slot = 0; slot < this.baseDocuments; slot += 1) totalDocumentLength += base.documentLengths[slot] as number;
    this.totalChunkLength = totalChunkLength;
    this.totalDocumentLength = totalDocumentLength;
    this.liveChunks = this.baseChunks;
    this.liveDocuments = this.baseDocuments;
  }

  /** Live chunks. */
  get size(): number {
    return this.liveChunks;
  }

  /** Live documents. */
  get documentCount(): number {
    return this.liveDocuments;
  }

  /** Chunks in the tail (live or not): what a rebuild of the segment would fold in. */
  get tailChunks(): number {
    return this.tailChunkIds.length;
  }

  /** Chunks of the segment removed since it was built. */
  get removedSegmentChunks(): number {
    return this.removedBaseChunks;
  }

  hasDocument(documentId: string): boolean {
    return this.documentSlot(documentId) >= 0;
  }

  /** The ids of a live document's chunks, in order; empty when it is not in the index. */
  chunkIdsOf(documentId: string): string[] {
    const slot = this.documentSlot(documentId);
    if (slot < 0) return [];
    const [start, end] = this.chunkRange(slot);
    const ids: string[] = [];
    for (let chunk = start; chunk < end; chunk += 1) ids.push(this.chunkId(chunk));
    return ids;
  }

  /**
   * Adds a document, in steps of a few hundred chunks; the document must not be in the index
   * (remove it first). Its whole-document entry comes with the last step.
   */
  *addDocument(documentId: string, chunks: Iterable<SegmentedChunk>): Generator<void, void, undefined> {
    if (this.hasDocument(documentId)) throw new Error(`document ${documentId} is in the index already`);
    const documentSlot = this.baseDocuments + this.tailDocumentIds.length;
    const start = this.baseChunks + this.tailChunkIds.length;
    const documentTerms = new Map<string, number>();
    let sinceYield = 0;
    for (const chunk of chunks) {
      const slot = this.baseChunks + this.tailChunkIds.length;
      const lists: TailChunkList[] = [];
      let length = 0;
      for (const term in chunk.terms) {
        const frequency = chunk.terms[term] as number;
        if (!(frequency > 0) || !Number.isFinite(frequency)) continue;
        let list = this.tailChunkPostings.get(term);
        if (list === undefined) {
          list = { slots: [], frequencies: [], documentFrequency: 0 };
          this.tailChunkPostings.set(term, list);
        }
        list.slots.push(slot);
        list.frequencies.push(frequency);
        list.documentFrequency += 1;
        lists.push(list);
        length += frequency;
        documentTerms.set(term, (documentTerms.get(term) ?? 0) + frequency);
      }
      this.tailChunkIds.push(chunk.id);
      this.tailChunkLengths.push(length);
      this.tailChunkDocuments.push(documentSlot);
      this.tailChunkLists.push(lists);
      this.chunkLive = ensureLength(this.chunkLive, slot + 1);
      this.chunkLive[slot] = 1;
      this.liveChunks += 1;
      this.totalChunkLength += length;
      this.statisticsChanged();
      if (++sinceYield >= chunksPerStep) {
        sinceYield = 0;
        yield;
      }
    }
    const lists: TailDocumentList[] = [];
    let length = 0;
    for (const [term, frequency] of documentTerms) {
      let list = this.tailDocumentPostings.get(term);
      if (list === undefined) {
        list = { documents: [], frequencies: [], documentFrequency: 0 };
        this.tailDocumentPostings.set(term, list);
      }
      list.documents.push(documentSlot);
      list.frequencies.push(frequency);
      list.documentFrequency += 1;
      lists.push(list);
      length += frequency;
    }
    this.tailDocumentIds.push(documentId);
    this.tailDocumentLengths.push(length);
    this.tailDocumentChunks.push([start, this.baseChunks + this.tailChunkIds.length]);
    this.tailDocumentLists.push(lists);
    this.tailDocumentSlots.set(documentId, documentSlot);
    this.documentLive = ensureLength(this.documentLive, documentSlot + 1);
    this.documentLive[documentSlot] = 1;
    this.liveDocuments += 1;
    this.totalDocumentLength += length;
    this.statisticsChanged();
  }

  /**
   * Makes what {@link search} needs ready without holding the event loop: the segment's postings of
   * the query's terms (read from its file, for a segment opened from one; see LexicalSegment) and
   * the length normalizations after a change (worked out in slices). Call the returned release once
   * the searches of these terms are done: until then their postings stay in memory.
   */
  async prepare(queryTerms: Record<string, number>): Promise<() => void> {
    const base = this.base;
    const release = base === null ? () => {} : await base.acquirePostings(Object.keys(queryTerms).map((term) => base.termNumber(term)));
    try {
      if (!this.normalizationsCurrent && this.liveChunks > 0) {
        this.normalizing ??= this.computeNormalizationsInSlices().finally(() => (this.normalizing = null));
        await this.normalizing;
      }
    } catch (error) {
      release();
      throw error;
    }
    return release;
  }

  /**
   * Reads what {@link removeDocument} needs for a document of the segment opened from its file (its
   * terms, one small read); nothing to do for a document of the tail, one not in the index, or a
   * segment in memory.
   */
  async prepareRemoval(documentId: string): Promise<void> {
    const base = this.base;
    if (base === null || base.whole) return;
    const slot = this.documentSlot(documentId);
    if (slot < 0 || slot >= this.baseDocuments || this.removalTerms.has(slot)) return;
    this.removalTerms.set(slot, await base.readDocumentTerms(slot));
  }

  /**
   * Removes a document and its chunks, in steps; nothing happens when it is not in the index. A
   * document of a segment opened from its file needs {@link prepareRemoval} first.
   */
  *removeDocument(documentId: string): Generator<void, void, undefined> {
    const slot = this.documentSlot(documentId);
    if (slot < 0) return;
    if (slot >= this.baseDocuments) {
      this.removeTailDocument(documentId, slot);
      return;
    }
    const base = this.base as LexicalSegment;
    const documentTerms = base.whole ? base.documentTermsInMemory(slot) : this.removalTerms.get(slot);
    if (documentTerms === undefined) throw new Error(`the terms of document ${documentId} were not read: await prepareRemoval() first`);
    this.removalTerms.delete(slot);
    const start = base.documentChunkStarts[slot] as number;
    const end = base.documentChunkStarts[slot + 1] as number;
    // Marked dead first: searches between the steps below never return its chunks.
    this.documentLive[slot] = 0;
    for (let chunk = start; chunk < end; chunk += 1) {
      this.chunkLive[chunk] = 0;
      this.liveChunks -= 1;
      this.removedBaseChunks += 1;
      this.totalChunkLength -= base.chunkLengths[chunk] as number;
    }
    this.liveDocuments -= 1;
    this.totalDocumentLength -= base.documentLengths[slot] as number;
    if (this.liveChunks === 0) this.totalChunkLength = 0;
    if (this.liveDocuments === 0) this.totalDocumentLength = 0;
    this.statisticsChanged();
    const { terms, chunks, first, end: last } = documentTerms;
    for (let entry = first; entry < last; entry += 1) {
      const term = terms[entry] as number;
      this.baseChunkFrequency[term] = (this.baseChunkFrequency[term] as number) - (chunks[entry] as number);
      this.baseDocumentFrequency[term] = (this.baseDocumentFrequency[term] as number) - 1;
      if ((entry - first) % termsPerStep === termsPerStep - 1) yield;
    }
  }

  private removeTailDocument(documentId: string, slot: number): void {
    const offset = slot - this.baseDocuments;
    const [start, end] = this.tailDocumentChunks[offset] as [number, number];
    for (let chunk = start; chunk < end; chunk += 1) {
      if (this.chunkLive[chunk] === 0) continue;
      this.chunkLive[chunk] = 0;
      const tail = chunk - this.baseChunks;
      for (const list of this.tailChunkLists[tail] as TailChunkList[]) list.documentFrequency -= 1;
      this.tailChunkLists[tail] = [];
      this.liveChunks -= 1;
      this.totalChunkLength -= this.tailChunkLengths[tail] as number;
    }
    for (const list of this.tailDocumentLists[offset] as TailDocumentList[]) list.documentFrequency -= 1;
    this.tailDocumentLists[offset] = [];
    this.documentLive[slot] = 0;
    this.tailDocumentSlots.delete(documentId);
    this.liveDocuments -= 1;
    this.totalDocumentLength -= this.tailDocumentLengths[offset] as number;
    if (this.liveChunks === 0) this.totalChunkLength = 0;
    if (this.liveDocuments === 0) this.totalDocumentLength = 0;
    this.statisticsChanged();
  }

  /**
   * The `topK` best chunks for the query, by score descending then id ascending: BM25 of the chunk
   * plus `documentWeight` times BM25 of its whole document. Only chunks sharing a term with the
   * query are returned. Document scores are computed in full (they are few); the tail's chunks are
   * scored in full, the segment's with MaxScore pruning (see pruned-search.ts) unless
   * `options.exhaustive`: the same hits and scores either way. The segment's postings of the
   * query's terms must be in memory: {@link prepare} first, unless the segment is loaded.
   */
  search(queryTerms: Record<string, number>, topK: number, documentWeight: number, options: SegmentSearchOptions = {}): RankedHit[] {
    const steps = this.searchSteps(queryTerms, topK, documentWeight, options);
    for (;;) {
      const next = steps.next();
      if (next.done === true) return next.value;
    }
  }

  /**
   * {@link search} in steps of well under a millisecond, yielding between them, so that a search of
   * a million chunks need not hold the event loop. Searches of one index must not interleave (they
   * share scratch space: take them in turns); changes may come between the steps, and a search that
   * sees one (a document added or removed, statistics changed) when it resumes starts again, so it
   * returns what {@link search} gives on the index as it is at the end.
   */
  *searchSteps(
    queryTerms: Record<string, number>,
    topK: number,
    documentWeight: number,
    options: SegmentSearchOptions = {},
  ): Generator<void, RankedHit[], undefined> {
    for (;;) {
      const version = this.statisticsVersion;
      const attempt = this.searchAttempt(queryTerms, topK, documentWeight, options);
      try {
        for (;;) {
          const next = attempt.next();
          if (next.done === true) return next.value;
          yield;
          if (this.statisticsVersion !== version) break;
        }
      } finally {
        // An attempt given up (a change, or the caller closed the search) clears its scratch scores; a finished one has.
        attempt.return([]);
      }
    }
  }

  private *searchAttempt(
    queryTerms: Record<string, number>,
    topK: number,
    documentWeight: number,
    options: SegmentSearchOptions,
  ): Generator<void, RankedHit[], undefined> {
    if (!(topK >= 1) || this.liveChunks === 0) return [];
    const slotCount = this.baseChunks + this.tailChunkIds.length;
    const documentSlotCount = this.baseDocuments + this.tailDocumentIds.length;
    if (this.scores.length < slotCount) {
      const capacity = Math.max(slotCount, this.scores.length * 2, 1024);
      this.scores = new Float64Array(capacity);
      this.touched = new Int32Array(capacity);
    }
    if (this.documentScores.length < documentSlotCount) {
      const capacity = Math.max(documentSlotCount, this.documentScores.length * 2, 1024);
      this.documentScores = new Float64Array(capacity);
      this.touchedDocuments = new Int32Array(capacity);
    }
    if (!this.normalizationsCurrent) this.computeNormalizations(slotCount, documentSlotCount);
    const base = this.base;
    const terms: Array<[term: string, weight: number, baseNumber: number]> = [];
    for (const [term, weight] of Object.entries(queryTerms)) {
      if (!(weight > 0) || !Number.isFinite(weight)) continue;
      terms.push([term, weight, base === null ? -1 : base.termNumber(term)]);
    }
    const scores = this.scores;
    const touched = this.touched;
    const exhaustive = options.exhaustive === true || base === null;
    const chunkWeights: number[] = [];
    let touchedCount = 0;
    let touchedDocumentCount = 0;
    try {
      touchedCount = yield* this.accumulateChunks(terms, exhaustive, chunkWeights, (count) => (touchedCount = count));
      if (documentWeight > 0) touchedDocumentCount = yield* this.accumulateDocuments(terms, (count) => (touchedDocumentCount = count));
      const documentScores = this.documentScores;
      const baseDocuments = base?.chunkDocuments;
      const baseChunks = this.baseChunks;
      const tailDocuments = this.tailChunkDocuments;
      const heap = new TopHeap(topK, (slot) => this.chunkId(slot));
      for (let index = 0; index < touchedCount; index += 1) {
        const slot = touched[index] as number;
        let score = scores[slot] as number;
        if (documentWeight > 0) {
          const document = slot < baseChunks ? ((baseDocuments as Int32Array)[slot] as number) : (tailDocuments[slot - baseChunks] as number);
          score += documentWeight * (documentScores[document] as number);
        }
        if (heap.wouldAccept(slot, score)) heap.push(slot, score);
      }
      if (!exhaustive) yield* this.searchSegment(terms, chunkWeights, documentWeight, touchedDocumentCount, heap);
      return heap.sorted();
    } finally {
      for (let index = 0; index < touchedCount; index += 1) scores[touched[index] as number] = 0;
      for (let index = 0; index < touchedDocumentCount; index += 1) this.documentScores[this.touchedDocuments[index] as number] = 0;
    }
  }

  /** The segment's chunks into the heap, pruned: each query term's list with the bound of its contribution. */
  private *searchSegment(
    terms: Array<[string, number, number]>,
    chunkWeights: number[],
    documentWeight: number,
    touchedDocumentCount: number,
    heap: TopHeap,
  ): Generator<void, void, undefined> {
    const base = this.base as LexicalSegment;
    const lists: PrunedTerm[] = [];
    terms.forEach(([, , baseNumber], index) => {
      const termWeight = chunkWeights[index] as number;
      if (baseNumber < 0 || !(termWeight > 0)) return;
      const { slots, frequencies, first, end } = base.chunkPostings(baseNumber);
      if (first === end) return;
      const bound = termWeight * (this.k1 + 1) * this.saturationBound(baseNumber) * boundSlack;
      lists.push({ slots, frequencies, first, end, termWeight, bound });
    });
    if (lists.length === 0) return;
    let extraBound = 0;
    const documentScores = this.documentScores;
    if (documentWeight > 0) {
      for (let index = 0; index < touchedDocumentCount; index += 1) {
        const document = this.touchedDocuments[index] as number;
        if (document < this.baseDocuments) extraBound = Math.max(extraBound, documentWeight * (documentScores[document] as number));
      }
    }
    const chunkDocuments = base.chunkDocuments;
    yield* searchPrunedSteps({
      terms: lists,
      k1: this.k1,
      normalizations: this.chunkNormalizations,
      extra: documentWeight > 0 ? (slot) => documentWeight * (documentScores[chunkDocuments[slot] as number] as number) : null,
      extraBound: extraBound * boundSlack,
      heap,
    });
  }

  /** An upper bound of f / (f + normalization) over the segment term's live postings, at today's normalizations. */
  private saturationBound(term: number): number {
    const base = this.base as LexicalSegment;
    if (this.termSaturations === null) {
      const stored = base.saturation;
      if (base.termSaturations !== null && stored !== null && stored.k1 === this.k1 && stored.b === this.b) {
        this.termSaturations = base.termSaturations;
        this.termSaturationAverages = new Float64Array(1).fill(stored.averageChunkLength);
      } else {
        this.termSaturations = new Float64Array(base.termCount).fill(Number.NaN);
        this.termSaturationAverages = new Float64Array(base.termCount);
      }
    }
    const averages = this.termSaturationAverages as Float64Array;
    const shared = averages.length === 1;
    let saturation = this.termSaturations[term] as number;
    if (Number.isNaN(saturation)) {
      const { slots, frequencies, first, end } = base.chunkPostings(term);
      saturation = maximumSaturation(slots, frequencies, first, end, this.chunkNormalizations);
      this.termSaturations[term] = saturation;
      averages[term] = this.averageChunkLength;
    }
    // Taken at another average length: a longer average now lowers every normalization, by at most that ratio.
    const average = (shared ? averages[0] : averages[term]) as number;
    const bound = saturation * Math.max(1, this.averageChunkLength / average);
    return bound <= 1 ? bound : 1;
  }

  /**
   * Adds the tail's postings of each term to the scores (and the segment's too when `withSegment`);
   * `termWeights` gets each term's weight (0 for a term in no live chunk), in the query's order.
   */
  private *accumulateChunks(
    terms: Array<[string, number, number]>,
    withSegment: boolean,
    termWeights: number[],
    progress: (touchedCount: number) => void,
  ): Generator<void, number, undefined> {
    const base = this.base;
    let touchedCount = 0;
    for (const [term, weight, baseNumber] of terms) {
      const tail = this.tailChunkPostings.get(term);
      const df = (baseNumber >= 0 ? (this.baseChunkFrequency[baseNumber] as number) : 0) + (tail?.documentFrequency ?? 0);
      if (df === 0) {
        termWeights.push(0);
        continue;
      }
      const termWeight = weight * Math.log(1 + (this.liveChunks - df + 0.5) / (df + 0.5));
      termWeights.push(termWeight);
      const scoring: Scoring = { termWeight, k1: this.k1, normalizations: this.chunkNormalizations, scores: this.scores, touched: this.touched, touchedCount };
      if (withSegment && base !== null && baseNumber >= 0) {
        const { slots, frequencies, first, end } = base.chunkPostings(baseNumber);
        addPostings(slots, frequencies, first, end, scoring);
      }
      if (tail !== undefined) addPostings(tail.slots, tail.frequencies, 0, tail.slots.length, scoring);
      touchedCount = scoring.touchedCount;
      progress(touchedCount);
      yield;
    }
    return touchedCount;
  }

  private *accumulateDocuments(terms: Array<[string, number, number]>, progress: (touchedCount: number) => void): Generator<void, number, undefined> {
    const base = this.base;
    let touchedCount = 0;
    for (const [term, weight, baseNumber] of terms) {
      const tail = this.tailDocumentPostings.get(term);
      const df = (baseNumber >= 0 ? (this.baseDocumentFrequency[baseNumber] as number) : 0) + (tail?.documentFrequency ?? 0);
      if (df === 0) continue;
      const termWeight = weight * Math.log(1 + (this.liveDocuments - df + 0.5) / (df + 0.5));
      const scoring: Scoring = {
        termWeight,
        k1: this.k1,
        normalizations: this.documentNormalizations,
        scores: this.documentScores,
        touched: this.touchedDocuments,
        touchedCount,
      };
      if (base !== null && baseNumber >= 0) {
        const { documents, frequencies, first, end } = base.documentPostings(baseNumber);
        addPostings(documents, frequencies, first, end, scoring);
      }
      if (tail !== undefined) addPostings(tail.documents, tail.frequencies, 0, tail.documents.length, scoring);
      touchedCount = scoring.touchedCount;
      progress(touchedCount);
      yield;
    }
    return touchedCount;
  }

  private computeNormalizations(slotCount: number, documentSlotCount: number): void {
    if (this.chunkNormalizations.length < slotCount) this.chunkNormalizations = new Float64Array(this.scores.length);
    if (this.documentNormalizations.length < documentSlotCount) this.documentNormalizations = new Float64Array(this.documentScores.length);
    for (const _step of this.normalizationSteps(this.chunkNormalizations, this.documentNormalizations, slotCount, documentSlotCount)) continue;
    this.averageChunkLength = this.totalChunkLength / this.liveChunks;
    this.normalizationsCurrent = true;
  }

  /**
   * The normalizations for today's statistics into new arrays, a slice at a time with the event
   * loop free between (a million chunks take tens of milliseconds): they replace the current ones
   * only if nothing changed the statistics meanwhile (else the next search computes them itself).
   */
  private async computeNormalizationsInSlices(): Promise<void> {
    const version = this.statisticsVersion;
    const slotCount = this.baseChunks + this.tailChunkIds.length;
    const documentSlotCount = this.baseDocuments + this.tailDocumentIds.length;
    const chunkNormalizations = new Float64Array(Math.max(slotCount, this.scores.length));
    const documentNormalizations = new Float64Array(Math.max(documentSlotCount, this.documentScores.length));
    const slice = new TimeSlice();
    for (const _step of this.normalizationSteps(chunkNormalizations, documentNormalizations, slotCount, documentSlotCount)) {
      await slice.yieldIfSpent();
      if (this.statisticsVersion !== version) return;
    }
    if (this.statisticsVersion !== version || this.normalizationsCurrent) return;
    this.chunkNormalizations = chunkNormalizations;
    this.documentNormalizations = documentNormalizations;
    this.averageChunkLength = this.totalChunkLength / this.liveChunks;
    this.normalizationsCurrent = true;
  }

  /** Writes k1 · (1 − b + b · |d| / avgdl) of each live slot (−1 for a removed one) into the arrays, in steps of {@link slotsPerStep} slots. */
  private *normalizationSteps(
    chunkNormalizations: Float64Array,
    documentNormalizations: Float64Array,
    slotCount: number,
    documentSlotCount: number,
  ): Generator<void, void, undefined> {
    const k1 = this.k1;
    const b = this.b;
    const baseLengths = this.base?.chunkLengths;
    const averageChunkLength = this.totalChunkLength / this.liveChunks;
    for (let slot = 0; slot < slotCount; slot += 1) {
      const length = slot < this.baseChunks ? ((baseLengths as Float64Array)[slot] as number) : (this.tailChunkLengths[slot - this.baseChunks] as number);
      chunkNormalizations[slot] = this.chunkLive[slot] === 0 ? -1 : k1 * (1 - b + (b * length) / averageChunkLength);
      if (slot % slotsPerStep === slotsPerStep - 1) yield;
    }
    const baseDocumentLengths = this.base?.documentLengths;
    const averageDocumentLength = this.totalDocumentLength / this.liveDocuments;
    for (let slot = 0; slot < documentSlotCount; slot += 1) {
      const length =
        slot < this.baseDocuments ? ((baseDocumentLengths as Float64Array)[slot] as number) : (this.tailDocumentLengths[slot - this.baseDocuments] as number);
      documentNormalizations[slot] = this.documentLive[slot] === 0 ? -1 : k1 * (1 - b + (b * length) / averageDocumentLength);
      if (slot % slotsPerStep === slotsPerStep - 1) yield;
    }
  }

  private statisticsChanged(): void {
    this.normalizationsCurrent = false;
    this.statisticsVersion += 1;
  }

  private documentSlot(documentId: string): number {
    const tail = this.tailDocumentSlots.get(documentId);
    if (tail !== undefined) return tail;
    const slot = this.base?.documentSlot(documentId) ?? -1;
    return slot >= 0 && this.documentLive[slot] === 1 ? slot : -1;
  }

  private chunkRange(documentSlot: number): [number, number] {
    if (documentSlot >= this.baseDocuments) return this.tailDocumentChunks[documentSlot - this.baseDocuments] as [number, number];
    const starts = (this.base as LexicalSegment).documentChunkStarts;
    return [starts[documentSlot] as number, starts[documentSlot + 1] as number];
  }

  private chunkId(slot: number): string {
    return slot < this.baseChunks ? (this.base as LexicalSegment).chunkId(slot) : (this.tailChunkIds[slot - this.baseChunks] as string);
  }
}

function ensureLength(array: Uint8Array, length: number): Uint8Array {
  if (array.length >= length) return array;
  const next = new Uint8Array(Math.max(length, array.length * 2));
  next.set(array);
  return next;
}
