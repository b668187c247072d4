import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createKnowledgeBase,
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
