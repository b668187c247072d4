/**
 * An in-memory dense index: exact (brute-force) cosine similarity over unit-length Float32 vectors.
 *
 * Vectors are normalised when added, so a search is one dot product per stored vector: about 4 ms
 * for 10,000 vectors of 384 dimensions on one core, and exact, which an approximate index (HNSW)
 * only is at a cost in memory and build time that a knowledge base of this size does not repay.
 * Memory: 4 bytes per dimension per vector (15 MB for 10,000 × 384), and the ids in an
 * {@link IdTable} (their UTF-8 and a hash index: no string objects for the garbage collector to walk).
 *
 * Every vector of one index has the same dimension, fixed by the first one added (an index built
 * with one embedding model cannot be searched with another's vectors). Removal leaves a tombstone;
 * once tombstones outnumber live vectors the storage is compacted.
 */
import { IdTable } from './id-table.js';
import { TopHeap, type RankedHit } from './top-heap.js';

export interface VectorEntry {
  id: string;
  vector: ArrayLike<number>;
}

const minimumTombstonesForCompaction = 64;

export class VectorIndex {
  #dimensions = 0;
  /** Unit vectors by slot, `dimensions` floats each; a removed slot keeps its stale floats. */
  #data = new Float32Array(0);
  /** The id of each slot: slot i is the table's number i. */
  #ids = IdTable.empty();
  /** By slot: 1 while its vector is in the index. */
  #live = new Uint8Array(0);
  #liveCount = 0;
  /** Vectors {@link reserve} made room for. */
  #reserved = 0;

  /** Number of vectors in the index. */
  get size(): number {
    return this.#liveCount;
  }

  /** Dimension of the stored vectors; 0 while the index has never held one. */
  get dimensions(): number {
    return this.#dimensions;
  }

  has(id: string): boolean {
    return this.#ids.numberOf(id) >= 0;
  }

  /** The ids of the slots (slot i is number i; a removed slot's number is forgotten): for lookups without strings. */
  get idTable(): IdTable {
    return this.#ids;
  }

  /** Whether the slot holds a vector. */
  isLive(slot: number): boolean {
    return this.#live[slot] === 1;
  }

  /** Makes room for `count` vectors in an empty index (a hint: adding that many then grows nothing, so no step copies them all). */
  reserve(count: number): void {
    if (this.#ids.size > 0 || !Number.isInteger(count) || count <= 0) return;
    this.#reserved = count;
    this.#live = new Uint8Array(count);
    this.#ids = IdTable.empty(count);
  }

  /** The stored (unit-length) vector of `id`, as a view that the next add or remove may change; undefined when absent. */
  vectorOf(id: string): Float32Array | undefined {
    const slot = this.#ids.numberOf(id);
    if (slot < 0) return undefined;
    return this.#data.subarray(slot * this.#dimensions, (slot + 1) * this.#dimensions);
  }

  /**
   * Adds vectors; one whose id is present replaces it. Throws a RangeError for a vector of another
   * dimension than the index's, or one with no direction (all zeros, or not finite).
   */
  add(entries: Iterable<VectorEntry>): void {
    for (const entry of entries) {
      const length = entry.vector.length;
      if (this.#dimensions === 0 && this.#liveCount === 0) this.#dimensions = length;
      if (length !== this.#dimensions || length === 0) {
        throw new RangeError(`Vector of ${entry.id} has ${length} dimensions; this index holds ${this.#dimensions}`);
      }
      let norm = 0;
      for (let index = 0; index < length; index += 1) norm += (entry.vector[index] as number) ** 2;
      norm = Math.sqrt(norm);
      if (!(norm > 0) || !Number.isFinite(norm)) throw new RangeError(`Vector of ${entry.id} cannot be normalised (norm ${norm})`);

      this.#removeOne(entry.id);
      const slot = this.#ids.size;
      this.#ensureCapacity(slot + 1);
      const offset = slot * length;
      for (let index = 0; index < length; index += 1) this.#data[offset + index] = (entry.vector[index] as number) / norm;
      this.#ids.add(entry.id);
      this.#live[slot] = 1;
      this.#liveCount += 1;
    }
    this.#compactIfWorthwhile();
  }

  remove(ids: Iterable<string>): void {
    for (const id of ids) this.#removeOne(id);
    this.#compactIfWorthwhile();
  }

  /**
   * The `topK` vectors most similar to the query by cosine, by score descending then id ascending.
   * Throws a RangeError when the query's dimension differs from the index's.
   */
  search(query: ArrayLike<number>, topK: number): RankedHit[] {
    if (!(topK >= 1) || this.#liveCount === 0) return [];
    const dimensions = this.#dimensions;
    if (query.length !== dimensions) {
      throw new RangeError(`The query vector has ${query.length} dimensions; this index holds ${dimensions}`);
    }
    let norm = 0;
    for (let index = 0; index < dimensions; index += 1) norm += (query[index] as number) ** 2;
    norm = Math.sqrt(norm);
    if (!(norm > 0) || !Number.isFinite(norm)) return [];
    const unit = new Float32Array(dimensions);
    for (let index = 0; index < dimensions; index += 1) unit[index] = (query[index] as number) / norm;

    const data = this.#data;
    const ids = this.#ids;
    const live = this.#live;
    const heap = new TopHeap(topK, (slot) => ids.idOf(slot));
    const tail = dimensions % 4;
    const slots = ids.size;
    for (let slot = 0; slot < slots; slot += 1) {
      if (live[slot] === 0) continue;
      const offset = slot * dimensions;
      // Four partial sums: fewer dependent additions per step, noticeably faster in V8.
      let sum0 = 0;
      let sum1 = 0;
      let sum2 = 0;
      let sum3 = 0;
      let index = 0;
      for (; index < dimensions - tail; index += 4) {
        sum0 += (unit[index] as number) * (data[offset + index] as number);
        sum1 += (unit[index + 1] as number) * (data[offset + index + 1] as number);
        sum2 += (unit[index + 2] as number) * (data[offset + index + 2] as number);
        sum3 += (unit[index + 3] as number) * (data[offset + index + 3] as number);
      }
      for (; index < dimensions; index += 1) sum0 += (unit[index] as number) * (data[offset + index] as number);
      const dot = sum0 + sum1 + sum2 + sum3;
      if (heap.wouldAccept(slot, dot)) heap.push(slot, dot);
    }
    return heap.sorted();
  }

  #ensureCapacity(slots: number): void {
    if (this.#live.length < slots) {
      const live = new Uint8Array(Math.max(slots, this.#live.length * 2, 64));
      live.set(this.#live);
      this.#live = live;
    }
    const needed = slots * this.#dimensions;
    if (this.#data.length >= needed) return;
    const grown = new Float32Array(Math.max(needed, this.#data.length * 2, 64 * this.#dimensions, this.#reserved * this.#dimensions));
    grown.set(this.#data);
    this.#data = grown;
  }

  #removeOne(id: string): void {
    const slot = this.#ids.forget(id);
    if (slot < 0) return;
    this.#live[slot] = 0;
    this.#liveCount -= 1;
  }

  #compactIfWorthwhile(): void {
    const tombstones = this.#ids.size - this.#liveCount;
    if (this.#liveCount === 0) {
      // Empty: forget the dimension too, so the index can take another model's vectors.
      this.#ids = IdTable.empty();
      this.#live = new Uint8Array(0);
      this.#data = new Float32Array(0);
      this.#reserved = 0;
      this.#dimensions = 0;
      return;
    }
    if (tombstones >= minimumTombstonesForCompaction && tombstones > this.#liveCount) this.#compact();
  }

  /** Moves the live vectors into consecutive slots, keeping their order. */
  #compact(): void {
    const dimensions = this.#dimensions;
    const data = new Float32Array(Math.max(this.#liveCount, 64) * dimensions);
    const live = new Uint8Array(Math.max(this.#liveCount, 64));
    const ids = IdTable.empty(this.#liveCount);
    for (let slot = 0; slot < this.#ids.size; slot += 1) {
      if (this.#live[slot] === 0) continue;
      const newSlot = ids.add(this.#ids.idOf(slot));
      data.set(this.#data.subarray(slot * dimensions, (slot + 1) * dimensions), newSlot * dimensions);
      live[newSlot] = 1;
    }
    this.#data = data;
    this.#live = live;
    this.#ids = ids;
  }
}
