/**
 * Strings (chunk ids) numbered 0, 1, 2… in the order they were given, kept as UTF-8 in one buffer
 * with an open-addressing hash index over it: a million ids are a few typed arrays (about 60 MB for
 * ids of 40 bytes) rather than a million strings and a Map, which the garbage collector would walk
 * at every full collection (at a million chunks, one such collection held the event loop ~100 ms).
 * The layout of the ids is that of an HNSW graph's ids file (see hnsw-graph.ts), so a table is made
 * from that file's bytes without decoding a string. Read-only once made: what a graph's keys are.
 */
import { TimeSlice } from '@passage/spec';

const encoder = new TextEncoder();
/** Free place of the hash index. */
const empty = -1;

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
  readonly #text: Uint8Array;
  /** Where id i's bytes are in `#text`: [offsets[i], offsets[i + 1]). */
  readonly #offsets: Uint32Array;
  readonly #places: Int32Array;
  readonly #mask: number;
  #scratch = new Uint8Array(256);

  private constructor(text: Uint8Array, offsets: Uint32Array) {
    this.#text = text;
    this.#offsets = offsets;
    let capacity = 16;
    // At most half full: short probe runs.
    while (capacity < (offsets.length - 1) * 2) capacity *= 2;
    this.#places = new Int32Array(capacity).fill(empty);
    this.#mask = capacity - 1;
  }

  /** Ids in the table. */
  get size(): number {
    return this.#offsets.length - 1;
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
    return IdTable.#indexed(new IdTable(text, offsets));
  }

  /**
   * The table of the ids encoded as an ids file lays them out (`offsets`: count + 1 byte offsets
   * into `text`, ascending); null when the offsets do not fit the text. Indexed in time slices.
   */
  static async fromEncoded(text: Uint8Array, offsets: Uint32Array): Promise<IdTable | null> {
    if (offsets.length === 0 || offsets[0] !== 0 || offsets[offsets.length - 1] !== text.byteLength) return null;
    for (let index = 1; index < offsets.length; index += 1) if ((offsets[index] as number) < (offsets[index - 1] as number)) return null;
    return IdTable.#indexed(new IdTable(text, offsets));
  }

  static async #indexed(table: IdTable): Promise<IdTable> {
    const slice = new TimeSlice();
    for (let number = 0; number < table.size; number += 1) {
      table.#place(number);
      if ((number & 4095) === 4095) await slice.yieldIfSpent();
    }
    return table;
  }

  /** The number of `id`, or −1 when it is not in the table. */
  numberOf(id: string): number {
    // Room for the worst case: three bytes per UTF-16 code unit.
    if (this.#scratch.length < id.length * 3) this.#scratch = new Uint8Array(id.length * 3);
    const { written } = encoder.encodeInto(id, this.#scratch);
    return this.#find(this.#scratch, 0, written);
  }

  /** The id numbered `number`. */
  idOf(number: number): string {
    return Buffer.from(this.#text.buffer, this.#text.byteOffset, this.#text.byteLength).toString('utf8', this.#offsets[number], this.#offsets[number + 1]);
  }

  #place(number: number): void {
    const start = this.#offsets[number] as number;
    const end = this.#offsets[number + 1] as number;
    if (this.#find(this.#text, start, end) >= 0) return;
    let place = hashOf(this.#text, start, end) & this.#mask;
    while (this.#places[place] !== empty) place = (place + 1) & this.#mask;
    this.#places[place] = number;
  }

  /** The number of the id whose UTF-8 is bytes [start, end), or −1. */
  #find(bytes: Uint8Array, start: number, end: number): number {
    const length = end - start;
    let place = hashOf(bytes, start, end) & this.#mask;
    for (;;) {
      const number = this.#places[place] as number;
      if (number === empty) return -1;
      const from = this.#offsets[number] as number;
      if ((this.#offsets[number + 1] as number) - from === length) {
        let same = true;
        for (let index = 0; index < length; index += 1) {
          if (this.#text[from + index] !== bytes[start + index]) {
            same = false;
            break;
          }
        }
        if (same) return number;
      }
      place = (place + 1) & this.#mask;
    }
  }
}
