import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import {
  createKnowledgeBase,
  distributedDeployment,
  expectJson,
  startStubEmbeddingServer,
  upload,
  waitFor,
  waitUntilEnded,
  type DocumentView,
} from '@passage/testing';

describe('A worker process stopped with SIGTERM in the middle of a job (scaled mode)', () => {
  it('exits 0 and hands the job back to the queue, and another worker then ingests the document to ready', async () => {
    // Each process probes the embedder once at start; the document's embedding is then held, so the
    // worker is stopped while it is certainly in the middle of the job.
    const embeddings = await startStubEmbeddingServer({ behaviours: [{ kind: 'embed' }] });
    const text = 'The night ferry carries the mail bags to the island post office.';
    const deployment = await distributedDeployment({
      workers: 1,
      env: { EMBEDDING_PROVIDER: 'openai', EMBEDDING_BASE_URL: embeddings.baseUrl, EMBEDDING_MODEL: 'stub-embedding' },
    })().catch(async (error: unknown) => {
      await embeddings.close();
      throw error;
    });
    try {
      const { api, workers } = deployment;
      const first = workers[0]!;
      embeddings.setBehaviours([{ kind: 'embed', holdUntilInFlight: Number.MAX_SAFE_INTEGER }]);
      const knowledgeBaseId = await createKnowledgeBase(api, 'Stopped');
      const accepted = await expectJson<{ data: Array<{ id: string }> }>(
        await upload(api, knowledgeBaseId, [{ name: 'ferry.txt', bytes: new TextEncoder().encode(text) }]),
        202,
      );
      const documentId = accepted.data[0]!.id;
      await waitFor(async () => (embeddings.requests.some((request) => request.inputs.some((input) => input.includes('night ferry'))) ? true : undefined), {
        timeoutMs: 60_000,
        what: 'the worker to embed the document',
      });

      // 'close' comes after the last output is read ('exit' may come before).
      const closed = once(first.child, 'close');
      assert.equal(await first.stop(), 0, first.output());
      await closed;
      assert.match(first.output(), /"msg":"job interrupted by shutdown; handed back"/, first.output());
      assert.doesNotMatch(first.output(), /"msg":"document (ready|failed)"/);
      const stopped = await expectJson<DocumentView>(await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents/${documentId}`), 200);
      assert.equal(stopped.status, 'processing', 'the stopped worker had not finished the document');

      embeddings.setBehaviours([{ kind: 'embed' }]);
      const second = await deployment.addWorker!();
      const ended = await waitUntilEnded(api, knowledgeBaseId, documentId, 60_000);
      assert.equal(ended.status, 'ready', JSON.stringify(ended));
      assert.equal(ended.chunks, 1);
      assert.match(second.output(), /"msg":"document ready"/, second.output());
      // Taken from the waiting jobs at once, not recovered after the lock of a vanished worker expired.
      assert.doesNotMatch(second.output(), /job of a stopped worker taken over/);
    } finally {
      await deployment.stop();
      await embeddings.close();
    }
  });
});
