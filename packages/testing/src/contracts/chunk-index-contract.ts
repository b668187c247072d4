import assert from 'node:assert/strict';
import { describe, it, beforeEach, afterEach } from 'node:test';
import { chunkId, type ChunkIndex, type GenerationSchema, type IndexedChunk } from '@passage/spec';

const lexical: GenerationSchema = { embeddingModel: null, denseDimensions: null };

export interface ChunkIndexFixture {
  index: ChunkIndex;
  /** A second handle on the same storage, as another process would have. */
  openAnother: () => Promise<ChunkIndex>;
  cleanup: () => Promise<void>;
}

function chunk(knowledgeBaseId: string, documentId: string, ordinal: number, terms: Record<string, number>, page = 1, generation = 1): IndexedChunk {
  const text = Object.keys(terms).join(' ');
  return {
    id: chunkId(documentId, generation, ordinal),
    knowledgeBaseId,
    documentId,
    documentName: `${documentId}.pdf`,
    generation,
    ordinal,
    page,
    start: 0,
    end: text.length,
    text,
    tokens: Object.keys(terms).length,
    terms,
  };
}

/** The behaviour every ChunkIndex adapter must have (lexical part). */
export function describeChunkIndexContract(name: string, create: () => Promise<ChunkIndexFixture>): void {
  describe(`ChunkIndex contract: ${name}`, () => {
    let fixture: ChunkIndexFixture;
    beforeEach(async () => {
      fixture = await create();
      // Generations exist only once created (a knowledge base's first, or a reindex's target).
      for (const knowledgeBaseId of ['kb1', 'kb2']) await fixture.index.createGeneration({ knowledgeBaseId, generation: 1 }, lexical);
    });
    afterEach(async () => {
      await fixture.cleanup();
    });
    const search = (index: ChunkIndex, knowledgeBaseId: string, terms: Record<string, number>, topK = 10) =>
      index.search({ knowledgeBaseId, generation: 1, terms, mode: 'lexical', topK });

    it('finds chunks by their terms, best first, with page and text', async () => {
      const { index } = fixture;
      await index.upsertDocumentChunks({ knowledgeBaseId: 'kb1', generation: 1, documentId: 'd1' }, [
        chunk('kb1', 'd1', 0, { apple: 3, pie: 1 }, 2),
        chunk('kb1', 'd1', 1, { banana: 2 }, 3),
      ]);
      await index.upsertDocumentChunks({ knowledgeBaseId: 'kb1', generation: 1, documentId: 'd2' }, [chunk('kb1', 'd2', 0, { apple: 1, tart: 4 }, 7)]);
      const hits = await search(index, 'kb1', { apple: 1 });
      assert.deepEqual(
        hits.map((hit) => hit.chunk.documentId),
        ['d1', 'd2'],
      );
      assert.equal(hits[0]?.chunk.page, 2);
      assert.equal(hits[0]?.chunk.text, 'apple pie');
      assert.ok((hits[0]?.score ?? 0) > (hits[1]?.score ?? 0));
      assert.equal(await index.countChunks('kb1', 1), 3);
      assert.equal(await index.countChunks('kb1', 1, 'd1'), 2);
    });

    it('fuses hybrid searches by dbsf by default or by rrf when asked: the chunk first in both lists first, every hit of either list present', async () => {
      const { index } = fixture;
      const target = { knowledgeBaseId: 'kb2', generation: 2 };
      await index.createGeneration(target, { embeddingModel: 'contract', denseDimensions: 2 });
      const withVector = (documentId: string, terms: Record<string, number>, vector: number[]): IndexedChunk => ({
        ...chunk('kb2', documentId, 0, terms, 1, 2),
        vector,
      });
      await index.upsertDocumentChunks({ ...target, documentId: 'both' }, [withVector('both', { comet: 3, tail: 1 }, [1, 0.05])]);
      await index.upsertDocumentChunks({ ...target, documentId: 'words' }, [withVector('words', { comet: 1, dust: 2 }, [0, 1])]);
      await index.upsertDocumentChunks({ ...target, documentId: 'meaning' }, [withVector('meaning', { ice: 1 }, [0.9, 0.3])]);
      for (const fusion of [undefined, 'dbsf', 'rrf'] as const) {
        const hits = await index.search({
          ...target,
          terms: { comet: 1 },
          vector: [1, 0],
          mode: 'hybrid',
          topK: 10,
          ...(fusion === undefined ? {} : { fusion }),
        });
        assert.equal(hits[0]?.chunk.documentId, 'both', `fusion ${fusion ?? 'default'}`);
        assert.deepEqual(new Set(hits.map((hit) => hit.chunk.documentId)), new Set(['both', 'words', 'meaning']), `fusion ${fusion ?? 'default'}`);
        assert.ok(
          hits.every((hit, position) => position === 0 || hit.score <= hits[position - 1]!.score),
          'best first',
        );
      }
    });

    it('keeps knowledge bases apart', async () => {
      const { index } = fixture;
      await index.upsertDocumentChunks({ knowledgeBaseId: 'kb1', generation: 1, documentId: 'd1' }, [chunk('kb1', 'd1', 0, { shared: 1 })]);
      await index.upsertDocumentChunks({ knowledgeBaseId: 'kb2', generation: 1, documentId: 'd9' }, [chunk('kb2', 'd9', 0, { shared: 1 })]);
      assert.deepEqual(
        (await search(index, 'kb1', { shared: 1 })).map((hit) => hit.chunk.documentId),
        ['d1'],
      );
    });

    it('replaces a document on re-upsert instead of duplicating it', async () => {
      const { index } = fixture;
      const target = { knowledgeBaseId: 'kb1', generation: 1, documentId: 'd1' };
      await index.upsertDocumentChunks(target, [chunk('kb1', 'd1', 0, { alpha: 1 }), chunk('kb1', 'd1', 1, { alpha: 1, beta: 1 })]);
      await search(index, 'kb1', { alpha: 1 });
      await index.upsertDocumentChunks(target, [chunk('kb1', 'd1', 0, { alpha: 1 }), chunk('kb1', 'd1', 1, { alpha: 1, beta: 1 })]);
      const hits = await search(index, 'kb1', { alpha: 1 });
      assert.equal(hits.length, 2);
      assert.equal(new Set(hits.map((hit) => hit.chunk.id)).size, 2);
      await index.upsertDocumentChunks(target, [chunk('kb1', 'd1', 0, { gamma: 1 })]);
      assert.deepEqual(await search(index, 'kb1', { alpha: 1 }), []);
      assert.equal((await search(index, 'kb1', { gamma: 1 })).length, 1);
    });

    it('forgets a deleted document before deleteDocument resolves', async () => {
      const { index } = fixture;
      await index.upsertDocumentChunks({ knowledgeBaseId: 'kb1', generation: 1, documentId: 'd1' }, [chunk('kb1', 'd1', 0, { gone: 1 })]);
      await index.upsertDocumentChunks({ knowledgeBaseId: 'kb1', generation: 1, documentId: 'd2' }, [chunk('kb1', 'd2', 0, { gone: 1, stays: 1 })]);
      assert.equal((await search(index, 'kb1', { gone: 1 })).length, 2);
      await index.deleteDocument('kb1', 'd1');
      assert.deepEqual(
        (await search(index, 'kb1', { gone: 1 })).map((hit) => hit.chunk.documentId),
        ['d2'],
      );
      assert.equal(await index.countChunks('kb1', 1, 'd1'), 0);
    });

    it('deletes a whole knowledge base with its generations, and refuses writes into it afterwards', async () => {
      const { index } = fixture;
      await index.upsertDocumentChunks({ knowledgeBaseId: 'kb1', generation: 1, documentId: 'd1' }, [chunk('kb1', 'd1', 0, { word: 1 })]);
      await search(index, 'kb1', { word: 1 });
      await index.deleteKnowledgeBase('kb1');
      await assert.rejects(search(index, 'kb1', { word: 1 }), { code: 'generation_not_found' });
      assert.equal(await index.countChunks('kb1', 1), 0);
      await assert.rejects(index.upsertDocumentChunks({ knowledgeBaseId: 'kb1', generation: 1, documentId: 'd2' }, [chunk('kb1', 'd2', 0, { late: 1 })]), {
        code: 'generation_not_found',
      });
      assert.equal(await index.countChunks('kb1', 1), 0, 'a late writer brought nothing back');
    });

    it('refuses writes into a generation that was never created', async () => {
      await assert.rejects(
        fixture.index.upsertDocumentChunks({ knowledgeBaseId: 'kb1', generation: 7, documentId: 'd1' }, [chunk('kb1', 'd1', 0, { word: 1 }, 1, 7)]),
        { code: 'generation_not_found' },
      );
      await assert.rejects(search(fixture.index, 'kb3', { word: 1 }), { code: 'generation_not_found' });
    });

    it('keeps generations apart, and drops one without touching the other', async () => {
      const { index } = fixture;
      await index.upsertDocumentChunks({ knowledgeBaseId: 'kb1', generation: 1, documentId: 'd1' }, [chunk('kb1', 'd1', 0, { old: 1, both: 1 })]);
      await index.createGeneration({ knowledgeBaseId: 'kb1', generation: 2 }, lexical);
      await index.createGeneration({ knowledgeBaseId: 'kb1', generation: 2 }, lexical); // idempotent
      await index.upsertDocumentChunks({ knowledgeBaseId: 'kb1', generation: 2, documentId: 'd1' }, [chunk('kb1', 'd1', 0, { new: 1, both: 1 }, 1, 2)]);
      const inGeneration = (generation: number, terms: Record<string, number>) =>
        index.search({ knowledgeBaseId: 'kb1', generation, terms, mode: 'lexical', topK: 10 });
      assert.deepEqual(
        (await inGeneration(1, { both: 1 })).map((hit) => hit.chunk.generation),
        [1],
      );
      assert.deepEqual(
        (await inGeneration(2, { both: 1 })).map((hit) => hit.chunk.generation),
        [2],
      );
      assert.deepEqual(await inGeneration(2, { old: 1 }), []);
      await index.activateGeneration({ knowledgeBaseId: 'kb1', generation: 2 });
      await index.dropGeneration({ knowledgeBaseId: 'kb1', generation: 1 });
      await assert.rejects(inGeneration(1, { both: 1 }), { code: 'generation_not_found' });
      assert.equal(await index.countChunks('kb1', 1), 0);
      assert.equal((await inGeneration(2, { both: 1 })).length, 1);
      await index.deleteDocument('kb1', 'd1');
      assert.deepEqual(await inGeneration(2, { both: 1 }), [], 'deleting a document removes it from every generation');
    });

    it('returns nothing for unknown terms and respects topK', async () => {
      const { index } = fixture;
      await index.upsertDocumentChunks(
        { knowledgeBaseId: 'kb1', generation: 1, documentId: 'd1' },
        Array.from({ length: 8 }, (_, ordinal) => chunk('kb1', 'd1', ordinal, { common: ordinal + 1 })),
      );
      assert.deepEqual(await search(index, 'kb1', { absent: 1 }), []);
      assert.equal((await search(index, 'kb1', { common: 1 }, 3)).length, 3);
    });

    it('lets another handle on the same storage see writes, deletes and dropped generations', async () => {
      const other = await fixture.openAnother();
      const { index } = fixture;
      await index.createGeneration({ knowledgeBaseId: 'kb1', generation: 2 }, lexical);
      await search(other, 'kb1', { shared: 1 });
      await other.search({ knowledgeBaseId: 'kb1', generation: 2, terms: { shared: 1 }, mode: 'lexical', topK: 1 });
      await index.dropGeneration({ knowledgeBaseId: 'kb1', generation: 2 });
      await assert.rejects(
        other.search({ knowledgeBaseId: 'kb1', generation: 2, terms: { shared: 1 }, mode: 'lexical', topK: 1 }),
        { code: 'generation_not_found' },
        'a generation dropped by another process is gone here too',
      );
      assert.deepEqual(await search(other, 'kb1', { shared: 1 }), []);
      await index.upsertDocumentChunks({ knowledgeBaseId: 'kb1', generation: 1, documentId: 'd1' }, [chunk('kb1', 'd1', 0, { shared: 1 })]);
      assert.equal((await search(other, 'kb1', { shared: 1 })).length, 1);
      await index.deleteDocument('kb1', 'd1');
      assert.deepEqual(await search(other, 'kb1', { shared: 1 }), []);
      await other.close();
    });
  });
}
