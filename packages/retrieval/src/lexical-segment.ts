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
 * - per term: the largest saturation f / (f + k1 · (1 − b + b · |c| / avgdl)) of its chunk postings,
 *   for the k1, b and average chunk length the header names: what dynamic pruning bounds a term's
 *   contribution with (see pruned-search.ts);
 * - per document (version 3): its terms (in the order its chunks first use them) and how many of its
 *   chunks hold each: what removing it takes off the statistics, so that a removal reads one
 *   document's list instead of every term's postings.
 * A 4-byte header length and a JSON header come first. Earlier versions are not read: the index
 * builds the segment again from the store.
 */
import type { RandomAccessFile } from '@passage/spec';

const formatName = 'passage-lexical-segment';
const formatVersion = 3;
/** Versions this code reads. */
const readableVersions: readonly number[] = [3];
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
  | 'termSaturations'
  | 'documentTermOffsets'
  | 'documentTerms'
  | 'documentTermChunks';

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
  /** Type of the document postings' slots. */
  documentSlotType: 'u16' | 'i32';
  /** Type of the per-document chunk counts of its terms. */
  documentTermChunkType: FrequencyType;
  /** What `termSaturations` was computed with; absent when the section is. */
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
  /** By document slot (count + 1): where its entries of `documentTerms` and `documentTermChunks` start. */
  documentTermOffsets: Uint32Array;
  /** Per document: the numbers of the terms of its chunks. */
  documentTerms: Int32Array;
  /** Per document and term: how many of its chunks hold the term. */
  documentTermChunks: FrequencyArray;
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
  'documentTermOffsets',
  'documentTerms',
  'documentTermChunks',
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
    documentTermChunkType: frequencyTypeOf(parts.documentTermChunks),
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

/** A term's chunk postings: slots ascending in [first, end) of `slots`, their frequencies at the same places. */
export interface ChunkPostingRange {
  slots: Int32Array;
  frequencies: FrequencyArray;
  first: number;
  end: number;
}

/** A term's document postings: document slots ascending in [first, end) of `documents`. */
export interface DocumentPostingRange {
  documents: DocumentSlotArray;
  frequencies: FrequencyArray;
  first: number;
  end: number;
}

/** The sections that grow with the postings: in a segment opened from a file, read per term (or per document) when needed. */
const postingSections: ReadonlySet<Section> = new Set([
  'postingSlots',
  'postingFrequencies',
  'documentPostingDocuments',
  'documentPostingFrequencies',
  'documentTerms',
  'documentTermChunks',
]);

/** Default of {@link LexicalSegmentOpenOptions.cacheBytes}: 256 MiB. */
export const defaultPostingsCacheBytes = 256 * 1024 * 1024;

/** Options of {@link LexicalSegment.open}. */
export interface LexicalSegmentOpenOptions {
  /**
   * Bytes of postings kept in memory once their search has ended, the terms used longest ago
   * dropped first (the postings of searches under way are kept whatever their size). Default 256 MiB
   * (LEXICAL_CACHE_MB).
   */
  cacheBytes?: number;
}

type ArrayType = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => SectionArray;

/** What {@link LexicalSegment.open} hands its constructor: the header and every part but the postings, and the file. */
interface OpenedSegment {
  header: SegmentHeader;
  parts: Partial<Record<Section, SectionArray>>;
  file: RandomAccessFile;
}

interface TermPostings {
  chunks: ChunkPostingRange;
  documents: DocumentPostingRange;
}

/** A cached term's postings, their size and how many searches under way hold them. */
interface CachedTerm {
  postings: TermPostings;
  bytes: number;
  holders: number;
}

/** A document's terms and how many of its chunks hold each, in [first, end). */
export interface DocumentTermsRange {
  terms: Int32Array;
  chunks: FrequencyArray;
  first: number;
  end: number;
}

function readHeader(bytes: Uint8Array): SegmentHeader {
  let header: SegmentHeader;
  try {
    const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
    if (4 + headerLength > bytes.byteLength) throw new Error('the header runs past the end');
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 4, headerLength).toString('utf8')) as SegmentHeader;
  } catch (error) {
    throw new LexicalSegmentFormatError(`not a lexical segment: ${(error as Error).message}`);
  }
  if (header.format !== formatName || !readableVersions.includes(header.version)) {
    throw new LexicalSegmentFormatError(`not a ${formatName} of version ${readableVersions.join(' or ')}: ${header.format} ${header.version}`);
  }
  for (const name of sectionOrder) {
    if (name === 'termSaturations' && header.saturation === undefined) continue;
    const section = (header.sections as Partial<Record<Section, unknown>> | undefined)?.[name];
    if (
      !Array.isArray(section) ||
      !section.every((value) => Number.isSafeInteger(value) && (value as number) >= 0) ||
      (section[0] as number) % alignment !== 0
    ) {
      throw new LexicalSegmentFormatError(`section ${name} has no valid place in the header`);
    }
  }
  return header;
}

function frequencyType(name: FrequencyType): ArrayType {
  const type = frequencyTypes[name] as (typeof frequencyTypes)[FrequencyType] | undefined;
  if (type === undefined) throw new LexicalSegmentFormatError(`unknown frequency type ${name}`);
  return type;
}

/** Each section's array type, from the header. */
function sectionTypes(header: SegmentHeader): Record<Section, ArrayType> {
  return {
    termBytes: Uint8Array,
    termOffsets: Uint32Array,
    postingOffsets: Uint32Array,
    postingSlots: Int32Array,
    postingFrequencies: frequencyType(header.frequencyType),
    documentPostingOffsets: Uint32Array,
    documentPostingDocuments: header.documentSlotType === 'u16' ? Uint16Array : Int32Array,
    documentPostingFrequencies: frequencyType(header.documentFrequencyType),
    chunkIdBytes: Uint8Array,
    chunkIdOffsets: Uint32Array,
    chunkLengths: Float64Array,
    chunkDocuments: Int32Array,
    documentIdBytes: Uint8Array,
    documentIdOffsets: Uint32Array,
    documentChunkStarts: Uint32Array,
    documentLengths: Float64Array,
    termSaturations: Float64Array,
    documentTermOffsets: Uint32Array,
    documentTerms: Int32Array,
    documentTermChunks: frequencyType(header.documentTermChunkType),
  };
}

const elementBytes = (type: ArrayType) => (type as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;

/** Views of the sections in `bytes` (the whole segment), checked to lie inside it. */
function viewsOf(header: SegmentHeader, bytes: Uint8Array, only?: (name: Section) => boolean): Partial<Record<Section, SectionArray>> {
  const types = sectionTypes(header);
  const views: Partial<Record<Section, SectionArray>> = {};
  for (const name of sectionOrder) {
    if (only !== undefined && !only(name)) continue;
    if (name === 'termSaturations' && header.saturation === undefined) continue;
    const [offset, length] = header.sections[name];
    const type = types[name];
    if (offset + length * elementBytes(type) > bytes.byteLength) throw new LexicalSegmentFormatError(`section ${name} runs past the end of the segment`);
    views[name] = new type(bytes.buffer, bytes.byteOffset + offset, length);
  }
  return views;
}

/**
 * A segment: views of its bytes, no copies. Made from the whole bytes (`new LexicalSegment(bytes)`,
 * after a build) or opened from a file ({@link LexicalSegment.open}, at a start): then every part but
 * the postings is read at once (the term dictionary, chunk and document tables: a tenth of the file
 * or so), and a search reads the postings of its terms from the file ({@link acquirePostings}),
 * which keeps those of recent searches in memory up to a budget. A segment of a million chunks thus
 * holds about a tenth of its file in memory instead of all of it; the operating system's cache
 * keeps the file's busy parts close.
 */
export class LexicalSegment {
  readonly sequence: number;
  readonly vectorCount: number;
  readonly chunkCount: number;
  readonly documentCount: number;
  readonly termCount: number;
  readonly postingOffsets: Uint32Array;
  readonly documentPostingOffsets: Uint32Array;
  readonly chunkLengths: Float64Array;
  readonly chunkDocuments: Int32Array;
  readonly documentChunkStarts: Uint32Array;
  readonly documentLengths: Float64Array;
  readonly documentTermOffsets: Uint32Array;
  /** Per term, the largest saturation of its chunk postings under {@link saturation}; null when the file has none. */
  readonly termSaturations: Float64Array | null;
  readonly saturation: SaturationParameters | null;
  readonly #header: SegmentHeader;
  /** Each section's array type, from the header. */
  readonly #types: Record<Section, ArrayType>;
  readonly #termText: Buffer;
  readonly #termOffsets: Uint32Array;
  readonly #chunkIdText: Buffer;
  readonly #chunkIdOffsets: Uint32Array;
  readonly #documentIdText: Buffer;
  readonly #documentIdOffsets: Uint32Array;
  /** The whole segment, when it was made from its bytes. */
  readonly #bytes: Uint8Array | null = null;
  /** The sections read per term or per document: in memory for a whole segment, null for one opened from its file. */
  readonly #postingSlots: Int32Array | null;
  readonly #postingFrequencies: FrequencyArray | null;
  readonly #documentPostingDocuments: DocumentSlotArray | null;
  readonly #documentPostingFrequencies: FrequencyArray | null;
  readonly #documentTerms: Int32Array | null;
  readonly #documentTermChunks: FrequencyArray | null;
  /** Opened from a file: the file, the terms in memory (least recently used first) and those being read. */
  #file: RandomAccessFile | null = null;
  readonly #cacheBytes: number;
  readonly #cache = new Map<number, CachedTerm>();
  #cachedBytes = 0;
  readonly #reads = new Map<number, Promise<TermPostings>>();
  readonly #pendingReads = new Set<Promise<unknown>>();
  #closed = false;

  /** The segment in `bytes` (all of it). `opened` is {@link LexicalSegment.open}'s: then `bytes` is not read. */
  constructor(bytes: Uint8Array, opened?: OpenedSegment, options: LexicalSegmentOpenOptions = {}) {
    let header: SegmentHeader;
    let parts: Partial<Record<Section, SectionArray>>;
    if (opened === undefined) {
      if (bytes.byteOffset % alignment !== 0) bytes = bytes.slice();
      header = readHeader(bytes);
      parts = viewsOf(header, bytes);
      this.#bytes = bytes;
    } else {
      ({ header, parts } = opened);
      this.#file = opened.file;
    }
    const cacheBytes = options.cacheBytes ?? defaultPostingsCacheBytes;
    if (!(cacheBytes >= 0)) throw new RangeError(`cacheBytes must be a number ≥ 0, got ${cacheBytes}`);
    this.#cacheBytes = cacheBytes;
    this.#header = header;
    this.#types = sectionTypes(header);
    const part = (name: Section) => parts[name] as SectionArray;
    const text = (name: Section) => {
      const array = part(name);
      return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
    };
    this.sequence = header.sequence;
    this.vectorCount = header.vectorCount;
    this.chunkCount = header.chunkCount;
    this.documentCount = header.documentCount;
    this.termCount = header.termCount;
    this.#termText = text('termBytes');
    this.#termOffsets = part('termOffsets') as Uint32Array;
    this.postingOffsets = part('postingOffsets') as Uint32Array;
    this.documentPostingOffsets = part('documentPostingOffsets') as Uint32Array;
    this.#chunkIdText = text('chunkIdBytes');
    this.#chunkIdOffsets = part('chunkIdOffsets') as Uint32Array;
    this.chunkLengths = part('chunkLengths') as Float64Array;
    this.chunkDocuments = part('chunkDocuments') as Int32Array;
    this.#documentIdText = text('documentIdBytes');
    this.#documentIdOffsets = part('documentIdOffsets') as Uint32Array;
    this.documentChunkStarts = part('documentChunkStarts') as Uint32Array;
    this.documentLengths = part('documentLengths') as Float64Array;
    this.documentTermOffsets = part('documentTermOffsets') as Uint32Array;
    const stored = parts.termSaturations !== undefined;
    this.termSaturations = stored ? (part('termSaturations') as Float64Array) : null;
    this.saturation = stored ? (header.saturation as SaturationParameters) : null;
    // Absent from an opened segment's parts: read from the file as needed.
    this.#postingSlots = (parts.postingSlots as Int32Array | undefined) ?? null;
    this.#postingFrequencies = (parts.postingFrequencies as FrequencyArray | undefined) ?? null;
    this.#documentPostingDocuments = (parts.documentPostingDocuments as DocumentSlotArray | undefined) ?? null;
    this.#documentPostingFrequencies = (parts.documentPostingFrequencies as FrequencyArray | undefined) ?? null;
    this.#documentTerms = (parts.documentTerms as Int32Array | undefined) ?? null;
    this.#documentTermChunks = (parts.documentTermChunks as FrequencyArray | undefined) ?? null;
    if (
      (this.termSaturations !== null && this.termSaturations.length !== this.termCount) ||
      this.#termOffsets.length !== this.termCount + 1 ||
      this.postingOffsets.length !== this.termCount + 1 ||
      this.documentPostingOffsets.length !== this.termCount + 1 ||
      this.chunkLengths.length !== this.chunkCount ||
      this.documentChunkStarts.length !== this.documentCount + 1 ||
      this.documentTermOffsets.length !== this.documentCount + 1 ||
      (this.termCount > 0 &&
        ((this.postingOffsets[this.termCount] as number) > header.sections.postingSlots[1] ||
          (this.documentPostingOffsets[this.termCount] as number) > header.sections.documentPostingDocuments[1])) ||
      (this.documentCount > 0 && (this.documentTermOffsets[this.documentCount] as number) > header.sections.documentTerms[1])
    ) {
      throw new LexicalSegmentFormatError('section sizes do not match the header');
    }
  }

  /**
   * Opens a segment file: reads the header and every part but the postings now (see the class).
   * Throws {@link LexicalSegmentFormatError} for a file that is not a readable segment; the file is
   * then closed. The segment owns the file from here on: {@link close} closes it.
   */
  static async open(file: RandomAccessFile, options: LexicalSegmentOpenOptions = {}): Promise<LexicalSegment> {
    try {
      if (file.size < 4) throw new LexicalSegmentFormatError('not a lexical segment: the file is shorter than its header length');
      const length = new Uint8Array(4);
      await file.read(length, 0);
      const headerLength = new DataView(length.buffer).getUint32(0, true);
      if (4 + headerLength > file.size) throw new LexicalSegmentFormatError('not a lexical segment: the header runs past the end');
      const headerBytes = new Uint8Array(4 + headerLength);
      await file.read(headerBytes, 0);
      const header = readHeader(headerBytes);
      const types = sectionTypes(header);
      const parts: Partial<Record<Section, SectionArray>> = {};
      await Promise.all(
        sectionOrder.map(async (name) => {
          if (postingSections.has(name)) return;
          if (name === 'termSaturations' && header.saturation === undefined) return;
          const [offset, count] = header.sections[name];
          const type = types[name];
          const byteLength = count * elementBytes(type);
          if (offset + byteLength > file.size) throw new LexicalSegmentFormatError(`section ${name} runs past the end of the segment`);
          const target = new Uint8Array(byteLength);
          await file.read(target, offset);
          parts[name] = new type(target.buffer, 0, count);
        }),
      );
      for (const name of postingSections) {
        const [offset, count] = header.sections[name];
        if (offset + count * elementBytes(types[name]) > file.size) throw new LexicalSegmentFormatError(`section ${name} runs past the end of the segment`);
      }
      return new LexicalSegment(new Uint8Array(0), { header, parts, file }, options);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /** Whether the whole segment is in memory (made from its bytes), rather than read from its file as needed. */
  get whole(): boolean {
    return this.#bytes !== null;
  }

  /** The segment's bytes; only when {@link whole}. */
  get bytes(): Uint8Array {
    return this.#inMemory(this.#bytes);
  }

  get postingSlots(): Int32Array {
    return this.#inMemory(this.#postingSlots);
  }

  get postingFrequencies(): FrequencyArray {
    return this.#inMemory(this.#postingFrequencies);
  }

  get documentPostingDocuments(): DocumentSlotArray {
    return this.#inMemory(this.#documentPostingDocuments);
  }

  get documentPostingFrequencies(): FrequencyArray {
    return this.#inMemory(this.#documentPostingFrequencies);
  }

  get documentTerms(): Int32Array {
    return this.#inMemory(this.#documentTerms);
  }

  get documentTermChunks(): FrequencyArray {
    return this.#inMemory(this.#documentTermChunks);
  }

  /** Bytes of postings held in memory for a segment opened from a file (0 for a whole one). */
  get cachedBytes(): number {
    return this.#cachedBytes;
  }

  /**
   * Makes the postings of these terms (numbers from {@link termNumber}; −1 is left out) available to
   * {@link chunkPostings} and {@link documentPostings} until the returned release is called: read
   * from the file (at most once at a time per term) unless in memory. A whole segment needs nothing.
   */
  async acquirePostings(terms: readonly number[]): Promise<() => void> {
    if (this.#bytes !== null) return () => {};
    const wanted = [...new Set(terms.filter((term) => term >= 0 && term < this.termCount))];
    const held: number[] = [];
    const release = () => {
      for (const term of held.splice(0)) {
        const cached = this.#cache.get(term);
        if (cached !== undefined) cached.holders -= 1;
      }
      this.#evict();
    };
    try {
      await Promise.all(
        wanted.map(async (term) => {
          let cached = this.#cache.get(term);
          if (cached === undefined) {
            const postings = await this.#read(term);
            cached = this.#cache.get(term);
            if (cached === undefined) {
              cached = { postings, bytes: postingBytes(postings), holders: 0 };
              this.#cache.set(term, cached);
              this.#cachedBytes += cached.bytes;
            }
          } else {
            // Used again: to the end of the line the cache drops terms from.
            this.#cache.delete(term);
            this.#cache.set(term, cached);
          }
          cached.holders += 1;
          held.push(term);
        }),
      );
    } catch (error) {
      release();
      throw error;
    }
    this.#evict();
    return release;
  }

  /** The term's chunk postings; in a segment opened from a file, only while acquired ({@link acquirePostings}). */
  chunkPostings(term: number): ChunkPostingRange {
    if (this.#postingSlots !== null) {
      return {
        slots: this.#postingSlots,
        frequencies: this.#postingFrequencies as FrequencyArray,
        first: this.postingOffsets[term] as number,
        end: this.postingOffsets[term + 1] as number,
      };
    }
    return this.#acquired(term).chunks;
  }

  /** The term's document postings, as {@link chunkPostings}. */
  documentPostings(term: number): DocumentPostingRange {
    if (this.#documentPostingDocuments !== null) {
      return {
        documents: this.#documentPostingDocuments,
        frequencies: this.#documentPostingFrequencies as FrequencyArray,
        first: this.documentPostingOffsets[term] as number,
        end: this.documentPostingOffsets[term + 1] as number,
      };
    }
    return this.#acquired(term).documents;
  }

  /** A document's terms and how many of its chunks hold each, for a {@link whole} segment. */
  documentTermsInMemory(slot: number): DocumentTermsRange {
    return {
      terms: this.documentTerms,
      chunks: this.documentTermChunks,
      first: this.documentTermOffsets[slot] as number,
      end: this.documentTermOffsets[slot + 1] as number,
    };
  }

  /** A document's terms and how many of its chunks hold each: from memory, or read from the file. */
  async readDocumentTerms(slot: number): Promise<DocumentTermsRange> {
    const first = this.documentTermOffsets[slot] as number;
    const end = this.documentTermOffsets[slot + 1] as number;
    if (this.#documentTerms !== null) return { terms: this.#documentTerms, chunks: this.#documentTermChunks as FrequencyArray, first, end };
    const [terms, chunks] = await Promise.all([
      this.#readSection<Int32Array>('documentTerms', first, end),
      this.#readSection<FrequencyArray>('documentTermChunks', first, end),
    ]);
    return { terms, chunks, first: 0, end: end - first };
  }

  /** Waits for reads under way and closes the file; a whole segment and postings acquired stay usable. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled(this.#pendingReads);
    const file = this.#file;
    this.#file = null;
    await file?.close();
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

  #inMemory<T>(value: T | null): T {
    if (value === null) throw new Error('the lexical segment was opened from its file: its postings are read per term');
    return value;
  }

  #acquired(term: number): TermPostings {
    const cached = this.#cache.get(term);
    if (cached === undefined || cached.holders === 0) throw new Error(`the postings of term ${term} are not acquired: await acquirePostings() first`);
    return cached.postings;
  }

  /** Drops the terms used longest ago, that no search holds, until the cache fits its budget. */
  #evict(): void {
    if (this.#cachedBytes <= this.#cacheBytes) return;
    for (const [term, cached] of this.#cache) {
      if (this.#cachedBytes <= this.#cacheBytes) break;
      if (cached.holders > 0) continue;
      this.#cache.delete(term);
      this.#cachedBytes -= cached.bytes;
    }
  }

  /** The term's postings from the file: one read at a time per term, shared by whoever asks meanwhile. */
  #read(term: number): Promise<TermPostings> {
    let reading = this.#reads.get(term);
    if (reading === undefined) {
      reading = this.#readTerm(term).finally(() => this.#reads.delete(term));
      this.#reads.set(term, reading);
    }
    return reading;
  }

  async #readTerm(term: number): Promise<TermPostings> {
    const first = this.postingOffsets[term] as number;
    const end = this.postingOffsets[term + 1] as number;
    const documentFirst = this.documentPostingOffsets[term] as number;
    const documentEnd = this.documentPostingOffsets[term + 1] as number;
    const [slots, frequencies, documents, documentFrequencies] = await Promise.all([
      this.#readSection<Int32Array>('postingSlots', first, end),
      this.#readSection<FrequencyArray>('postingFrequencies', first, end),
      this.#readSection<DocumentSlotArray>('documentPostingDocuments', documentFirst, documentEnd),
      this.#readSection<FrequencyArray>('documentPostingFrequencies', documentFirst, documentEnd),
    ]);
    return {
      chunks: { slots, frequencies, first: 0, end: end - first },
      documents: { documents, frequencies: documentFrequencies, first: 0, end: documentEnd - documentFirst },
    };
  }

  /** Elements [first, end) of a section, read from the file into an array of their own. */
  async #readSection<T extends SectionArray>(name: Section, first: number, end: number): Promise<T> {
    const file = this.#file;
    if (file === null || this.#closed) throw new Error('the lexical segment file is closed');
    const type = this.#types[name];
    const size = elementBytes(type);
    const target = new Uint8Array((end - first) * size);
    if (target.byteLength > 0) {
      const reading = file.read(target, this.#header.sections[name][0] + first * size);
      this.#pendingReads.add(reading);
      try {
        await reading;
      } finally {
        this.#pendingReads.delete(reading);
      }
    }
    return new type(target.buffer, 0, end - first) as T;
  }
}

function postingBytes(postings: TermPostings): number {
  const { chunks, documents } = postings;
  return chunks.slots.byteLength + chunks.frequencies.byteLength + documents.documents.byteLength + documents.frequencies.byteLength;
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
