import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createKnowledgeBase,
  distributedDeployment,
  expectJson,
  startApiProcess,
  startStubEmbeddingServer,
  upload,
  waitUntilEnded,
  type ApiProcess,
  type StubEmbeddingServer,
} from '@passage/testing';

/** The value of one sample of the Prometheus text (`name{labels} value`), 0 when absent. */
function sample(metrics: string, series: string): number {
  const line = metrics.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const stageCount = (metrics: string, stage: string) => sample(metrics, `passage_ingestion_stage_duration_seconds_count{stage="${stage}"}`);

describe('Ingestion metrics of the API that ingests (stage durations, embedder errors)', () => {
  let embeddings: StubEmbeddingServer;
  let api: ApiProcess;

  before(async () => {
    embeddings = await startStubEmbeddingServer({ behaviours: [{ kind: 'embed' }] });
    api = await startApiProcess({ env: { EMBEDDING_PROVIDER: 'openai', EMBEDDING_BASE_URL: embeddings.baseUrl, EMBEDDING_MODEL: 'stub-embedding' } });
  });
  after(async () => {
    await api?.stop();
    await embeddings?.close();
  });

  const scrape = async () => {
    const response = await fetch(`${api.url}/metrics`);
    assert.equal(response.status, 200);
    return response.text();
  };

  it('counts a duration for each stage a ready document went through, and an embedder failure under its code for a failed one', async () => {
    const knowledgeBaseId = await createKnowledgeBase(api, 'Stages');
    const before = await scrape();
    for (const stage of ['parsing', 'chunking', 'embedding', 'indexing']) assert.equal(stageCount(before, stage), 0, stage);
    assert.equal(sample(before, 'passage_embedder_errors_total{code="embedding_failed"}'), 0);

    const ready = await expectJson<{ data: Array<{ id: string }> }>(
      await upload(api, knowledgeBaseId, [
        { name: 'tides.txt', bytes: new TextEncoder().encode('The tide tables are pinned beside the harbour office door.') },
      ]),
      202,
    );
    assert.equal((await waitUntilEnded(api, knowledgeBaseId, ready.data[0]!.id, 60_000)).status, 'ready');
    const afterReady = await scrape();
    for (const stage of ['parsing', 'chunking', 'embedding', 'indexing']) assert.equal(stageCount(afterReady, stage), 1, `${stage}:\n${afterReady}`);
    assert.ok(sample(afterReady, 'passage_ingestion_stage_duration_seconds_sum{stage="parsing"}') > 0);

    // The embeddings server now refuses every request (400: not retried).
    embeddings.setBehaviours([{ kind: 'status', status: 400 }]);
    const failing = await expectJson<{ data: Array<{ id: string }> }>(
      await upload(api, knowledgeBaseId, [{ name: 'buoys.txt', bytes: new TextEncoder().encode('Red buoys mark the port side of the channel.') }]),
      202,
    );
    const failed = await waitUntilEnded(api, knowledgeBaseId, failing.data[0]!.id, 60_000);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'embedding_failed');
    const afterFailure = await scrape();
    assert.equal(sample(afterFailure, 'passage_embedder_errors_total{code="embedding_failed"}'), 1, afterFailure);
    // Parsed and chunked, but neither embedded nor indexed.
    assert.deepEqual(
      ['parsing', 'chunking', 'embedding', 'indexing'].map((stage) => stageCount(afterFailure, stage)),
      [2, 2, 1, 1],
    );
  });
});

describe('Ingestion metrics of a worker process (WORKER_METRICS_PORT)', () => {
  it('serves the stage durations of the documents the worker ingested on its own port, behind METRICS_TOKEN', async () => {
    const token = 'worker-metrics-token-0123456789';
    const deployment = await distributedDeployment({ workers: 1, env: { WORKER_METRICS_PORT: '0', METRICS_TOKEN: token } })();
    try {
      const { api, workers } = deployment;
      const port = /"metricsPort":(\d+)/.exec(workers[0]!.output())?.[1];
      assert.ok(port !== undefined, workers[0]!.output());
      const url = `http://127.0.0.1:${port}/metrics`;
      const scrape = async () => {
        const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(response.status, 200);
        assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
        return response.text();
      };
      assert.equal((await fetch(url)).status, 401);
      assert.equal((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status, 401);
      assert.equal(stageCount(await scrape(), 'parsing'), 0);

      const knowledgeBaseId = await createKnowledgeBase(api, 'Worker stages');
      const accepted = await expectJson<{ data: Array<{ id: string }> }>(
        await upload(api, knowledgeBaseId, [{ name: 'nets.txt', bytes: new TextEncoder().encode('The fishing nets dry on the north wall every afternoon.') }]),
        202,
      );
      assert.equal((await waitUntilEnded(api, knowledgeBaseId, accepted.data[0]!.id, 60_000)).status, 'ready');
      const metrics = await scrape();
      // No embedder configured: no embedding stage.
      assert.deepEqual(
        ['parsing', 'chunking', 'embedding', 'indexing'].map((stage) => stageCount(metrics, stage)),
        [1, 1, 0, 1],
        metrics,
      );
      assert.match(metrics, /^passage_process_resident_memory_bytes \d+/m);
    } finally {
      await deployment.stop();
    }
  });
});
