import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '@passage/spec';
import { Bm25Index } from './bm25-index.js';
import { LexicalSegment, LexicalSegmentFormatError } from './lexical-segment.js';
import { LexicalSegmentBuilder } from './lexical-segment-builder.js';
import { buildLexicalSegmentInThread } from './lexical-segment-thread.js';
import { SegmentedBm25Index } from './segmented-bm25-index.js';
import type { RankedHit } from './top-heap.js';

interface GeneratedChunk {
  id: string;
  documentId: string;
  terms: Record<string, number>;
}

/** Documents of 1 to 12 chunks whose terms follow a skewed distribution, some CJK, and a few chunks without terms. */
function generateCorpus(documents: number, seed: number): GeneratedChunk[] {
  const random = seededRandom(seed);
  const vocabulary = Array.from({ length: 3000 }, (_, index) => (index % 7 === 0 ? `词${index}` : `w${index.toString(36)}`));
  const chunks: GeneratedChunk[] = [];
  for (let document = 0; document < documents; document += 1) {
    const count = 1 + Math.floor(random() * 12);
    for (let ordinal = 0; ordinal < count; ordinal += 1) {
      const terms: Record<string, number> = {};
      const length = random() < 0.02 ? 0 : 5 + Math.floor(random() * 60);
      for (let position = 0; position < length; position += 1) {
        const term = vocabulary[Math.floor(vocabulary.length * random() ** 3)] as string;
        terms[term] = (terms[term] ?? 0) + 1;
      }
      chunks.push({ id: `c-${document}-${ordinal}`, documentId: `d-${document.toString().padStart(4, '0')}`, terms });
    }
  }
  return chunks;
}

function queries(count: number, seed: number): Array<Record<string, number>> {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const terms: Record<string, number> = {};
    const length = 1 + Math.floor(random() * 10);
    for (let position = 0; position < length; position += 1) {
      const index = Math.floor(3000 * random() ** 2);
      const term = index % 7 === 0 ? `词${index}` : `w${index.toString(36)}`;
      terms[term] = (terms[term] ?? 0) + 1;
    }
    return terms;
  });
}

/** The ranking as the embedded index made it before segments: two Bm25Index, chunks boosted by their document's score. */
function referenceIndex(chunks: GeneratedChunk[]): (query: Record<string, number>, topK: number, documentWeight: number) => RankedHit[] {
  const lexical = new Bm25Index();
  const documents = new Bm25Index();
  const documentTerms = new Map<string, Map<string, number>>();
  const documentOf = new Map<string, string>();
  for (const chunk of chunks) {
    lexical.add([{ id: chunk.id, terms: chunk.terms }]);
    documentOf.set(chunk.id, chunk.documentId);
    let terms = documentTerms.get(chunk.documentId);
    if (terms === undefined) documentTerms.set(chunk.documentId, (terms = new Map<string, number>()));
    for (const term in chunk.terms) terms.set(term, (terms.get(term) ?? 0) + (chunk.terms[term] as number));
  }
  for (const [id, terms] of documentTerms) documents.add([{ id, terms: Object.fromEntries(terms) }]);
  return (query, topK, documentWeight) => {
    if (documentWeight === 0) return lexical.search(query, topK);
    const documentScores = documents.scoreAll(query);
    return lexical.search(query, topK, { boost: (id) => documentWeight * (documentScores.get(documentOf.get(id) ?? '') ?? 0) });
  };
}

function referenceSearch(chunks: GeneratedChunk[], query: Record<string, number>, topK: number, documentWeight: number): RankedHit[] {
  return referenceIndex(chunks)(query, topK, documentWeight);
}

function segmentOf(chunks: GeneratedChunk[], sequence = 7): LexicalSegment {
  const builder = new LexicalSegmentBuilder();
  for (const chunk of chunks) builder.add(chunk);
  return new LexicalSegment(builder.finish(sequence));
}

function* byDocument(chunks: GeneratedChunk[]): Generator<[string, GeneratedChunk[]]> {
  const grouped = new Map<string, GeneratedChunk[]>();
  for (const chunk of chunks) {
    const list = grouped.get(chunk.documentId);
    if (list === undefined) grouped.set(chunk.documentId, [chunk]);
    else list.push(chunk);
  }
  yield* grouped;
}

const drain = (steps: Generator<void, void, undefined>) => {
  for (const _step of steps);
};

describe('SegmentedBm25Index', () => {
  const corpus = generateCorpus(400, 11);
  const testQueries = queries(60, 5);

  it('ranks exactly as the two Bm25Index did (same ids, same scores), with and without document evidence', () => {
    const index = new SegmentedBm25Index({}, segmentOf(corpus));
    const reference = referenceIndex(corpus);
    for (const documentWeight of [0, 0.3]) {
      for (const query of testQueries) assert.deepEqual(index.search(query, 20, documentWeight), reference(query, 20, documentWeight));
    }
  });

  it('ranks the same with the documents split between a segment and the tail', () => {
    const half = corpus.filter((chunk) => Number(chunk.documentId.slice(2)) % 2 === 0);
    const rest = corpus.filter((chunk) => Number(chunk.documentId.slice(2)) % 2 === 1);
    const index = new SegmentedBm25Index({}, segmentOf(half));
    for (const [documentId, chunks] of byDocument(rest)) drain(index.addDocument(documentId, chunks));
    assert.equal(index.size, corpus.length);
    assert.equal(index.tailChunks, rest.length);
    const reference = referenceIndex(corpus);
    for (const query of testQueries) assert.deepEqual(index.search(query, 15, 0.3), reference(query, 15, 0.3));
  });

  it('keeps statistics exact after deletes from the segment and the tail: the ranking of an index built without those documents', () => {
    const inSegment = corpus.filter((chunk) => Number(chunk.documentId.slice(2)) < 300);
    const inTail = corpus.filter((chunk) => Number(chunk.documentId.slice(2)) >= 300);
    const index = new SegmentedBm25Index({}, segmentOf(inSegment));
    for (const [documentId, chunks] of byDocument(inTail)) drain(index.addDocument(documentId, chunks));
    const removed = new Set(['d-0000', 'd-0007', 'd-0150', 'd-0299', 'd-0300', 'd-0345', 'd-0399']);
    for (const documentId of removed) drain(index.removeDocument(documentId));
    const remaining = corpus.filter((chunk) => !removed.has(chunk.documentId));
    assert.equal(index.size, remaining.length);
    assert.equal(index.documentCount, 400 - removed.size);
    for (const documentId of removed) assert.equal(index.hasDocument(documentId), false);
    const referenceRemaining = referenceIndex(remaining);
    for (const query of testQueries) assert.deepEqual(index.search(query, 25, 0.3), referenceRemaining(query, 25, 0.3));
    // Replacing a document of the segment moves it to the tail with its new terms.
    const replacement = [{ id: 'c-5-new', documentId: 'd-0005', terms: { w1: 3, 词7: 2 } }];
    drain(index.removeDocument('d-0005'));
    drain(index.addDocument('d-0005', replacement));
    assert.deepEqual(index.chunkIdsOf('d-0005'), ['c-5-new']);
    const replaced = [...remaining.filter((chunk) => chunk.documentId !== 'd-0005'), ...replacement];
    const referenceReplaced = referenceIndex(replaced);
    for (const query of testQueries) assert.deepEqual(index.search(query, 25, 0.3), referenceReplaced(query, 25, 0.3));
  });

  it('searches in steps as search does; a search whose index changes between its steps starts again and ranks the changed index', () => {
    const index = new SegmentedBm25Index({}, segmentOf(corpus));
    const reference = referenceIndex(corpus);
    let steps = 0;
    for (const query of testQueries) {
      const searching = index.searchSteps(query, 20, 0.3);
      let next = searching.next();
      for (; next.done !== true; next = searching.next()) steps += 1;
      assert.deepEqual(next.value, reference(query, 20, 0.3));
    }
    assert.ok(steps >= testQueries.length, `the searches yielded ${steps} times in all`);
    const removed = new Set(['d-0002', 'd-0100']);
    const added = [{ id: 'c-new', documentId: 'd-new', terms: { w1: 4, w2: 1, 词7: 2 } }];
    const changed = [...corpus.filter((chunk) => !removed.has(chunk.documentId)), ...added];
    const changedReference = referenceIndex(changed);
    const query = { w1: 1, w2: 1, w3: 1, 词7: 1 };
    const searching = index.searchSteps(query, 20, 0.3);
    assert.equal(searching.next().done, false);
    for (const documentId of removed) drain(index.removeDocument(documentId));
    drain(index.addDocument('d-new', added));
    let next = searching.next();
    while (next.done !== true) next = searching.next();
    assert.deepEqual(next.value, changedReference(query, 20, 0.3));
    assert.ok(next.value.some((hit) => hit.id === 'c-new'));
  });

  it('a search closed between its steps leaves no trace: later searches rank as before', () => {
    const index = new SegmentedBm25Index({}, segmentOf(corpus));
    const reference = referenceIndex(corpus);
    for (const query of testQueries.slice(0, 20)) {
      const searching = index.searchSteps(query, 10, 0.3);
      searching.next();
      searching.next();
      searching.return([]);
    }
    for (const query of testQueries) assert.deepEqual(index.search(query, 20, 0.3), reference(query, 20, 0.3));
  });

  it('refuses to add a document twice and ignores the removal of an unknown one', () => {
    const index = new SegmentedBm25Index({}, segmentOf(corpus.slice(0, 30)));
    const [first] = corpus;
    assert.throws(() => drain(index.addDocument((first as GeneratedChunk).documentId, [])), /in the index already/);
    drain(index.removeDocument('no-such-document'));
    assert.equal(index.size, 30);
  });

  it('gives the chunk ids of a document in order, from the segment or the tail', () => {
    const index = new SegmentedBm25Index({}, segmentOf(corpus));
    const expected = corpus.filter((chunk) => chunk.documentId === 'd-0003').map((chunk) => chunk.id);
    assert.deepEqual(index.chunkIdsOf('d-0003'), expected);
    assert.deepEqual(index.chunkIdsOf('unknown'), []);
  });
});

describe('LexicalSegment', () => {
  const corpus = generateCorpus(120, 3);

  it('reads back from its bytes (a copy at another offset) with the same ranking', () => {
    const segment = segmentOf(corpus, 42);
    const copy = new Uint8Array(segment.bytes.byteLength + 3);
    copy.set(segment.bytes, 3);
    const reread = new LexicalSegment(copy.subarray(3));
    assert.equal(reread.sequence, 42);
    // Small integer frequencies take one byte a posting.
    assert.ok(reread.postingFrequencies instanceof Uint8Array);
    assert.equal(reread.chunkCount, corpus.length);
    for (const query of queries(20, 9)) {
      assert.deepEqual(new SegmentedBm25Index({}, reread).search(query, 10, 0.3), new SegmentedBm25Index({}, segment).search(query, 10, 0.3));
    }
  });

  it('keeps fractional frequencies exactly (Float64 postings) and finds terms by binary search', () => {
    const chunks: GeneratedChunk[] = [
      { id: 'a', documentId: 'x', terms: { alpha: 1.5, beta: 2 } },
      { id: 'b', documentId: 'y', terms: { beta: 70_000, gamma: 1 } },
    ];
    const segment = segmentOf(chunks);
    assert.ok(segment.postingFrequencies instanceof Float64Array);
    assert.equal(segment.postingFrequencies[segment.postingOffsets[segment.termNumber('alpha')] as number], 1.5);
    assert.equal(segment.termNumber('delta'), -1);
    for (const query of [{ alpha: 1 }, { beta: 1, gamma: 2 }] as Array<Record<string, number>>)
      assert.deepEqual(new SegmentedBm25Index({}, segment).search(query, 5, 0.3), referenceSearch(chunks, query, 5, 0.3));
  });

  it('refuses bytes that are not a segment of this version', () => {
    assert.throws(() => new LexicalSegment(new Uint8Array(16)), LexicalSegmentFormatError);
    const bytes = segmentOf(corpus.slice(0, 3)).bytes.slice();
    bytes[20] = 0x7b; // inside the JSON header
    assert.throws(() => new LexicalSegment(bytes), LexicalSegmentFormatError);
  });

  /** The segment's bytes as an opened file that counts what it hands over, and fails its reads while `failure` is set. */
  function countingFile(bytes: Uint8Array) {
    const file = {
      size: bytes.byteLength,
      bytesRead: 0,
      closed: false,
      failure: null as Error | null,
      async read(target: Uint8Array, position: number) {
        await new Promise((resolve) => setImmediate(resolve));
        if (file.closed) throw new Error('read after close');
        if (file.failure !== null) throw file.failure;
        if (position + target.byteLength > bytes.byteLength) throw new Error('past the end');
        target.set(bytes.subarray(position, position + target.byteLength));
        file.bytesRead += target.byteLength;
      },
      async close() {
        file.closed = true;
      },
    };
    return file;
  }

  it('opened from a file, ranks as in memory, reading only the asked terms, and keeps to its cache budget the postings no search holds', async () => {
    const inMemory = segmentOf(corpus, 11);
    const file = countingFile(inMemory.bytes);
    const budget = 4096;
    const opened = await LexicalSegment.open(file, { cacheBytes: budget });
    assert.equal(opened.whole, false);
    assert.equal(opened.sequence, 11);
    const index = new SegmentedBm25Index({}, opened);
    const reference = new SegmentedBm25Index({}, inMemory);
    const readAtOpen = file.bytesRead;
    const asked = new Set<number>();
    // Held by a search under way from the start: its postings stay whatever the budget.
    const [heldQuery] = queries(1, 99) as [Record<string, number>];
    const releaseHeld = await index.prepare(heldQuery);
    for (const query of queries(20, 12)) {
      for (const term of Object.keys(query)) asked.add(opened.termNumber(term));
      const release = await index.prepare(query);
      assert.deepEqual(index.search(query, 10, 0.3), reference.search(query, 10, 0.3));
      assert.deepEqual(index.search(query, 10, 0.3, { exhaustive: true }), reference.search(query, 10, 0.3));
      release();
    }
    assert.deepEqual(index.search(heldQuery, 10, 0.3), reference.search(heldQuery, 10, 0.3));
    releaseHeld();
    assert.ok(opened.cachedBytes <= budget, `${opened.cachedBytes} bytes of postings kept, over the budget of ${budget}`);
    const postingBytes = inMemory.postingSlots.byteLength + inMemory.postingFrequencies.byteLength;
    assert.ok(file.bytesRead - readAtOpen < postingBytes, `${file.bytesRead - readAtOpen} bytes of postings read for 20 queries, of ${postingBytes}`);
    const notAsked = Array.from({ length: opened.termCount }, (_, term) => term).find((term) => !asked.has(term)) as number;
    assert.throws(() => opened.chunkPostings(notAsked), /not acquired/);
    assert.throws(() => opened.postingSlots, /read per term/);
    await opened.close();
    assert.equal(file.closed, true);
  });

  it('opened from a file, removes a document by reading its terms only, with the same statistics as in memory', async () => {
    const inMemory = segmentOf(corpus);
    const file = countingFile(inMemory.bytes);
    const index = new SegmentedBm25Index({}, await LexicalSegment.open(file));
    const reference = new SegmentedBm25Index({}, inMemory);
    assert.throws(() => drain(index.removeDocument('d-0004')), /prepareRemoval/);
    const before = file.bytesRead;
    await index.prepareRemoval('d-0004');
    await index.prepareRemoval('d-0005');
    assert.ok(file.bytesRead - before < 4096, `${file.bytesRead - before} bytes read for two documents' terms`);
    for (const documentId of ['d-0004', 'd-0005']) {
      drain(index.removeDocument(documentId));
      drain(reference.removeDocument(documentId));
    }
    assert.equal(index.size, reference.size);
    for (const query of queries(20, 14)) {
      const release = await index.prepare(query);
      assert.deepEqual(index.search(query, 10, 0.3), reference.search(query, 10, 0.3));
      release();
    }
  });

  it('opened from a file that is not a segment, or cut short, is refused as a format error and closed', async () => {
    const bytes = segmentOf(corpus.slice(0, 30)).bytes;
    const header = (text: string) => {
      const encoded = Buffer.from(text, 'utf8');
      const damaged = new Uint8Array(bytes.byteLength);
      damaged.set(bytes);
      new DataView(damaged.buffer).setUint32(0, encoded.length, true);
      damaged.set(encoded, 4);
      return damaged;
    };
    const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
    const original = JSON.parse(Buffer.from(bytes.subarray(4, 4 + headerLength)).toString('utf8')) as { sections: Record<string, number[]> };
    const negative = header(JSON.stringify({ ...original, sections: { ...original.sections, postingSlots: [-8, 4] } }));
    const unaligned = header(JSON.stringify({ ...original, sections: { ...original.sections, chunkLengths: [3, 1] } }));
    const olderVersion = header(JSON.stringify({ ...original, version: 2 }));
    for (const damaged of [new Uint8Array(16), bytes.subarray(0, bytes.byteLength - 64), bytes.subarray(0, 2), negative, unaligned, olderVersion]) {
      const file = countingFile(damaged);
      await assert.rejects(LexicalSegment.open(file), LexicalSegmentFormatError);
      assert.equal(file.closed, true);
    }
  });

  it('opened from a file whose reads fail, fails the searches that need them, keeps nothing of them, and serves them once reads work again', async () => {
    const inMemory = segmentOf(corpus);
    const file = countingFile(inMemory.bytes);
    const opened = await LexicalSegment.open(file);
    const index = new SegmentedBm25Index({}, opened);
    const [query] = queries(1, 15) as [Record<string, number>];
    const failure = new Error('EIO: i/o error, read');
    file.failure = failure;
    await assert.rejects(index.prepare(query), failure);
    assert.equal(opened.cachedBytes, 0);
    await assert.rejects(index.prepareRemoval('d-0001'), failure);
    file.failure = null;
    const release = await index.prepare(query);
    assert.deepEqual(index.search(query, 10, 0.3), new SegmentedBm25Index({}, inMemory).search(query, 10, 0.3));
    release();
    await opened.close();
    assert.equal(file.closed, true);
  });

  it('closed, waits for the reads under way and closes the file; postings held stay usable, new ones are refused', async () => {
    const inMemory = segmentOf(corpus);
    const file = countingFile(inMemory.bytes);
    const opened = await LexicalSegment.open(file);
    const index = new SegmentedBm25Index({}, opened);
    const [held, other] = queries(2, 16) as [Record<string, number>, Record<string, number>];
    const release = await index.prepare(held);
    const reading = index.prepare(other);
    await opened.close();
    assert.equal(file.closed, true);
    (await reading)();
    assert.deepEqual(index.search(held, 10, 0.3), new SegmentedBm25Index({}, inMemory).search(held, 10, 0.3));
    release();
    const unread = Array.from({ length: opened.termCount }, (_, number) => opened.term(number)).find((term) => !(term in held) && !(term in other)) as string;
    await assert.rejects(index.prepare({ [unread]: 1 }), /closed/);
  });

  it('is built the same in a worker thread, from terms as JSON text', async () => {
    const inProcess = segmentOf(corpus, 5).bytes;
    async function* pages() {
      for (let offset = 0; offset < corpus.length; offset += 50) {
        yield { rows: corpus.slice(offset, offset + 50).map((chunk) => ({ ...chunk, terms: JSON.stringify(chunk.terms) })), vectors: 0 };
      }
    }
    const inThread = await buildLexicalSegmentInThread(pages(), () => 5);
    assert.deepEqual(Buffer.from(inThread), Buffer.from(inProcess));
  });
});
