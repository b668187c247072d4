import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { chunkId, seededRandom, type IndexedChunk } from '@passage/spec';
import { SqliteChunkStore, openDatabase, type SqliteDatabase } from '@passage/store-sqlite';
import { temporaryDataDirectory } from '@passage/testing';
import { LocalChunkIndex } from './local-chunk-index.js';

const dimensions = 16;

function documentChunks(documentId: string, count: number, seed: number): IndexedChunk[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, ordinal) => ({
    id: chunkId(documentId, 1, ordinal),
    knowledgeBaseId: 'kb',
    documentId,
    documentName: `${documentId}.txt`,
    generation: 1,
    ordinal,
    page: 1,
    start: 0,
    end: 4,
    text: 'text',
    tokens: 1,
    terms: { text: 1 },
    vector: Array.from({ length: dimensions }, () => random() * 2 - 1),
  }));
}

describe('LocalChunkIndex with an HNSW graph', () => {
  let directory: string;
  let database: SqliteDatabase;
  const indexes: LocalChunkIndex[] = [];
  const open = () => {
    const index = new LocalChunkIndex({
      store: new SqliteChunkStore(database),
      dense: { mode: 'approximate', directory: path.join(directory, 'dense-indexes') },
      onBackgroundError: (error) => assert.fail(error),
    });
    indexes.push(index);
    return index;
  };
  const queries = Array.from({ length: 10 }, (_, number) => documentChunks('query', 1, 1_000 + number)[0]!.vector!);
  const answers = (index: LocalChunkIndex) =>
    Promise.all(
      queries.map(async (vector) =>
        (await index.search({ knowledgeBaseId: 'kb', generation: 1, terms: {}, vector, mode: 'dense', topK: 10 })).map((hit) => hit.chunk.id),
      ),
    );

  beforeEach(async () => {
    directory = await temporaryDataDirectory();
    database = openDatabase({ dataDirectory: directory });
    await open().createGeneration({ knowledgeBaseId: 'kb', generation: 1 }, { embeddingModel: 'm', denseDimensions: dimensions });
  });
  afterEach(async () => {
    for (const index of indexes.splice(0)) await index.close();
    database.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('keeps the graph beside the database, maps it after a restart and answers the same; a deleted document is never returned', async () => {
    const first = open();
    for (let document = 0; document < 6; document += 1) {
      await first.upsertDocumentChunks(
        { knowledgeBaseId: 'kb', generation: 1, documentId: `doc-${document}` },
        documentChunks(`doc-${document}`, 100, document),
      );
    }
    assert.deepEqual(await first.settleDenseIndex('kb', 1), { approximate: true, vectors: 600 });
    const before = await answers(first);
    assert.ok((await readdir(path.join(directory, 'dense-indexes'))).some((name) => name.endsWith('.usearch')));

    const restarted = open();
    await restarted.search({ knowledgeBaseId: 'kb', generation: 1, terms: {}, vector: queries[0]!, mode: 'dense', topK: 1 });
    assert.deepEqual(await answers(restarted), before, 'the same answers from the kept graph');
    assert.deepEqual(await restarted.settleDenseIndex('kb', 1), { approximate: true, vectors: 600 });

    await restarted.deleteDocument('kb', 'doc-2');
    const removed = new Set(documentChunks('doc-2', 100, 2).map((chunk) => chunk.id));
    for (const answer of await answers(restarted)) {
      assert.equal(answer.length, 10);
      for (const id of answer) assert.ok(!removed.has(id), `${id} of the deleted document`);
    }
    // Another restart: the graph still holds doc-2's keys; the feed since its build says they are gone.
    const again = open();
    for (const answer of await answers(again)) for (const id of answer) assert.ok(!removed.has(id), `${id} of the deleted document after a restart`);
  });

  it('after a restart, answers lexical searches before the stored vectors are read; dense searches and a delete wait for them and are exact', async () => {
    const first = open();
    for (let document = 0; document < 4; document += 1) {
      const chunks = documentChunks(`doc-${document}`, 50, 10 + document).map((chunk) => ({ ...chunk, terms: { text: 1, [`only${document}`]: 1 } }));
      await first.upsertDocumentChunks({ knowledgeBaseId: 'kb', generation: 1, documentId: `doc-${document}` }, chunks);
    }
    await first.settleDenseIndex('kb', 1);
    const before = await answers(first);
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    class HeldVectorsStore extends SqliteChunkStore {
      override async *vectorPages(knowledgeBaseId: string, generation: number): AsyncGenerator<Array<{ id: string; vector: Float32Array }>> {
        await released;
        yield* super.vectorPages(knowledgeBaseId, generation);
      }
    }
    const restarted = new LocalChunkIndex({ store: new HeldVectorsStore(database), onBackgroundError: (error) => assert.fail(error) });
    indexes.push(restarted);
    const lexical = await restarted.search({ knowledgeBaseId: 'kb', generation: 1, terms: { only1: 1 }, mode: 'lexical', topK: 100 });
    assert.equal(lexical.length, 50, 'a lexical search is answered while the vectors are held back');
    let dense: string[][] | null = null;
    const denseAnswers = answers(restarted).then((result) => (dense = result));
    let deleted = false;
    const deleting = restarted.deleteDocument('kb', 'doc-1').then(() => (deleted = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(dense, null, 'dense searches wait for the vectors');
    assert.equal(deleted, false, 'a delete waits for the vectors');
    release();
    await Promise.all([denseAnswers, deleting]);
    const removed = new Set(documentChunks('doc-1', 50, 11).map((chunk) => chunk.id));
    const after = await answers(restarted);
    for (const answer of after) for (const id of answer) assert.ok(!removed.has(id), `${id} of the deleted document`);
    assert.deepEqual(after, await answers(first), 'the same dense answers as the index that saw the delete');
    assert.notDeepEqual(before, after);
    assert.deepEqual(await restarted.search({ knowledgeBaseId: 'kb', generation: 1, terms: { only1: 1 }, mode: 'lexical', topK: 100 }), []);
  });

  it('deletes the kept graphs with the knowledge base', async () => {
    const index = open();
    await index.upsertDocumentChunks({ knowledgeBaseId: 'kb', generation: 1, documentId: 'doc' }, documentChunks('doc', 50, 9));
    await index.settleDenseIndex('kb', 1);
    assert.notDeepEqual(await readdir(path.join(directory, 'dense-indexes')), []);
    await index.deleteKnowledgeBase('kb');
    assert.deepEqual(await readdir(path.join(directory, 'dense-indexes')), []);
  });
});
