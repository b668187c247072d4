import assert from 'node:assert/strict';
import { describe, it, beforeEach, afterEach } from 'node:test';
import { randomBytes } from 'node:crypto';
import { newDocumentId, newKnowledgeBaseId, type Catalog, type GenerationSchema, type NewDocument } from '@passage/spec';

const lexical: GenerationSchema = { embeddingModel: null, denseDimensions: null };

/** The behaviour every Catalog adapter must have. `create` gives a fresh, empty catalog. */
export function describeCatalogContract(name: string, create: () => Promise<{ catalog: Catalog; cleanup: () => Promise<void> }>): void {
  describe(`Catalog contract: ${name}`, () => {
    let catalog: Catalog;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ catalog, cleanup } = await create());
    });
    afterEach(async () => {
      await cleanup();
    });

    const newDocument = (knowledgeBaseId: string, overrides: Partial<NewDocument> = {}): NewDocument => ({
      id: newDocumentId(),
      knowledgeBaseId,
      name: 'report.pdf',
      bytes: 1234,
      contentHash: randomBytes(32).toString('hex'),
      mediaType: 'application/pdf',
      ...overrides,
    });

    it('creates, lists, reads and deletes knowledge bases', async () => {
      const first = await createKnowledgeBase('First');
      const second = await createKnowledgeBase('第二');
      assert.equal(first.generation, 1);
      assert.ok(!Number.isNaN(Date.parse(first.createdAt)));
      assert.deepEqual(await catalog.getKnowledgeBase(second.id), second);
      const listed = await catalog.listKnowledgeBases();
      assert.deepEqual(new Set(listed.map((entry) => entry.id)), new Set([first.id, second.id]));
      assert.equal(await catalog.deleteKnowledgeBase(first.id), true);
      assert.equal(await catalog.deleteKnowledgeBase(first.id), false);
      assert.equal(await catalog.getKnowledgeBase(first.id), null);
    });

    const createKnowledgeBase = (name: string, schema: GenerationSchema = lexical) => catalog.createKnowledgeBase({ id: newKnowledgeBaseId(), name, schema });
    const createOne = async (document: NewDocument) => {
      const [created] = await catalog.createDocuments([document]);
      assert.ok(created);
      return created;
    };
    const readyDocument = async (knowledgeBaseId: string, generation: number, overrides: Partial<NewDocument> = {}) => {
      const { document } = await createOne(newDocument(knowledgeBaseId, overrides));
      await catalog.claimDocument(document.id);
      await catalog.recordDocumentGeneration(document.id, generation, 3);
      const completed = await catalog.completeDocument(document.id, 3);
      assert.ok(completed);
      return completed.document;
    };

    it('creates a knowledge base live on generation 1 with its schema and no reindex', async () => {
      const knowledgeBase = await createKnowledgeBase('Schema', { embeddingModel: 'tiny', denseDimensions: 8 });
      assert.equal(knowledgeBase.generation, 1);
      assert.deepEqual(knowledgeBase.schema, { embeddingModel: 'tiny', denseDimensions: 8 });
      assert.equal(knowledgeBase.reindex, null);
      assert.deepEqual(await catalog.getKnowledgeBase(knowledgeBase.id), knowledgeBase);
    });

    it('gives the reindex lock to one owner at a time, and to another once the lease expired, resuming the same target', async () => {
      const knowledgeBase = await createKnowledgeBase('Lock');
      const schema: GenerationSchema = { embeddingModel: 'next', denseDimensions: 12 };
      const first = await catalog.beginReindex(knowledgeBase.id, { owner: 'first', leaseMs: 60_000, schema });
      assert.equal(first.resumed, false);
      assert.equal(first.state.targetGeneration, 2);
      assert.deepEqual(first.state.schema, schema);
      await assert.rejects(catalog.beginReindex(knowledgeBase.id, { owner: 'second', leaseMs: 60_000, schema }), { code: 'reindex_in_progress' });
      const progress = { documentsTotal: 4, documentsDone: 1, documentsFailed: 0, chunks: 9 };
      assert.equal(await catalog.renewReindex(knowledgeBase.id, { owner: 'first', leaseMs: 1, progress }), true);
      assert.deepEqual((await catalog.getKnowledgeBase(knowledgeBase.id))?.reindex?.progress, progress);
      await new Promise((resolve) => setTimeout(resolve, 20)); // let the 1 ms lease run out
      const second = await catalog.beginReindex(knowledgeBase.id, { owner: 'second', leaseMs: 60_000, schema });
      assert.equal(second.resumed, true);
      assert.equal(second.state.targetGeneration, 2);
      assert.deepEqual(second.state.progress, progress);
      assert.equal(await catalog.renewReindex(knowledgeBase.id, { owner: 'first', leaseMs: 60_000 }), false, 'the lock was taken over');
      await catalog.abandonReindex(knowledgeBase.id, 'second');
      assert.equal((await catalog.getKnowledgeBase(knowledgeBase.id))?.reindex, null);
      await assert.rejects(catalog.beginReindex('kb_missing', { owner: 'x', leaseMs: 1000, schema }), { code: 'knowledge_base_not_found' });
    });

    it('switches the live generation only when every ready document is in the target, then ends the reindex', async () => {
      const knowledgeBase = await createKnowledgeBase('Switch');
      const first = await readyDocument(knowledgeBase.id, 1);
      const second = await readyDocument(knowledgeBase.id, 1);
      const { document: queued } = await createOne(newDocument(knowledgeBase.id));
      const schema: GenerationSchema = { embeddingModel: 'next', denseDimensions: 12 };
      const { state } = await catalog.beginReindex(knowledgeBase.id, { owner: 'me', leaseMs: 60_000, schema });
      await catalog.recordDocumentGeneration(first.id, state.targetGeneration, 5);
      const refused = await catalog.switchGeneration(knowledgeBase.id, { owner: 'me', targetGeneration: state.targetGeneration });
      assert.deepEqual(refused, { switched: false, missing: [second.id] });
      assert.equal((await catalog.getKnowledgeBase(knowledgeBase.id))?.generation, 1);
      await catalog.recordDocumentGeneration(second.id, state.targetGeneration, 7);
      assert.deepEqual(
        await catalog.documentsInGeneration(knowledgeBase.id, 2),
        new Map([
          [first.id, 5],
          [second.id, 7],
        ]),
      );
      await assert.rejects(catalog.switchGeneration(knowledgeBase.id, { owner: 'other', targetGeneration: 2 }), { code: 'reindex_in_progress' });
      const switched = await catalog.switchGeneration(knowledgeBase.id, { owner: 'me', targetGeneration: 2 });
      assert.deepEqual(switched, { switched: true, previousGeneration: 1 });
      const after = await catalog.getKnowledgeBase(knowledgeBase.id);
      assert.equal(after?.generation, 2);
      assert.deepEqual(after?.schema, schema);
      assert.equal(after?.reindex, null);
      assert.equal((await catalog.getDocument(knowledgeBase.id, queued.id))?.status, 'queued', 'documents not ready do not hold the switch');
    });

    it('answers a duplicate upload with the existing document, and records distinct bytes', async () => {
      const knowledgeBase = await createKnowledgeBase('Dedup');
      const original = newDocument(knowledgeBase.id, { name: 'a.pdf' });
      const first = await createOne(original);
      assert.equal(first.duplicate, false);
      const results = await catalog.createDocuments([
        newDocument(knowledgeBase.id, { name: 'copy.pdf', contentHash: original.contentHash }),
        newDocument(knowledgeBase.id, { name: 'other.pdf' }),
      ]);
      assert.equal(results[0]?.duplicate, true);
      assert.equal(results[0]?.document.id, first.document.id);
      assert.equal(results[1]?.duplicate, false);
      assert.deepEqual(
        (await catalog.listDocuments(knowledgeBase.id)).map((document) => document.name),
        ['a.pdf', 'other.pdf'],
      );
      const elsewhere = await createKnowledgeBase('Elsewhere');
      assert.equal((await createOne(newDocument(elsewhere.id, { contentHash: original.contentHash }))).duplicate, false, 'dedup is per knowledge base');
    });

    it('refuses documents for a knowledge base that is gone', async () => {
      await assert.rejects(catalog.createDocuments([newDocument('kb_missing')]), { code: 'knowledge_base_not_found' });
    });

    it('finds the newest document of a name', async () => {
      const knowledgeBase = await createKnowledgeBase('Names');
      // Recorded together, the second is the newer (documents of one upload keep their order).
      const [, created] = await catalog.createDocuments([
        newDocument(knowledgeBase.id, { name: 'plan.pdf' }),
        newDocument(knowledgeBase.id, { name: 'plan.pdf' }),
      ]);
      const newer = created!.document;
      assert.equal((await catalog.findDocumentByName(knowledgeBase.id, 'plan.pdf'))?.id, newer.id);
      assert.equal(await catalog.findDocumentByName(knowledgeBase.id, 'none.pdf'), null);
    });

    it('completes a replacement by deleting the replaced document in the same step', async () => {
      const knowledgeBase = await createKnowledgeBase('Replace');
      const old = await readyDocument(knowledgeBase.id, 1, { name: 'plan.pdf' });
      const { document: next } = await createOne(newDocument(knowledgeBase.id, { name: 'plan.pdf', replaces: old.id }));
      assert.equal(next.replaces, old.id);
      assert.deepEqual(await catalog.searchableDocuments(knowledgeBase.id, [old.id, next.id]), new Set([old.id]), 'the old version stays searchable meanwhile');
      await catalog.claimDocument(next.id);
      const completed = await catalog.completeDocument(next.id, 4);
      assert.equal(completed?.replaced, old.id);
      assert.equal(completed?.document.status, 'ready');
      assert.equal(completed?.document.chunks, 4);
      assert.equal(await catalog.getDocument(knowledgeBase.id, old.id), null);
      assert.deepEqual(await catalog.searchableDocuments(knowledgeBase.id, [old.id, next.id]), new Set([next.id]));
      await catalog.deleteDocument(knowledgeBase.id, next.id);
      assert.equal(await catalog.completeDocument(next.id, 4), null, 'a deleted document is not completed');
    });

    it('counts only ready documents of the knowledge base as searchable', async () => {
      const knowledgeBase = await createKnowledgeBase('Searchable');
      const other = await createKnowledgeBase('Other');
      const ready = await readyDocument(knowledgeBase.id, 1);
      const foreign = await readyDocument(other.id, 1);
      const { document: queued } = await createOne(newDocument(knowledgeBase.id));
      assert.deepEqual(await catalog.searchableDocuments(knowledgeBase.id, [ready.id, foreign.id, queued.id, 'doc_missing']), new Set([ready.id]));
      await catalog.deleteDocument(knowledgeBase.id, ready.id);
      assert.deepEqual(await catalog.searchableDocuments(knowledgeBase.id, [ready.id]), new Set());
      assert.deepEqual(await catalog.documentsInGeneration(knowledgeBase.id, 1), new Map(), 'a deleted document leaves no generation record');
    });

    it('records documents queued and updates their status and progress', async () => {
      const knowledgeBase = await createKnowledgeBase('Docs');
      const { document: created } = await createOne(newDocument(knowledgeBase.id, { name: '报告.pdf' }));
      assert.equal(created.status, 'queued');
      assert.equal(created.name, '报告.pdf');
      assert.deepEqual(created.progress, { stage: 'queued', done: 0, total: 0 });
      assert.equal(created.error, null);

      const claimed = await catalog.claimDocument(created.id);
      assert.equal(claimed?.status, 'processing');
      assert.equal(claimed?.attempts, 1);

      const updated = await catalog.updateDocument(created.id, { progress: { stage: 'parsing', done: 1, total: 3 }, pages: 3, type: 'pdf' });
      assert.deepEqual(updated?.progress, { stage: 'parsing', done: 1, total: 3 });
      assert.equal(updated?.pages, 3);
      assert.equal(updated?.type, 'pdf');

      const failed = await catalog.updateDocument(created.id, { status: 'failed', error: { code: 'pdf_corrupt', message: 'broken' } });
      assert.equal(failed?.status, 'failed');
      assert.deepEqual(failed?.error, { code: 'pdf_corrupt', message: 'broken' });
      assert.equal(await catalog.claimDocument(created.id), null, 'an ended document cannot be claimed');
      assert.deepEqual(await catalog.getDocument(knowledgeBase.id, created.id), failed);
    });

    it('lists documents per knowledge base and by status, oldest first', async () => {
      const one = await createKnowledgeBase('One');
      const two = await createKnowledgeBase('Two');
      const created = (
        await catalog.createDocuments([newDocument(one.id, { name: 'a' }), newDocument(one.id, { name: 'b' }), newDocument(two.id, { name: 'c' })])
      ).map((entry) => entry.document);
      assert.deepEqual(
        (await catalog.listDocuments(one.id)).map((document) => document.name),
        ['a', 'b'],
      );
      await catalog.updateDocument(created[1]!.id, { status: 'ready' });
      const queued = await catalog.listDocumentsByStatus(['queued']);
      assert.deepEqual(
        queued.map((document) => document.name).filter((value) => ['a', 'b', 'c'].includes(value)),
        ['a', 'c'],
      );
    });

    it('deletes documents, and a knowledge base with its documents', async () => {
      const knowledgeBase = await createKnowledgeBase('Delete');
      const [first, second] = (await catalog.createDocuments([newDocument(knowledgeBase.id), newDocument(knowledgeBase.id)])).map((entry) => entry.document);
      assert.equal(await catalog.deleteDocument(knowledgeBase.id, first!.id), true);
      assert.equal(await catalog.deleteDocument(knowledgeBase.id, first!.id), false);
      assert.equal(await catalog.getDocument(knowledgeBase.id, first!.id), null);
      assert.equal(await catalog.updateDocument(first!.id, { status: 'ready' }), null, 'updating a deleted document changes nothing');
      await catalog.deleteKnowledgeBase(knowledgeBase.id);
      assert.equal(await catalog.getDocument(knowledgeBase.id, second!.id), null);
      assert.deepEqual(await catalog.listDocuments(knowledgeBase.id), []);
    });

    it('does not show a document under another knowledge base', async () => {
      const one = await createKnowledgeBase('One');
      const two = await createKnowledgeBase('Two');
      const { document } = await createOne(newDocument(one.id));
      assert.equal(await catalog.getDocument(two.id, document.id), null);
      assert.equal(await catalog.deleteDocument(two.id, document.id), false);
    });
  });
}
