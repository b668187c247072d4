import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  ask,
  createTextKnowledgeBase,
  readSse,
  startApiProcess,
  startStubOpenAiServer,
  stubModelEnvironment,
  type ApiProcess,
  type ReceivedEvent,
  type StubOpenAiServer,
} from '@passage/testing';

const documents = {
  'tides.txt': 'Tides are caused by the gravity of the Moon and the Sun. Spring tides happen at new and full moon.',
};
const question = { question: 'What causes tides?' };

async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

function names(events: ReceivedEvent[]): string[] {
  return events.map((event) => event.event);
}

function errorOf(events: ReceivedEvent[]): { code: string; message: string } {
  const last = events.at(-1);
  assert.equal(last?.event, 'error', `expected the stream to end with an error event: ${names(events).join(',')}`);
  return last.data as { code: string; message: string };
}

/** Every delta is model text: no error message may have leaked into it. */
function assertCleanAnswer(events: ReceivedEvent[], expected: string): void {
  const text = events
    .filter((event) => event.event === 'text-delta')
    .map((event) => (event.data as { delta: string }).delta)
    .join('');
  assert.equal(text, expected);
  assert.ok(
    events.every((event) => event.event !== 'end'),
    'a failed answer has no end event',
  );
}

async function askJson(api: ApiProcess, knowledgeBaseId: string): Promise<{ status: number; retryAfter: string | null; code: string }> {
  const response = await ask(api, knowledgeBaseId, { ...question, stream: false });
  const body = (await response.json()) as { error?: { code: string } };
  return { status: response.status, retryAfter: response.headers.get('retry-after'), code: body.error?.code ?? '' };
}

describe('LLM faults through the API, each reported as a failure and never as answer text', () => {
  let stub: StubOpenAiServer;
  let retrying: ApiProcess;
  let timing: ApiProcess;
  let refused: ApiProcess;
  let retryingKnowledgeBase: string;
  let timingKnowledgeBase: string;
  let refusedKnowledgeBase: string;

  before(async () => {
    stub = await startStubOpenAiServer();
    const llm = stubModelEnvironment(stub);
    [retrying, timing, refused] = await Promise.all([
      startApiProcess({ env: { ...llm, LLM_MAX_RETRIES: '2', LLM_IDLE_TIMEOUT_MS: '10000' } }),
      startApiProcess({ env: { ...llm, LLM_MAX_RETRIES: '0', LLM_IDLE_TIMEOUT_MS: '1000', LLM_TIMEOUT_MS: '3000' } }),
      startApiProcess({ env: { ...llm, OPENAI_BASE_URL: `http://127.0.0.1:${await closedPort()}/v1`, LLM_MAX_RETRIES: '1' } }),
    ]);
    const knowledgeBaseOf = async (api: ApiProcess) => (await createTextKnowledgeBase(api, 'Faults', documents)).knowledgeBaseId;
    [retryingKnowledgeBase, timingKnowledgeBase, refusedKnowledgeBase] = await Promise.all([
      knowledgeBaseOf(retrying),
      knowledgeBaseOf(timing),
      knowledgeBaseOf(refused),
    ]);
  });
  after(async () => {
    await Promise.all([retrying?.stop(), timing?.stop(), refused?.stop()]);
    await stub?.close();
  });

  it('reports a refused connection as llm_unavailable (503) after its retries', async () => {
    const events = await readSse(await ask(refused, refusedKnowledgeBase, question));
    assert.deepEqual(names(events), ['sources', 'error']);
    assert.equal(errorOf(events).code, 'llm_unavailable');
    assert.deepEqual(await askJson(refused, refusedKnowledgeBase), { status: 503, retryAfter: null, code: 'llm_unavailable' });
  });

  it('reports 401 as llm_authentication_failed (502) without retrying', async () => {
    stub.setBehaviours([
      { kind: 'status', status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } } },
    ]);
    const before = stub.requests.length;
    const events = await readSse(await ask(retrying, retryingKnowledgeBase, question));
    assert.deepEqual(names(events), ['sources', 'error']);
    assert.equal(errorOf(events).code, 'llm_authentication_failed');
    assert.equal(stub.requests.length - before, 1);
    assert.equal((await askJson(retrying, retryingKnowledgeBase)).status, 502);
  });

  it('waits for Retry-After on 429, then answers', async () => {
    stub.setBehaviours([
      { kind: 'status', status: 429, headers: { 'retry-after': '1' } },
      { kind: 'stream', tokens: ['The Moon ', '[1].'] },
    ]);
    const before = stub.requests.length;
    const events = await readSse(await ask(retrying, retryingKnowledgeBase, question));
    assert.deepEqual(names(events), ['sources', 'text-delta', 'text-delta', 'end']);
    const sent = stub.requests.slice(before);
    assert.equal(sent.length, 2);
    assert.ok(sent[1]!.receivedAt - sent[0]!.receivedAt >= 950, `retried after ${Math.round(sent[1]!.receivedAt - sent[0]!.receivedAt)} ms`);
  });

  it('gives up on a lasting 429 with llm_rate_limited (503 with Retry-After) after LLM_MAX_RETRIES', async () => {
    stub.setBehaviours([{ kind: 'status', status: 429, headers: { 'retry-after': '1' } }]);
    const before = stub.requests.length;
    const events = await readSse(await ask(retrying, retryingKnowledgeBase, question));
    assert.deepEqual(names(events), ['sources', 'error']);
    assert.equal(errorOf(events).code, 'llm_rate_limited');
    assert.equal(stub.requests.length - before, 3);
    stub.setBehaviours([{ kind: 'status', status: 429, headers: { 'retry-after': '30' } }]);
    assert.deepEqual(await askJson(retrying, retryingKnowledgeBase), { status: 503, retryAfter: '30', code: 'llm_rate_limited' });
  });

  it('retries a 500 before the first token with growing backoff, then answers', async () => {
    stub.setBehaviours([
      { kind: 'status', status: 500 },
      { kind: 'status', status: 500 },
      { kind: 'stream', tokens: ['Gravity ', '[1].'] },
    ]);
    const before = stub.requests.length;
    const events = await readSse(await ask(retrying, retryingKnowledgeBase, question));
    assert.equal(events.at(-1)?.event, 'end');
    assert.equal((events.at(-1)?.data as { answer: string }).answer, 'Gravity [1].');
    const sent = stub.requests.slice(before);
    assert.equal(sent.length, 3);
    assert.ok(sent[1]!.receivedAt - sent[0]!.receivedAt >= 350);
    assert.ok(sent[2]!.receivedAt - sent[1]!.receivedAt >= 700);
  });

  it('gives up on a lasting 500 with llm_failed after LLM_MAX_RETRIES', async () => {
    stub.setBehaviours([{ kind: 'status', status: 500 }]);
    const before = stub.requests.length;
    const events = await readSse(await ask(retrying, retryingKnowledgeBase, question));
    assert.deepEqual(names(events), ['sources', 'error']);
    assert.equal(errorOf(events).code, 'llm_failed');
    assert.equal(stub.requests.length - before, 3);
  });

  it('keeps the deltas already sent and ends with an error event when the stream breaks in the middle', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['The Moon ', 'and the Sun ', 'never sent'], failAfterTokens: 2 }]);
    const before = stub.requests.length;
    const events = await readSse(await ask(retrying, retryingKnowledgeBase, question));
    assert.deepEqual(names(events), ['sources', 'text-delta', 'text-delta', 'error']);
    assert.equal(errorOf(events).code, 'llm_failed');
    assertCleanAnswer(events, 'The Moon and the Sun ');
    assert.equal(stub.requests.length - before, 1, 'a stream that sent text is not restarted');
  });

  it('ends with an error event when the model sends an error event in the middle of the stream', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['Partial ', 'answer'], errorEventAfterTokens: 1 }]);
    const events = await readSse(await ask(retrying, retryingKnowledgeBase, question));
    assert.deepEqual(names(events), ['sources', 'text-delta', 'error']);
    assert.equal(errorOf(events).code, 'llm_failed');
    assertCleanAnswer(events, 'Partial ');
  });

  it('stops with llm_timeout and closes the upstream request when no token comes for LLM_IDLE_TIMEOUT_MS', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['First ', 'never'], stallAfterTokens: 1 }]);
    const before = stub.requests.length;
    const events = await readSse(await ask(timing, timingKnowledgeBase, question));
    assert.deepEqual(names(events), ['sources', 'text-delta', 'error']);
    const error = errorOf(events);
    assert.equal(error.code, 'llm_timeout');
    assert.match(error.message, /sent nothing for 1000 ms/);
    assertCleanAnswer(events, 'First ');
    await stub.requests[before]!.aborted;
    assert.equal(stub.requests[before]!.wasAborted(), true);
    assert.equal((await askJson(timing, timingKnowledgeBase)).status, 504);
  });

  it('stops with llm_timeout and closes the upstream request when the answer outlasts LLM_TIMEOUT_MS', async () => {
    // 100 tokens 100 ms apart: at least 10 s of answer, certainly longer than the 3 s limit.
    const total = 100;
    stub.setBehaviours([{ kind: 'stream', tokens: Array.from({ length: total }, (_, position) => `t${position} `), tokenIntervalMs: 100 }]);
    const before = stub.requests.length;
    const events = await readSse(await ask(timing, timingKnowledgeBase, question));
    const error = errorOf(events);
    assert.equal(error.code, 'llm_timeout');
    assert.match(error.message, /within 3000 ms/);
    assert.ok(
      events.some((event) => event.event === 'text-delta'),
      'tokens streamed until the limit',
    );
    await stub.requests[before]!.aborted;
    assert.ok(stub.requests[before]!.tokensWritten() < total, 'the upstream stream was cut before its end');
  });
});
