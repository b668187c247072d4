import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '@passage/testing';
import { VectorIndex, type VectorEntry } from './vector-index.js';

function indexOf(entries: VectorEntry[]): VectorIndex {
  const index = new VectorIndex();
  index.add(entries);
  return index;
}

function assertClose(actual: number | undefined, expected: number): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-6, `expected ${expected}, got ${actual}`);
}

function randomEntries(count: number, dimensions: number, seed: number, prefix = 'v'): VectorEntry[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, number) => ({
    id: `${prefix}-${String(number).padStart(4, '0')}`,
    vector: Array.from({ length: dimensions }, () => random() * 2 - 1),
  }));
}

describe('VectorIndex', () => {
  it('ranks by cosine similarity, whatever the vectors’ lengths', () => {
    const index = indexOf([
      { id: 'east', vector: [10, 0] },
      { id: 'north-east', vector: [1, 1] },
      { id: 'north', vector: [0, 0.5] },
      { id: 'west', vector: [-3, 0] },
    ]);
    const hits = index.search([2, 0], 10);
    assert.deepEqual(
      hits.map((hit) => hit.id),
      ['east', 'north-east', 'north', 'west'],
    );
    assertClose(hits[0]?.score, 1);
    assertClose(hits[1]?.score, Math.SQRT1_2);
    assertClose(hits[2]?.score, 0);
    assertClose(hits[3]?.score, -1);
    assert.deepEqual(
      index.search([0, 1], 2).map((hit) => hit.id),
      ['north', 'north-east'],
    );
    assert.equal(index.dimensions, 2);
    assert.equal(index.size, 4);
  });

  it('breaks ties by id and cuts at topK', () => {
    const index = indexOf([
      { id: 'c', vector: [1, 0] },
      { id: 'a', vector: [2, 0] },
      { id: 'b', vector: [0, 1] },
    ]);
    assert.deepEqual(
      index.search([1, 0], 2).map((hit) => hit.id),
      ['a', 'c'],
    );
    assert.deepEqual(index.search([1, 0], 0), []);
    assert.deepEqual(new VectorIndex().search([1, 0], 3), []);
  });

  it('refuses vectors of another dimension and vectors without a direction', () => {
    const index = indexOf([{ id: 'a', vector: [1, 0, 0] }]);
    assert.throws(() => index.add([{ id: 'b', vector: [1, 0] }]), RangeError);
    assert.throws(() => index.add([{ id: 'a', vector: [1, 0] }]), RangeError, 'a replacement too');
    assert.throws(() => index.add([{ id: 'z', vector: [0, 0, 0] }]), RangeError);
    assert.throws(() => index.add([{ id: 'n', vector: [Number.NaN, 1, 0] }]), RangeError);
    assert.throws(() => index.search([1, 0], 3), RangeError);
    assert.equal(index.size, 1);
    assert.deepEqual(index.search([0, 0, 0], 3), [], 'a zero query matches nothing');
    // Emptied, the index takes vectors of any size again.
    index.remove(['a']);
    index.add([{ id: 'b', vector: [1, 0] }]);
    assert.equal(index.dimensions, 2);
  });

  it('replaces a vector added again under the same id', () => {
    const index = indexOf([
      { id: 'a', vector: [1, 0] },
      { id: 'b', vector: [0, 1] },
    ]);
    index.add([{ id: 'a', vector: [0, 1] }]);
    assert.equal(index.size, 2);
    assertClose(index.search([0, 1], 1)[0]?.score, 1);
    assert.deepEqual(
      index.search([1, 0], 2).map((hit) => hit.id),
      ['a', 'b'],
    );
  });

  it('gives the same results as a fresh index after many removals and re-adds (compaction included)', () => {
    const entries = randomEntries(500, 16, 5);
    const random = seededRandom(9);
    const removed = new Set(entries.filter(() => random() < 0.8).map((entry) => entry.id));
    const replaced = randomEntries(20, 16, 77).map((entry, number) => ({ ...entry, id: (entries[number * 7] as VectorEntry).id }));
    const index = indexOf(entries);
    index.remove(removed);
    index.add(replaced);
    const survivors = entries.filter((entry) => !removed.has(entry.id) && !replaced.some((other) => other.id === entry.id));
    const fresh = indexOf([...survivors, ...replaced]);
    assert.equal(index.size, fresh.size);
    for (const query of randomEntries(10, 16, 123)) assert.deepEqual(index.search(query.vector, 50), fresh.search(query.vector, 50));
    assert.equal(index.has((replaced[0] as VectorEntry).id), true);
  });

  it('finds the exact nearest neighbours among 10,000 vectors of 384 dimensions', () => {
    // Speed is bench:embedded's to measure; here, that a search at the embedder's size is exact.
    const entries = randomEntries(10_000, 384, 1);
    const index = indexOf(entries);
    const [query] = randomEntries(1, 384, 2, 'q');
    const vector = Array.from((query as VectorEntry).vector);
    const hits = index.search(vector, 100);
    const length = (values: number[]) => Math.sqrt(values.reduce((sum, value) => sum + value * value, 0));
    const cosine = (values: number[]) =>
      values.reduce((sum, value, position) => sum + value * (vector[position] as number), 0) / (length(values) * length(vector));
    const byCosine = entries
      .map((entry) => ({ id: entry.id, score: cosine(Array.from(entry.vector)) }))
      .sort((left, right) => right.score - left.score)
      .slice(0, 100);
    assert.deepEqual(
      hits.map((hit) => hit.id),
      byCosine.map((hit) => hit.id),
    );
  });

  it('ranks the same after reserve, whether it adds fewer vectors than reserved or more', () => {
    const entries = randomEntries(300, 8, 21);
    const plain = indexOf(entries);
    for (const reserved of [100, 1000]) {
      const index = new VectorIndex();
      index.reserve(reserved);
      index.add(entries);
      index.remove(['v-0007']);
      plain.remove(['v-0007']);
      assert.equal(index.size, 299);
      for (const query of randomEntries(5, 8, 22)) assert.deepEqual(index.search(query.vector, 10), plain.search(query.vector, 10));
      plain.add([entries[7] as VectorEntry]);
    }
  });
});
