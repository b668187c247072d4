import assert from 'node:assert/strict';
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { chunkId, seededRandom, type IndexedChunk, type RandomAccessFile, type SearchHit } from '@passage/spec';
import { SqliteChunkStore, openDatabase, type SqliteDatabase } from '@passage/store-sqlite';
import { temporaryDataDirectory } from '@passage/testing';
import { LocalChunkIndex, type LocalChunkIndexOptions } from './local-chunk-index.js';

/** `documents` documents of `chunksPerDocument` chunks over a skewed vocabulary. */
function corpus(documents: number, chunksPerDocument: number, seed: number): Map<string, IndexedChunk[]> {
  const random = seededRandom(seed);
  const result = new Map<string, IndexedChunk[]>();
  for (let document = 0; document < documents; document += 1) {
    const documentId = `doc-${document}`;
    const chunks: IndexedChunk[] = [];
    for (let ordinal = 0; ordinal < chunksPerDocument; ordinal += 1) {
      const terms: Record<string, number> = {};
      for (let position = 0; position < 30; position += 1) {
        const term = `t${Math.floor(2000 * random() ** 3)}`;
        terms[term] = (terms[term] ?? 0) + 1;
      }
      const text = Object.keys(terms).join(' ');
      chunks.push({
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
        tokens: 30,
        terms,
      });
    }
    result.set(documentId, chunks);
  }
  return result;
}

const queries: Array<Record<string, number>> = [{ t1: 1 }, { t3: 1, t40: 1 }, { t7: 2, t100: 1, t5: 1 }, { t900: 1, t12: 1 }, { t0: 1, t2: 1, t300: 1 }];
const ranking = (hits: SearchHit[]) => hits.map((hit) => `${hit.chunk.id} ${hit.score}`);

describe('LocalChunkIndex with segments', () => {
  let directory: string;
  let database: SqliteDatabase;
  const indexes: LocalChunkIndex[] = [];

  const open = (options: Omit<LocalChunkIndexOptions, 'store'> = {}) => {
    const index = new LocalChunkIndex({ store: new SqliteChunkStore(database), ...options });
    indexes.push(index);
    return index;
  };
  const search = (index: LocalChunkIndex, terms: Record<string, number>) =>
    index.search({ knowledgeBaseId: 'kb', generation: 1, terms, mode: 'lexical', topK: 20 });
  const rankings = async (index: LocalChunkIndex) => Promise.all(queries.map(async (query) => ranking(await search(index, query))));

  beforeEach(async () => {
    directory = await temporaryDataDirectory();
    database = openDatabase({ dataDirectory: directory });
    await open().createGeneration({ knowledgeBaseId: 'kb', generation: 1 }, { embeddingModel: null, denseDimensions: null });
  });
  afterEach(async () => {
    for (const index of indexes.splice(0)) await index.close();
    database.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function fill(index: LocalChunkIndex, documents: Map<string, IndexedChunk[]>): Promise<void> {
    for (const [documentId, chunks] of documents) await index.upsertDocumentChunks({ knowledgeBaseId: 'kb', generation: 1, documentId }, chunks);
  }

  it('builds a large generation in a worker thread, writes its segment, and ranks identically after a restart that reads it back', async () => {
    const documents = corpus(60, 100, 1); // 6,000 chunks: more than the pages built in process
    const first = open();
    await fill(first, documents);
    const before = await rankings(first);
    assert.ok(before.every((hits) => hits.length > 0));
    const files = await readdir(path.join(directory, 'lexical-segments'));
    assert.equal(files.length, 1);
    const restarted = open();
    assert.deepEqual(await rankings(restarted), before);
  });

  it('answers a search that arrives during the cold start, with the event loop turning while it loads', async () => {
    await fill(open(), corpus(60, 100, 2));
    const cold = open();
    let turns = 0;
    let searching = true;
    const tick = () => {
      turns += 1;
      if (searching) setImmediate(tick);
    };
    setImmediate(tick);
    const hits = await search(cold, { t1: 1 });
    searching = false;
    assert.ok(hits.length > 0);
    assert.ok(turns > 1, `the event loop turned ${turns} times during the load`);
  });

  it("after a restart, searches reading only their terms' postings from the segment file, and a delete reads the document's terms and is exact", async () => {
    const writer = open();
    await fill(writer, corpus(60, 100, 5));
    const before = await rankings(writer);
    let bytesRead = 0;
    let fileSize = 0;
    class CountingSegmentStore extends SqliteChunkStore {
      override async openLexicalSegment(knowledgeBaseId: string, generation: number): Promise<RandomAccessFile | null> {
        const file = await super.openLexicalSegment(knowledgeBaseId, generation);
        if (file === null) return null;
        fileSize = file.size;
        return {
          size: file.size,
          read: async (target, position) => {
            bytesRead += target.byteLength;
            await file.read(target, position);
          },
          close: () => file.close(),
        };
      }
    }
    const restarted = new LocalChunkIndex({ store: new CountingSegmentStore(database) });
    indexes.push(restarted);
    assert.deepEqual(await rankings(restarted), before);
    assert.ok(fileSize > 0 && bytesRead < fileSize / 2, `${bytesRead} bytes read of a segment file of ${fileSize}`);
    await restarted.deleteDocument('kb', 'doc-3');
    const afterDelete = await rankings(restarted);
    const removed = new Set(Array.from({ length: 100 }, (_, ordinal) => chunkId('doc-3', 1, ordinal)));
    assert.ok(
      before.some((hits) => hits.some((hit) => removed.has(hit.split(' ')[0] as string))),
      'the removed document ranked before',
    );
    for (const hits of afterDelete) assert.ok(hits.every((hit) => !removed.has(hit.split(' ')[0] as string)));
    assert.deepEqual(afterDelete, await rankings(writer));
    assert.ok(bytesRead < fileSize, `${bytesRead} bytes read of a segment file of ${fileSize}, with a delete`);
  });

  it('sees writes and deletes made after the segment was written, exactly, across a restart', async () => {
    const documents = corpus(30, 20, 3);
    const writer = open();
    await fill(writer, documents);
    await rankings(writer); // builds and writes the segment
    const more = corpus(40, 20, 4);
    const added = new Map([...more].filter(([documentId]) => Number(documentId.slice(4)) >= 30));
    await fill(writer, added);
    await writer.deleteDocument('kb', 'doc-3');
    await writer.deleteDocument('kb', 'doc-35');
    const afterChanges = await rankings(writer);
    for (const hits of afterChanges) assert.ok(hits.every((hit) => !hit.startsWith(chunkId('doc-3', 1, 0))));
    // A fresh database file with the same chunks, indexed from nothing, ranks the same.
    const restarted = open();
    assert.deepEqual(await rankings(restarted), afterChanges);
    const freshDirectory = await temporaryDataDirectory();
    const freshDatabase = openDatabase({ dataDirectory: freshDirectory });
    try {
      const fresh = new LocalChunkIndex({ store: new SqliteChunkStore(freshDatabase) });
      await fresh.createGeneration({ knowledgeBaseId: 'kb', generation: 1 }, { embeddingModel: null, denseDimensions: null });
      const remaining = new Map([...documents, ...added].filter(([documentId]) => documentId !== 'doc-3' && documentId !== 'doc-35'));
      await fill(fresh, remaining);
      assert.deepEqual(await rankings(fresh), afterChanges);
      await fresh.close();
    } finally {
      freshDatabase.close();
      await rm(freshDirectory, { recursive: true, force: true });
    }
  });

  it('rebuilds the segment in the background once the tail grows, keeping the ranking', async () => {
    const index = open({ tailChunksBeforeRebuild: 100 });
    await fill(index, corpus(10, 10, 5));
    await rankings(index);
    const segmentFile = path.join(directory, 'lexical-segments', (await readdir(path.join(directory, 'lexical-segments')))[0] as string);
    const { size: sizeBefore } = await stat(segmentFile);
    await fill(index, new Map([...corpus(30, 10, 6)].filter(([documentId]) => Number(documentId.slice(4)) >= 10)));
    const withTail = await rankings(index); // catches up (200 chunks in the tail) and starts the rebuild
    await index.close(); // waits for the rebuild
    const { size: sizeAfter } = await stat(segmentFile);
    assert.ok(sizeAfter > sizeBefore, `segment grew from ${sizeBefore} to ${sizeAfter} bytes`);
    assert.deepEqual(await rankings(open()), withTail);
  });
});
