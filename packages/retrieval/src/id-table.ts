/**
 * Strings (chunk ids) numbered 0, 1, 2… in the order they were given, kept as UTF-8 in one buffer
 * with an open-addressing hash index over it: a million ids are a few typed arrays (about 60 MB for
 * ids of 40 bytes) rather than a million strings and a Map, which the garbage collector would walk
 * at every full collection (at a million chunks, one such collection held the event loop ~100 ms).
 * The layout of the ids is that of an HNSW graph's ids file (see hnsw-graph.ts), so a table is made
 * from that file's bytes without decoding a string. Ids can be added (the next number) and forgotten
 * (their number is not given again), as the exact vector index's slots are.
 */
import { TimeSlice } from '@passage/spec';

const encoder = new TextEncoder();
/** Free place of the hash index. */
const empty = -1;
/** A place whose id was forgotten: probes go on past it. */
const tombstone = -2;

/** FNV-1a over bytes [start, end). */
function hashOf(bytes: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let index = start; index < end; index += 1) {
    hash ^= bytes[index] as number;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export class IdTable {
  #text: Uint8Array;
  #textLength: number;
  /** Where id i's bytes are in `#text`: [offsets[i], offsets[i + 1]); room for more ids beyond `#count`. */
  #offsets: Uint32Array;
  #count: number;
  /** By number, 1 once {@link forget} took it out of the index (its bytes stay, for {@link idOf}). */
  #forgotten: Uint8Array;
  #places: Int32Array;
  #mask: number;
  /** Places taken, by ids or by the tombstones of forgotten ones. */
  #used = 0;
  #scratch = new Uint8Array(256);

  private constructor(text: Uint8Array, textLength: number, offsets: Uint32Array, count: number, expected = count) {
    this.#text = text;
    this.#textLength = textLength;
    this.#offsets = offsets;
    this.#count = count;
    this.#forgotten = new Uint8Array(offsets.length);
    this.#places = new Int32Array(IdTable.#capacityFor(expected)).fill(empty);
    this.#mask = this.#places.length - 1;
  }

  /** An empty table, with room for `expected` ids before its index grows. */
  static empty(expected = 0): IdTable {
    return new IdTable(new Uint8Array(Math.max(64, expected * 16)), 0, new Uint32Array(Math.max(16, expected) + 1), 0, expected);
  }

  /** Ids numbered so far (forgotten ones too: numbers are never reused). */
  get size(): number {
    return this.#count;
  }

  /** A table of `ids`, numbered in their order; a repeated id keeps its first number. Made with the event loop free every few milliseconds. */
  static async of(ids: readonly string[]): Promise<IdTable> {
    const slice = new TimeSlice();
    const offsets = new Uint32Array(ids.length + 1);
    for (let index = 0; index < ids.length; index += 1) {
      offsets[index + 1] = (offsets[index] as number) + Buffer.byteLength(ids[index] as string, 'utf8');
      if ((index & 4095) === 4095) await slice.yieldIfSpent();
    }
    const text = new Uint8Array(offsets[ids.length] as number);
    for (let index = 0; index < ids.length; index += 1) {
      encoder.encodeInto(ids[index] as string, text.subarray(offsets[index], offsets[index + 1]));
      if ((index & 4095) === 4095) await slice.yieldIfSpent();
    }
    return IdTable.#indexed(new IdTable(text, text.byteLength, offsets, ids.length));
  }

  /**
   * The table of the ids encoded as an ids file lays them out (`offsets`: count + 1 byte offsets
   * into `text`, ascending); null when the offsets do not fit the text. Indexed in time slices.
   */
  static async fromEncoded(text: Uint8Array, offsets: Uint32Array): Promise<IdTable | null> {
    if (offsets.length === 0 || offsets[0] !== 0 || offsets[offsets.length - 1] !== text.byteLength) return null;
    for (let index = 1; index < offsets.length; index += 1) if ((offsets[index] as number) < (offsets[index - 1] as number)) return null;
    return IdTable.#indexed(new IdTable(text, text.byteLength, offsets, offsets.length - 1));
  }

  static async #indexed(table: IdTable): Promise<IdTable> {
    const slice = new TimeSlice();
    for (let number = 0; number < table.#count; number += 1) {
      table.#place(number, true);
      if ((number & 4095) === 4095) await slice.yieldIfSpent();
    }
    return table;
  }

  /** At most half full: short probe runs. */
  static #capacityFor(ids: number): number {
    let capacity = 16;
    while (capacity < ids * 2) capacity *= 2;
    return capacity;
  }

  /** The number of `id`, or −1 when it is not in the table (or was forgotten). */
  numberOf(id: string): number {
    const length = this.#encode(id);
    return this.#find(this.#scratch, 0, length);
  }

  /** The number here of the id `other` numbers `number` (compared as UTF-8, no string made), or −1. */
  numberOfIdIn(other: IdTable, number: number): number {
    return this.#find(other.#text, other.#offsets[number] as number, other.#offsets[number + 1] as number);
  }

  /** Whether `number` was forgotten (its id taken out of the index). */
  isForgotten(number: number): boolean {
    return this.#forgotten[number] === 1;
  }

  /** The id numbered `number` (a forgotten one too). */
  idOf(number: number): string {
    return Buffer.from(this.#text.buffer, this.#text.byteOffset, this.#text.byteLength).toString('utf8', this.#offsets[number], this.#offsets[number + 1]);
  }

  /** Numbers `id` (the next number) and returns its number; a RangeError when it is in the table already. */
  add(id: string): number {
    const length = this.#encode(id);
    if (this.#find(this.#scratch, 0, length) >= 0) throw new RangeError(`${id} is in the table already`);
    if (this.#textLength + length > this.#text.length) {
      const text = new Uint8Array(Math.max(this.#textLength + length, this.#text.length * 2));
      text.set(this.#text.subarray(0, this.#textLength));
      this.#text = text;
    }
    this.#text.set(this.#scratch.subarray(0, length), this.#textLength);
    this.#textLength += length;
    const number = this.#count;
    if (number + 2 > this.#offsets.length) {
      const offsets = new Uint32Array(this.#offsets.length * 2);
      offsets.set(this.#offsets);
      this.#offsets = offsets;
      const forgotten = new Uint8Array(offsets.length);
      forgotten.set(this.#forgotten);
      this.#forgotten = forgotten;
    }
    this.#offsets[number + 1] = this.#textLength;
    this.#count += 1;
    if ((this.#used + 1) * 2 > this.#places.length) this.#reindex();
    this.#place(number, false);
    return number;
  }

  /** Takes `id` out of the index (its number is not given again); returns its number, or −1 when it was not in the table. */
  forget(id: string): number {
    const length = this.#encode(id);
    const place = this.#placeOf(this.#scratch, 0, length);
    if (place < 0) return -1;
    const number = this.#places[place] as number;
    this.#places[place] = tombstone;
    this.#forgotten[number] = 1;
    return number;
  }

  /** The id's UTF-8 into the scratch buffer; its length. */
  #encode(id: string): number {
    // Room for the worst case: three bytes per UTF-16 code unit.
    if (this.#scratch.length < id.length * 3) this.#scratch = new Uint8Array(id.length * 3);
    return encoder.encodeInto(id, this.#scratch).written;
  }

  /** Indexes `number`; `unlessPresent`: not when an equal id is indexed already (it keeps its number). */
  #place(number: number, unlessPresent: boolean): void {
    const start = this.#offsets[number] as number;
    const end = this.#offsets[number + 1] as number;
    if (unlessPresent && this.#find(this.#text, start, end) >= 0) return;
    let place = hashOf(this.#text, start, end) & this.#mask;
    while ((this.#places[place] as number) >= 0) place = (place + 1) & this.#mask;
    if (this.#places[place] === empty) this.#used += 1;
    this.#places[place] = number;
  }

  /** A larger index (or the same size, rid of tombstones) holding every id not forgotten. */
  #reindex(): void {
    let live = 0;
    for (let number = 0; number < this.#count; number += 1) if (this.#forgotten[number] === 0) live += 1;
    this.#places = new Int32Array(IdTable.#capacityFor(live + 1)).fill(empty);
    this.#mask = this.#places.length - 1;
    this.#used = 0;
    // The number being added is placed by the caller.
    for (let number = 0; number < this.#count - 1; number += 1) if (this.#forgotten[number] === 0) this.#place(number, false);
  }

  /** The number of the id whose UTF-8 is bytes [start, end), or −1. */
  #find(bytes: Uint8Array, start: number, end: number): number {
    const place = this.#placeOf(bytes, start, end);
    return place < 0 ? -1 : (this.#places[place] as number);
  }

  /** The place of the id whose UTF-8 is bytes [start, end), or −1. */
  #placeOf(bytes: Uint8Array, start: number, end: number): number {
    const length = end - start;
    let place = hashOf(bytes, start, end) & this.#mask;
    for (;;) {
      const number = this.#places[place] as number;
      if (number === empty) return -1;
      if (number >= 0) {
        const from = this.#offsets[number] as number;
        if ((this.#offsets[number + 1] as number) - from === length) {
          let same = true;
          for (let index = 0; index < length; index += 1) {
            if (this.#text[from + index] !== bytes[start + index]) {
              same = false;
              break;
            }
          }
          if (same) return place;
        }
      }
      place = (place + 1) & this.#mask;
    }
  }
}
