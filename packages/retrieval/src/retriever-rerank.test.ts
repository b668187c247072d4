import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AbortedError, AppError, chunkId, throwIfAborted, type IndexedChunk, type Reranker, type SearchHit } from '@passage/spec';
import { SqliteCatalog, SqliteChunkStore, openDatabase, type SqliteDatabase } from '@passage/store-sqlite';
import { temporaryDataDirectory } from '@passage/testing';
import { createAnalyzer } from './analyzer.js';
import { LocalChunkIndex } from './local-chunk-index.js';
import { Retriever } from './retriever.js';

const analyzer = createAnalyzer();

/** Scores by a fixed table of texts (0 for others) and records what it read. */
class TableReranker implements Reranker {
  readonly name = 'table';
  readonly calls: Array<{ query: string; texts: string[] }> = [];
  constructor(private readonly table: Record<string, number>) {}
  async score(query: string, texts: string[], signal?: AbortSignal): Promise<number[]> {
    throwIfAborted(signal);
    this.calls.push({ query, texts });
    return texts.map((text) => this.table[text] ?? 0);
  }
}

const documents = (hits: SearchHit[]) => hits.map((hit) => hit.chunk.documentId);

describe('Retriever with a reranker', () => {
  let directory: string;
  let database: SqliteDatabase;
  let catalog: SqliteCatalog;
  let index: LocalChunkIndex;
  const texts: Record<string, string> = {
    d1: 'moon tides moon tides',
    d2: 'the moon and the tides of the sea',
    d3: 'the moon over the hills and far away from here',
    d4: 'tides of the sea and the shore and the wind',
  };

  beforeEach(async () => {
    directory = await temporaryDataDirectory();
    database = openDatabase({ dataDirectory: directory });
    catalog = new SqliteCatalog(database);
    index = new LocalChunkIndex({ store: new SqliteChunkStore(database) });
    const schema = { embeddingModel: null, denseDimensions: null };
    await catalog.createKnowledgeBase({ id: 'kb', name: 'kb', schema });
    await index.createGeneration({ knowledgeBaseId: 'kb', generation: 1 }, schema);
    for (const [documentId, text] of Object.entries(texts)) {
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
      };
      await index.upsertDocumentChunks({ knowledgeBaseId: 'kb', generation: 1, documentId }, [chunk]);
      await catalog.createDocuments([{ id: documentId, knowledgeBaseId: 'kb', name: documentId, bytes: 1, contentHash: documentId, mediaType: null }]);
      await catalog.claimDocument(documentId);
      await catalog.completeDocument(documentId, 1);
    }
  });
  afterEach(async () => {
    await index.close();
    await catalog.close();
    database.close();
    await rm(directory, { recursive: true, force: true });
  });

  /** The lexical order of the four documents for the query, without reranking. */
  async function firstStage(): Promise<string[]> {
    const order = documents(await new Retriever({ catalog, index, analyzer }).search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 4 }));
    assert.equal(order.length, 4);
    return order;
  }

  it('reorders the first-stage candidates by the reranker scores, which become the hits scores', async () => {
    const [a, b, c, d] = await firstStage();
    const reranker = new TableReranker({ [texts[d!]!]: 0.9, [texts[c!]!]: 0.8, [texts[a!]!]: 0.1 });
    const retriever = new Retriever({ catalog, index, analyzer, reranker });
    assert.deepEqual(documents(await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 4, rerank: false })), [a, b, c, d]);
    const hits = await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 4 });
    assert.deepEqual(documents(hits), [d, c, a, b]);
    assert.deepEqual(
      hits.map((hit) => hit.score),
      [0.9, 0.8, 0.1, 0],
    );
    assert.equal(reranker.calls.length, 1);
    assert.equal(reranker.calls[0]?.query, 'moon tides');
  });

  it('reads rerankCandidates hits even when topK is smaller, and returns topK', async () => {
    const [, , , last] = await firstStage();
    const reranker = new TableReranker({ [texts[last!]!]: 1 });
    const retriever = new Retriever({ catalog, index, analyzer, reranker, rerankCandidates: 4 });
    const hits = await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 1 });
    assert.deepEqual(documents(hits), [last]);
    assert.equal(reranker.calls[0]?.texts.length, 4);
  });

  it('reranks only the first rerankCandidates hits; the rest follow in first-stage order', async () => {
    const [a, b, c, d] = await firstStage();
    const reranker = new TableReranker({ [texts[b!]!]: 1, [texts[d!]!]: 5 });
    const retriever = new Retriever({ catalog, index, analyzer, reranker, rerankCandidates: 2 });
    const hits = await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 4 });
    assert.deepEqual(documents(hits), [b, a, c, d]);
    assert.deepEqual(reranker.calls[0]?.texts, [texts[a!], texts[b!]]);
  });

  it('keeps the first-stage order among equal scores', async () => {
    const order = await firstStage();
    const retriever = new Retriever({ catalog, index, analyzer, reranker: new TableReranker({}) });
    const hits = await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 4 });
    assert.deepEqual(documents(hits), order);
  });

  it('tells onRerank how long reranking took and over how many candidates', async () => {
    const timings: Array<{ rerankMs: number; candidates: number }> = [];
    const retriever = new Retriever({ catalog, index, analyzer, reranker: new TableReranker({}) });
    await retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 2, onRerank: (timing) => timings.push(timing) });
    assert.equal(timings.length, 1);
    assert.equal(timings[0]?.candidates, 4);
    assert.ok(timings[0].rerankMs >= 0);
  });

  it('passes the abort to the reranker', async () => {
    const controller = new AbortController();
    const reranker: Reranker = {
      name: 'aborting',
      score: async (_query, _texts, signal) => {
        controller.abort();
        throwIfAborted(signal);
        return [];
      },
    };
    const retriever = new Retriever({ catalog, index, analyzer, reranker });
    await assert.rejects(retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 2, signal: controller.signal }), AbortedError);
  });

  it('fails rerank_failed when the reranker returns a wrong number of scores', async () => {
    const reranker: Reranker = { name: 'short', score: () => Promise.resolve([1]) };
    const retriever = new Retriever({ catalog, index, analyzer, reranker });
    await assert.rejects(
      retriever.search({ knowledgeBaseId: 'kb', query: 'moon tides', topK: 2 }),
      (error: unknown) => error instanceof AppError && error.code === 'rerank_failed',
    );
  });
});
