/**
 * The HNSW graph of the embedded store's approximate dense search: usearch's index (unum-cloud's
 * USearch, prebuilt N-API binaries inside its npm package, so nothing compiles at install), its file
 * beside the SQLite database and the small JSON description that says which chunks its keys are and
 * what it was built from. Building happens in a worker thread (hnsw-graph-thread.ts); this thread
 * only maps the finished file (`view`: memory-mapped, read-only) and searches it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Index as UsearchIndex } from 'usearch';

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
  /** The chunk id of each key: key i is ids[i]. */
  ids: string[];
}

export const hnswGraphFormat = 'passage-hnsw-1';

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
    !Array.isArray(candidate.ids) ||
    !candidate.ids.every((id) => typeof id === 'string')
  ) {
    return null;
  }
  return candidate as HnswGraphDescription;
}
