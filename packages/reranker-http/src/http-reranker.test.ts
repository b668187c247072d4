import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { AbortedError, AppError } from '@passage/spec';
import { describeRerankerContract } from '@passage/testing';
import { HttpReranker } from './http-reranker.js';
import { startStubRerankServer, wordOverlapScore, type StubRerankServer } from './stub-rerank-server.js';

for (const shape of ['tei', 'cohere'] as const) {
  describeRerankerContract(`http (${shape} answers)`, async () => {
    const server = await startStubRerankServer([{ kind: 'rerank', shape }]);
    return { reranker: new HttpReranker({ baseUrl: server.baseUrl, batchSize: 32 }), cleanup: () => server.close() };
  });
}

describe('HttpReranker', () => {
  let server: StubRerankServer;
  before(async () => {
    server = await startStubRerankServer();
  });
  after(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.requests.length = 0;
    server.setBehaviours([{ kind: 'rerank', shape: 'tei' }]);
  });

  const query = 'moon tides';
  const texts = ['cake recipe', 'the moon and the tides', 'tides'];

  it('posts the query, the texts, the model and the key to <baseUrl>/rerank and returns the server scores in input order', async () => {
    const reranker = new HttpReranker({ baseUrl: `${server.baseUrl}/`, model: 'bge-reranker-base', apiKey: 'secret' });
    const scores = await reranker.score(query, texts);
    assert.deepEqual(
      scores,
      texts.map((text) => wordOverlapScore(query, text)),
    );
    assert.deepEqual(server.requests[0], { query, texts, model: 'bge-reranker-base', authorization: 'Bearer secret' });
  });

  it('splits a call into requests of batchSize texts', async () => {
    const reranker = new HttpReranker({ baseUrl: server.baseUrl, batchSize: 2 });
    const many = ['a moon', 'b', 'c tides', 'd', 'moon tides'];
    const scores = await reranker.score(query, many);
    assert.deepEqual(
      server.requests.map((request) => request.texts.length),
      [2, 2, 1],
    );
    assert.deepEqual(
      scores,
      many.map((text) => wordOverlapScore(query, text)),
    );
  });

  it('retries a 429 after the Retry-After the server gave, then succeeds', async () => {
    server.setBehaviours([
      { kind: 'status', status: 429, headers: { 'retry-after': '0' } },
      { kind: 'rerank', shape: 'cohere' },
    ]);
    const scores = await new HttpReranker({ baseUrl: server.baseUrl }).score(query, texts);
    assert.equal(server.requests.length, 2);
    assert.equal(scores.length, texts.length);
  });

  it('retries a 503 up to maxRetries times, then fails rerank_failed, retryable', async () => {
    server.setBehaviours([{ kind: 'status', status: 503, headers: { 'retry-after': '0' } }]);
    await assert.rejects(new HttpReranker({ baseUrl: server.baseUrl, maxRetries: 2 }).score(query, texts), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, 'rerank_failed');
      assert.equal(error.retryable, true);
      assert.match(error.message, /HTTP 503/);
      return true;
    });
    assert.equal(server.requests.length, 3);
  });

  it('does not retry a 400, and says what the server said', async () => {
    server.setBehaviours([{ kind: 'status', status: 400, body: { error: 'texts too long' } }]);
    await assert.rejects(new HttpReranker({ baseUrl: server.baseUrl }).score(query, texts), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, 'rerank_failed');
      assert.equal(error.retryable, false);
      assert.match(error.message, /HTTP 400.*texts too long/);
      return true;
    });
    assert.equal(server.requests.length, 1);
  });

  it('fails at once, keeping the wait, when Retry-After asks for more than a minute', async () => {
    server.setBehaviours([{ kind: 'status', status: 429, headers: { 'retry-after': '120' } }]);
    await assert.rejects(new HttpReranker({ baseUrl: server.baseUrl }).score(query, texts), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.retryAfterSeconds, 120);
      return true;
    });
    assert.equal(server.requests.length, 1);
  });

  it('fails rerank_failed when a request outlives timeoutMs', async () => {
    server.setBehaviours([{ kind: 'hang' }]);
    await assert.rejects(new HttpReranker({ baseUrl: server.baseUrl, timeoutMs: 200, maxRetries: 0 }).score(query, texts), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, 'rerank_failed');
      assert.match(error.message, /did not answer within 200 ms/);
      return true;
    });
  });

  it('rejects with AbortedError when the caller aborts a request in flight', async () => {
    server.setBehaviours([{ kind: 'hang' }]);
    const controller = new AbortController();
    const scoring = new HttpReranker({ baseUrl: server.baseUrl }).score(query, texts, controller.signal);
    while (server.requests.length === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    await assert.rejects(scoring, AbortedError);
  });

  it('fails rerank_failed on an index out of range or a score that is not a number', async () => {
    for (const corrupt of ['index', 'score'] as const) {
      server.setBehaviours([{ kind: 'rerank', shape: 'cohere', corrupt }]);
      await assert.rejects(new HttpReranker({ baseUrl: server.baseUrl }).score(query, texts), (error: unknown) => {
        assert.ok(error instanceof AppError);
        assert.equal(error.code, 'rerank_failed');
        return true;
      });
    }
  });

  it('fails rerank_failed, retryable, when nothing listens at the address', async () => {
    const closed = await startStubRerankServer();
    await closed.close();
    await assert.rejects(new HttpReranker({ baseUrl: closed.baseUrl, maxRetries: 0 }).score(query, texts), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, 'rerank_failed');
      assert.equal(error.retryable, true);
      return true;
    });
  });
});
