import assert from 'node:assert/strict';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { describe, it } from 'node:test';
import {
  createKnowledgeBase,
  distributedDeployment,
  expectJson,
  startApiProcess,
  startStubEmbeddingServer,
  startWorkerProcess,
  upload,
  waitFor,
  waitUntilEnded,
  type ApiProcess,
  type DocumentView,
  type StubEmbeddingServer,
  type WorkerProcess,
} from '@passage/testing';

const text = 'The night ferry carries the mail bags to the island post office.';

/**
 * Uploads a document while the embeddings server holds every request, stops the worker with
 * SIGTERM once it embeds (certainly in the middle of the job), checks it exited 0 without
 * finishing the document, then lets embeddings through and starts another worker, which must
 * end the document ready. Returns the first worker's and the second worker's output.
 */
async function stopInTheMiddle(
  api: ApiProcess,
  embeddings: StubEmbeddingServer,
  first: WorkerProcess,
  startAnother: () => Promise<WorkerProcess>,
): Promise<{ first: string; second: string }> {
  // Each process probed the embedder once at start; from now on requests are held.
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
  assert.doesNotMatch(first.output(), /"msg":"document (ready|failed)"/);
  const stopped = await expectJson<DocumentView>(await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents/${documentId}`), 200);
  assert.equal(stopped.status, 'processing', 'the stopped worker had not finished the document');

  embeddings.setBehaviours([{ kind: 'embed' }]);
  const second = await startAnother();
  const ended = await waitUntilEnded(api, knowledgeBaseId, documentId, 60_000);
  assert.equal(ended.status, 'ready', JSON.stringify(ended));
  assert.equal(ended.chunks, 1);
  assert.match(second.output(), /"msg":"document ready"/, second.output());
  return { first: first.output(), second: second.output() };
}

const embeddingEnvironment = (embeddings: StubEmbeddingServer) => ({
  EMBEDDING_PROVIDER: 'openai',
  EMBEDDING_BASE_URL: embeddings.baseUrl,
  EMBEDDING_MODEL: 'stub-embedding',
});

describe('A worker process stopped with SIGTERM in the middle of a job', () => {
  it('scaled mode (BullMQ): exits 0 and hands the job back to the queue at once, and another worker then ingests the document to ready', async () => {
    const embeddings = await startStubEmbeddingServer({ behaviours: [{ kind: 'embed' }] });
    const deployment = await distributedDeployment({ workers: 1, env: embeddingEnvironment(embeddings) })().catch(async (error: unknown) => {
      await embeddings.close();
      throw error;
    });
    try {
      const output = await stopInTheMiddle(deployment.api, embeddings, deployment.workers[0]!, deployment.addWorker!);
      assert.match(output.first, /"msg":"job interrupted by shutdown; handed back"/, output.first);
      // Taken from the waiting jobs, not recovered after the lock of a vanished worker expired.
      assert.doesNotMatch(output.second, /job of a stopped worker taken over/);
    } finally {
      await deployment.stop();
      await embeddings.close();
    }
  });

  it('embedded mode (shared DATA_DIR): exits 0 leaving the document processing, and the next worker resumes it to ready', async () => {
    const embeddings = await startStubEmbeddingServer({ behaviours: [{ kind: 'embed' }] });
    const environment = embeddingEnvironment(embeddings);
    const workers: WorkerProcess[] = [];
    let api: ApiProcess | undefined;
    try {
      api = await startApiProcess({ env: { ...environment, INGEST_IN_API: 'false' } });
      const dataDirectory = api.dataDirectory;
      const startWorker = async () => {
        const worker = await startWorkerProcess({ dataDirectory, env: environment });
        workers.push(worker);
        return worker;
      };
      const output = await stopInTheMiddle(api, embeddings, await startWorker(), startWorker);
      assert.match(output.second, /"msg":"resuming unfinished ingestion"/, output.second);
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
      await api?.stop();
      if (api !== undefined) await rm(api.dataDirectory, { recursive: true, force: true });
      await embeddings.close();
    }
  });
});
