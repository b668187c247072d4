import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import {
  assertNoChunkTwice,
  createKnowledgeBase,
  expectJson,
  sharedPath,
  startApiProcess,
  uninterruptedChunkCount,
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
      assert.deepEqual(
        ended.map((document) => document.status),
        ['ready', 'ready', 'ready', 'ready'],
        JSON.stringify(ended),
      );
      assert.equal(ended[0]?.pages, 352);

      // The interrupted document has exactly as many chunks as an uninterrupted ingestion of it, and no chunk twice.
      assert.equal(ended[0]?.chunks, await uninterruptedChunkCount(second, files[0]!, 180_000));
      await assertNoChunkTwice(second, knowledgeBaseId, 'Walt Disney Steamboat Willie Mickey Mouse');
    } finally {
      await first.kill();
      await second?.stop();
    }
  });
});
