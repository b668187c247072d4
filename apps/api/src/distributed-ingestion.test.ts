import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import {
  assertNoChunkTwice,
  createKnowledgeBase,
  distributedDeployment,
  expectJson,
  realQdrantDeployment,
  sharedPath,
  standaloneTestRedis,
  startRedisCluster,
  uninterruptedChunkCount,
  upload,
  waitFor,
  waitUntilEnded,
  type Deploy,
  type DocumentView,
} from '@passage/testing';

const pdf = async (relative: string) => new Uint8Array(await readFile(sharedPath('pdfs', relative)));

// The kill test runs on the standalone test server and on a Redis Cluster of three masters.
const cluster = await startRedisCluster();
after(() => cluster.stop());

describe('distributed ingestion (Redis catalog, BullMQ workers)', () => {
  it('two worker processes drain a queue; every document ends ready or failed with the right code', async () => {
    // OCR off: the scan shows the failure of a PDF without text (document-formats.test.ts reads scans).
    const deployment = await distributedDeployment({ workers: 2, workerConcurrency: 1, env: { OCR_ENABLED: 'false' } })();
    try {
      const { api, workers } = deployment;
      const knowledgeBaseId = await createKnowledgeBase(api, 'Drained');
      const expectations: Array<{ name: string; bytes: Uint8Array; status: 'ready' | 'failed'; code?: string; pages?: number }> = [
        { name: 'tracemonkey.pdf', bytes: await pdf('normal_text/tracemonkey_14p.pdf'), status: 'ready', pages: 14 },
        { name: 'irs.pdf', bytes: await pdf('huge_pages/pdfminer_irs_i1040nr_50p.pdf'), status: 'ready', pages: 50 },
        { name: 'turkish.pdf', bytes: await pdf('normal_text/pdfparse_04_turkish_med_5p.pdf'), status: 'ready', pages: 5 },
        { name: 'korean.pdf', bytes: await pdf('cjk/ko_docling_normal_4p.pdf'), status: 'ready', pages: 4 },
        { name: 'form.pdf', bytes: await pdf('forms/form_pdfminer_irs_f1040nr_5p.pdf'), status: 'ready', pages: 5 },
        { name: 'invalid.pdf', bytes: await pdf('corrupt/bad_pdfparse_03_invalid.pdf'), status: 'failed', code: 'pdf_corrupt' },
        { name: 'severe.pdf', bytes: await pdf('corrupt/bad_pdfjs_bug1020226_severe.pdf'), status: 'failed', code: 'pdf_corrupt' },
        { name: 'scan.pdf', bytes: await pdf('scanned/scan_zh_mineru_small_ocr_8p.pdf'), status: 'failed', code: 'pdf_no_text_layer' },
        { name: 'locked.pdf', bytes: await pdf('encrypted/enc_pdfminer_aes256.pdf'), status: 'failed', code: 'pdf_password_required' },
        { name: 'notes.txt', bytes: new TextEncoder().encode('Workers share one queue and one catalog.'), status: 'ready', pages: 1 },
        {
          name: 'image.pdf',
          bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]),
          status: 'failed',
          // An image, whatever its name says: read with OCR, which is off here.
          code: 'ocr_unavailable',
        },
        { name: 'empty.txt', bytes: new TextEncoder().encode('   \n\n  '), status: 'failed', code: 'empty_document' },
      ];
      const accepted = await expectJson<{ data: Array<{ id: string; name: string }> }>(await upload(api, knowledgeBaseId, expectations), 202);
      assert.equal(accepted.data.length, expectations.length);

      for (const [position, document] of accepted.data.entries()) {
        const expected = expectations[position]!;
        const ended = await waitUntilEnded(api, knowledgeBaseId, document.id, 120_000);
        const label = `${expected.name}: ${JSON.stringify(ended)}`;
        assert.equal(ended.status, expected.status, label);
        if (expected.status === 'ready') {
          assert.ok((ended.chunks ?? 0) > 0, label);
          assert.deepEqual(ended.progress, { stage: 'done', done: ended.chunks, total: ended.chunks }, label);
          if (expected.pages !== undefined) assert.equal(ended.pages, expected.pages, label);
        } else {
          assert.equal(ended.error?.code, expected.code, label);
          assert.ok((ended.error?.message.length ?? 0) > 10, label);
        }
      }
      // Both processes took part.
      for (const worker of workers) assert.match(worker.output(), /"msg":"(document ready|document failed)"/, worker.output());

      // Nothing is left queued anywhere.
      const listed = await expectJson<{ data: DocumentView[] }>(await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents`), 200);
      assert.deepEqual(new Set(listed.data.map((document) => document.status)), new Set(['ready', 'failed']));
    } finally {
      await deployment.stop();
    }
  });

  // The standalone Redis and the cluster with the embedded index, and the real Qdrant when there is one (QDRANT_URL).
  const qdrantUrl = process.env.QDRANT_URL;
  const killSetups: Array<{ description: string; deploy: Deploy }> = [
    ...[standaloneTestRedis, cluster].map((redis) => ({
      description: redis.description,
      deploy: distributedDeployment({ workers: 1, workerConcurrency: 1, redis }),
    })),
    ...(qdrantUrl === undefined || qdrantUrl === ''
      ? []
      : [
          {
            description: `${standaloneTestRedis.description}, the real Qdrant at ${qdrantUrl}`,
            deploy: realQdrantDeployment(qdrantUrl, { workers: 1, workerConcurrency: 1 }),
          },
        ]),
  ];
  for (const setup of killSetups) {
    it(`finishes the 352-page PDF on another worker after the first is killed in the middle, with no chunk lost or doubled (${setup.description})`, async () => {
      const deployment = await setup.deploy();
      const { api, workers } = deployment;
      const first = workers[0]!;
      try {
        const knowledgeBaseId = await createKnowledgeBase(api, 'Killed');
        const freeculture = { name: 'freeculture.pdf', bytes: await pdf('huge_pages/pdfjs_freeculture_352p.pdf') };
        const accepted = await expectJson<{ data: Array<{ id: string }> }>(
          await upload(api, knowledgeBaseId, [freeculture, { name: 'after.txt', bytes: new TextEncoder().encode('Queued behind the big one.') }]),
          202,
        );
        const [bigId, smallId] = accepted.data.map((document) => document.id);

        // Kill while the first worker parses the big document: it holds the job, nothing is indexed yet.
        await waitFor(
          async () => {
            const document = await expectJson<DocumentView>(await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents/${bigId}`), 200);
            return document.status === 'processing' && document.progress.stage === 'parsing' ? true : undefined;
          },
          { intervalMs: 5, timeoutMs: 30_000, what: 'the big document to be parsed' },
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
        await first.kill();
        const killed = await expectJson<DocumentView>(await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents/${bigId}`), 200);
        assert.equal(killed.status, 'processing', 'the killed worker had not finished');

        const second = await deployment.addWorker!();
        const ended = await waitUntilEnded(api, knowledgeBaseId, bigId!, 120_000);
        assert.equal(ended.status, 'ready', JSON.stringify(ended));
        assert.equal(ended.pages, 352);
        assert.equal((await waitUntilEnded(api, knowledgeBaseId, smallId!, 60_000)).status, 'ready');
        assert.match(second.output(), /job of a stopped worker taken over/, 'the second worker recovered the stalled job');

        // As many chunks as an uninterrupted ingestion of the same file, and no chunk twice.
        assert.equal(ended.chunks, await uninterruptedChunkCount(api, freeculture, 120_000));
        await assertNoChunkTwice(api, knowledgeBaseId, 'Walt Disney Steamboat Willie Mickey Mouse');
      } finally {
        await deployment.stop();
      }
    });
  }
});
