import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  AbortedError,
  InvalidRequestError,
  NotFoundError,
  chunkId,
  type Embedder,
  type EmbeddingPurpose,
  type IndexedChunk,
  type SearchHit,
} from '@passage/spec';
import { SqliteCatalog, SqliteChunkStore, openDatabase, type SqliteDatabase } from '@passage/store-sqlite';
import { temporaryDataDirectory } from '@passage/testing';
import { createAnalyzer } from './analyzer.js';
import { distributionBasedScoreFusion } from './distribution-based-score-fusion.js';
import { LocalChunkIndex } from './local-chunk-index.js';
import { Retriever } from './retriever.js';

const analyzer = createAnalyzer();

/** Embeds by a fixed table and records what it was asked. */
class StubEmbedder implements Embedder {
  readonly calls: Array<{ texts: string[]; purpose: EmbeddingPurpose }> = [];
  constructor(
    private readonly table: Record<string, number[]>,
    readonly name = 'stub',
    readonly dimensions = 2,
  ) {}
  async embed(texts: string[], purpose: EmbeddingPurpose, signal?: AbortSignal): Promise<number[][]> {
    if (signal?.aborted) throw new AbortedError();
    this.calls.push({ texts, purpose });
    return texts.map((text) => this.table[text] ?? [0, 1]);
  }
}

const names = (hits: SearchHit[]) => hits.map((hit) => hit.chunk.documentId);

describe('Retriever', () => {
  let directory: string;
  let database: SqliteDatabase;
  let catalog: SqliteCatalog;
  let index: LocalChunkIndex;
  const embedder = new StubEmbedder({ 'moon tides': [1, 0] });

  /** One chunk per document, its vector given (the embedder is only asked for the query here); the document is ready. */
  async function addDocument(documentId: string, text: string, vector: number[] | undefined): Promise<void> {
    await addChunkOnly(documentId, text, vector);
    await catalog.createDocuments([{ id: documentId, knowledgeBaseId: 'kb', name: documentId, bytes: 1, contentHash: documentId, mediaType: null }]);
    await catalog.claimDocument(documentId);
    await catalog.completeDocument(documentId, 1);
  }

  async function addChunkOnly(documentId: string, text: string, vector?: number[]): Promise<void> {
    const chunk: IndexedChunk = {
      id: chunkId(documentId, 1, 0),
      knowledgeBaseId: 'kb',
      documentId,
      documentName: documentId,
      generation: 1,
      ordinal: 0,
      page: 1,
      start: 0,
      end: text.length,
      text,
      tokens: 1,
      terms: analyzer.termFrequencies(text),
      ...(vector === undefined ? {} : { vector }),
    };
    await index.upsertDocumentChunks({ knowledgeBaseId: 'kb', generation: 1, documentId }, [chunk]);
  }

  beforeEach(async () => {
    directory = await temporaryDataDirectory();
    database = openDatabase({ dataDirectory: directory });
    catalog = new SqliteCatalog(database);
    index = new LocalChunkIndex({ store: new SqliteChunkStore(database) });
    await catalog.createKnowledgeBase({ id: 'kb', name: 'tides', schema: { embeddingModel: 'stub', denseDimensions: 2 } });
    await index.createGeneration({ knowledgeBaseId: 'kb', generation: 1 }, { embeddingModel: 'stub', denseDimensions: 2 });
    // Lexically: "moon" and "tide" in a, then b (longer), never c. By vector, against (1, 0): c, b, a.
    await addDocument('a', 'Moon tides.', [0, 1]);
    await addDocument('b', 'The moon pulls tides across wide oceans every single day.', [0.8, 0.6]);
    await addDocument('c', 'Gravitational pull of a satellite.', [1, 0]);
    await addDocument('d', 'Unrelated cake recipe.', undefined);
  });
  afterEach(async () => {
    await index.close();
    database.close();
    await rm(directory, { recursive: true, force: true });
  });

  it("fuses lexical and dense candidates in hybrid mode, the default with an embedder: by the index's dbsf, or by RRF when the request asks", async () => {
    const retriever = new Retriever({ catalog, index, analyzer, embedder });
    assert.equal(retriever.defaultMode, 'hybrid');
    const lexical = await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 10, mode: 'lexical' });
    const dense = await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 10, mode: 'dense' });
    assert.deepEqual(names(lexical), ['a', 'b']);
    assert.deepEqual(names(dense), ['c', 'b', 'a']);
    const asRanked = (hits: SearchHit[]) => hits.map((hit) => ({ id: hit.chunk.id, score: hit.score }));
    const byScores = await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 10 });
    assert.deepEqual(asRanked(byScores), distributionBasedScoreFusion([asRanked(lexical), asRanked(dense)]));

    const hits = await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 10, fusion: 'rrf' });
    // a: 1st lexically, 3rd by vector; b: 2nd and 2nd; c: 1st by vector only. 1 / (60 + position from 0).
    assert.deepEqual(names(hits), ['a', 'b', 'c']);
    const expected = [1 / 60 + 1 / 62, 1 / 61 + 1 / 61, 1 / 60];
    hits.forEach((hit, position) => assert.ok(Math.abs(hit.score - (expected[position] as number)) < 1e-12, `${hit.score}`));
    assert.deepEqual(embedder.calls.at(-1), { texts: ['moon tides'], purpose: 'query' });
  });

  it('takes the mode of the request over the configured default', async () => {
    const retriever = new Retriever({ catalog, index, analyzer, embedder, defaultMode: 'dense' });
    assert.deepEqual(names(await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 1 })), ['c']);
    const calls = embedder.calls.length;
    assert.deepEqual(names(await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 1, mode: 'lexical' })), ['a']);
    assert.equal(embedder.calls.length, calls, 'a lexical search embeds nothing');
  });

  it('is lexical without an embedder and refuses the other modes', async () => {
    const retriever = new Retriever({ catalog, index, analyzer });
    assert.equal(retriever.defaultMode, 'lexical');
    assert.deepEqual(names(await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 10 })), ['a', 'b']);
    await assert.rejects(retriever.search({ knowledgeBaseId: 'kb', query: 'moon', topK: 3, mode: 'hybrid' }), InvalidRequestError);
    await assert.rejects(retriever.search({ knowledgeBaseId: 'nope', query: 'moon', topK: 3 }), NotFoundError);
  });

  it('returns only chunks of documents the catalog holds ready: a deleted or unfinished document is never returned', async () => {
    const retriever = new Retriever({ catalog, index, analyzer });
    await catalog.deleteDocument('kb', 'a');
    assert.deepEqual(names(await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 10 })), ['b'], 'chunks of a are still in the index');
    await catalog.createDocuments([{ id: 'e', knowledgeBaseId: 'kb', name: 'e', bytes: 1, contentHash: 'e', mediaType: null }]);
    await addChunkOnly('e', 'Moon tides again.');
    assert.deepEqual(names(await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 10 })), ['b'], 'e is queued, not ready');
  });

  it('searches the generation the catalog says is live, falling back to lexical when its vectors are of another model', async () => {
    const retriever = new Retriever({ catalog, index, analyzer, embedder: new StubEmbedder({}, 'other', 3) });
    // The live generation was built with a 2-dimensional model; this embedder has 3 dimensions.
    assert.deepEqual(names(await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 10 })), ['a', 'b']);
    await assert.rejects(retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 10, mode: 'dense' }), {
      code: 'invalid_request',
      message: /reindex/,
    });
  });

  it('honours an aborted signal', async () => {
    const retriever = new Retriever({ catalog, index, analyzer, embedder });
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(retriever.search({ knowledgeBaseId: 'kb', query: 'moon', topK: 3, signal: controller.signal }), AbortedError);
  });
});
