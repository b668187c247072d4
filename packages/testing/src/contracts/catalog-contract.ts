import assert from 'node:assert/strict';
import { describe, it, beforeEach, afterEach } from 'node:test';
import { newDocumentId, newKnowledgeBaseId, type Catalog, type NewDocument } from '@passage/spec';

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
      contentHash: 'a'.repeat(64),
      mediaType: 'application/pdf',
      ...overrides,
    });

    it('creates, lists, reads and deletes knowledge bases', async () => {
      const first = await catalog.createKnowledgeBase({ id: newKnowledgeBaseId(), name: 'First' });
      const second = await catalog.createKnowledgeBase({ id: newKnowledgeBaseId(), name: '第二' });
      assert.equal(first.generation, 1);
      assert.ok(!Number.isNaN(Date.parse(first.createdAt)));
      assert.deepEqual(await catalog.getKnowledgeBase(second.id), second);
      const listed = await catalog.listKnowledgeBases();
      assert.deepEqual(new Set(listed.map((entry) => entry.id)), new Set([first.id, second.id]));
      assert.equal(await catalog.deleteKnowledgeBase(first.id), true);
      assert.equal(await catalog.deleteKnowledgeBase(first.id), false);
      assert.equal(await catalog.getKnowledgeBase(first.id), null);
    });

    it('switches the generation', async () => {
      const knowledgeBase = await catalog.createKnowledgeBase({ id: newKnowledgeBaseId(), name: 'Generations' });
      await catalog.setGeneration(knowledgeBase.id, 2);
      assert.equal((await catalog.getKnowledgeBase(knowledgeBase.id))?.generation, 2);
    });

    it('records documents queued and updates their status and progress', async () => {
      const knowledgeBase = await catalog.createKnowledgeBase({ id: newKnowledgeBaseId(), name: 'Docs' });
      const [created] = await catalog.createDocuments([newDocument(knowledgeBase.id, { name: '报告.pdf' })]);
      assert.ok(created);
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
      const one = await catalog.createKnowledgeBase({ id: newKnowledgeBaseId(), name: 'One' });
      const two = await catalog.createKnowledgeBase({ id: newKnowledgeBaseId(), name: 'Two' });
      const created = await catalog.createDocuments([newDocument(one.id, { name: 'a' }), newDocument(one.id, { name: 'b' }), newDocument(two.id, { name: 'c' })]);
      assert.deepEqual((await catalog.listDocuments(one.id)).map((document) => document.name), ['a', 'b']);
      await catalog.updateDocument(created[1]!.id, { status: 'ready' });
      const queued = await catalog.listDocumentsByStatus(['queued']);
      assert.deepEqual(queued.map((document) => document.name).filter((value) => ['a', 'b', 'c'].includes(value)), ['a', 'c']);
    });

    it('deletes documents, and a knowledge base with its documents', async () => {
      const knowledgeBase = await catalog.createKnowledgeBase({ id: newKnowledgeBaseId(), name: 'Delete' });
      const [first, second] = await catalog.createDocuments([newDocument(knowledgeBase.id), newDocument(knowledgeBase.id)]);
      assert.equal(await catalog.deleteDocument(knowledgeBase.id, first!.id), true);
      assert.equal(await catalog.deleteDocument(knowledgeBase.id, first!.id), false);
      assert.equal(await catalog.getDocument(knowledgeBase.id, first!.id), null);
      assert.equal(await catalog.updateDocument(first!.id, { status: 'ready' }), null, 'updating a deleted document changes nothing');
      await catalog.deleteKnowledgeBase(knowledgeBase.id);
      assert.equal(await catalog.getDocument(knowledgeBase.id, second!.id), null);
      assert.deepEqual(await catalog.listDocuments(knowledgeBase.id), []);
    });

    it('does not show a document under another knowledge base', async () => {
      const one = await catalog.createKnowledgeBase({ id: newKnowledgeBaseId(), name: 'One' });
      const two = await catalog.createKnowledgeBase({ id: newKnowledgeBaseId(), name: 'Two' });
      const [document] = await catalog.createDocuments([newDocument(one.id)]);
      assert.equal(await catalog.getDocument(two.id, document!.id), null);
      assert.equal(await catalog.deleteDocument(two.id, document!.id), false);
    });
  });
}
