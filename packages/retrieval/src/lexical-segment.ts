/**
 * An immutable, compact inverted index of one knowledge base generation's chunks and documents:
 * every part is a typed array in one buffer, so the same bytes are what a builder thread hands over
 * (transferred, not copied), what is written to disk and what a later start reads back and searches
 * without parsing anything.
 *
 * Layout (all sections 8-byte aligned, little-endian as the platform's typed arrays):
 * - terms: UTF-8 bytes and offsets, sorted by JavaScript string order, so a term is found by binary
 *   search without a Map of a million strings on the heap;
 * - chunk postings per term: slots (Int32) and frequencies (the smallest of Uint8, Uint16, Uint32
 *   that holds them all, or Float64 when some frequency is not an integer), ascending by slot;
 * - document postings per term: document slots (Uint16 when there are at most 65,536 documents,
 *   from version 2 on; else Int32) and summed frequencies (the same way as chunk frequencies);
 * - chunks by slot: id (UTF-8 bytes and offsets), length (sum of frequencies), document slot;
 * - documents by slot, sorted by id: id, first chunk slot (a document's chunks are consecutive) and
 *   length;
 * - per term (version 2 on): the largest saturation f / (f + k1 · (1 − b + b · |c| / avgdl)) of its
 *   chunk postings, for the k1, b and average chunk length the header names: what dynamic pruning
 *   bounds a term's contribution with (see pruned-search.ts).
 * A 4-byte header length and a JSON header come first. Version 1 files (without the saturations)
 * are still read: the index then works the bounds out itself, per term on first use.
 */
const formatName = 'passage-lexical-segment';
const formatVersion = 2;
/** Versions this code reads. */
const readableVersions: readonly number[] = [1, 2];
const alignment = 8;

type Section =
  | 'termBytes'
  | 'termOffsets'
  | 'postingOffsets'
  | 'postingSlots'
  | 'postingFrequencies'
  | 'documentPostingOffsets'
  | 'documentPostingDocuments'
  | 'documentPostingFrequencies'
  | 'chunkIdBytes'
  | 'chunkIdOffsets'
  | 'chunkLengths'
  | 'chunkDocuments'
  | 'documentIdBytes'
  | 'documentIdOffsets'
  | 'documentChunkStarts'
  | 'documentLengths'
  | 'termSaturations';

type SectionArray = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

/** Document slots of document postings: two bytes each while they fit. */
export type DocumentSlotArray = Uint16Array | Int32Array;

/** An array for `length` document postings of a segment of `documentCount` documents. */
export function documentSlotArray(length: number, documentCount: number): DocumentSlotArray {
  return documentCount <= 0x10000 ? new Uint16Array(length) : new Int32Array(length);
}

/** Frequencies are kept in the smallest of these that holds them all exactly. */
export type FrequencyArray = Uint8Array | Uint16Array | Uint32Array | Float64Array;
type FrequencyType = 'u8' | 'u16' | 'u32' | 'f64';

const frequencyTypes = { u8: Uint8Array, u16: Uint16Array, u32: Uint32Array, f64: Float64Array } as const;

function frequencyTypeOf(array: FrequencyArray): FrequencyType {
  if (array instanceof Uint8Array) return 'u8';
  if (array instanceof Uint16Array) return 'u16';
  if (array instanceof Uint32Array) return 'u32';
  return 'f64';
}

/** An array of `length` frequencies of the smallest type that holds every one (the largest is `maximum`) exactly. */
export function frequencyArray(length: number, maximum: number, integral: boolean): FrequencyArray {
  if (!integral) return new Float64Array(length);
  if (maximum <= 0xff) return new Uint8Array(length);
  if (maximum <= 0xffff) return new Uint16Array(length);
  if (maximum <= 0xffffffff) return new Uint32Array(length);
  return new Float64Array(length);
}

interface SegmentHeader {
  format: string;
  version: number;
  /** The change feed position the segment is consistent with. */
  sequence: number;
  /** Chunks stored with a vector when the segment was built (vectors are not in the segment). */
  vectorCount: number;
  chunkCount: number;
  documentCount: number;
  termCount: number;
  frequencyType: FrequencyType;
  documentFrequencyType: FrequencyType;
  /** Type of the document postings' slots (version 2 on; Int32 before). */
  documentSlotType?: 'u16' | 'i32';
  /** What `termSaturations` was computed with (version 2 on). */
  saturation?: SaturationParameters;
  sections: Record<Section, [byteOffset: number, length: number]>;
}

/** The BM25 parameters and average chunk length the stored term saturations were computed with. */
export interface SaturationParameters {
  k1: number;
  b: number;
  averageChunkLength: number;
}

/** The parts of a segment, as the builder makes them. */
export interface LexicalSegmentParts {
  sequence: number;
  vectorCount: number;
  termBytes: Uint8Array;
  termOffsets: Uint32Array;
  postingOffsets: Uint32Array;
  postingSlots: Int32Array;
  postingFrequencies: FrequencyArray;
  documentPostingOffsets: Uint32Array;
  documentPostingDocuments: DocumentSlotArray;
  documentPostingFrequencies: FrequencyArray;
  chunkIdBytes: Uint8Array;
  chunkIdOffsets: Uint32Array;
  chunkLengths: Float64Array;
  chunkDocuments: Int32Array;
  documentIdBytes: Uint8Array;
  documentIdOffsets: Uint32Array;
  documentChunkStarts: Uint32Array;
  documentLengths: Float64Array;
  termSaturations: Float64Array;
  saturation: SaturationParameters;
}

const sectionOrder: readonly Section[] = [
  'termBytes',
  'termOffsets',
  'postingOffsets',
  'postingSlots',
  'postingFrequencies',
  'documentPostingOffsets',
  'documentPostingDocuments',
  'documentPostingFrequencies',
  'chunkIdBytes',
  'chunkIdOffsets',
  'chunkLengths',
  'chunkDocuments',
  'documentIdBytes',
  'documentIdOffsets',
  'documentChunkStarts',
  'documentLengths',
  'termSaturations',
];

const alignUp = (value: number) => Math.ceil(value / alignment) * alignment;

/** Serializes the parts into one buffer (the segment's bytes). */
export function encodeLexicalSegment(parts: LexicalSegmentParts): Uint8Array {
  const sections = {} as Record<Section, [number, number]>;
  // The header's size depends on the offsets it lists: lay out with room for it, then write.
  const provisional = (headerBytes: number) => {
    let offset = alignUp(4 + headerBytes);
    for (const name of sectionOrder) {
      const array = parts[name];
      sections[name] = [offset, array.length];
      offset = alignUp(offset + array.byteLength);
    }
    return offset;
  };
  const header = (): SegmentHeader => ({
    format: formatName,
    version: formatVersion,
    sequence: parts.sequence,
    vectorCount: parts.vectorCount,
    chunkCount: parts.chunkLengths.length,
    documentCount: parts.documentLengths.length,
    termCount: parts.termOffsets.length - 1,
    frequencyType: frequencyTypeOf(parts.postingFrequencies),
    documentFrequencyType: frequencyTypeOf(parts.documentPostingFrequencies),
    documentSlotType: parts.documentPostingDocuments instanceof Uint16Array ? 'u16' : 'i32',
    saturation: parts.saturation,
    sections,
  });
  let headerBytes = 0;
  let encodedHeader: Buffer;
  let total: number;
  for (;;) {
    total = provisional(headerBytes);
    encodedHeader = Buffer.from(JSON.stringify(header()), 'utf8');
    if (encodedHeader.length <= headerBytes) break;
    headerBytes = encodedHeader.length + 64;
  }
  const bytes = new Uint8Array(total);
  new DataView(bytes.buffer).setUint32(0, encodedHeader.length, true);
  bytes.set(encodedHeader, 4);
  bytes.fill(0x20, 4 + encodedHeader.length, 4 + headerBytes);
  for (const name of sectionOrder) {
    const array = parts[name];
    bytes.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), sections[name][0]);
  }
  return bytes;
}

/** Thrown when bytes are not a segment of this format (another version, or damaged). */
export class LexicalSegmentFormatError extends Error {}

/** A segment read from its bytes: views, no copies. */
export class LexicalSegment {
  readonly bytes: Uint8Array;
  readonly sequence: number;
  readonly vectorCount: number;
  readonly chunkCount: number;
  readonly documentCount: number;
  readonly termCount: number;
  readonly postingOffsets: Uint32Array;
  readonly postingSlots: Int32Array;
  readonly postingFrequencies: FrequencyArray;
  readonly documentPostingOffsets: Uint32Array;
  readonly documentPostingDocuments: DocumentSlotArray;
  readonly documentPostingFrequencies: FrequencyArray;
  readonly chunkLengths: Float64Array;
  readonly chunkDocuments: Int32Array;
  readonly documentChunkStarts: Uint32Array;
  readonly documentLengths: Float64Array;
  /** Per term, the largest saturation of its chunk postings under {@link saturation}; null in a version 1 file. */
  readonly termSaturations: Float64Array | null;
  readonly saturation: SaturationParameters | null;
  readonly #termText: Buffer;
  readonly #termOffsets: Uint32Array;
  readonly #chunkIdText: Buffer;
  readonly #chunkIdOffsets: Uint32Array;
  readonly #documentIdText: Buffer;
  readonly #documentIdOffsets: Uint32Array;

  constructor(bytes: Uint8Array) {
    if (bytes.byteOffset % alignment !== 0) bytes = bytes.slice();
    this.bytes = bytes;
    let header: SegmentHeader;
    try {
      const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
      header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 4, headerLength).toString('utf8')) as SegmentHeader;
    } catch (error) {
      throw new LexicalSegmentFormatError(`not a lexical segment: ${(error as Error).message}`);
    }
    if (header.format !== formatName || !readableVersions.includes(header.version)) {
      throw new LexicalSegmentFormatError(`not a ${formatName} of version ${readableVersions.join(' or ')}: ${header.format} ${header.version}`);
    }
    const view = <T extends SectionArray>(name: Section, type: new (buffer: ArrayBufferLike, byteOffset: number, length: number) => T): T => {
      const [offset, length] = header.sections[name];
      const byteLength = length * (type as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
      if (offset + byteLength > bytes.byteLength) throw new LexicalSegmentFormatError(`section ${name} runs past the end of the segment`);
      return new type(bytes.buffer, bytes.byteOffset + offset, length);
    };
    const text = (name: Section) => {
      const array = view(name, Uint8Array);
      return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
    };
    this.sequence = header.sequence;
    this.vectorCount = header.vectorCount;
    this.chunkCount = header.chunkCount;
    this.documentCount = header.documentCount;
    this.termCount = header.termCount;
    this.#termText = text('termBytes');
    this.#termOffsets = view('termOffsets', Uint32Array);
    this.postingOffsets = view('postingOffsets', Uint32Array);
    this.postingSlots = view('postingSlots', Int32Array);
    const frequencyType = (name: FrequencyType) => {
      const type = frequencyTypes[name] as (typeof frequencyTypes)[FrequencyType] | undefined;
      if (type === undefined) throw new LexicalSegmentFormatError(`unknown frequency type ${name}`);
      return type as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => FrequencyArray;
    };
    this.postingFrequencies = view('postingFrequencies', frequencyType(header.frequencyType));
    this.documentPostingOffsets = view('documentPostingOffsets', Uint32Array);
    this.documentPostingDocuments =
      header.documentSlotType === 'u16' ? view('documentPostingDocuments', Uint16Array) : view('documentPostingDocuments', Int32Array);
    this.documentPostingFrequencies = view('documentPostingFrequencies', frequencyType(header.documentFrequencyType));
    this.#chunkIdText = text('chunkIdBytes');
    this.#chunkIdOffsets = view('chunkIdOffsets', Uint32Array);
    this.chunkLengths = view('chunkLengths', Float64Array);
    this.chunkDocuments = view('chunkDocuments', Int32Array);
    this.#documentIdText = text('documentIdBytes');
    this.#documentIdOffsets = view('documentIdOffsets', Uint32Array);
    this.documentChunkStarts = view('documentChunkStarts', Uint32Array);
    this.documentLengths = view('documentLengths', Float64Array);
    const stored = header.version >= 2 && header.saturation !== undefined;
    this.termSaturations = stored ? view('termSaturations', Float64Array) : null;
    this.saturation = stored ? (header.saturation as SaturationParameters) : null;
    if (
      (this.termSaturations !== null && this.termSaturations.length !== this.termCount) ||
      this.#termOffsets.length !== this.termCount + 1 ||
      this.postingOffsets.length !== this.termCount + 1 ||
      this.chunkLengths.length !== this.chunkCount ||
      this.documentChunkStarts.length !== this.documentCount + 1
    ) {
      throw new LexicalSegmentFormatError('section sizes do not match the header');
    }
  }

  /** The term's number, or −1. */
  termNumber(term: string): number {
    return binarySearch(this.#termText, this.#termOffsets, this.termCount, term);
  }

  /** The document's slot, or −1. */
  documentSlot(documentId: string): number {
    return binarySearch(this.#documentIdText, this.#documentIdOffsets, this.documentCount, documentId);
  }

  chunkId(slot: number): string {
    return this.#chunkIdText.toString('utf8', this.#chunkIdOffsets[slot], this.#chunkIdOffsets[slot + 1]);
  }

  documentId(slot: number): string {
    return this.#documentIdText.toString('utf8', this.#documentIdOffsets[slot], this.#documentIdOffsets[slot + 1]);
  }

  term(number: number): string {
    return this.#termText.toString('utf8', this.#termOffsets[number], this.#termOffsets[number + 1]);
  }
}

function binarySearch(text: Buffer, offsets: Uint32Array, count: number, key: string): number {
  let low = 0;
  let high = count - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const value = text.toString('utf8', offsets[middle], offsets[middle + 1]);
    if (value === key) return middle;
    if (value < key) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}
