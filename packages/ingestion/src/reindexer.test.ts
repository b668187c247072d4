import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LocalChunkIndex, Retriever, createAnalyzer } from '@passage/retrieval';
import {
  generationSchemaOf,
  newDocumentId,
  newKnowledgeBaseId,
  type DocumentParser,
  type Embedder,
  type GenerationSchema,
  type IngestionQueue,
  type RebuildOutcome,
  type RebuildRequest,
} from '@passage/spec';
import { LocalFileStore, SqliteCatalog, SqliteChunkStore, openDatabase, type SqliteDatabase } from '@passage/store-sqlite';
import { temporaryDataDirectory } from '@passage/testing';
import { InProcessQueue } from './in-process-queue.js';
import { IngestionService } from './ingestion-service.js';
import { Reindexer } from './reindexer.js';

const analyzer = createAnalyzer();

/** Reads the original as UTF-8 text: one page. */
const textParser: DocumentParser = {
  parse: async (bytes) => ({ type: 'text', pages: [{ number: 1, text: new TextDecoder().decode(bytes) }] }),
};

/** A deterministic embedder of any size: letter counts folded into `dimensions` slots. */
function foldingEmbedder(name: string, dimensions: number): Embedder {
  return {
    name,
    dimensions,
    embed: async (texts) =>
      texts.map((text) => {
        const vector = new Array<number>(dimensions).fill(0);
        for (const character of text.toLowerCase()) vector[character.charCodeAt(0) % dimensions]! += 1;
        return vector;
      }),
  };
}

describe('Reindexer (embedded store, in-process rebuilds)', () => {
  let directory: string;
  let database: SqliteDatabase;
  let catalog: SqliteCatalog;
  let index: LocalChunkIndex;
  let files: LocalFileStore;
  let knowledgeBaseId: string;

  const stack = (embedder: Embedder | null) => {
    const ingestion = new IngestionService({ catalog, files, index, parser: textParser, analyzer, embedder, chunking: { targetTokens: 40, overlapTokens: 0 } });
    const queue = new InProcessQueue({ catalog, service: ingestion, concurrency: 2 });
    const retriever = new Retriever({ catalog, index, analyzer, embedder });
    return { ingestion, queue, retriever };
  };

  async function upload(text: string, ingestion: IngestionService, name = `${newDocumentId()}.txt`): Promise<string> {
    const id = newDocumentId();
    const source = path.join(directory, `${id}.upload`);
    await writeFile(source, text);
    await files.putFromPath(id, source);
    await catalog.createDocuments([{ id, knowledgeBaseId, name, bytes: text.length, contentHash: id, mediaType: 'text/plain' }]);
    const outcome = await ingestion.ingest(id, new AbortController().signal);
    assert.equal(outcome.kind, 'ready');
    return id;
  }

  const reindexer = (queue: IngestionQueue, schema: GenerationSchema, owner = 'test') =>
    new Reindexer({ catalog, index, queue, schema, owner, dropOld: true, dropGraceMs: 0, leaseMs: 5000 });

  beforeEach(async () => {
    directory = await temporaryDataDirectory();
    database = openDatabase({ dataDirectory: directory });
    catalog = new SqliteCatalog(database);
    index = new LocalChunkIndex({ store: new SqliteChunkStore(database) });
    files = new LocalFileStore({ directory: path.join(directory, 'originals') });
    knowledgeBaseId = newKnowledgeBaseId();
    const schema = generationSchemaOf(null);
    await index.createGeneration({ knowledgeBaseId, generation: 1 }, schema);
    await catalog.createKnowledgeBase({ id: knowledgeBaseId, name: 'Reindex', schema });
  });
  afterEach(async () => {
    await index.close();
    database.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('rebuilds every document into the next generation, switches, drops the old one, and keeps the chunk count', async () => {
    const { ingestion, queue, retriever } = stack(null);
    for (let count = 0; count < 6; count += 1) await upload(`Document ${count} speaks of comet ${count} and its tail. `.repeat(20), ingestion);
    const result = await reindexer(queue, generationSchemaOf(null)).reindex(knowledgeBaseId, new AbortController().signal);
    assert.equal(result.switched, true);
    assert.equal(result.dropped, true);
    assert.equal(result.targetGeneration, 2);
    assert.equal(result.rebuilt, 6);
    assert.ok(result.chunksBefore > 6);
    assert.equal(result.chunksAfter, result.chunksBefore);
    assert.equal((await catalog.getKnowledgeBase(knowledgeBaseId))?.generation, 2);
    assert.equal(await index.countChunks(knowledgeBaseId, 1), 0, 'the old generation is gone');
    const hits = await retriever.search({ knowledgeBaseId, query: 'comet 3 tail', topK: 3 });
    assert.ok(hits.length > 0 && hits.every((hit) => hit.chunk.generation === 2));
  });

  it('keeps the old generation without dropOld, and drops every older one on a later run with it', async () => {
    const { ingestion, queue } = stack(null);
    await upload('Generations pile up. '.repeat(20), ingestion);
    const kept = new Reindexer({ catalog, index, queue, schema: generationSchemaOf(null), owner: 'keeper', leaseMs: 5000 });
    assert.equal((await kept.reindex(knowledgeBaseId, new AbortController().signal)).dropped, false);
    assert.ok((await index.countChunks(knowledgeBaseId, 1)) > 0, 'generation 1 is kept');
    const result = await reindexer(queue, generationSchemaOf(null)).reindex(knowledgeBaseId, new AbortController().signal);
    assert.equal(result.targetGeneration, 3);
    assert.equal(await index.countChunks(knowledgeBaseId, 2), 0);
    assert.equal(await index.countChunks(knowledgeBaseId, 1), 0, 'the generation kept earlier goes too');
    assert.equal(result.chunksAfter, result.chunksBefore);
  });

  it('switches to a generation built with an embedder of another vector size, and dense search works on it', async () => {
    const small = foldingEmbedder('small', 8);
    const large = foldingEmbedder('large', 12);
    // The knowledge base starts with vectors of the small model.
    const schema = generationSchemaOf(small);
    knowledgeBaseId = newKnowledgeBaseId();
    await index.createGeneration({ knowledgeBaseId, generation: 1 }, schema);
    await catalog.createKnowledgeBase({ id: knowledgeBaseId, name: 'Vectors', schema });
    const before = stack(small);
    await upload('Tides follow the moon. '.repeat(10), before.ingestion);
    await upload('Bread rises with yeast. '.repeat(10), before.ingestion);
    const after = stack(large);
    await assert.rejects(after.retriever.search({ knowledgeBaseId, query: 'moon', topK: 2, mode: 'dense' }), { code: 'invalid_request' });
    const result = await reindexer(after.queue, generationSchemaOf(large)).reindex(knowledgeBaseId, new AbortController().signal);
    assert.equal(result.switched, true);
    assert.deepEqual((await catalog.getKnowledgeBase(knowledgeBaseId))?.schema, { embeddingModel: 'large', denseDimensions: 12 });
    const hits = await after.retriever.search({ knowledgeBaseId, query: 'moon tides', topK: 2, mode: 'dense' });
    assert.equal(hits.length, 2);
    assert.ok(hits.every((hit) => hit.chunk.generation === 2));
  });

  it('refuses a second reindex of the same knowledge base while the first holds the lock, naming the holder', async () => {
    const { ingestion, queue } = stack(null);
    await upload('Only one at a time. '.repeat(10), ingestion);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let started: () => void = () => {};
    const rebuilding = new Promise<void>((resolve) => (started = resolve));
    // A queue whose rebuild waits until released, so the first reindex is under way.
    const slowQueue: IngestionQueue = {
      enqueue: (ids) => queue.enqueue(ids),
      start: () => queue.start(),
      cancel: (id) => queue.cancel(id),
      close: () => queue.close(),
      async *rebuild(request: RebuildRequest): AsyncIterable<RebuildOutcome> {
        started();
        await held;
        yield* queue.rebuild(request);
      },
    };
    const first = reindexer(slowQueue, generationSchemaOf(null), 'first').reindex(knowledgeBaseId, new AbortController().signal);
    await rebuilding;
    await assert.rejects(reindexer(queue, generationSchemaOf(null), 'second').reindex(knowledgeBaseId, new AbortController().signal), {
      code: 'reindex_in_progress',
      message: /being reindexed into generation 2 by first/,
    });
    release();
    assert.equal((await first).switched, true);
  });

  it('resumes an interrupted reindex without rebuilding what the target already holds', async () => {
    const { ingestion, queue } = stack(null);
    for (let count = 0; count < 4; count += 1) await upload(`Resume ${count}. `.repeat(30), ingestion);
    // The first run is aborted after its first document, as a killed process would stop.
    const controller = new AbortController();
    const interrupted = new Reindexer({
      catalog,
      index,
      queue,
      schema: generationSchemaOf(null),
      owner: 'killed',
      leaseMs: 50,
      concurrency: 1,
      onProgress: (progress) => {
        if (progress.documentsDone >= 1) controller.abort();
      },
    });
    await assert.rejects(interrupted.reindex(knowledgeBaseId, controller.signal), { code: 'aborted' });
    const recorded = (await catalog.documentsInGeneration(knowledgeBaseId, 2)).size;
    assert.ok(recorded >= 1 && recorded < 4, `${recorded} documents were done before the interruption`);
    assert.equal((await catalog.getKnowledgeBase(knowledgeBaseId))?.generation, 1, 'searches still read generation 1');
    await new Promise((resolve) => setTimeout(resolve, 100)); // the 50 ms lease of the stopped run runs out
    const result = await reindexer(queue, generationSchemaOf(null), 'again').reindex(knowledgeBaseId, new AbortController().signal);
    assert.equal(result.resumed, true);
    assert.equal(result.switched, true);
    assert.equal(result.rebuilt, 4 - recorded);
    assert.equal(result.documents, 4);
    assert.equal(result.chunksAfter, result.chunksBefore);
  });

  it('writes an upload made during the reindex into both generations, so it is searchable after the switch', async () => {
    const { ingestion, queue, retriever } = stack(null);
    await upload('Existing text about glaciers. '.repeat(10), ingestion);
    let uploadedMeanwhile = '';
    const queueWithUpload: IngestionQueue = {
      enqueue: (ids) => queue.enqueue(ids),
      start: () => queue.start(),
      cancel: (id) => queue.cancel(id),
      close: () => queue.close(),
      async *rebuild(request: RebuildRequest): AsyncIterable<RebuildOutcome> {
        // An upload lands while the reindex is under way.
        if (uploadedMeanwhile === '') uploadedMeanwhile = await upload('A fresh note about volcanoes and lava. '.repeat(10), ingestion);
        yield* queue.rebuild(request);
      },
    };
    const result = await reindexer(queueWithUpload, generationSchemaOf(null)).reindex(knowledgeBaseId, new AbortController().signal);
    assert.equal(result.switched, true);
    assert.equal((await index.countChunks(knowledgeBaseId, 2, uploadedMeanwhile)) > 0, true);
    const hits = await retriever.search({ knowledgeBaseId, query: 'volcanoes lava', topK: 1 });
    assert.equal(hits[0]?.chunk.documentId, uploadedMeanwhile);
  });

  it('does not switch when a document cannot be rebuilt, and lists it', async () => {
    const { ingestion, queue } = stack(null);
    const kept = await upload('This one rebuilds. '.repeat(10), ingestion);
    const broken = await upload('This one loses its file. '.repeat(10), ingestion, 'broken.txt');
    await files.delete(broken);
    const result = await reindexer(queue, generationSchemaOf(null)).reindex(knowledgeBaseId, new AbortController().signal);
    assert.equal(result.switched, false);
    assert.deepEqual(
      result.failed.map((failure) => [failure.documentId, failure.name, failure.code]),
      [[broken, 'broken.txt', 'file_missing']],
    );
    assert.equal((await catalog.getKnowledgeBase(knowledgeBaseId))?.generation, 1);
    assert.ok((await index.countChunks(knowledgeBaseId, 1, kept)) > 0);
  });
});
