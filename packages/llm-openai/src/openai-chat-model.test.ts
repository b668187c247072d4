import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppError, type ChatMessage } from '@passage/spec';
import { startStubOpenAiServer, type StubOpenAiServer } from '@passage/testing';
import { OpenAiChatModel } from './openai-chat-model.js';

const messages: ChatMessage[] = [
  { role: 'system', content: 'Answer from context.' },
  { role: 'user', content: 'Question?' },
];

async function collect(model: OpenAiChatModel, signal = new AbortSignal()): Promise<string[]> {
  const deltas: string[] = [];
  for await (const delta of model.stream({ messages, signal })) deltas.push(delta);
  return deltas;
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AppError, `expected AppError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a failure');
}

describe('OpenAiChatModel against a stub OpenAI server', () => {
  let stub: StubOpenAiServer;
  before(async () => {
    stub = await startStubOpenAiServer();
  });
  after(async () => {
    await stub.close();
  });

  const model = (options: Partial<ConstructorParameters<typeof OpenAiChatModel>[0]> = {}) =>
    new OpenAiChatModel({ model: 'stub-model', baseUrl: stub.baseUrl, apiKey: 'test-key', maxRetries: 2, ...options });

  it('streams deltas and sends the messages, model and key', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['The ', 'answer', ' [1]'] }]);
    const before = stub.requests.length;
    assert.deepEqual(await collect(model(), new AbortController().signal), ['The ', 'answer', ' [1]']);
    const request = stub.requests[before];
    assert.equal(request?.body.model, 'stub-model');
    assert.equal(request?.body.stream, true);
    assert.deepEqual(request?.body.messages, messages);
    assert.equal(request?.headers.authorization, 'Bearer test-key');
  });

  it('reuses one kept-alive connection for consecutive streams', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['a', 'b'] }]);
    const chatModel = model();
    await collect(chatModel, new AbortController().signal);
    const connections = stub.connectionCount();
    for (let round = 0; round < 3; round += 1) assert.deepEqual(await collect(chatModel, new AbortController().signal), ['a', 'b']);
    assert.equal(stub.connectionCount(), connections);
  });

  it('retries a connection that the server closes before answering, then streams', async () => {
    const chatModel = model({ maxRetries: 1 });
    stub.setBehaviours([{ kind: 'reset' }, { kind: 'stream', tokens: ['fresh'] }]);
    const before = stub.requests.length;
    assert.deepEqual(await collect(chatModel, new AbortController().signal), ['fresh']);
    assert.ok(stub.requests.length - before >= 1);
  });

  it('does not hide a server that closes new connections: that is llm_unavailable', async () => {
    stub.setBehaviours([{ kind: 'reset' }]);
    const fresh = new OpenAiChatModel({ model: 'stub-model', baseUrl: stub.baseUrl, maxRetries: 0 });
    const error = await failure(collect(fresh, new AbortController().signal));
    assert.equal(error.code, 'llm_unavailable');
  });

  it('reports 401 as llm_authentication_failed without retrying', async () => {
    stub.setBehaviours([{ kind: 'status', status: 401, body: { error: { message: 'bad key', type: 'invalid_request_error', code: 'invalid_api_key' } } }]);
    const before = stub.requests.length;
    const error = await failure(collect(model(), new AbortController().signal));
    assert.equal(error.code, 'llm_authentication_failed');
    assert.equal(stub.requests.length - before, 1);
  });

  it('retries a 500 before the first token, then streams', async () => {
    stub.setBehaviours([
      { kind: 'status', status: 500 },
      { kind: 'stream', tokens: ['ok'] },
    ]);
    const before = stub.requests.length;
    assert.deepEqual(await collect(model(), new AbortController().signal), ['ok']);
    assert.equal(stub.requests.length - before, 2);
  });

  it('honours Retry-After on 429 and gives up after the retries with llm_rate_limited', async () => {
    stub.setBehaviours([{ kind: 'status', status: 429, headers: { 'retry-after': '1' } }]);
    const before = stub.requests.length;
    const error = await failure(collect(model({ maxRetries: 1 }), new AbortController().signal));
    assert.equal(error.code, 'llm_rate_limited');
    assert.equal(error.retryable, true);
    assert.equal(error.retryAfterSeconds, 1);
    const sent = stub.requests.slice(before);
    assert.equal(sent.length, 2);
    assert.ok(sent[1]!.receivedAt - sent[0]!.receivedAt >= 950, 'the retry waited for Retry-After');
  });

  it('fails at once with llm_rate_limited when Retry-After is longer than the idle timeout allows', async () => {
    stub.setBehaviours([{ kind: 'status', status: 429, headers: { 'retry-after': '30' } }]);
    const before = stub.requests.length;
    const error = await failure(collect(model({ maxRetries: 2, idleTimeoutMs: 2000 }), new AbortController().signal));
    assert.equal(error.code, 'llm_rate_limited');
    assert.equal(error.retryAfterSeconds, 30);
    assert.equal(stub.requests.length - before, 1);
  });

  it('backs off between retries of a 500 and stops after maxRetries with llm_failed', async () => {
    stub.setBehaviours([{ kind: 'status', status: 500 }]);
    const before = stub.requests.length;
    const error = await failure(collect(model({ maxRetries: 2 }), new AbortController().signal));
    assert.equal(error.code, 'llm_failed');
    const sent = stub.requests.slice(before);
    assert.equal(sent.length, 3);
    const gaps = [sent[1]!.receivedAt - sent[0]!.receivedAt, sent[2]!.receivedAt - sent[1]!.receivedAt];
    assert.ok(gaps[0]! >= 350, `first backoff ${gaps[0]} ms`);
    assert.ok(gaps[1]! >= 700, `second backoff ${gaps[1]} ms, doubled`);
  });

  it('reports a connection refused as llm_unavailable', async () => {
    const refused = new OpenAiChatModel({ model: 'm', baseUrl: 'http://127.0.0.1:9/v1', maxRetries: 0 });
    const error = await failure(collect(refused, new AbortController().signal));
    assert.equal(error.code, 'llm_unavailable');
  });

  it('fails with llm_failed when the stream breaks after some deltas', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['one', 'two', 'three'], failAfterTokens: 2 }]);
    const received: string[] = [];
    const error = await failure(
      (async () => {
        for await (const delta of model().stream({ messages, signal: new AbortController().signal })) received.push(delta);
      })(),
    );
    assert.deepEqual(received, ['one', 'two']);
    assert.match(error.code, /^llm_/);
  });

  it('fails with llm_failed on an error event in the middle of the stream', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['one', 'two', 'three'], errorEventAfterTokens: 1 }]);
    const received: string[] = [];
    const error = await failure(
      (async () => {
        for await (const delta of model().stream({ messages, signal: new AbortController().signal })) received.push(delta);
      })(),
    );
    assert.deepEqual(received, ['one']);
    assert.equal(error.code, 'llm_failed');
    assert.match(error.message, /failed mid-stream/);
  });

  it('stops a stream that outlasts the total timeout with llm_timeout and closes the upstream request', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: Array.from({ length: 50 }, () => 'tick '), tokenIntervalMs: 50 }]);
    const before = stub.requests.length;
    const error = await failure(collect(model({ idleTimeoutMs: 1000, timeoutMs: 400 }), new AbortController().signal));
    assert.equal(error.code, 'llm_timeout');
    assert.match(error.message, /within 400 ms/);
    await stub.requests[before]?.aborted;
    assert.ok((stub.requests[before]?.tokensWritten() ?? 50) < 50);
  });

  it('stops a stream that goes idle with llm_timeout and closes the upstream request', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['first', 'never'], stallAfterTokens: 1 }]);
    const before = stub.requests.length;
    const error = await failure(collect(model({ idleTimeoutMs: 300 }), new AbortController().signal));
    assert.equal(error.code, 'llm_timeout');
    await stub.requests[before]?.aborted;
    assert.equal(stub.requests[before]?.wasAborted(), true);
  });

  it('aborts the upstream request when the caller aborts', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['a', 'b', 'c', 'd'], tokenIntervalMs: 200 }]);
    const before = stub.requests.length;
    const controller = new AbortController();
    const received: string[] = [];
    await assert.rejects(async () => {
      for await (const delta of model().stream({ messages, signal: controller.signal })) {
        received.push(delta);
        controller.abort();
      }
    });
    assert.deepEqual(received, ['a']);
    await stub.requests[before]?.aborted;
    assert.equal(stub.requests[before]?.wasAborted(), true);
  });
});
