import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ask, iterateSse, startModelBackedApi, waitFor, type ApiProcess, type RecordedRequest, type StubOpenAiServer } from '@passage/testing';

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

/** How many answers the API has finished all work for (its `answer work ended` debug lines). */
function answersEnded(api: ApiProcess): number {
  return api.output().match(/answer work ended/g)?.length ?? 0;
}

/** Resolves once the API has finished all work for `count` answers. */
async function answerWorkEnded(api: ApiProcess, count: number): Promise<void> {
  await waitFor(async () => (answersEnded(api) >= count ? true : undefined), { timeoutMs: 10_000, intervalMs: 10, what: 'the answer’s work to end' });
}

describe('Answer streaming over HTTP: SSE hygiene, disconnects, a slow reader', () => {
  let stub: StubOpenAiServer;
  let api: ApiProcess;
  let knowledgeBaseId: string;
  let stop: (() => Promise<void>) | undefined;

  before(async () => {
    ({ stub, api, knowledgeBaseId, stop } = await startModelBackedApi('Streaming', documents, { SSE_HEARTBEAT_MS: '100', LOG_LEVEL: 'debug' }));
  });
  after(() => stop?.());

  it('sends the SSE headers and each event as it is produced, not batched', async () => {
    // The stub sends a token only once the client has received the delta of the one before: a
    // server that held deltas back to send them together would never let the answer end.
    const received: Array<() => void> = [];
    const tokens = ['The lighthouse ', 'stood on Pharos ', '[1].'];
    const waits = tokens.map((_, position) => (position === 0 ? Promise.resolve() : new Promise<void>((resolve) => (received[position - 1] = resolve))));
    stub.setBehaviours([{ kind: 'stream', tokens, beforeToken: (position) => waits[position]! }]);
    const response = await ask(api, knowledgeBaseId, { question: 'Where did the lighthouse stand?' });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.match(response.headers.get('cache-control') ?? '', /\bno-cache\b/);
    assert.equal(response.headers.get('x-accel-buffering'), 'no');
    const events = [];
    let deltas = 0;
    for await (const event of iterateSse(response)) {
      events.push(event);
      if (event.event === 'text-delta') received[deltas++]?.();
    }
    assert.deepEqual(
      events.map((event) => event.event),
      ['sources', 'text-delta', 'text-delta', 'text-delta', 'end'],
    );
    assert.deepEqual(
      events.filter((event) => event.event === 'text-delta').map((event) => (event.data as { delta: string }).delta),
      tokens,
    );
  });

  it('sends heartbeat comments while the model is silent', async () => {
    // The stub sends its first token only once the client has received three heartbeats.
    let heartbeatsReceived = 0;
    let threeHeartbeats: () => void = () => {};
    const silence = new Promise<void>((resolve) => (threeHeartbeats = resolve));
    stub.setBehaviours([{ kind: 'stream', tokens: ['Late ', 'answer.'], beforeToken: (position) => (position === 0 ? silence : Promise.resolve()) }]);
    const events = [];
    const response = await ask(api, knowledgeBaseId, { question: 'What guided ships into the harbour?' });
    for await (const event of iterateSse(response, performance.now(), { includeComments: true })) {
      events.push(event);
      if (event.event === ':' && ++heartbeatsReceived === 3) threeHeartbeats();
    }
    const firstDelta = events.findIndex((event) => event.event === 'text-delta');
    const heartbeats = events.slice(0, firstDelta).filter((event) => event.event === ':');
    assert.ok(heartbeats.length >= 3, `${heartbeats.length} heartbeats before the first token`);
    assert.ok(heartbeats.every((event) => event.data === 'heartbeat'));
    assert.equal(events.at(-1)?.event, 'end');
  });

  it('closes the upstream request when the client disconnects during generation, and does no more work', async () => {
    // After five tokens the stub sends nothing until the connection is closed: only the API can close it.
    stub.setBehaviours([{ kind: 'stream', tokens: tokens(200), stallAfterTokens: 5 }]);
    const before = stub.requests.length;
    const ended = answersEnded(api);
    const controller = new AbortController();
    const response = await ask(api, knowledgeBaseId, { question: 'Who wrote notes on the Analytical Engine?' }, controller.signal);
    let deltas = 0;
    await assert.rejects(async () => {
      for await (const event of iterateSse(response)) {
        if (event.event === 'text-delta') deltas += 1;
        if (deltas === 3) controller.abort();
      }
    });
    const upstream = await nextStubRequest(stub, before);
    await upstream.aborted;
    assert.equal(upstream.wasAborted(), true, 'the API closed the upstream request');
    await answerWorkEnded(api, ended + 1);
    assert.equal(stub.requests.length, before + 1, 'no retry, no other model request');
    assert.doesNotMatch(api.output(), /answer failed/, 'a disconnect is not logged as a failure');
  });

  it('closes the upstream request when the client disconnects before the first token', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['never'], stallAfterTokens: 0 }]);
    const before = stub.requests.length;
    const ended = answersEnded(api);
    const controller = new AbortController();
    const response = await ask(api, knowledgeBaseId, { question: 'When was the lighthouse completed?' }, controller.signal);
    await assert.rejects(async () => {
      for await (const event of iterateSse(response)) {
        if (event.event !== 'sources') continue;
        await nextStubRequest(stub, before);
        controller.abort();
      }
    });
    const upstream = stub.requests[before]!;
    await upstream.aborted;
    assert.equal(upstream.wasAborted(), true);
    assert.equal(upstream.tokensWritten(), 0);
    await answerWorkEnded(api, ended + 1);
    assert.equal(stub.requests.length, before + 1, 'no retry, no other model request');
  });

  it('closes the condense request when the client disconnects during retrieval, and never asks for the answer', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['When was the Lighthouse of Alexandria completed?'], stallAfterTokens: 0 }]);
    const before = stub.requests.length;
    const ended = answersEnded(api);
    const controller = new AbortController();
    const pending = ask(
      api,
      knowledgeBaseId,
      {
        question: 'When was it completed?',
        history: [
          { role: 'user', content: 'Tell me about the lighthouse on Pharos.' },
          { role: 'assistant', content: 'It stood in Alexandria [1].' },
        ],
      },
      controller.signal,
    );
    const condense = await nextStubRequest(stub, before);
    assert.match(condense.body.messages?.at(-1)?.content ?? '', /Last question: When was it completed\?/);
    controller.abort();
    await assert.rejects(pending);
    await condense.aborted;
    assert.equal(condense.wasAborted(), true);
    await answerWorkEnded(api, ended + 1);
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
