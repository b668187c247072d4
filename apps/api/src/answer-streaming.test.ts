import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ask,
  createTextKnowledgeBase,
  iterateSse,
  readSse,
  startApiProcess,
  startStubOpenAiServer,
  waitFor,
  type ApiProcess,
  type RecordedRequest,
  type StubOpenAiServer,
} from '@passage/testing';

const documents = {
  'lighthouse.txt':
    'The Lighthouse of Alexandria stood on the island of Pharos. It was completed around 280 BC under Ptolemy II. ' +
    'Its light guided ships into the harbour for centuries, until earthquakes ruined it.',
  'engine.txt':
    'Charles Babbage designed the Analytical Engine in 1837. Ada Lovelace wrote notes on the engine in 1843, ' +
    'including a method to compute Bernoulli numbers.',
};

const tokens = (count: number, text = 'word') => Array.from({ length: count }, (_, position) => `${text}${position} `);

/** Resolves with the stub's next recorded request. */
async function nextStubRequest(stub: StubOpenAiServer, countBefore: number): Promise<RecordedRequest> {
  return waitFor(async () => stub.requests[countBefore], { timeoutMs: 10_000, intervalMs: 5, what: 'the upstream request' });
}

/** Waits for the upstream request to be closed by the API; fails after `timeoutMs`. */
async function closedWithin(upstream: RecordedRequest, timeoutMs: number): Promise<number> {
  await Promise.race([upstream.aborted, sleep(timeoutMs).then(() => assert.fail(`upstream still open after ${timeoutMs} ms`))]);
  return upstream.closedAt()!;
}

describe('Answer streaming over HTTP: SSE hygiene, disconnects, a slow reader', () => {
  let stub: StubOpenAiServer;
  let api: ApiProcess;
  let knowledgeBaseId: string;

  before(async () => {
    stub = await startStubOpenAiServer();
    api = await startApiProcess({
      env: { OPENAI_BASE_URL: stub.baseUrl, OPENAI_API_KEY: 'sk-test', LLM_MODEL: 'stub-model', SSE_HEARTBEAT_MS: '100', LOG_LEVEL: 'debug' },
    });
    ({ knowledgeBaseId } = await createTextKnowledgeBase(api, 'Streaming', documents));
  });
  after(async () => {
    await api?.stop();
    await stub?.close();
  });

  it('sends the SSE headers and each event as it is produced, not batched', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['The lighthouse ', 'stood on Pharos ', '[1].'], tokenIntervalMs: 300 }]);
    const started = performance.now();
    const response = await ask(api, knowledgeBaseId, { question: 'Where did the lighthouse stand?' });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.match(response.headers.get('cache-control') ?? '', /\bno-cache\b/);
    assert.equal(response.headers.get('x-accel-buffering'), 'no');
    const events = await readSse(response, started);
    assert.deepEqual(events.map((event) => event.event), ['sources', 'text-delta', 'text-delta', 'text-delta', 'end']);
    const deltas = events.filter((event) => event.event === 'text-delta');
    // The stub waits 300 ms between tokens; a buffering server would deliver them together.
    assert.ok(deltas[1]!.at - deltas[0]!.at >= 200, `deltas arrived ${deltas[1]!.at - deltas[0]!.at} ms apart`);
    assert.ok(deltas[2]!.at - deltas[1]!.at >= 200, `deltas arrived ${deltas[2]!.at - deltas[1]!.at} ms apart`);
  });

  it('sends a heartbeat comment at SSE_HEARTBEAT_MS while the model is silent', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['Late ', 'answer.'], firstTokenDelayMs: 800 }]);
    const events = await readSse(await ask(api, knowledgeBaseId, { question: 'What guided ships into the harbour?' }), performance.now(), {
      includeComments: true,
    });
    const firstDelta = events.findIndex((event) => event.event === 'text-delta');
    const heartbeats = events.slice(0, firstDelta).filter((event) => event.event === ':');
    assert.ok(heartbeats.length >= 3, `${heartbeats.length} heartbeats before the first token`);
    assert.ok(heartbeats.every((event) => event.data === 'heartbeat'));
    assert.equal(events.at(-1)?.event, 'end');
  });

  it('aborts the upstream request within 100 ms when the client disconnects during generation, and does no more work', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: tokens(200), tokenIntervalMs: 20 }]);
    const before = stub.requests.length;
    const controller = new AbortController();
    const response = await ask(api, knowledgeBaseId, { question: 'Who wrote notes on the Analytical Engine?' }, controller.signal);
    let deltas = 0;
    let disconnectedAt = 0;
    await assert.rejects(async () => {
      for await (const event of iterateSse(response)) {
        if (event.event === 'text-delta') deltas += 1;
        if (deltas === 3) {
          disconnectedAt = performance.now();
          controller.abort();
        }
      }
    });
    const upstream = await nextStubRequest(stub, before);
    const closedAt = await closedWithin(upstream, 5000);
    assert.ok(closedAt - disconnectedAt < 100, `upstream closed ${Math.round(closedAt - disconnectedAt)} ms after the disconnect`);
    const written = upstream.tokensWritten();
    assert.ok(written < 200);
    await sleep(300);
    assert.equal(upstream.tokensWritten(), written, 'no token is produced after the close');
    assert.equal(stub.requests.length, before + 1, 'no retry, no other model request');
    assert.doesNotMatch(api.output(), /answer failed/, 'a disconnect is not logged as a failure');
  });

  it('aborts the upstream request within 100 ms when the client disconnects before the first token', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['never'], firstTokenDelayMs: 10_000 }]);
    const before = stub.requests.length;
    const controller = new AbortController();
    const response = await ask(api, knowledgeBaseId, { question: 'When was the lighthouse completed?' }, controller.signal);
    let disconnectedAt = 0;
    await assert.rejects(async () => {
      for await (const event of iterateSse(response)) {
        if (event.event !== 'sources') continue;
        await nextStubRequest(stub, before);
        disconnectedAt = performance.now();
        controller.abort();
      }
    });
    const upstream = stub.requests[before]!;
    const closedAt = await closedWithin(upstream, 5000);
    assert.ok(closedAt - disconnectedAt < 100, `upstream closed ${Math.round(closedAt - disconnectedAt)} ms after the disconnect`);
    assert.equal(upstream.tokensWritten(), 0);
    await sleep(300);
    assert.equal(stub.requests.length, before + 1);
  });

  it('aborts the condense request within 100 ms when the client disconnects during retrieval, and never asks for the answer', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['When was the Lighthouse of Alexandria completed?'], firstTokenDelayMs: 10_000 }]);
    const before = stub.requests.length;
    const controller = new AbortController();
    const pending = ask(
      api,
      knowledgeBaseId,
      { question: 'When was it completed?', history: [{ role: 'user', content: 'Tell me about the lighthouse on Pharos.' }, { role: 'assistant', content: 'It stood in Alexandria [1].' }] },
      controller.signal,
    );
    const condense = await nextStubRequest(stub, before);
    assert.match(condense.body.messages?.at(-1)?.content ?? '', /Last question: When was it completed\?/);
    const disconnectedAt = performance.now();
    controller.abort();
    await assert.rejects(pending);
    const closedAt = await closedWithin(condense, 5000);
    assert.ok(closedAt - disconnectedAt < 100, `condense request closed ${Math.round(closedAt - disconnectedAt)} ms after the disconnect`);
    await sleep(300);
    assert.equal(stub.requests.length, before + 1, 'no answer request after the disconnect');
  });

  it('stops pulling tokens while a reader pauses, joins the deltas that waited, and delivers everything once it reads again', async () => {
    // 40 MB: far more than the socket buffers of the two connections can hold (about 7 MB here).
    const total = 40_000;
    const token = `${'x'.repeat(1020)} `;
    stub.setBehaviours([{ kind: 'stream', tokens: Array.from({ length: total }, () => token) }]);
    const before = stub.requests.length;
    const url = new URL(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/ask`);
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const outgoing = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, resolve);
      outgoing.on('error', reject);
      outgoing.end(JSON.stringify({ question: 'What did Ada Lovelace compute?', stream: true }));
    });
    assert.equal(response.statusCode, 200);
    response.pause();
    const upstream = await nextStubRequest(stub, before);
    // Wait until the stub cannot write any more: every buffer between it and the reader is full.
    let written = -1;
    await waitFor(
      async () => {
        const now = upstream.tokensWritten();
        const stalled = now === written && upstream.waitingForDrain();
        written = now;
        return stalled ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'the stub to block on a full socket' },
    );
    assert.ok(written < total / 2, `the stub wrote ${written} of ${total} tokens to a reader that reads nothing`);
    response.resume();
    let body = '';
    response.setEncoding('utf8');
    for await (const piece of response) body += piece as string;
    const deltas = body
      .split('\n\n')
      .filter((block) => block.startsWith('event: text-delta'))
      .map((block) => (JSON.parse(block.slice(block.indexOf('data: ') + 6)) as { delta: string }).delta);
    assert.equal(deltas.join(''), token.repeat(total), 'every token arrives once the reader reads');
    assert.ok(deltas.length < total, `deltas that waited for the paused reader were joined: ${deltas.length} events for ${total} tokens`);
    assert.match(body, /event: end\n/);
  });
});
