import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AppError, chunkId, InvalidRequestError, type IndexedChunk, type RetrievalMode, type SearchHit } from '@passage/spec';
import { SqliteChunkStore, openDatabase, type SqliteDatabase } from '@passage/store-sqlite';
import { temporaryDataDirectory } from '@passage/testing';
import { Bm25Index } from './bm25-index.js';
import { LocalChunkIndex, type LocalChunkIndexOptions } from './local-chunk-index.js';
import { distributionBasedScoreFusion } from './distribution-based-score-fusion.js';

function chunk(documentId: string, ordinal: number, terms: Record<string, number>, vector?: number[]): IndexedChunk {
  const text = Object.keys(terms).join(' ');
  return {
    id: chunkId(documentId, 1, ordinal),
    knowledgeBaseId: 'kb',
    documentId,
    documentName: `${documentId}.txt`,
    generation: 1,
    ordinal,
    page: 1,
    start: 0,
    end: text.length,
    text,
    tokens: 1,
    terms,
    ...(vector === undefined ? {} : { vector }),
  };
}

/** Vectors are stored as Float32, hence the tolerance. */
function assertClose(actual: number | undefined, expected: number): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-6, `expected ${expected}, got ${actual}`);
}

const names = (hits: SearchHit[]) => hits.map((hit) => `${hit.chunk.documentId}#${hit.chunk.ordinal}`);

describe('LocalChunkIndex', () => {
  let directory: string;
  let database: SqliteDatabase;
  let index: LocalChunkIndex;

  const open = (options: Omit<LocalChunkIndexOptions, 'store'> = {}) => new LocalChunkIndex({ store: new SqliteChunkStore(database), ...options });
  const put = (target: LocalChunkIndex, documentId: string, chunks: IndexedChunk[]) =>
    target.upsertDocumentChunks({ knowledgeBaseId: 'kb', generation: 1, documentId }, chunks);
  const search = (target: LocalChunkIndex, mode: RetrievalMode, terms: Record<string, number>, vector?: number[], topK = 10) =>
    target.search({ knowledgeBaseId: 'kb', generation: 1, terms, mode, topK, ...(vector === undefined ? {} : { vector }) });

  beforeEach(async () => {
    directory = await temporaryDataDirectory();
    database = openDatabase({ dataDirectory: directory });
    index = open();
    await index.createGeneration({ knowledgeBaseId: 'kb', generation: 1 }, { embeddingModel: null, denseDimensions: null });
  });
  afterEach(async () => {
    await index.close();
    database.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('adds the weighted BM25 score of the whole document to each chunk’s score', async () => {
    // a#0 and b#0 match the query equally; the rest of document a is about the query too, b's is not.
    const chunks = {
      a: [chunk('a', 0, { tide: 1, moon: 1 }), chunk('a', 1, { moon: 2, ocean: 1 })],
      b: [chunk('b', 0, { tide: 1, moon: 1 }), chunk('b', 1, { cake: 2, flour: 1 })],
    };
    await put(index, 'a', chunks.a);
    await put(index, 'b', chunks.b);
    const query = { moon: 1 };
    const hits = await search(index, 'lexical', query);
    assert.deepEqual(names(hits), ['a#1', 'a#0', 'b#0']);

    // The same scores by hand: BM25 of the chunk plus 0.3 × BM25 of the document (its chunks' terms summed).
    const chunkIndex = new Bm25Index();
    chunkIndex.add([...chunks.a, ...chunks.b].map((entry) => ({ id: entry.id, terms: entry.terms })));
    const documentIndex = new Bm25Index();
    documentIndex.add([
      { id: 'a', terms: { tide: 1, moon: 3, ocean: 1 } },
      { id: 'b', terms: { tide: 1, moon: 1, cake: 2, flour: 1 } },
    ]);
    const chunkScores = new Map(chunkIndex.search(query, 10).map((hit) => [hit.id, hit.score]));
    const documentScores = documentIndex.scoreAll(query);
    const expected = (entry: IndexedChunk) => (chunkScores.get(entry.id) ?? 0) + 0.3 * (documentScores.get(entry.documentId) ?? 0);
    assertClose(hits[0]?.score, expected(chunks.a[1]!));
    assertClose(hits[1]?.score, expected(chunks.a[0]!));
    assertClose(hits[2]?.score, expected(chunks.b[0]!));
    assert.equal(chunkScores.get(chunks.a[0]!.id), chunkScores.get(chunks.b[0]!.id), 'the two chunks alone tie');

    // With the document evidence off, the scores are plain chunk BM25.
    const plain = open({ documentWeight: 0 });
    const plainHits = await search(plain, 'lexical', query);
    for (const hit of plainHits) assertClose(hit.score, chunkScores.get(hit.chunk.id) ?? Number.NaN);
    await plain.close();
  });

  it('keeps the document evidence current when a document is replaced or deleted', async () => {
    await put(index, 'a', [chunk('a', 0, { moon: 1 }), chunk('a', 1, { moon: 3 })]);
    await put(index, 'b', [chunk('b', 0, { moon: 1 }), chunk('b', 1, { cake: 1 })]);
    assert.deepEqual(names(await search(index, 'lexical', { moon: 1 })), ['a#1', 'a#0', 'b#0']);
    await put(index, 'a', [chunk('a', 0, { moon: 1 }), chunk('a', 1, { cake: 3 })]);
    const fresh = open();
    assert.deepEqual(await search(index, 'lexical', { moon: 1 }), await search(fresh, 'lexical', { moon: 1 }));
    await index.deleteDocument('kb', 'b');
    assert.deepEqual(names(await search(index, 'lexical', { moon: 1 })), ['a#0']);
    await fresh.close();
  });

  it('ranks by cosine similarity in dense mode, leaving out chunks without vectors', async () => {
    await put(index, 'a', [chunk('a', 0, { x: 1 }, [1, 0]), chunk('a', 1, { x: 1 }, [0.6, 0.8])]);
    await put(index, 'b', [chunk('b', 0, { x: 1 }, [0, 3]), chunk('b', 1, { x: 1 })]);
    const hits = await search(index, 'dense', {}, [0, 1]);
    assert.deepEqual(names(hits), ['b#0', 'a#1', 'a#0']);
    assertClose(hits[0]?.score, 1);
    assertClose(hits[1]?.score, 0.8);
    assertClose(hits[2]?.score, 0);
    assert.deepEqual(names(await search(index, 'dense', {}, [1, 0], 1)), ['a#0']);
  });

  it("fuses the lexical and dense lists by their scores' distributions (dbsf) in hybrid mode by default", async () => {
    await put(index, 'a', [chunk('a', 0, { moon: 3 }, [0, 1])]);
    await put(index, 'b', [chunk('b', 0, { moon: 1, tide: 1, sea: 1 }, [0.8, 0.6])]);
    await put(index, 'c', [chunk('c', 0, { cake: 1 }, [1, 0])]);
    await put(index, 'd', [chunk('d', 0, { moon: 1, tide: 1 }, [0.6, 0.8])]);
    const asRanked = (hits: SearchHit[]) => hits.map((hit) => ({ id: hit.chunk.id, score: hit.score }));
    const lexical = await search(index, 'lexical', { moon: 1 });
    const dense = await search(index, 'dense', {}, [1, 0]);
    const expected = distributionBasedScoreFusion([asRanked(lexical), asRanked(dense)]);
    const hits = await search(index, 'hybrid', { moon: 1 }, [1, 0]);
    assert.deepEqual(asRanked(hits), expected);
    assert.notDeepEqual(
      names(hits),
      names(await index.search({ knowledgeBaseId: 'kb', generation: 1, terms: { moon: 1 }, vector: [1, 0], mode: 'hybrid', fusion: 'rrf', topK: 10 })),
      'the two fusions rank these lists differently',
    );
    assert.deepEqual(asRanked(await search(index, 'hybrid', { moon: 1 }, [1, 0], 2)), expected.slice(0, 2));
  });

  it('fuses the lexical and dense lists by RRF in hybrid mode when told to', async () => {
    const rrf = open({ fusion: 'rrf' });
    await put(rrf, 'a', [chunk('a', 0, { moon: 3 }, [0, 1])]);
    await put(rrf, 'b', [chunk('b', 0, { moon: 1, tide: 1, sea: 1 }, [0.8, 0.6])]);
    await put(rrf, 'c', [chunk('c', 0, { cake: 1 }, [1, 0])]);
    assert.deepEqual(names(await search(rrf, 'lexical', { moon: 1 })), ['a#0', 'b#0']);
    assert.deepEqual(names(await search(rrf, 'dense', {}, [1, 0])), ['c#0', 'b#0', 'a#0']);
    const hits = await search(rrf, 'hybrid', { moon: 1 }, [1, 0]);
    // a: lexical 1st, dense 3rd; b: 2nd and 2nd; c: dense 1st only. Qdrant's 1 / (k + position from 0), k = 60.
    assert.deepEqual(names(hits), ['a#0', 'b#0', 'c#0']);
    assertClose(hits[0]?.score, 1 / 60 + 1 / 62);
    assertClose(hits[1]?.score, 2 / 61);
    assertClose(hits[2]?.score, 1 / 60);
    assert.deepEqual(names(await search(rrf, 'hybrid', { moon: 1 }, [1, 0], 2)), ['a#0', 'b#0']);
    await rrf.close();

    // k is configurable (RRF_K): with k = 2, a has 1/2 + 1/4, b 1/3 + 1/3, c 1/2.
    const small = open({ fusion: 'rrf', rrfK: 2 });
    const smallHits = await search(small, 'hybrid', { moon: 1 }, [1, 0]);
    assert.deepEqual(names(smallHits), ['a#0', 'b#0', 'c#0']);
    assertClose(smallHits[0]?.score, 1 / 2 + 1 / 4);
    assertClose(smallHits[1]?.score, 2 / 3);
    assertClose(smallHits[2]?.score, 1 / 2);
    await small.close();
  });

  it('fuses only the top fusionCandidates of each list, and at least topK', async () => {
    // x matches the words only, z the vector only, y is second in both lists.
    const documents: Array<[string, IndexedChunk[]]> = [
      ['x', [chunk('x', 0, { moon: 3 })]],
      ['y', [chunk('y', 0, { moon: 1, tide: 1, sea: 1 }, [0.8, 0.6])]],
      ['z', [chunk('z', 0, { cake: 1 }, [1, 0])]],
    ];
    const rrf = open({ fusion: 'rrf' });
    for (const [documentId, chunks] of documents) await put(rrf, documentId, chunks);
    // Whole lists: y has 1/61 + 1/61, more than the 1/60 of x or z.
    const whole = await search(rrf, 'hybrid', { moon: 1 }, [1, 0], 1);
    assert.deepEqual(names(whole), ['y#0']);
    assertClose(whole[0]?.score, 2 / 61);
    await rrf.close();
    // One candidate per list: y is in neither, so x or z (1/60 each, the smaller chunk id) wins.
    const limited = open({ fusion: 'rrf', fusionCandidates: 1 });
    const hits = await search(limited, 'hybrid', { moon: 1 }, [1, 0], 1);
    assert.equal(hits.length, 1);
    assert.notEqual(names(hits)[0], 'y#0');
    assertClose(hits[0]?.score, 1 / 60);
    // A larger topK lengthens the lists: all three come back, y first.
    assert.deepEqual(names(await search(limited, 'hybrid', { moon: 1 }, [1, 0], 3))[0], 'y#0');
    await limited.close();
  });

  it('needs a query vector for dense and hybrid modes', async () => {
    await put(index, 'a', [chunk('a', 0, { moon: 1 }, [1, 0])]);
    await assert.rejects(search(index, 'dense', { moon: 1 }), InvalidRequestError);
    await assert.rejects(search(index, 'hybrid', { moon: 1 }), InvalidRequestError);
  });

  it('reports vectors of another size instead of mixing them, and recovers once they are gone', async () => {
    await put(index, 'a', [chunk('a', 0, { moon: 1 }, [1, 0])]);
    await put(index, 'b', [chunk('b', 0, { moon: 1 }, [1, 0, 0])]);
    await assert.rejects(search(index, 'dense', {}, [1, 0]), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, 'internal_error');
      assert.match(error.message, /reindex/);
      return true;
    });
    assert.equal((await search(index, 'lexical', { moon: 1 })).length, 2, 'lexical search still works');
    await assert.rejects(search(index, 'dense', {}, [1, 0, 0]), /dimensions|sizes/);
    await index.deleteDocument('kb', 'b');
    assert.deepEqual(names(await search(index, 'dense', {}, [1, 0])), ['a#0']);
    await assert.rejects(search(index, 'dense', {}, [1, 0, 0]), /reindex/);
  });

  it('rejects bad options', () => {
    assert.throws(() => open({ documentWeight: -1 }), RangeError);
    assert.throws(() => open({ rrfK: 0 }), RangeError);
    assert.throws(() => open({ fusion: 'borda' as 'rrf' }), RangeError);
    assert.throws(() => open({ fusionCandidates: 0 }), RangeError);
  });
});
