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

describe('OpenAiChatModel against a stub OpenAI server (real openai SDK)', () => {
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

  it('reports 401 as llm_authentication_failed without retrying', async () => {
    stub.setBehaviours([{ kind: 'status', status: 401, body: { error: { message: 'bad key', type: 'invalid_request_error', code: 'invalid_api_key' } } }]);
    const before = stub.requests.length;
    const error = await failure(collect(model(), new AbortController().signal));
    assert.equal(error.code, 'llm_authentication_failed');
    assert.equal(stub.requests.length - before, 1);
  });

  it('retries a 500 before the first token, then streams', async () => {
    stub.setBehaviours([{ kind: 'status', status: 500 }, { kind: 'stream', tokens: ['ok'] }]);
    const before = stub.requests.length;
    assert.deepEqual(await collect(model(), new AbortController().signal), ['ok']);
    assert.equal(stub.requests.length - before, 2);
  });

  it('honours Retry-After on 429 and gives up after the retries with llm_rate_limited', async () => {
    stub.setBehaviours([{ kind: 'status', status: 429, headers: { 'retry-after': '0' } }]);
    const before = stub.requests.length;
    const error = await failure(collect(model({ maxRetries: 1 }), new AbortController().signal));
    assert.equal(error.code, 'llm_rate_limited');
    assert.equal(error.retryable, true);
    assert.equal(stub.requests.length - before, 2);
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
