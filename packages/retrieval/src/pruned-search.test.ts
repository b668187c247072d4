import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '@passage/spec';
import { LexicalSegment } from './lexical-segment.js';
import { LexicalSegmentBuilder } from './lexical-segment-builder.js';
import { searchPruned, type PrunedTerm } from './pruned-search.js';
import { SegmentedBm25Index } from './segmented-bm25-index.js';
import { TopHeap } from './top-heap.js';

interface Chunk {
  id: string;
  documentId: string;
  terms: Record<string, number>;
}

/** Documents of 1 to `maxChunks` chunks with Zipf-like terms; some chunks repeated word for word (ties), a few empty. */
function corpus(documents: number, maxChunks: number, seed: number, vocabulary = 2000): Chunk[] {
  const random = seededRandom(seed);
  const chunks: Chunk[] = [];
  for (let document = 0; document < documents; document += 1) {
    const count = 1 + Math.floor(random() * maxChunks);
    for (let ordinal = 0; ordinal < count; ordinal += 1) {
      const id = `c${seed}-${document}-${ordinal}`;
      const documentId = `d-${document.toString().padStart(5, '0')}`;
      const previous = chunks.at(-1);
      if (previous !== undefined && random() < 0.05) {
        chunks.push({ id, documentId, terms: { ...previous.terms } });
        continue;
      }
      const terms: Record<string, number> = {};
      const length = random() < 0.02 ? 0 : 3 + Math.floor(random() * 80);
      for (let position = 0; position < length; position += 1) {
        const term = `t${Math.floor(vocabulary * random() ** 2.5)}`;
        terms[term] = (terms[term] ?? 0) + 1;
      }
      chunks.push({ id, documentId, terms });
    }
  }
  return chunks;
}

function queries(count: number, seed: number, vocabulary = 2000): Array<Record<string, number>> {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const terms: Record<string, number> = {};
    const length = 1 + Math.floor(random() * 12);
    for (let position = 0; position < length; position += 1) {
      const term = random() < 0.05 ? 'absent' : `t${Math.floor(vocabulary * random() ** 1.5)}`;
      terms[term] = (terms[term] ?? 0) + (random() < 0.1 ? 0.5 : 1);
    }
    return terms;
  });
}

function segmentOf(chunks: Chunk[], options: ConstructorParameters<typeof LexicalSegmentBuilder>[0] = {}): LexicalSegment {
  const builder = new LexicalSegmentBuilder(options);
  for (const chunk of chunks) builder.add(chunk);
  return new LexicalSegment(builder.finish(1));
}

/** The segment's bytes without term saturations in the header or the sections (as when they were not stored). */
function withoutSaturations(segment: LexicalSegment): LexicalSegment {
  const bytes = segment.bytes.slice();
  const view = new DataView(bytes.buffer);
  const length = view.getUint32(0, true);
  const header = JSON.parse(Buffer.from(bytes.buffer, 4, length).toString('utf8')) as Record<string, unknown> & { sections: Record<string, unknown> };
  delete header.saturation;
  delete header.sections.termSaturations;
  const encoded = Buffer.from(JSON.stringify(header), 'utf8');
  assert.ok(encoded.length <= length);
  view.setUint32(0, encoded.length, true);
  bytes.set(encoded, 4);
  bytes.fill(0x20, 4 + encoded.length, 4 + length);
  return new LexicalSegment(bytes);
}

const drain = (steps: Generator<void, void, undefined>) => {
  for (const _step of steps);
};

function assertSameAsExhaustive(index: SegmentedBm25Index, testQueries: Array<Record<string, number>>, label: string): void {
  for (const topK of [1, 10, 100]) {
    for (const documentWeight of [0, 0.3]) {
      for (const query of testQueries) {
        const pruned = index.search(query, topK, documentWeight);
        const exhaustive = index.search(query, topK, documentWeight, { exhaustive: true });
        assert.deepEqual(pruned, exhaustive, `${label}: topK ${topK}, document weight ${documentWeight}, query ${JSON.stringify(query)}`);
      }
    }
  }
}

describe('pruned segment search', () => {
  it('gives exactly the hits and scores of exhaustive scoring on random corpora and queries', () => {
    for (const seed of [1, 2, 3]) {
      const chunks = corpus(300, 20, seed);
      assertSameAsExhaustive(new SegmentedBm25Index({}, segmentOf(chunks)), queries(40, seed + 100), `seed ${seed}`);
    }
  });

  it('stays exact after deletes from the segment and with documents in the tail (the average length moved)', () => {
    const chunks = corpus(400, 15, 7);
    const inSegment = chunks.filter((chunk) => Number(chunk.documentId.slice(2)) < 250);
    const later = corpus(150, 40, 8).map((chunk) => ({ ...chunk, documentId: `e-${chunk.documentId}` }));
    const index = new SegmentedBm25Index({}, segmentOf(inSegment));
    const grouped = new Map<string, Chunk[]>();
    for (const chunk of later) grouped.set(chunk.documentId, [...(grouped.get(chunk.documentId) ?? []), chunk]);
    for (const [documentId, list] of grouped) drain(index.addDocument(documentId, list));
    for (const number of [0, 3, 17, 100, 101, 249]) drain(index.removeDocument(`d-${number.toString().padStart(5, '0')}`));
    drain(index.removeDocument('e-d-00004'));
    assert.ok(index.tailChunks > 0 && index.removedSegmentChunks > 0);
    assertSameAsExhaustive(index, queries(40, 9), 'segment, tail and deletes');
  });

  it('stays exact with bounds it works out itself: a file without them, and k1 and b other than the stored ones', () => {
    const chunks = corpus(200, 12, 11);
    const segment = segmentOf(chunks);
    assert.notEqual(segment.termSaturations, null);
    const old = withoutSaturations(segment);
    assert.equal(old.termSaturations, null);
    const testQueries = queries(30, 12);
    assertSameAsExhaustive(new SegmentedBm25Index({}, old), testQueries, 'no stored saturations');
    assertSameAsExhaustive(new SegmentedBm25Index({ k1: 0.9, b: 0.4 }, segment), testQueries, 'k1 0.9, b 0.4');
    assertSameAsExhaustive(new SegmentedBm25Index({ k1: 0, b: 1 }, segment), testQueries, 'k1 0');
    const index = new SegmentedBm25Index({}, old);
    for (const query of testQueries) assert.deepEqual(index.search(query, 10, 0.3), new SegmentedBm25Index({}, segment).search(query, 10, 0.3));
  });

  it('keeps document slots in two bytes up to 65,536 documents and in four beyond, with the same ranking', () => {
    const random = seededRandom(21);
    const many: Chunk[] = Array.from({ length: 70_000 }, (_, number) => ({
      id: `c${number}`,
      documentId: `d${number}`,
      terms: { [`t${Math.floor(50 * random() ** 2)}`]: 1, [`t${Math.floor(500 * random())}`]: 2 },
    }));
    const large = segmentOf(many);
    assert.ok(large.documentPostingDocuments instanceof Int32Array);
    const small = segmentOf(many.slice(0, 60_000));
    assert.ok(small.documentPostingDocuments instanceof Uint16Array);
    assertSameAsExhaustive(new SegmentedBm25Index({}, large), queries(5, 22, 500), 'Int32 document slots');
    assertSameAsExhaustive(new SegmentedBm25Index({}, small), queries(5, 22, 500), 'Uint16 document slots');
  });

  it('skips most candidates when a few terms are rare and the rest common', () => {
    const random = seededRandom(5);
    const size = 20_000;
    const normalizations = new Float64Array(size).map(() => 1.2 * (0.25 + 0.75 * (0.5 + random())));
    const list = (every: number, termWeight: number): PrunedTerm => {
      const slots = Int32Array.from({ length: Math.ceil(size / every) }, (_, index) => index * every);
      const frequencies = Uint8Array.from(slots, () => 1 + Math.floor(random() * 3));
      let maximum = 0;
      slots.forEach((slot, index) => {
        const frequency = frequencies[index] as number;
        maximum = Math.max(maximum, frequency / (frequency + (normalizations[slot] as number)));
      });
      return { slots, frequencies, first: 0, end: slots.length, termWeight, bound: termWeight * 2.2 * maximum * (1 + 1e-9) };
    };
    const terms = [list(1, 0.1), list(2, 0.3), list(97, 6), list(3, 0.2), list(331, 7)];
    const pruned = new TopHeap(10, (slot) => String(slot).padStart(6, '0'));
    // Without bounds every list is essential: every slot is a candidate.
    const unbounded = terms.map((term) => ({ ...term, bound: Number.POSITIVE_INFINITY }));
    const reference = new TopHeap(10, (slot) => String(slot).padStart(6, '0'));
    assert.equal(searchPruned({ terms: unbounded, k1: 1.2, normalizations, extra: null, extraBound: 0, heap: reference }), size);
    const candidates = searchPruned({ terms, k1: 1.2, normalizations, extra: null, extraBound: 0, heap: pruned });
    assert.deepEqual(pruned.sorted(), reference.sorted());
    assert.ok(candidates < size / 10, `${candidates} candidates of ${size} slots`);
  });
});
