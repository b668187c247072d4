import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startModelBackedApi, type ApiProcess, type StubOpenAiServer } from '@passage/testing';

const documents = {
  'lighthouse.txt': 'The Lighthouse of Alexandria stood on the island of Pharos. It was completed around 280 BC under Ptolemy II.',
  'engine.txt': 'Charles Babbage designed the Analytical Engine in 1837. Ada Lovelace wrote notes on the engine in 1843.',
};

interface SourceField {
  sources?: Array<{ index: number; documentName: string; page: number; chunkId: string; text: string }>;
}
interface CitationFields {
  citations?: number[];
  invalid_citations?: number[];
}

async function rejection(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof OpenAI.APIError, `expected an APIError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

describe('OpenAI-compatible endpoint, driven by the official openai SDK', () => {
  let stub: StubOpenAiServer;
  let api: ApiProcess;
  let client: OpenAI;
  let knowledgeBaseId: string;
  let stop: (() => Promise<void>) | undefined;

  before(async () => {
    ({ stub, api, knowledgeBaseId, stop } = await startModelBackedApi('Wonders', documents));
    client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(() => stop?.());

  it('lists knowledge bases as models and retrieves one', async () => {
    const models: OpenAI.Model[] = [];
    for await (const model of client.models.list()) models.push(model);
    const listed = models.find((model) => model.id === knowledgeBaseId);
    assert.ok(listed, JSON.stringify(models));
    assert.equal(listed.object, 'model');
    assert.equal(listed.owned_by, 'passage');
    assert.equal((listed as unknown as { name: string }).name, 'Wonders');
    assert.equal((await client.models.retrieve(knowledgeBaseId)).id, knowledgeBaseId);
    const missing = await rejection(client.models.retrieve('kb_missing'));
    assert.equal(missing.status, 404);
    assert.equal(missing.code, 'model_not_found');
  });

  it('streams chunks with the sources first, then deltas, a stop chunk with citations and the usage chunk', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['It stood ', 'on Pharos ', '[1][5].'] }]);
    const stream = await client.chat.completions.create({
      model: knowledgeBaseId,
      messages: [{ role: 'user', content: 'Where did the lighthouse stand?' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.every((chunk) => chunk.object === 'chat.completion.chunk' && chunk.model === knowledgeBaseId && chunk.id === chunks[0]?.id));

    const first = chunks[0]!;
    assert.equal(first.choices[0]?.delta.role, 'assistant');
    const sources = (first as unknown as SourceField).sources ?? [];
    assert.equal(sources[0]?.documentName, 'lighthouse.txt');
    assert.equal(sources[0]?.index, 1);

    const content = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    assert.equal(content, 'It stood on Pharos [1][5].');

    const stop = chunks.find((chunk) => chunk.choices[0]?.finish_reason === 'stop');
    assert.ok(stop);
    assert.deepEqual((stop as unknown as CitationFields).citations, [1]);
    assert.deepEqual((stop as unknown as CitationFields).invalid_citations, [5]);

    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.ok((last.usage?.prompt_tokens ?? 0) > 10);
    assert.ok((last.usage?.completion_tokens ?? 0) > 0);
    assert.equal(last.usage?.total_tokens, (last.usage?.prompt_tokens ?? 0) + (last.usage?.completion_tokens ?? 0));
    assert.ok(
      chunks.slice(0, -1).every((chunk) => chunk.usage === null),
      'usage is null until the usage chunk',
    );
  });

  it('ends the raw stream with data: [DONE], and sends no usage chunk unless asked', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['In 280 BC [1].'] }]);
    const response = await fetch(`${api.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: knowledgeBaseId, messages: [{ role: 'user', content: 'When was the lighthouse completed?' }], stream: true }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const text = await response.text();
    assert.ok(text.endsWith('data: [DONE]\n\n'));
    assert.doesNotMatch(text, /"usage"/);
    assert.doesNotMatch(text, /^event:/m, 'OpenAI chunks are unnamed events');
  });

  it('answers without streaming: one chat.completion with usage, sources and citations', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['Ada Lovelace ', 'wrote notes [1].'] }]);
    const completion = await client.chat.completions.create({
      model: knowledgeBaseId,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Who wrote notes on the Analytical Engine?' }] }],
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, knowledgeBaseId);
    assert.equal(completion.choices[0]?.message.role, 'assistant');
    assert.equal(completion.choices[0]?.message.content, 'Ada Lovelace wrote notes [1].');
    assert.equal(completion.choices[0]?.finish_reason, 'stop');
    assert.ok((completion.usage?.total_tokens ?? 0) > 0);
    const extra = completion as unknown as SourceField & CitationFields;
    assert.equal(extra.sources?.[0]?.documentName, 'engine.txt');
    assert.deepEqual(extra.citations, [1]);
    assert.deepEqual(extra.invalid_citations, []);
  });

  it('takes earlier messages as history (condensed for retrieval) and ignores the client system message', async () => {
    stub.setBehaviours([
      { kind: 'stream', tokens: ['When was the Lighthouse of Alexandria completed?'] },
      { kind: 'stream', tokens: ['Around 280 BC [1].'] },
    ]);
    const before = stub.requests.length;
    const completion = await client.chat.completions.create({
      model: knowledgeBaseId,
      messages: [
        { role: 'system', content: 'You are a pirate.' },
        { role: 'user', content: 'What stood on the island of Pharos?' },
        { role: 'assistant', content: 'The Lighthouse of Alexandria [1].' },
        { role: 'user', content: 'When was it completed?' },
      ],
    });
    assert.equal(completion.choices[0]?.message.content, 'Around 280 BC [1].');
    assert.equal(stub.requests.length - before, 2);
    const answerMessages = stub.requests[before + 1]?.body.messages ?? [];
    assert.deepEqual(
      answerMessages.map((message) => message.role),
      ['system', 'user', 'assistant', 'user'],
    );
    assert.doesNotMatch(answerMessages[0]?.content ?? '', /pirate/);
    assert.match(answerMessages.at(-1)?.content ?? '', /Question: When was it completed\?$/);
    assert.equal((completion as unknown as SourceField).sources?.[0]?.documentName, 'lighthouse.txt');
  });

  it('answers an unknown model with 404 model_not_found in OpenAI error shape', async () => {
    const error = await rejection(client.chat.completions.create({ model: 'kb_missing', messages: [{ role: 'user', content: 'Anything?' }] }));
    assert.ok(error instanceof OpenAI.NotFoundError);
    assert.equal(error.code, 'model_not_found');
    assert.equal(error.param, 'model');
    assert.equal(error.type, 'invalid_request_error');
  });

  it('answers bad requests with 400 invalid_request_error naming the param', async () => {
    const lastNotUser = await rejection(
      client.chat.completions.create({
        model: knowledgeBaseId,
        messages: [
          { role: 'user', content: 'Q?' },
          { role: 'assistant', content: 'A.' },
        ],
      }),
    );
    assert.ok(lastNotUser instanceof OpenAI.BadRequestError);
    assert.equal(lastNotUser.code, 'invalid_request');
    assert.equal(lastNotUser.param, 'messages');
    const noMessages = await rejection(client.chat.completions.create({ model: knowledgeBaseId, messages: [] }));
    assert.equal(noMessages.status, 400);
    assert.equal(noMessages.param, 'messages');
    const badJson = await fetch(`${api.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":' });
    assert.equal(badJson.status, 400);
    const body = (await badJson.json()) as { error: { message: string; type: string; param: string | null; code: string } };
    assert.equal(body.error.type, 'invalid_request_error');
    assert.equal(body.error.code, 'invalid_request');
    assert.equal(body.error.param, null);
  });

  it('reports a model failure before the answer with its status, and one in the middle of the stream as a stream error', async () => {
    stub.setBehaviours([{ kind: 'status', status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } } }]);
    const failed = await rejection(
      client.chat.completions.create({ model: knowledgeBaseId, messages: [{ role: 'user', content: 'Where did the lighthouse stand?' }] }),
    );
    assert.equal(failed.status, 502);
    assert.equal(failed.code, 'llm_authentication_failed');
    assert.equal(failed.type, 'server_error');

    stub.setBehaviours([{ kind: 'stream', tokens: ['It stood ', 'never sent'], failAfterTokens: 1 }]);
    const stream = await client.chat.completions.create({
      model: knowledgeBaseId,
      messages: [{ role: 'user', content: 'Where did the lighthouse stand?' }],
      stream: true,
    });
    const received: string[] = [];
    const midStream = await rejection(
      (async () => {
        for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? '');
      })(),
    );
    assert.equal(received.join(''), 'It stood ');
    assert.equal(midStream.code, 'llm_failed');
    assert.equal(midStream.type, 'server_error');
  });
});
