import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import {
  createKnowledgeBase,
  expectJson,
  sharedPath,
  startApiProcess,
  upload,
  waitFor,
  waitUntilEnded,
  type DocumentView,
} from '@passage/testing';

const pdf = async (relative: string) => new Uint8Array(await readFile(sharedPath('pdfs', relative)));

describe('durable ingestion', () => {
  it('finishes every accepted document after the process is killed mid-ingestion and restarted', async () => {
    const first = await startApiProcess({ env: { INGEST_CONCURRENCY: '1' } });
    let second: Awaited<ReturnType<typeof startApiProcess>> | undefined;
    try {
      const knowledgeBaseId = await createKnowledgeBase(first, 'Durable');
      const files = [
        { name: 'freeculture.pdf', bytes: await pdf('huge_pages/pdfjs_freeculture_352p.pdf') },
        { name: 'irs.pdf', bytes: await pdf('huge_pages/pdfminer_irs_i1040nr_50p.pdf') },
        { name: 'tracemonkey.pdf', bytes: await pdf('normal_text/tracemonkey_14p.pdf') },
        { name: 'note.txt', bytes: new TextEncoder().encode('A plain note about durable queues and restarts.') },
      ];
      const accepted = await expectJson<{ data: Array<{ id: string; name: string }> }>(await upload(first, knowledgeBaseId, files), 202);
      const ids = accepted.data.map((document) => document.id);

      // Kill as soon as the first document is being processed: nothing of it is finished yet.
      await waitFor(
        async () => {
          const document = await expectJson<DocumentView>(await fetch(`${first.url}/v1/knowledge-bases/${knowledgeBaseId}/documents/${ids[0]}`), 200);
          return document.status === 'processing' ? true : undefined;
        },
        { intervalMs: 5, what: 'the first document to start processing' },
      );
      await first.kill();

      second = await startApiProcess({ dataDirectory: first.dataDirectory });
      const ended = [];
      for (const id of ids) ended.push(await waitUntilEnded(second, knowledgeBaseId, id, 180_000));
      assert.deepEqual(ended.map((document) => document.status), ['ready', 'ready', 'ready', 'ready'], JSON.stringify(ended));
      assert.equal(ended[0]?.pages, 352);

      // The interrupted document has exactly as many chunks as an uninterrupted ingestion of it.
      const control = await createKnowledgeBase(second, 'Control');
      const controlAccepted = await expectJson<{ data: Array<{ id: string }> }>(await upload(second, control, [files[0]!]), 202);
      const controlDocument = await waitUntilEnded(second, control, controlAccepted.data[0]!.id, 180_000);
      assert.equal(ended[0]?.chunks, controlDocument.chunks);

      // And no chunk appears twice.
      const hits = await expectJson<{ data: Array<{ chunkId: string; documentId: string; text: string }> }>(
        await fetch(`${second.url}/v1/knowledge-bases/${knowledgeBaseId}/search`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: 'Walt Disney Steamboat Willie Mickey Mouse', topK: 50 }),
        }),
        200,
      );
      assert.ok(hits.data.length > 5);
      assert.equal(new Set(hits.data.map((hit) => hit.chunkId)).size, hits.data.length);
      assert.equal(new Set(hits.data.map((hit) => `${hit.documentId}\u0000${hit.text}`)).size, hits.data.length);
    } finally {
      await first.kill();
      await second?.stop();
    }
  });
});
