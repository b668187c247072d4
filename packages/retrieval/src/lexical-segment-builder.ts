import type { Bm25Options } from './bm25-index.js';
import { documentSlotArray, encodeLexicalSegment, frequencyArray, type FrequencyArray } from './lexical-segment.js';

/** One chunk as a segment is built from it: terms as the store keeps them (JSON text) or parsed. */
export interface LexicalSegmentRow {
  id: string;
  documentId: string;
  terms: string | Record<string, number>;
}

/** A typed array of numbers that grows by doubling. */
class GrowingArray<T extends Int32Array | Uint32Array | Float64Array> {
  array: T;
  length = 0;
  constructor(private readonly create: (capacity: number) => T) {
    this.array = create(1024);
  }
  push(value: number): void {
    if (this.length === this.array.length) {
      const next = this.create(this.array.length * 2);
      next.set(this.array);
      this.array = next;
    }
    this.array[this.length++] = value;
  }
  /** The filled part, copied into an array of its own size (the spare capacity is freed). */
  trimmed(): T {
    return this.array.slice(0, this.length) as T;
  }
}

const encoder = new TextEncoder();

/** The counts in the smallest frequency array that holds them (the largest is `maximum`). */
function narrowed(counts: Uint32Array, maximum: number): FrequencyArray {
  const array = frequencyArray(counts.length, maximum, true);
  array.set(counts);
  return array;
}

/** Concatenated UTF-8 of the strings in the given order, with offsets (count + 1). */
function packStrings(strings: readonly string[], order?: ArrayLike<number>): { bytes: Uint8Array; offsets: Uint32Array } {
  const count = strings.length;
  const offsets = new Uint32Array(count + 1);
  const encoded: Uint8Array[] = new Array<Uint8Array>(count);
  let total = 0;
  for (let index = 0; index < count; index += 1) {
    const bytes = encoder.encode(strings[order === undefined ? index : (order[index] as number)]);
    encoded[index] = bytes;
    total += bytes.length;
    offsets[index + 1] = total;
  }
  const bytes = new Uint8Array(total);
  for (let index = 0; index < count; index += 1) bytes.set(encoded[index] as Uint8Array, offsets[index]);
  return { bytes, offsets };
}

function sortedOrder(strings: readonly string[]): { order: Int32Array; rank: Int32Array } {
  const order = Int32Array.from(strings.keys());
  order.sort((left, right) => {
    const a = strings[left] as string;
    const b = strings[right] as string;
    return a < b ? -1 : a > b ? 1 : 0;
  });
  const rank = new Int32Array(strings.length);
  for (let position = 0; position < order.length; position += 1) rank[order[position] as number] = position;
  return { order, rank };
}

/**
 * Builds a {@link LexicalSegment} from chunks in any order: it keeps each chunk's terms (a forward
 * index in typed arrays), then inverts them once at the end, with counting passes instead of sorts.
 * Non-positive and non-finite frequencies are ignored, as by the BM25 index; a chunk given twice
 * (by id) keeps its last version.
 */
export class LexicalSegmentBuilder {
  readonly #k1: number;
  readonly #b: number;
  readonly #termNumbers = new Map<string, number>();
  readonly #terms: string[] = [];
  readonly #documentNumbers = new Map<string, number>();
  readonly #documents: string[] = [];
  readonly #chunkIds: string[] = [];
  readonly #chunkNumbers = new Map<string, number>();
  readonly #chunkDocuments = new GrowingArray((capacity) => new Int32Array(capacity));
  readonly #chunkStarts = new GrowingArray((capacity) => new Uint32Array(capacity));
  readonly #chunkEnds = new GrowingArray((capacity) => new Uint32Array(capacity));
  readonly #forwardTerms = new GrowingArray((capacity) => new Int32Array(capacity));
  readonly #forwardFrequencies = new GrowingArray((capacity) => new Float64Array(capacity));
  #vectorCount = 0;

  /**
   * `bm25`: the k1 and b the segment's stored term saturations (the pruning bounds) are computed
   * for; an index searching with other values works its bounds out itself. Default k1 1.2, b 0.75,
   * as the index's.
   */
  constructor(options: { bm25?: Bm25Options } = {}) {
    this.#k1 = options.bm25?.k1 ?? 1.2;
    this.#b = options.bm25?.b ?? 0.75;
  }

  get chunkCount(): number {
    return this.#chunkNumbers.size;
  }

  /** Counts a chunk stored with a vector (the segment records how many, not the vectors). */
  countVector(): void {
    this.#vectorCount += 1;
  }

  add(row: LexicalSegmentRow): void {
    const terms = typeof row.terms === 'string' ? (JSON.parse(row.terms) as Record<string, number>) : row.terms;
    let document = this.#documentNumbers.get(row.documentId);
    if (document === undefined) {
      document = this.#documents.length;
      this.#documents.push(row.documentId);
      this.#documentNumbers.set(row.documentId, document);
    }
    // A repeated chunk's earlier entry stays in the arrays, unused: only the last number is live.
    const number = this.#chunkIds.length;
    this.#chunkIds.push(row.id);
    this.#chunkNumbers.set(row.id, number);
    this.#chunkDocuments.push(document);
    this.#chunkStarts.push(this.#forwardTerms.length);
    for (const term in terms) {
      const frequency = terms[term] as number;
      if (!(frequency > 0) || !Number.isFinite(frequency)) continue;
      let termNumber = this.#termNumbers.get(term);
      if (termNumber === undefined) {
        termNumber = this.#terms.length;
        this.#terms.push(term);
        this.#termNumbers.set(term, termNumber);
      }
      this.#forwardTerms.push(termNumber);
      this.#forwardFrequencies.push(frequency);
    }
    this.#chunkEnds.push(this.#forwardTerms.length);
  }

  /** The segment's bytes, consistent with the change feed at `sequence`. */
  finish(sequence: number): Uint8Array {
    const terms = this.#terms;
    const termCount = terms.length;
    const { order: termOrder, rank: termRank } = sortedOrder(terms);
    const { order: documentOrder, rank: documentRank } = sortedOrder(this.#documents);
    const documentCount = this.#documents.length;
    const chunkStarts = this.#chunkStarts.array;
    const chunkEnds = this.#chunkEnds.array;
    const forwardTerms = this.#forwardTerms.array;
    const forwardFrequencies = this.#forwardFrequencies.array;

    // Chunks by document (sorted by id), then in arrival order: a counting sort.
    const liveChunks: number[] = [];
    for (const number of this.#chunkNumbers.values()) liveChunks.push(number);
    liveChunks.sort((left, right) => left - right);
    const chunkCount = liveChunks.length;
    const documentChunkStarts = new Uint32Array(documentCount + 1);
    for (const number of liveChunks) (documentChunkStarts[(documentRank[this.#chunkDocuments.array[number] as number] as number) + 1] as number) += 1;
    for (let document = 0; document < documentCount; document += 1) {
      documentChunkStarts[document + 1] = (documentChunkStarts[document + 1] as number) + (documentChunkStarts[document] as number);
    }
    const cursor = documentChunkStarts.slice(0, documentCount);
    const chunkAtSlot = new Int32Array(chunkCount);
    const chunkDocuments = new Int32Array(chunkCount);
    for (const number of liveChunks) {
      const document = documentRank[this.#chunkDocuments.array[number] as number] as number;
      const slot = (cursor[document] as number)++;
      chunkAtSlot[slot] = number;
      chunkDocuments[slot] = document;
    }

    // Chunk postings: count per term, then place in slot order (each list comes out ascending).
    const postingOffsets = new Uint32Array(termCount + 1);
    let integral = true;
    let maximum = 0;
    for (const number of liveChunks) {
      for (let entry = chunkStarts[number] as number; entry < (chunkEnds[number] as number); entry += 1) {
        (postingOffsets[(termRank[forwardTerms[entry] as number] as number) + 1] as number) += 1;
        const frequency = forwardFrequencies[entry] as number;
        if (frequency > maximum) maximum = frequency;
        if (integral && !Number.isInteger(frequency)) integral = false;
      }
    }
    for (let term = 0; term < termCount; term += 1) postingOffsets[term + 1] = (postingOffsets[term + 1] as number) + (postingOffsets[term] as number);
    const postingCount = postingOffsets[termCount] as number;
    const postingSlots = new Int32Array(postingCount);
    const postingFrequencies = frequencyArray(postingCount, maximum, integral);
    const chunkLengths = new Float64Array(chunkCount);
    const termCursor = postingOffsets.slice(0, termCount);
    for (let slot = 0; slot < chunkCount; slot += 1) {
      const number = chunkAtSlot[slot] as number;
      let length = 0;
      for (let entry = chunkStarts[number] as number; entry < (chunkEnds[number] as number); entry += 1) {
        const term = termRank[forwardTerms[entry] as number] as number;
        const position = (termCursor[term] as number)++;
        const frequency = forwardFrequencies[entry] as number;
        postingSlots[position] = slot;
        postingFrequencies[position] = frequency;
        length += frequency;
      }
      chunkLengths[slot] = length;
    }

    // Per term, the largest saturation of its postings at this segment's average chunk length.
    let totalLength = 0;
    for (let slot = 0; slot < chunkCount; slot += 1) totalLength += chunkLengths[slot] as number;
    const averageChunkLength = totalLength > 0 ? totalLength / chunkCount : 1;
    const k1 = this.#k1;
    const b = this.#b;
    const termSaturations = new Float64Array(termCount);
    for (let term = 0; term < termCount; term += 1) {
      let maximum = 0;
      for (let position = postingOffsets[term] as number; position < (postingOffsets[term + 1] as number); position += 1) {
        const frequency = postingFrequencies[position] as number;
        const saturation = frequency / (frequency + k1 * (1 - b + (b * (chunkLengths[postingSlots[position] as number] as number)) / averageChunkLength));
        if (saturation > maximum) maximum = saturation;
      }
      termSaturations[term] = maximum;
    }

    // Document postings: each document's summed frequencies, then inverted as above.
    const sums = new Float64Array(termCount);
    const chunksWithTerm = new Uint32Array(termCount);
    const touchedTerms = new Int32Array(termCount);
    const documentForwardStarts = new Uint32Array(documentCount + 1);
    const documentForwardTerms = new GrowingArray((capacity) => new Int32Array(capacity));
    const documentForwardSums = new GrowingArray((capacity) => new Float64Array(capacity));
    const documentForwardChunks = new GrowingArray((capacity) => new Uint32Array(capacity));
    let mostChunksWithTerm = 0;
    const documentPostingOffsets = new Uint32Array(termCount + 1);
    const documentLengths = new Float64Array(documentCount);
    let documentIntegral = true;
    let documentMaximum = 0;
    for (let document = 0; document < documentCount; document += 1) {
      let touched = 0;
      for (let slot = documentChunkStarts[document] as number; slot < (documentChunkStarts[document + 1] as number); slot += 1) {
        const number = chunkAtSlot[slot] as number;
        for (let entry = chunkStarts[number] as number; entry < (chunkEnds[number] as number); entry += 1) {
          const term = termRank[forwardTerms[entry] as number] as number;
          if (sums[term] === 0) touchedTerms[touched++] = term;
          sums[term] = (sums[term] as number) + (forwardFrequencies[entry] as number);
          // A chunk lists a term once.
          chunksWithTerm[term] = (chunksWithTerm[term] as number) + 1;
        }
      }
      let length = 0;
      for (let index = 0; index < touched; index += 1) {
        const term = touchedTerms[index] as number;
        const sum = sums[term] as number;
        const chunks = chunksWithTerm[term] as number;
        documentForwardTerms.push(term);
        documentForwardSums.push(sum);
        documentForwardChunks.push(chunks);
        if (chunks > mostChunksWithTerm) mostChunksWithTerm = chunks;
        chunksWithTerm[term] = 0;
        (documentPostingOffsets[term + 1] as number) += 1;
        if (sum > documentMaximum) documentMaximum = sum;
        if (documentIntegral && !Number.isInteger(sum)) documentIntegral = false;
        length += sum;
        sums[term] = 0;
      }
      documentLengths[document] = length;
      documentForwardStarts[document + 1] = documentForwardTerms.length;
    }
    for (let term = 0; term < termCount; term += 1) {
      documentPostingOffsets[term + 1] = (documentPostingOffsets[term + 1] as number) + (documentPostingOffsets[term] as number);
    }
    const documentPostingCount = documentPostingOffsets[termCount] as number;
    const documentPostingDocuments = documentSlotArray(documentPostingCount, documentCount);
    const documentPostingFrequencies = frequencyArray(documentPostingCount, documentMaximum, documentIntegral);
    const documentCursor = documentPostingOffsets.slice(0, termCount);
    for (let document = 0; document < documentCount; document += 1) {
      for (let entry = documentForwardStarts[document] as number; entry < (documentForwardStarts[document + 1] as number); entry += 1) {
        const term = documentForwardTerms.array[entry] as number;
        const position = (documentCursor[term] as number)++;
        documentPostingDocuments[position] = document;
        documentPostingFrequencies[position] = documentForwardSums.array[entry] as number;
      }
    }

    const packedTerms = packStrings(terms, termOrder);
    const packedDocuments = packStrings(this.#documents, documentOrder);
    const packedChunks = packStrings(
      Array.from(chunkAtSlot, (number) => this.#chunkIds[number] as string),
      undefined,
    );
    return encodeLexicalSegment({
      sequence,
      vectorCount: this.#vectorCount,
      termBytes: packedTerms.bytes,
      termOffsets: packedTerms.offsets,
      postingOffsets,
      postingSlots,
      postingFrequencies,
      documentPostingOffsets,
      documentPostingDocuments,
      documentPostingFrequencies,
      chunkIdBytes: packedChunks.bytes,
      chunkIdOffsets: packedChunks.offsets,
      chunkLengths,
      chunkDocuments,
      documentIdBytes: packedDocuments.bytes,
      documentIdOffsets: packedDocuments.offsets,
      documentChunkStarts,
      documentLengths,
      termSaturations,
      saturation: { k1, b, averageChunkLength },
      documentTermOffsets: documentForwardStarts,
      documentTerms: documentForwardTerms.trimmed(),
      documentTermChunks: narrowed(documentForwardChunks.trimmed(), mostChunksWithTerm),
    });
  }
}
