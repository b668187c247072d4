import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AppError,
  type Catalog,
  type ChunkIndex,
  type DocumentParser,
  type DocumentRecord,
  type DocumentUpdate,
  type Embedder,
  type FileStore,
  type IndexedChunk,
  type KnowledgeBase,
  type TextAnalyzer,
} from '@passage/spec';
import { IngestionService } from './ingestion-service.js';

function knowledgeBaseFor(embedder: Embedder): KnowledgeBase {
  return {
    id: 'kb_1',
    name: 'KB',
    createdAt: new Date(0).toISOString(),
    generation: 1,
    schema: { embeddingModel: embedder.name, denseDimensions: embedder.dimensions },
    reindex: null,
  };
}

function documentRecord(): DocumentRecord {
  const now = new Date(0).toISOString();
  return {
    id: 'doc_1',
    knowledgeBaseId: 'kb_1',
    name: 'long.txt',
    bytes: 1,
    contentHash: 'x',
    mediaType: null,
    type: null,
    status: 'queued',
    progress: { stage: 'queued', done: 0, total: 0 },
    pages: null,
    chunks: null,
    error: null,
    attempts: 0,
    replaces: null,
    createdAt: now,
    updatedAt: now,
  };
}

/** A service over doubles: one document of `sentences` sentences, chunked one sentence per chunk. */
function setup(embedder: Embedder, options: { batchSize: number; concurrency: number; sentences: number }) {
  let record = documentRecord();
  const progress: DocumentUpdate['progress'][] = [];
  const indexed: IndexedChunk[][] = [];
  const catalog = {
    claimDocument: async () => (record = { ...record, status: 'processing', attempts: record.attempts + 1 }),
    getKnowledgeBase: async () => knowledgeBaseFor(embedder),
    recordDocumentGeneration: async () => {},
    completeDocument: async (_id: string, chunks: number) => ({ document: (record = { ...record, status: 'ready', chunks }), replaced: null }),
    updateDocument: async (_id: string, update: DocumentUpdate) => {
      if (update.progress !== undefined) progress.push(update.progress);
      record = {
        ...record,
        ...(update.status === undefined ? {} : { status: update.status }),
        ...(update.chunks === undefined ? {} : { chunks: update.chunks }),
      };
      return record;
    },
  } as unknown as Catalog;
  const files = { read: async () => new Uint8Array([1]) } as unknown as FileStore;
  const index = { upsertDocumentChunks: async (_target: unknown, chunks: IndexedChunk[]) => void indexed.push(chunks) } as unknown as ChunkIndex;
  const text = Array.from({ length: options.sentences }, (_, position) => `Sentence number ${position} says something about topic ${position}.`).join(' ');
  const parser: DocumentParser = { parse: async () => ({ type: 'text', pages: [{ number: 1, text }] }) };
  const analyzer: TextAnalyzer = { analyze: (value) => value.split(' '), termFrequencies: (value) => ({ [value.length]: 1 }) };
  const service = new IngestionService({
    catalog,
    files,
    index,
    parser,
    analyzer,
    embedder,
    embeddingBatchSize: options.batchSize,
    embeddingConcurrency: options.concurrency,
    chunking: { targetTokens: 12, overlapTokens: 0 },
  });
  return { service, progress, indexed };
}

describe('IngestionService embedding', () => {
  it('keeps up to embeddingConcurrency batches in flight, gives every chunk its vector and reports progress', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let threeInFlight: () => void = () => {};
    const firstRound = new Promise<void>((resolve) => (threeInFlight = resolve));
    const embedder: Embedder = {
      name: 'counting',
      dimensions: 2,
      async embed(texts) {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        if (inFlight === 3) threeInFlight();
        // The first batches are answered only once three are in flight together: a service that
        // sent fewer at a time would never finish; one that sent more shows them in maxInFlight.
        await firstRound;
        inFlight -= 1;
        return texts.map((text) => [text.length, 1]);
      },
    };
    const { service, progress, indexed } = setup(embedder, { batchSize: 4, concurrency: 3, sentences: 40 });
    const outcome = await service.ingest('doc_1', new AbortController().signal);
    assert.equal(outcome.kind, 'ready');
    assert.equal(maxInFlight, 3);
    const chunks = indexed[0]!;
    assert.ok(chunks.length >= 20, `${chunks.length} chunks`);
    assert.ok(
      chunks.every((chunk) => chunk.vector?.[0] === chunk.text.length),
      'each chunk has its own vector',
    );
    const embedding = progress.filter((entry) => entry?.stage === 'embedding').map((entry) => entry!.done);
    assert.equal(embedding[0], 0);
    assert.equal(embedding.at(-1), chunks.length);
    assert.ok(
      embedding.every((done, position) => position === 0 || done > embedding[position - 1]!),
      'progress only grows',
    );
  });

  it('stops taking batches after one fails and reports that failure', async () => {
    let calls = 0;
    const embedder: Embedder = {
      name: 'failing',
      dimensions: 1,
      async embed(texts) {
        calls += 1;
        if (calls === 2) throw new AppError('embedding_failed', 'HTTP 429', { retryable: true, retryAfterSeconds: 3 });
        await new Promise((resolve) => setTimeout(resolve, 10));
        return texts.map(() => [1]);
      },
    };
    const { service, indexed } = setup(embedder, { batchSize: 2, concurrency: 2, sentences: 40 });
    await assert.rejects(service.ingest('doc_1', new AbortController().signal), { code: 'embedding_failed', retryable: true, retryAfterSeconds: 3 });
    assert.ok(calls <= 3, `${calls} batches were sent`);
    assert.deepEqual(indexed, []);
  });
});
