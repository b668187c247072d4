import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { temporaryDataDirectory } from '@passage/testing';
import type { IndexedChunk } from '@passage/spec';
import { openDatabase, type SqliteDatabase } from './database.js';
import { SqliteChunkStore } from './sqlite-chunk-store.js';

/** More rows than one bounded delete takes, so every removal below needs several. */
const manyChunks = 1_234;

function chunks(knowledgeBaseId: string, generation: number, documentId: string, count: number): IndexedChunk[] {
  return Array.from({ length: count }, (_, ordinal) => ({
    id: `${documentId}-${generation}-${ordinal}`,
    knowledgeBaseId,
    generation,
    documentId,
    documentName: `${documentId}.txt`,
    ordinal,
    page: 1,
    start: ordinal,
    end: ordinal + 1,
    text: `chunk ${ordinal}`,
    tokens: 2,
    terms: { chunk: 1 },
  }));
}

describe('SqliteChunkStore removes large documents, generations and knowledge bases in bounded deletes', () => {
  let directory: string;
  let database: SqliteDatabase;
  let store: SqliteChunkStore;

  before(async () => {
    directory = await temporaryDataDirectory();
    database = openDatabase({ dataDirectory: directory });
    store = new SqliteChunkStore(database);
  });
  after(async () => {
    database.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function stored(knowledgeBaseId: string, generation: number, documents: string[]): Promise<void> {
    await store.createGeneration(knowledgeBaseId, generation);
    for (const documentId of documents) {
      await store.replaceDocumentChunks({ knowledgeBaseId, generation, documentId }, chunks(knowledgeBaseId, generation, documentId, manyChunks));
    }
  }

  test('removing a document removes every one of its rows, leaves the others and logs the removal once', async () => {
    await stored('kb-document', 1, ['large', 'kept']);
    const before = await store.changesSince('kb-document', 0);
    await store.removeDocument('kb-document', 'large');
    assert.equal(await store.countChunks('kb-document', 1, 'large'), 0);
    assert.equal(await store.countChunks('kb-document', 1, 'kept'), manyChunks);
    const logged = (await store.changesSince('kb-document', before.at(-1)!.sequence)).map((change) => [change.kind, change.documentId]);
    assert.deepEqual(logged, [['remove-document', 'large']]);
  });

  test('replacing a document’s rows removes every earlier row first', async () => {
    await stored('kb-replace', 1, ['large']);
    await store.replaceDocumentChunks({ knowledgeBaseId: 'kb-replace', generation: 1, documentId: 'large' }, chunks('kb-replace', 1, 'large', 3));
    assert.equal(await store.countChunks('kb-replace', 1, 'large'), 3);
  });

  test('dropping a generation removes its rows and only them', async () => {
    await stored('kb-generation', 1, ['large']);
    await stored('kb-generation', 2, ['large']);
    await store.dropGeneration('kb-generation', 1);
    assert.equal(await store.hasGeneration('kb-generation', 1), false);
    assert.equal(await store.countChunks('kb-generation', 1), 0);
    assert.equal(await store.countChunks('kb-generation', 2), manyChunks);
  });

  test('removing a knowledge base removes every row of it and no row of another', async () => {
    await stored('kb-removed', 1, ['first', 'second']);
    await stored('kb-other', 1, ['other']);
    await store.removeKnowledgeBase('kb-removed');
    assert.equal(await store.countChunks('kb-removed', 1), 0);
    assert.equal(await store.hasGeneration('kb-removed', 1), false);
    assert.equal(await store.countChunks('kb-other', 1), manyChunks);
  });
});
