import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TimeSlice } from '@passage/spec';
import type { Index as UsearchIndex } from 'usearch';
import {
  loadUsearch,
  newUsearchIndex,
  parseGraphDescription,
  readGraphIds,
  sha256OfFile,
  type HnswGraphDescription,
  type HnswParameters,
} from './hnsw-graph.js';
import { buildHnswGraphInThread, type HnswVectorPage } from './hnsw-graph-thread.js';
import { IdTable } from './id-table.js';
import { compareRankedHits, type RankedHit } from './top-heap.js';
import { VectorIndex, type VectorEntry } from './vector-index.js';

/** `exact` compares every vector; `approximate` searches an HNSW graph; `auto` does so from {@link DenseIndexOptions.approximateFrom} vectors. */
export type DenseIndexMode = 'auto' | 'exact' | 'approximate';

/** Default of {@link DenseIndexOptions.approximateFrom}. */
export const defaultApproximateFrom = 20_000;
/** Default of {@link DenseIndexOptions.connectivity}. */
export const defaultHnswConnectivity = 16;
/** Default of {@link DenseIndexOptions.expansionAdd}. */
export const defaultHnswExpansionAdd = 128;
/** Default of {@link DenseIndexOptions.expansionSearch}. */
export const defaultHnswExpansionSearch = 256;
/** Default of {@link DenseIndexOptions.changesBeforeRebuild}. */
export const defaultChangesBeforeRebuild = 2_000;

export interface DenseIndexOptions {
  /**
   * `exact` compares the query with every vector (brute force); `approximate` searches an HNSW
   * graph once one is built (exactly until then); `auto` searches the graph once the knowledge
   * base holds {@link approximateFrom} vectors. Default `auto` (DENSE_INDEX).
   */
  mode?: DenseIndexMode;
  /** Vectors from which `auto` builds and searches the graph. Default 20,000 (DENSE_APPROXIMATE_FROM). */
  approximateFrom?: number;
  /**
   * Folder that keeps each generation's graph between starts (the runtime's: DATA_DIR/dense-indexes).
   * Without one, a graph is built into a temporary file that is mapped and then deleted.
   */
  directory?: string;
  /** HNSW's M: neighbours per node. More: better recall, larger and slower to build. Default 16. */
  connectivity?: number;
  /** HNSW's efConstruction: candidates kept while inserting. Default 128. */
  expansionAdd?: number;
  /** HNSW's ef: candidates kept while searching (at least the results asked for). More: better recall, slower. Default 256. */
  expansionSearch?: number;
  /** usearch's insertion threads for a build (in the build's worker thread). Default: the cores less one, at least 1. */
  buildThreads?: number;
  /**
   * Vectors added, replaced or removed since the graph was built beyond which it is rebuilt in the
   * background: they are searched exactly (or filtered out) meanwhile. The bound grows with the
   * graph (a twentieth of its vectors, if more). Default 2,000.
   */
  changesBeforeRebuild?: number;
  /** Told about a background build that failed (searches go on as they were). Default: a process warning. */
  onBackgroundError?: (error: Error) => void;
}

/** The graph in use: usearch's index mapped from its file, which chunk each key is, and what changed since it was built. */
interface LoadedGraph {
  index: UsearchIndex;
  /** The chunk id of each key (key i is number i). */
  ids: IdTable;
  /** Keys whose chunk was removed or re-added since the build: never returned from the graph. */
  stale: Set<number>;
  /** The vectors added (or re-added) since the build, searched exactly beside the graph. */
  tail: VectorIndex;
  /** The file kept in the folder, or null for a temporary one (already deleted). */
  graphFile: string | null;
}

/**
 * The dense index of one knowledge base generation in the embedded store: every unit vector in an
 * exact {@link VectorIndex}, and, for large knowledge bases, an HNSW graph (usearch) over them that
 * answers instead of comparing every vector.
 *
 * The graph is built in a worker thread from the vectors held here and never changes once built:
 * vectors added since are searched exactly beside it (the tail), removed or replaced ones are
 * filtered out of its answers, and once these changes pass {@link DenseIndexOptions.changesBeforeRebuild}
 * a new graph is built in the background and takes over. With a folder, the graph is kept as a file
 * (`<knowledge base>.<generation>.<build>.usearch`, memory-mapped, the chunk id of each key beside it
 * in `….usearch.ids`, and a JSON description with the change feed position of the build and both
 * files' SHA-256); at start it is checked against that description and brought up to date from the
 * feed, else built again.
 */
export class DenseIndex {
  /** Every live vector. */
  readonly exact = new VectorIndex();
  readonly #knowledgeBaseId: string;
  readonly #generation: number;
  readonly #mode: DenseIndexMode;
  readonly #approximateFrom: number;
  readonly #directory: string | null;
  readonly #parameters: HnswParameters;
  readonly #buildThreads: number;
  readonly #changesBeforeRebuild: number;
  readonly #onBackgroundError: (error: Error) => void;
  #graph: LoadedGraph | null = null;
  /** Ids added or removed while a build reads the vectors: the new graph holds them stale. */
  #changedDuringBuild: Set<string> | null = null;
  #building: Promise<void> | null = null;
  /** When the last build failed (performance.now()): the next one waits {@link retryBuildAfterMs}. */
  #failedAt = Number.NEGATIVE_INFINITY;
  #closed = false;

  constructor(target: { knowledgeBaseId: string; generation: number }, options: DenseIndexOptions = {}) {
    this.#knowledgeBaseId = target.knowledgeBaseId;
    this.#generation = target.generation;
    this.#mode = options.mode ?? 'auto';
    this.#approximateFrom = options.approximateFrom ?? defaultApproximateFrom;
    this.#directory = options.directory ?? null;
    this.#parameters = {
      connectivity: options.connectivity ?? defaultHnswConnectivity,
      expansionAdd: options.expansionAdd ?? defaultHnswExpansionAdd,
      expansionSearch: options.expansionSearch ?? defaultHnswExpansionSearch,
    };
    this.#buildThreads = options.buildThreads ?? Math.max(1, os.availableParallelism() - 1);
    this.#changesBeforeRebuild = options.changesBeforeRebuild ?? defaultChangesBeforeRebuild;
    this.#onBackgroundError = options.onBackgroundError ?? ((error) => process.emitWarning(error));
    for (const [name, value] of Object.entries({ approximateFrom: this.#approximateFrom, ...this.#parameters, buildThreads: this.#buildThreads })) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
  }

  get size(): number {
    return this.exact.size;
  }

  get dimensions(): number {
    return this.exact.dimensions;
  }

  /** Whether searches go through the graph now (else they compare every vector). */
  get approximate(): boolean {
    return this.#graph !== null && this.#graphWanted();
  }

  /** Adds vectors (one whose id is present replaces it); throws as {@link VectorIndex.add} does. */
  add(entries: Iterable<VectorEntry>): void {
    for (const entry of entries) {
      this.exact.add([entry]);
      this.#changedDuringBuild?.add(entry.id);
      const graph = this.#graph;
      if (graph === null) continue;
      const key = graph.ids.numberOf(entry.id);
      if (key >= 0) graph.stale.add(key);
      graph.tail.add([{ id: entry.id, vector: this.exact.vectorOf(entry.id) as Float32Array }]);
    }
  }

  remove(ids: Iterable<string>): void {
    const list = [...ids];
    this.exact.remove(list);
    const graph = this.#graph;
    for (const id of list) {
      this.#changedDuringBuild?.add(id);
      if (graph === null) continue;
      const key = graph.ids.numberOf(id);
      if (key >= 0) graph.stale.add(key);
    }
    graph?.tail.remove(list);
  }

  /** The `topK` nearest vectors by cosine, best first: from the graph when {@link approximate}, else exactly. */
  search(query: ArrayLike<number>, topK: number): RankedHit[] {
    const graph = this.#graph;
    if (graph === null || !this.#graphWanted() || !(topK >= 1)) return this.exact.search(query, topK);
    if (query.length !== this.exact.dimensions) return this.exact.search(query, topK);
    let norm = 0;
    for (let index = 0; index < query.length; index += 1) norm += (query[index] as number) ** 2;
    norm = Math.sqrt(norm);
    if (!(norm > 0) || !Number.isFinite(norm)) return [];
    const unit = Float32Array.from(query, (value) => value / norm);

    const total = graph.ids.size;
    const live = total - graph.stale.size;
    const hits: RankedHit[] = [];
    if (live > 0) {
      // Stale keys take places in the graph's answer: ask for enough more that topK live ones remain, and more again if not.
      let wanted = Math.min(total, topK + Math.ceil((topK * graph.stale.size) / live) + (graph.stale.size > 0 ? 16 : 0));
      for (;;) {
        hits.length = 0;
        const matches = graph.index.search(unit, wanted, 1);
        for (let position = 0; position < matches.keys.length; position += 1) {
          const key = Number(matches.keys[position]);
          if (graph.stale.has(key)) continue;
          hits.push({ id: graph.ids.idOf(key), score: 1 - (matches.distances[position] as number) });
        }
        if (hits.length >= topK || wanted >= total || matches.keys.length < wanted) break;
        wanted = Math.min(total, wanted * 2);
      }
    }
    hits.push(...graph.tail.search(unit, topK));
    hits.sort(compareRankedHits);
    return hits.slice(0, topK);
  }

  /**
   * Starts a background build of the graph when one is wanted and missing, or when the changes
   * since the last one passed the bound; `sequence` is the change feed position the vectors held
   * here are at.
   */
  maintain(sequence: number): void {
    if (this.#closed || this.#building !== null || !this.#graphWanted()) return;
    if (performance.now() - this.#failedAt < retryBuildAfterMs) return;
    const graph = this.#graph;
    if (graph !== null) {
      const changes = graph.stale.size + graph.tail.size;
      if (changes < Math.max(this.#changesBeforeRebuild, Math.floor(graph.ids.size / 20))) return;
    }
    this.#building = this.#build(sequence)
      .catch((error: unknown) => {
        this.#failedAt = performance.now();
        this.#onBackgroundError(error instanceof Error ? error : new Error(String(error)));
      })
      .finally(() => {
        this.#building = null;
        this.#changedDuringBuild = null;
      });
  }

  /** Resolves once no build is under way. */
  async idle(): Promise<void> {
    while (this.#building !== null) await this.#building;
  }

  /**
   * Takes up the graph kept in the folder, when there is one that matches these vectors: its
   * description readable and of this generation, dimension and build parameters, its file of the
   * size and SHA-256 described. `changedSince(sequence)` names the chunks that may have changed since
   * the feed position the graph was built at (null: too much changed, build anew). Anything else is
   * deleted, for {@link maintain} to build again.
   */
  async open(changedSince: (sequence: number) => Promise<Set<string> | null>): Promise<void> {
    const directory = this.#directory;
    if (directory === null || this.#mode === 'exact' || this.exact.size === 0) return;
    const usearch = await loadUsearch();
    if (usearch === null) return;
    const descriptionFile = this.#descriptionFile(directory);
    let text: string;
    try {
      text = await readFile(descriptionFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const description = parseGraphDescription(text);
    const usable = description !== null && (await this.#matches(directory, description)) ? description : null;
    const changed = usable === null ? null : await changedSince(usable.sequence);
    if (usable === null || changed === null || this.#closed) {
      await removeDenseIndexFiles(directory, this.#knowledgeBaseId, this.#generation);
      return;
    }
    const ids = await readGraphIds(path.join(directory, usable.idsFile), usable.idCount);
    if (ids === null || this.#closed) {
      await removeDenseIndexFiles(directory, this.#knowledgeBaseId, this.#generation);
      return;
    }
    const graphFile = path.join(directory, usable.graphFile);
    const index = newUsearchIndex(usearch, usable.dimensions, this.#parameters);
    index.view(graphFile);
    const during = new Set<string>();
    this.#changedDuringBuild = during;
    try {
      const graph = await this.#reconcile(index, ids, changed, graphFile, true);
      if (this.#closed) return;
      applyChanges(graph, during, this.exact);
      this.#graph = graph;
    } finally {
      this.#changedDuringBuild = null;
    }
  }

  /** Stops using the graph; waits for a build under way (its result is dropped). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#graph = null;
    await this.idle();
  }

  #graphWanted(): boolean {
    if (this.#mode === 'exact' || this.exact.size === 0) return false;
    return this.#mode === 'approximate' || this.exact.size >= this.#approximateFrom;
  }

  async #matches(directory: string, description: HnswGraphDescription): Promise<boolean> {
    if (
      description.knowledgeBaseId !== this.#knowledgeBaseId ||
      description.generation !== this.#generation ||
      description.dimensions !== this.exact.dimensions ||
      description.connectivity !== this.#parameters.connectivity ||
      description.expansionAdd !== this.#parameters.expansionAdd
    ) {
      return false;
    }
    const graphFile = path.join(directory, description.graphFile);
    const idsFile = path.join(directory, description.idsFile);
    const size = await stat(graphFile).then(
      (stats) => stats.size,
      () => -1,
    );
    if (size !== description.bytes || (await sha256OfFile(graphFile)) !== description.sha256) return false;
    return (await sha256OfFile(idsFile).catch(() => null)) === description.idsSha256;
  }

  /**
   * The graph's bookkeeping against the vectors held now: keys whose chunk is gone or changed are
   * stale, and the vectors the graph lacks (or holds an older version of) go to the tail.
   * `everyVector` compares all of them (a graph from a file); else only the `changed` ones.
   */
  async #reconcile(index: UsearchIndex, ids: IdTable, changed: Set<string>, graphFile: string | null, everyVector: boolean): Promise<LoadedGraph> {
    const slice = new TimeSlice();
    const stale = new Set<number>();
    const exactIds = this.exact.idTable;
    // Ids compared as UTF-8 between the two tables: a million of them make no strings.
    if (everyVector) {
      for (let key = 0; key < ids.size; key += 1) {
        if (exactIds.numberOfIdIn(ids, key) < 0) stale.add(key);
        if ((key & 1023) === 0) await slice.yieldIfSpent();
      }
    }
    for (const id of changed) {
      const key = ids.numberOf(id);
      if (key >= 0) stale.add(key);
    }
    const tail = new VectorIndex();
    const addToTail = (id: string) => {
      const vector = this.exact.vectorOf(id);
      if (vector !== undefined) tail.add([{ id, vector }]);
    };
    if (everyVector) {
      for (let slot = 0; slot < exactIds.size; slot += 1) {
        if (this.exact.isLive(slot)) {
          const key = ids.numberOfIdIn(exactIds, slot);
          if (key < 0 || stale.has(key)) addToTail(exactIds.idOf(slot));
        }
        if ((slot & 1023) === 0) await slice.yieldIfSpent();
      }
    } else {
      for (const id of changed) addToTail(id);
    }
    return { index, ids, stale, tail, graphFile };
  }

  async #build(sequence: number): Promise<void> {
    const usearch = await loadUsearch();
    if (usearch === null) return;
    const changed = new Set<string>();
    this.#changedDuringBuild = changed;
    const dimensions = this.exact.dimensions;
    const temporary = this.#directory === null ? await mkdtemp(path.join(os.tmpdir(), 'passage-hnsw-')) : null;
    const directory = temporary ?? this.#directory;
    if (directory === null) return;
    await mkdir(directory, { recursive: true });
    const build = randomUUID().slice(0, 8);
    const graphFile = path.join(directory, `${fileBase(this.#knowledgeBaseId, this.#generation)}.${build}.usearch`);
    const partial = `${this.#descriptionFile(directory)}.${build}.partial`;
    try {
      const ids: string[] = [];
      const exact = this.exact;
      // The slots held now, by their ids as this table numbers them: each page's ids are decoded when
      // it is made (a million at once held the event loop ~300 ms). The table stays valid if the index
      // compacts meanwhile (it then takes a new one); what changes meanwhile is in `changed`.
      const table = exact.idTable;
      const slots = table.size;
      async function* pages(): AsyncGenerator<HnswVectorPage> {
        const slice = new TimeSlice();
        for (let offset = 0; offset < slots; offset += pageVectors) {
          const page: string[] = [];
          const end = Math.min(slots, offset + pageVectors);
          const vectors = new Float32Array((end - offset) * dimensions);
          for (let slot = offset; slot < end; slot += 1) {
            if (table.isForgotten(slot)) continue;
            const id = table.idOf(slot);
            const vector = exact.dimensions === dimensions ? exact.vectorOf(id) : undefined;
            if (vector === undefined) continue;
            vectors.set(vector, page.length * dimensions);
            page.push(id);
          }
          ids.push(...page);
          yield { ids: page, vectors: vectors.slice(0, page.length * dimensions) };
          await slice.yieldIfSpent();
        }
      }
      await buildHnswGraphInThread(
        {
          knowledgeBaseId: this.#knowledgeBaseId,
          generation: this.#generation,
          sequence,
          dimensions,
          parameters: { connectivity: this.#parameters.connectivity, expansionAdd: this.#parameters.expansionAdd },
          threads: this.#buildThreads,
          graphFile,
          descriptionFile: partial,
        },
        pages(),
      );
      if (this.#closed || this.exact.dimensions !== dimensions) {
        await removeGraphFiles(graphFile);
        return;
      }
      const index = newUsearchIndex(usearch, dimensions, this.#parameters);
      index.view(graphFile);
      const graph = await this.#reconcile(index, await IdTable.of(ids), new Set(changed), temporary === null ? graphFile : null, false);
      if (this.#closed) return;
      // What changed while the reconciliation let the event loop run, too.
      applyChanges(graph, changed, this.exact);
      const previous = this.#graph;
      this.#graph = graph;
      this.#changedDuringBuild = null;
      if (temporary === null) {
        await rename(partial, this.#descriptionFile(directory));
        if (previous?.graphFile != null && previous.graphFile !== graphFile) await removeGraphFiles(previous.graphFile);
      }
    } finally {
      await rm(partial, { force: true });
      // A mapped file stays readable once deleted: the temporary folder goes at once.
      if (temporary !== null) await rm(temporary, { recursive: true, force: true });
    }
  }

  #descriptionFile(directory: string): string {
    return path.join(directory, `${fileBase(this.#knowledgeBaseId, this.#generation)}.json`);
  }
}

/** How long after a failed build the next one may start, ms. */
const retryBuildAfterMs = 60_000;

/** Vectors per page posted to the build thread: 1.5 MB of 384-dimension vectors. */
const pageVectors = 1024;

/** Marks the graph's keys of `ids` stale and puts their present vectors in its tail (synchronously: nothing changes meanwhile). */
function applyChanges(graph: LoadedGraph, ids: Set<string>, exact: VectorIndex): void {
  for (const id of ids) {
    const key = graph.ids.numberOf(id);
    if (key >= 0) graph.stale.add(key);
    const vector = exact.vectorOf(id);
    if (vector === undefined) graph.tail.remove([id]);
    else graph.tail.add([{ id, vector }]);
  }
}

/** A graph file and the ids file the build wrote beside it. */
async function removeGraphFiles(graphFile: string): Promise<void> {
  await Promise.all([rm(graphFile, { force: true }), rm(`${graphFile}.ids`, { force: true })]);
}

function fileBase(knowledgeBaseId: string, generation: number): string {
  return `${encodeURIComponent(knowledgeBaseId)}.${generation}`;
}

/** Deletes the graphs kept for a knowledge base (one generation of it, or all). */
export async function removeDenseIndexFiles(directory: string, knowledgeBaseId: string, generation?: number): Promise<void> {
  const prefix = generation === undefined ? `${encodeURIComponent(knowledgeBaseId)}.` : `${fileBase(knowledgeBaseId, generation)}.`;
  const names = await readdir(directory).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [] as string[];
    throw error;
  });
  await Promise.all(names.filter((name) => name.startsWith(prefix)).map((name) => rm(path.join(directory, name), { force: true })));
}
