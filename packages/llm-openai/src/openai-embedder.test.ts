import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStubEmbeddingServer, stubEmbedding, waitFor, type StubEmbeddingServer } from '@passage/testing';
import { OpenAiEmbedder } from './openai-embedder.js';

describe('OpenAI-compatible embedder (real openai SDK against a stub /v1/embeddings)', () => {
  let stub: StubEmbeddingServer;
  before(async () => {
    stub = await startStubEmbeddingServer({ dimensions: 6 });
  });
  after(async () => {
    await stub.close();
  });

  const texts = (count: number) => Array.from({ length: count }, (_, position) => `passage number ${position}`);

  it('discovers the vector length with one probe, then embeds in batches, in input order', async () => {
    stub.setBehaviours([{ kind: 'embed' }]);
    const before = stub.requests.length;
    const embedder = await OpenAiEmbedder.create({ model: 'stub-embed', baseUrl: stub.baseUrl, apiKey: 'sk-test', batchSize: 32 });
    assert.equal(embedder.dimensions, 6);
    assert.equal(embedder.name, 'stub-embed');
    const inputs = texts(100);
    const vectors = await embedder.embed(inputs, 'passage');
    assert.deepEqual(
      vectors,
      inputs.map((text) => stubEmbedding(text, 6)),
    );
    const sent = stub.requests.slice(before);
    assert.deepEqual(
      sent.map((request) => request.inputs.length),
      [1, 32, 32, 32, 4],
    );
    assert.ok(sent.every((request) => request.model === 'stub-embed' && request.encodingFormat === 'base64'));
    assert.equal(sent[1]?.headers.authorization, 'Bearer sk-test');
  });

  it('reads plain float arrays from a server that ignores encoding_format, and switches to floats for one that refuses base64', async () => {
    stub.setBehaviours([{ kind: 'embed', ignoreEncodingFormat: true }]);
    const lenient = await OpenAiEmbedder.create({ model: 'm', baseUrl: stub.baseUrl, dimensions: 6 });
    assert.deepEqual(await lenient.embed(['plain floats'], 'passage'), [stubEmbedding('plain floats', 6)]);

    stub.setBehaviours([
      { kind: 'status', status: 400, body: { error: { message: 'encoding_format base64 is not supported', type: 'invalid_request_error' } } },
      { kind: 'embed' },
    ]);
    const strict = await OpenAiEmbedder.create({ model: 'm', baseUrl: stub.baseUrl, dimensions: 6 });
    const before = stub.requests.length;
    assert.deepEqual(await strict.embed(['a'], 'passage'), [stubEmbedding('a', 6)]);
    assert.deepEqual(await strict.embed(['b'], 'passage'), [stubEmbedding('b', 6)]);
    assert.deepEqual(
      stub.requests.slice(before).map((request) => request.encodingFormat),
      ['base64', 'float', 'float'],
    );
  });

  it('puts the configured prefixes before queries and passages and sends their input_type, and sends neither unless configured', async () => {
    stub.setBehaviours([{ kind: 'embed' }]);
    const told = await OpenAiEmbedder.create({
      model: 'e5',
      baseUrl: stub.baseUrl,
      dimensions: 6,
      queryPrefix: 'query: ',
      passagePrefix: 'passage: ',
      queryInputType: 'query',
      passageInputType: 'document',
    });
    const plain = await OpenAiEmbedder.create({ model: 'plain', baseUrl: stub.baseUrl, dimensions: 6 });
    const before = stub.requests.length;
    assert.deepEqual(await told.embed(['tides'], 'query'), [stubEmbedding('query: tides', 6)]);
    assert.deepEqual(await told.embed(['the moon moves the sea'], 'passage'), [stubEmbedding('passage: the moon moves the sea', 6)]);
    assert.deepEqual(await plain.embed(['tides'], 'query'), [stubEmbedding('tides', 6)]);
    assert.deepEqual(
      stub.requests.slice(before).map((request) => [request.inputs, request.inputType]),
      [
        [['query: tides'], 'query'],
        [['passage: the moon moves the sea'], 'document'],
        [['tides'], undefined],
      ],
    );
  });

  it('keeps at most maxInFlight requests in flight, across concurrent calls, and uses all of them', async () => {
    // The stub answers only when three requests are in flight together: an embedder that sent
    // fewer at a time would never be answered, one that sent more would show them in maxInFlight.
    const stubbed = await startStubEmbeddingServer({ dimensions: 4, behaviours: [{ kind: 'embed', holdUntilInFlight: 3 }] });
    try {
      const embedder = await OpenAiEmbedder.create({ model: 'm', baseUrl: stubbed.baseUrl, batchSize: 4, maxInFlight: 3, dimensions: 4 });
      const results = await Promise.all([embedder.embed(texts(24), 'passage'), embedder.embed(texts(12), 'passage')]);
      assert.equal(stubbed.maxInFlight(), 3);
      assert.equal(stubbed.requests.length, 9);
      assert.deepEqual(
        results[0],
        texts(24).map((text) => stubEmbedding(text, 4)),
      );
      assert.deepEqual(
        results[1],
        texts(12).map((text) => stubEmbedding(text, 4)),
      );
    } finally {
      await stubbed.close();
    }
  });

  it('waits as Retry-After says on 429 and succeeds', async () => {
    stub.setBehaviours([{ kind: 'status', status: 429, headers: { 'retry-after': '1' } }, { kind: 'embed' }]);
    const embedder = await OpenAiEmbedder.create({ model: 'm', baseUrl: stub.baseUrl, dimensions: 6 });
    const before = stub.requests.length;
    const vectors = await embedder.embed(['rate limited once'], 'query');
    const [limited, retried] = stub.requests.slice(before);
    assert.deepEqual(vectors, [stubEmbedding('rate limited once', 6)]);
    assert.ok(retried!.startedAt - limited!.startedAt >= 950, `retried after ${Math.round(retried!.startedAt - limited!.startedAt)} ms`);
  });

  it('reports lasting 429s as retryable with the Retry-After, and a refused key as not retryable', async () => {
    stub.setBehaviours([{ kind: 'status', status: 429, headers: { 'retry-after': '0' } }]);
    const embedder = await OpenAiEmbedder.create({ model: 'm', baseUrl: stub.baseUrl, dimensions: 6, maxRetries: 1 });
    await assert.rejects(embedder.embed(['x'], 'passage'), { code: 'embedding_failed', retryable: true, retryAfterSeconds: 0 });
    stub.setBehaviours([{ kind: 'status', status: 401, body: { error: { message: 'Incorrect API key', type: 'invalid_request_error' } } }]);
    await assert.rejects(embedder.embed(['x'], 'passage'), { code: 'embedding_failed', retryable: false });
    stub.setBehaviours([{ kind: 'status', status: 503 }]);
    await assert.rejects(embedder.embed(['x'], 'passage'), { code: 'embedding_failed', retryable: true });
  });

  it('refuses an answer with missing vectors', async () => {
    stub.setBehaviours([{ kind: 'embed', vectorsShort: true }]);
    const embedder = await OpenAiEmbedder.create({ model: 'm', baseUrl: stub.baseUrl, dimensions: 6 });
    await assert.rejects(embedder.embed(['a', 'b'], 'passage'), { code: 'embedding_failed', retryable: false });
  });

  it('stops when the caller aborts', async () => {
    // Held until two are in flight, which one at a time never reaches: only the abort can end the call.
    stub.setBehaviours([{ kind: 'embed', holdUntilInFlight: 2 }]);
    const embedder = await OpenAiEmbedder.create({ model: 'm', baseUrl: stub.baseUrl, dimensions: 6, maxInFlight: 1 });
    const before = stub.requests.length;
    const controller = new AbortController();
    const pending = embedder.embed(texts(70), 'passage', controller.signal);
    await waitFor(async () => (stub.requests.length > before ? true : undefined), { timeoutMs: 10_000, what: 'the first batch to reach the stub' });
    controller.abort();
    await assert.rejects(pending, { code: 'aborted' });
    assert.equal(stub.requests.length, before + 1, 'no batch is sent after the abort');
  });
});
