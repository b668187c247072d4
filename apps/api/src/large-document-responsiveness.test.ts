import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ask,
  createKnowledgeBase,
  createTextKnowledgeBase,
  expectJson,
  generateText,
  iterateSse,
  startApiProcess,
  startStubOpenAiServer,
  upload,
  waitUntilEnded,
  type ApiProcess,
  type StubOpenAiServer,
} from '@passage/testing';

/**
 * Issue 8: a 20 MB text file ingests while the API keeps answering. Behaviour only, no timing
 * thresholds: every health request issued during the ingestion succeeds, and an answer stream
 * receives deltas before the ingestion ends.
 */
describe('a 20 MB text file ingests while the API keeps answering', () => {
  let stub: StubOpenAiServer;
  let api: ApiProcess;

  before(async () => {
    // A long answer, one token every 20 ms: it streams for the whole ingestion.
    stub = await startStubOpenAiServer([{ kind: 'stream', tokens: Array.from({ length: 3000 }, (_, index) => `word${index} `), tokenIntervalMs: 20 }]);
    api = await startApiProcess({ env: { OPENAI_BASE_URL: stub.baseUrl, OPENAI_API_KEY: 'sk-test', LLM_MODEL: 'stub-model' } });
  });
  after(async () => {
    await api?.stop();
    await stub?.close();
  });

  test('health requests during the ingestion all succeed and an answer stream gets deltas before it ends', { timeout: 600_000 }, async () => {
    const { knowledgeBaseId: answering } = await createTextKnowledgeBase(api, 'Answers', { 'moon.txt': 'The Moon orbits the Earth every 27 days.' });
    const ingesting = await createKnowledgeBase(api, 'Large');

    const streamAbort = new AbortController();
    const stream = await ask(api, answering, { question: 'How long is an orbit of the Moon?', stream: true }, streamAbort.signal);
    assert.equal(stream.status, 200);
    const deltaTimes: number[] = [];
    const reading = (async () => {
      try {
        for await (const event of iterateSse(stream)) if (event.event === 'text-delta') deltaTimes.push(performance.now());
      } catch (error) {
        if (!streamAbort.signal.aborted) throw error;
      }
    })();

    const text = [...generateText(20 * 1024 * 1024, { seed: 8 })].join('');
    const accepted = await expectJson<{ data: Array<{ id: string }> }>(
      await upload(api, ingesting, [{ name: 'large.txt', bytes: new TextEncoder().encode(text), type: 'text/plain' }]),
      202,
    );
    const documentId = accepted.data[0]!.id;
    const uploadedAt = performance.now();

    let ingesting_ = true;
    const health: Array<Promise<number>> = [];
    const poller = (async () => {
      while (ingesting_) {
        health.push(fetch(`${api.url}/healthz`).then((response) => response.status));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const ended = await waitUntilEnded(api, ingesting, documentId, 540_000);
    const endedAt = performance.now();
    ingesting_ = false;
    await poller;
    streamAbort.abort();
    await reading;

    assert.equal(ended.status, 'ready', JSON.stringify(ended));
    assert.ok((ended.chunks ?? 0) > 10_000, `the document made ${ended.chunks} chunks`);
    const statuses = await Promise.all(health);
    assert.ok(statuses.length > 0);
    assert.deepEqual(
      statuses.filter((status) => status !== 200),
      [],
      'every health request answered 200',
    );
    const deltasDuringIngestion = deltaTimes.filter((at) => at > uploadedAt && at < endedAt).length;
    assert.ok(deltasDuringIngestion > 0, 'the answer stream received deltas while the document was ingested');
  });
});
