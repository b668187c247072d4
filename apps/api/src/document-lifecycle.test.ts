import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createRuntime, type Runtime } from '@passage/runtime';
import { loadConfig, silentLogger } from '@passage/spec';
import {
  createKnowledgeBase,
  distributedQdrantDeployment,
  embeddedDeployment,
  expectJson,
  sharedPath,
  temporaryDataDirectory,
  upload,
  waitFor,
  waitUntilEnded,
  type ApiProcess,
  type Deployment,
  type DocumentView,
} from '@passage/testing';
import { createApp } from './app.js';

const text = (name: string, body: string) => ({ name, bytes: new TextEncoder().encode(body), type: 'text/plain' });

interface Uploaded {
  data: Array<{ id: string; name: string; status: string; duplicate: boolean; replaces?: string }>;
}

async function search(api: { url: string }, knowledgeBaseId: string, query: string): Promise<string[]> {
  const hits = await expectJson<{ data: Array<{ documentId: string }> }>(
    await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, topK: 10 }),
    }),
    200,
  );
  return hits.data.map((hit) => hit.documentId);
}

/** Files in the originals folder (uploads in flight aside). */
async function storedOriginals(dataDirectory: string): Promise<string[]> {
  return (await readdir(path.join(dataDirectory, 'originals'), { recursive: true })).filter((entry) => !entry.startsWith('.uploads'));
}

/**
 * `deploy` starts an API whose documents are ingested one at a time (so that a large document
 * ahead in the queue keeps the next one waiting).
 */
function describeLifecycle(name: string, deploy: () => Promise<Deployment>): void {
  describe(`document lifecycle over HTTP: ${name}`, () => {
    it('answers a second upload of the same bytes with the existing document and duplicate: true, processing nothing', async () => {
      const deployment = await deploy();
      const { api } = deployment;
      try {
        const knowledgeBaseId = await createKnowledgeBase(api, 'Dedup');
        const first = await expectJson<Uploaded>(await upload(api, knowledgeBaseId, [text('a.txt', 'Penguins huddle against the cold.')]), 202);
        assert.equal(first.data[0]?.duplicate, false);
        await waitUntilEnded(api, knowledgeBaseId, first.data[0].id);
        const again = await expectJson<Uploaded>(await upload(api, knowledgeBaseId, [text('copy.txt', 'Penguins huddle against the cold.')]), 200);
        assert.equal(again.data[0]?.duplicate, true);
        assert.equal(again.data[0]?.id, first.data[0]?.id);
        assert.equal(again.data[0]?.status, 'ready');
        const listed = await expectJson<{ data: DocumentView[] }>(await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents`), 200);
        assert.deepEqual(
          listed.data.map((document) => document.name),
          ['a.txt'],
        );
        assert.deepEqual(await storedOriginals(api.dataDirectory), [first.data[0].id], 'the duplicate left no file');
      } finally {
        await deployment.stop();
      }
    });

    it('keeps the old version searchable until the replacement is ready, then returns only the new one', async () => {
      const deployment = await deploy();
      const { api } = deployment;
      try {
        const knowledgeBaseId = await createKnowledgeBase(api, 'Replace');
        const old = await expectJson<Uploaded>(
          await upload(api, knowledgeBaseId, [text('plan.txt', 'The zorblat launch window opens in March for the quintessa orbiter.')]),
          202,
        );
        await waitUntilEnded(api, knowledgeBaseId, old.data[0]!.id);
        // A large document ahead in the queue keeps the replacement waiting, so the old version is seen meanwhile.
        const big = new Uint8Array(await readFile(sharedPath('pdfs', 'huge_pages/pdfjs_freeculture_352p.pdf')));
        await expectJson<Uploaded>(await upload(api, knowledgeBaseId, [{ name: 'big.pdf', bytes: big, type: 'application/pdf' }]), 202);
        const form = new FormData();
        form.append('files', new Blob(['The zorblat launch window now opens in June for the quintessa orbiter.'], { type: 'text/plain' }), 'plan.txt');
        const next = await expectJson<Uploaded>(
          await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents?replace=true`, { method: 'POST', body: form }),
          202,
        );
        assert.equal(next.data[0]?.replaces, old.data[0]?.id);
        assert.deepEqual(await search(api, knowledgeBaseId, 'zorblat quintessa'), [old.data[0]!.id], 'the old version answers meanwhile');
        assert.equal((await waitUntilEnded(api, knowledgeBaseId, next.data[0]!.id, 180_000)).status, 'ready');
        assert.deepEqual(await search(api, knowledgeBaseId, 'zorblat quintessa'), [next.data[0]!.id]);
        assert.equal((await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents/${old.data[0]!.id}`)).status, 404);
        // The old original goes right after the switch (the catalog forgot it first).
        await waitFor(async () => ((await storedOriginals(api.dataDirectory)).includes(old.data[0]!.id) ? undefined : true), {
          what: 'the old original to be removed',
        });
        const missing = await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents?replace=doc_missing`, { method: 'POST', body: form });
        assert.equal(missing.status, 404);
      } finally {
        await deployment.stop();
      }
    });

    it('leaves nothing searchable and no file when a document or its knowledge base is deleted while a worker ingests it', async () => {
      const deployment = await deploy();
      const { api } = deployment;
      try {
        const big = new Uint8Array(await readFile(sharedPath('pdfs', 'huge_pages/pdfjs_freeculture_352p.pdf')));
        for (const target of ['document', 'knowledge base'] as const) {
          const knowledgeBaseId = await createKnowledgeBase(api, `Deleted ${target}`);
          const accepted = await expectJson<Uploaded>(await upload(api, knowledgeBaseId, [{ name: 'big.pdf', bytes: big, type: 'application/pdf' }]), 202);
          const id = accepted.data[0]!.id;
          await waitFor(
            async () => {
              const document = await expectJson<DocumentView>(await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents/${id}`), 200);
              return document.status === 'processing' ? true : undefined;
            },
            { intervalMs: 5, what: 'ingestion to start' },
          );
          const url =
            target === 'document' ? `${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents/${id}` : `${api.url}/v1/knowledge-bases/${knowledgeBaseId}`;
          assert.equal((await fetch(url, { method: 'DELETE' })).status, 204);
          if (target === 'document') {
            // Whatever the worker still writes never becomes searchable.
            for (let check = 0; check < 20; check += 1) assert.deepEqual(await search(api, knowledgeBaseId, 'Walt Disney Mickey Mouse culture'), []);
          } else {
            assert.equal(
              (
                await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/search`, {
                  method: 'POST',
                  headers: { 'content-type': 'application/json' },
                  body: '{"query":"Disney"}',
                })
              ).status,
              404,
            );
            const late = await upload(api, knowledgeBaseId, [text('late.txt', 'Too late.')]);
            assert.equal((await expectJson<{ error: { code: string } }>(late, 404)).error.code, 'knowledge_base_not_found');
          }
          assert.ok(!(await storedOriginals(api.dataDirectory)).includes(id), 'no file of the deleted document is left');
        }
      } finally {
        await deployment.stop();
      }
    });
  });
}

describeLifecycle('embedded', () => embeddedDeployment({ INGEST_CONCURRENCY: '1' }));

// Scaled: Redis catalog, one BullMQ worker, the chunk index in a Qdrant stand-in that validates
// every exchange; the deletes must have reached Qdrant.
describeLifecycle('scaled (Redis, BullMQ worker, Qdrant)', () =>
  distributedQdrantDeployment({ workers: 1, workerConcurrency: 1, expectedOperation: 'delete_points' })(),
);

describe('uploads racing a knowledge base deletion (in-process app)', () => {
  it('answers 404 knowledge_base_not_found and leaves no file of a multi-file upload when the knowledge base goes before the upload is recorded', async () => {
    const dataDirectory = await temporaryDataDirectory();
    const runtime: Runtime = await createRuntime(loadConfig({ DATA_DIR: dataDirectory, LOG_LEVEL: 'silent' }), silentLogger);
    const server: Server = createServer(createApp(runtime, silentLogger));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const knowledgeBaseId = await createKnowledgeBase({ url } as ApiProcess, 'Racing');
      // The deletion lands between the route's existence check and the recording of the upload.
      const createDocuments = runtime.catalog.createDocuments.bind(runtime.catalog);
      runtime.catalog.createDocuments = async (documents) => {
        await runtime.catalog.deleteKnowledgeBase(knowledgeBaseId);
        return createDocuments(documents);
      };
      const response = await upload({ url } as ApiProcess, knowledgeBaseId, [text('one.txt', 'First file.'), text('two.txt', 'Second file.')]);
      const body = await expectJson<{ error: { code: string; message: string } }>(response, 404);
      assert.equal(body.error.code, 'knowledge_base_not_found');
      assert.doesNotMatch(body.error.message, /FOREIGN KEY|SQL/i);
      assert.deepEqual(await storedOriginals(dataDirectory), []);
    } finally {
      server.close();
      await runtime.close();
      await rm(dataDirectory, { recursive: true, force: true });
    }
  });
});
