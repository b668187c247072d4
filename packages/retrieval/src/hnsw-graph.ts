/**
 * The HNSW graph of the embedded store's approximate dense search: usearch's index (unum-cloud's
 * USearch, prebuilt N-API binaries inside its npm package, so nothing compiles at install), its file
 * beside the SQLite database, the list of which chunk each key is (a binary file beside it, decoded in
 * time slices at a start: a million ids as JSON took 130 ms to parse in one step) and a small JSON
 * description of what it was built from. Building happens in a worker thread (hnsw-graph-thread.ts); this thread
 * only maps the finished file (`view`: memory-mapped, read-only) and searches it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Index as UsearchIndex } from 'usearch';
import { IdTable } from './id-table.js';

type UsearchModule = typeof import('usearch');

/** The graph's build and search parameters. */
export interface HnswParameters {
  /** Neighbours per node (HNSW's M). */
  connectivity: number;
  /** Candidates kept while inserting (efConstruction). */
  expansionAdd: number;
  /** Candidates kept while searching (ef), at least the number of results asked for. */
  expansionSearch: number;
}

/** What the description file of a graph holds. */
export interface HnswGraphDescription {
  format: typeof hnswGraphFormat;
  knowledgeBaseId: string;
  generation: number;
  /** The change feed position the graph's vectors were read at (changes after it may be missing from the graph). */
  sequence: number;
  dimensions: number;
  connectivity: number;
  expansionAdd: number;
  /** The graph file's name, in the same folder. */
  graphFile: string;
  bytes: number;
  /** SHA-256 of the graph file, hex. */
  sha256: string;
  /** The file, in the same folder, of the chunk id of each key (see {@link encodeGraphIds}). */
  idsFile: string;
  /** How many keys the graph has (ids in the ids file). */
  idCount: number;
  /** SHA-256 of the ids file, hex. */
  idsSha256: string;
}

/** Version 1 kept the ids in the description itself; such graphs are built again. */
export const hnswGraphFormat = 'passage-hnsw-2';

/**
 * The ids file: the count (Uint32), then count + 1 byte offsets into the UTF-8 text that follows
 * (Uint32 each, from the text's start), then the ids' UTF-8 bytes one after the other; little-endian.
 */
export function encodeGraphIds(ids: readonly string[]): Uint8Array {
  const encoded = ids.map((id) => Buffer.from(id, 'utf8'));
  const text = encoded.reduce((total, bytes) => total + bytes.length, 0);
  const header = 4 * (ids.length + 2);
  const bytes = new Uint8Array(header + text);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, ids.length, true);
  let offset = 0;
  encoded.forEach((id, index) => {
    view.setUint32(4 + 4 * index, offset, true);
    bytes.set(id, header + offset);
    offset += id.length;
  });
  view.setUint32(4 + 4 * ids.length, offset, true);
  return bytes;
}

/**
 * The ids of an ids file read from `file`, as a table (no string decoded; indexed with the event
 * loop free every few milliseconds); null when the file does not hold `count` well-formed ids.
 */
export async function readGraphIds(file: string, count: number): Promise<IdTable | null> {
  const bytes = await readFile(file);
  if (bytes.byteLength < 4 || bytes.readUInt32LE(0) !== count) return null;
  const header = 4 * (count + 2);
  if (bytes.byteLength < header) return null;
  // A copy: the file's bytes need not be 4-byte aligned in their buffer.
  const offsets = new Uint32Array(bytes.buffer.slice(bytes.byteOffset + 4, bytes.byteOffset + header));
  return IdTable.fromEncoded(bytes.subarray(header), offsets);
}

let usearchModule: Promise<UsearchModule | null> | null = null;

/**
 * usearch, or null (with one warning) when its binary cannot be loaded on this platform: dense
 * search then stays exact.
 */
export function loadUsearch(): Promise<UsearchModule | null> {
  usearchModule ??= import('usearch').catch((error: unknown) => {
    process.emitWarning(`usearch could not be loaded; dense search stays exact: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  });
  return usearchModule;
}

/** A usearch index for unit vectors compared by cosine, with the given parameters. */
export function newUsearchIndex(usearch: UsearchModule, dimensions: number, parameters: HnswParameters): UsearchIndex {
  return new usearch.Index({
    dimensions,
    metric: usearch.MetricKind.Cos,
    quantization: usearch.ScalarKind.F32,
    connectivity: parameters.connectivity,
    expansion_add: parameters.expansionAdd,
    expansion_search: parameters.expansionSearch,
    multi: false,
  });
}

/** SHA-256 of a file, hex, read in a stream (the hashing of each piece is native and short). */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(piece as Buffer);
  return hash.digest('hex');
}

/** A description parsed from JSON, or null when it is not one (damaged, or written by another format). */
export function parseGraphDescription(text: string): HnswGraphDescription | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const candidate = value as Partial<HnswGraphDescription> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    candidate.format !== hnswGraphFormat ||
    typeof candidate.knowledgeBaseId !== 'string' ||
    !Number.isInteger(candidate.generation) ||
    !Number.isInteger(candidate.sequence) ||
    !Number.isInteger(candidate.dimensions) ||
    !Number.isInteger(candidate.connectivity) ||
    !Number.isInteger(candidate.expansionAdd) ||
    typeof candidate.graphFile !== 'string' ||
    candidate.graphFile.includes('/') ||
    !Number.isInteger(candidate.bytes) ||
    typeof candidate.sha256 !== 'string' ||
    typeof candidate.idsFile !== 'string' ||
    candidate.idsFile.includes('/') ||
    !Number.isInteger(candidate.idCount) ||
    typeof candidate.idsSha256 !== 'string'
  ) {
    return null;
  }
  return candidate as HnswGraphDescription;
}
