import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bm25Index, type Bm25Entry } from './bm25-index.js';
import { seededRandom } from '@passage/testing';

// Lengths 3, 4 and 5: N = 3, avgdl = 4. df(a) = 2, df(b) = 2, df(c) = 1, df(d) = 1.
const corpus: Bm25Entry[] = [
  { id: 'd1', terms: { a: 2, b: 1 } },
  { id: 'd2', terms: { a: 1, c: 3 } },
  { id: 'd3', terms: { b: 2, d: 3 } },
];

function indexOf(entries: Bm25Entry[]): Bm25Index {
  const index = new Bm25Index();
  index.add(entries);
  return index;
}

function assertClose(actual: number | undefined, expected: number): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `expected ${expected}, got ${actual}`);
}

function randomCorpus(count: number, seed: number): Bm25Entry[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, number) => {
    const terms: Record<string, number> = {};
    const length = 1 + Math.floor(random() * 30);
    for (let position = 0; position < length; position += 1) {
      // Squaring skews the draw towards a few frequent terms, as in text.
      const term = `t${Math.floor(random() ** 2 * 50)}`;
      terms[term] = (terms[term] ?? 0) + 1;
    }
    return { id: `doc-${String(number).padStart(4, '0')}`, terms };
  });
}

describe('Bm25Index', () => {
  it('scores with the BM25 formula and the non-negative IDF', () => {
    const index = indexOf(corpus);
    const k1 = 1.2;
    const b = 0.75;
    const idfA = Math.log(1 + (3 - 2 + 0.5) / (2 + 0.5)); // ln 1.6
    const idfC = Math.log(1 + (3 - 1 + 0.5) / (1 + 0.5)); // ln (8/3)
    // d1: f(a) = 2, |d1| = 3 → 2 · 2.2 / (2 + 1.2 · (0.25 + 0.75 · 3/4)) = 4.4 / 2.975
    const d1 = idfA * ((2 * (k1 + 1)) / (2 + k1 * (1 - b + (b * 3) / 4)));
    assertClose(d1, (Math.log(1.6) * 4.4) / 2.975);
    // d2: f(a) = 1, f(c) = 3, |d2| = 4 = avgdl → the length factor is 1.
    const d2 = idfA * (2.2 / (1 + 1.2)) + idfC * ((3 * 2.2) / (3 + 1.2));
    assertClose(d2, Math.log(1.6) + (Math.log(8 / 3) * 6.6) / 4.2);

    const hits = index.search({ a: 1, c: 1 }, 10);
    assert.deepEqual(
      hits.map((hit) => hit.id),
      ['d2', 'd1'],
    );
    assertClose(hits[0]?.score, d2);
    assertClose(hits[1]?.score, d1);

    // The query weight multiplies: a repeated query term counts twice.
    const weighted = index.search({ a: 2 }, 10);
    assertClose(weighted.find((hit) => hit.id === 'd1')?.score, 2 * d1);

    // A term in every document still scores above zero: N = 3, df = 3 → ln(1 + 0.5 / 3.5).
    const everywhere = indexOf([
      { id: 'x', terms: { z: 1 } },
      { id: 'y', terms: { z: 1 } },
      { id: 'w', terms: { z: 1 } },
    ]);
    for (const hit of everywhere.search({ z: 1 }, 3)) assertClose(hit.score, Math.log(1 + 0.5 / 3.5));
  });

  it('honours k1 and b', () => {
    const index = new Bm25Index({ k1: 2, b: 0 });
    index.add(corpus);
    const idfD = Math.log(1 + 2.5 / 1.5);
    // b = 0: no length normalisation, f(d) = 3 in d3 → 3 · 3 / (3 + 2).
    assertClose(index.search({ d: 1 }, 1)[0]?.score, (idfD * 9) / 5);
    assert.throws(() => new Bm25Index({ b: 1.5 }), RangeError);
    assert.throws(() => new Bm25Index({ k1: -1 }), RangeError);
  });

  it('ranks by score then by id, and cuts at topK', () => {
    const index = indexOf([
      { id: 'c', terms: { x: 1 } },
      { id: 'a', terms: { x: 1 } },
      { id: 'b', terms: { x: 1 } },
      { id: 'best', terms: { x: 5 } },
      { id: 'none', terms: { y: 1 } },
    ]);
    assert.deepEqual(
      index.search({ x: 1 }, 10).map((hit) => hit.id),
      ['best', 'a', 'b', 'c'],
    );
    assert.deepEqual(
      index.search({ x: 1 }, 2).map((hit) => hit.id),
      ['best', 'a'],
    );
    assert.deepEqual(index.search({ x: 1 }, 0), []);
  });

  it('returns nothing for an empty or unknown query, or an empty index', () => {
    const index = indexOf(corpus);
    assert.deepEqual(index.search({}, 10), []);
    assert.deepEqual(index.search({ unknown: 1 }, 10), []);
    assert.deepEqual(index.search({ a: 0 }, 10), []);
    assert.deepEqual(new Bm25Index().search({ a: 1 }, 10), []);
  });

  it('replaces a document added again under the same id', () => {
    const index = indexOf(corpus);
    index.add([{ id: 'd1', terms: { c: 1, e: 4 } }]);
    assert.equal(index.size, 3);
    const fresh = indexOf([corpus[1] as Bm25Entry, corpus[2] as Bm25Entry, { id: 'd1', terms: { c: 1, e: 4 } }]);
    for (const query of [{ a: 1 }, { c: 1 }, { e: 1, b: 1 }] as Array<Record<string, number>>) {
      assert.deepEqual(index.search(query, 10), fresh.search(query, 10));
    }
    assert.deepEqual(
      index.search({ a: 1 }, 10).map((hit) => hit.id),
      ['d2'],
    );
  });

  it('keeps N, df and avgdl exact on removal', () => {
    const index = indexOf(corpus);
    index.remove(['d3', 'missing']);
    assert.equal(index.size, 2);
    assert.equal(index.has('d3'), false);
    assert.equal(index.has('d1'), true);
    const fresh = indexOf(corpus.slice(0, 2));
    for (const query of [{ a: 1 }, { b: 1 }, { a: 1, b: 2, c: 1 }, { d: 1 }] as Array<Record<string, number>>) {
      assert.deepEqual(index.search(query, 10), fresh.search(query, 10));
    }
    index.remove(['d1', 'd2']);
    assert.equal(index.size, 0);
    assert.deepEqual(index.search({ a: 1 }, 10), []);
    index.add(corpus);
    assert.deepEqual(index.search({ a: 1, c: 1 }, 10), indexOf(corpus).search({ a: 1, c: 1 }, 10));
  });

  it('gives scores identical to a fresh index after many removals and re-adds (compaction included)', () => {
    const entries = randomCorpus(400, 7);
    const random = seededRandom(11);
    const removed = new Set(entries.filter(() => random() < 0.7).map((entry) => entry.id));
    const replaced = randomCorpus(30, 99).map((entry, number) => ({ ...entry, id: (entries[number * 3] as Bm25Entry).id }));

    const index = indexOf(entries);
    index.remove(removed);
    index.add(replaced);

    const survivors = entries.filter((entry) => !removed.has(entry.id) && !replaced.some((other) => other.id === entry.id));
    const fresh = indexOf([...replaced, ...survivors]);
    assert.equal(index.size, fresh.size);
    for (let queryNumber = 0; queryNumber < 20; queryNumber += 1) {
      const query = { [`t${queryNumber}`]: 1, [`t${queryNumber * 2 + 1}`]: 2 };
      assert.deepEqual(index.search(query, 1000), fresh.search(query, 1000));
    }
  });

  it('applies the filter before taking topK', () => {
    const index = indexOf(corpus);
    const hits = index.search({ a: 1, b: 1, c: 1 }, 1, { filter: (id) => id !== 'd2' });
    assert.equal(hits.length, 1);
    assert.notEqual(hits[0]?.id, 'd2');
    assert.deepEqual(index.search({ a: 1 }, 10, { filter: () => false }), []);
    assert.throws(() =>
      index.search({ a: 1 }, 10, {
        filter: () => {
          throw new Error('filter failed');
        },
      }),
    );
    assert.deepEqual(index.search({ a: 1 }, 10), indexOf(corpus).search({ a: 1 }, 10), 'a throwing filter leaves no residue');
    const unfiltered = index.search({ a: 1, b: 1, c: 1 }, 10).filter((hit) => hit.id !== 'd2');
    assert.deepEqual(index.search({ a: 1, b: 1, c: 1 }, 10, { filter: (id) => id !== 'd2' }), unfiltered);
  });

  it('adds a boost to each matching document before ranking', () => {
    const index = indexOf(corpus);
    const plain = index.search({ a: 1, c: 1 }, 10);
    assert.deepEqual(
      plain.map((hit) => hit.id),
      ['d2', 'd1'],
    );
    const gap = (plain[0]?.score ?? 0) - (plain[1]?.score ?? 0);
    const boosted = index.search({ a: 1, c: 1 }, 1, { boost: (id) => (id === 'd1' ? gap + 1 : 0) });
    assert.deepEqual(
      boosted.map((hit) => hit.id),
      ['d1'],
    );
    assertClose(boosted[0]?.score, (plain[1]?.score ?? 0) + gap + 1);
    // Documents that match no query term get no boost and stay out.
    assert.deepEqual(
      index.search({ c: 1 }, 10, { boost: () => 5 }).map((hit) => hit.id),
      ['d2'],
    );
  });

  it('scores every matching document with scoreAll, the same as search', () => {
    const index = indexOf(corpus);
    const all = index.scoreAll({ a: 1, b: 1, d: 1 });
    assert.deepEqual([...all.keys()].sort(), ['d1', 'd2', 'd3']);
    for (const hit of index.search({ a: 1, b: 1, d: 1 }, 10)) assertClose(all.get(hit.id), hit.score);
    assert.equal(index.scoreAll({ unknown: 1 }).size, 0);
    // The shared accumulator is left clean: a search afterwards is unaffected.
    assert.deepEqual(index.search({ a: 1 }, 10), indexOf(corpus).search({ a: 1 }, 10));
  });

  it('finds the same top hits as a full sort on a larger corpus', () => {
    const entries = randomCorpus(2000, 3);
    const index = indexOf(entries);
    const full = index.search({ t3: 1, t17: 1, t40: 1 }, entries.length);
    const top = index.search({ t3: 1, t17: 1, t40: 1 }, 25);
    assert.deepEqual(top, full.slice(0, 25));
    for (let position = 1; position < full.length; position += 1) {
      const previous = full[position - 1] as { id: string; score: number };
      const current = full[position] as { id: string; score: number };
      assert.ok(previous.score > current.score || (previous.score === current.score && previous.id < current.id));
    }
  });

  it('compacts in steps after a deferred removal: searches between steps and after it rank as before the compaction', () => {
    const entries = randomCorpus(2000, 5);
    const stepped = indexOf(entries);
    const reference = indexOf(entries);
    const removed = entries.slice(0, 1500).map((entry) => entry.id);
    stepped.remove(removed, { deferCompaction: true });
    reference.remove(removed);
    assert.equal(stepped.needsCompaction, true);
    const query = { t3: 1, t17: 1, t40: 1 };
    const expected = reference.search(query, 50);
    let steps = 0;
    for (const _step of stepped.compactionSteps(500)) {
      steps += 1;
      assert.deepEqual(stepped.search(query, 50), expected);
    }
    assert.ok(steps > 1, 'the compaction took more than one step');
    assert.equal(stepped.needsCompaction, false);
    assert.deepEqual(stepped.search(query, 50), expected);
  });

  it('starts a stepped compaction over when the index changes between its steps', () => {
    const entries = randomCorpus(2000, 7);
    const index = indexOf(entries);
    index.remove(
      entries.slice(0, 1500).map((entry) => entry.id),
      { deferCompaction: true },
    );
    const steps = index.compactionSteps(500);
    steps.next();
    index.add([{ id: 'late', terms: { t3: 50 } }]);
    for (let next = steps.next(); next.done !== true; next = steps.next());
    assert.equal(index.needsCompaction, false);
    assert.equal(index.search({ t3: 1 }, 1)[0]?.id, 'late');
  });
});
