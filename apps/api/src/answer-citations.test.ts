import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ask, readSse, startModelBackedApi, type ApiProcess, type StubOpenAiServer } from '@passage/testing';

// Five passages of about 250 tokens on one subject: all are retrieved, only two fit the budget.
const documents = Object.fromEntries(
  Array.from({ length: 5 }, (_, position) => [
    `tides-${position + 1}.txt`,
    `Tide record ${position + 1}. ${'Tides rise and fall twice a day as the Moon pulls the oceans of the Earth. '.repeat(13)}`,
  ]),
);

describe('Citations checked against the sources sent to the model', () => {
  let stub: StubOpenAiServer;
  let api: ApiProcess;
  let knowledgeBaseId: string;
  let stop: (() => Promise<void>) | undefined;

  before(async () => {
    ({ stub, api, knowledgeBaseId, stop } = await startModelBackedApi('Tides', documents, { CONTEXT_TOKEN_BUDGET: '800' }));
  });
  after(() => stop?.());

  it('lists the valid [n] markers in end.citations and flags the others, including passages retrieved but not sent', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['Tides rise [1]. ', 'They fall [2][1]. ', 'Beyond the budget [3]. ', 'Made up [1, 9].'] }]);
    const before = stub.requests.length;
    const events = await readSse(await ask(api, knowledgeBaseId, { question: 'Why do tides rise and fall?', topK: 5 }));
    const sources = (events[0]?.data as { sources: Array<{ index: number }> }).sources;
    assert.deepEqual(
      sources.map((source) => source.index),
      [1, 2],
      'the budget leaves two of five retrieved passages',
    );
    const prompt = stub.requests[before]?.body.messages?.at(-1)?.content ?? '';
    assert.match(prompt, /\[2\] tides-\d\.txt/);
    assert.doesNotMatch(prompt, /\[3\] tides-\d\.txt/);
    const end = events.at(-1)?.data as { answer: string; citations: number[]; invalidCitations: number[] };
    assert.equal(events.at(-1)?.event, 'end');
    assert.deepEqual(end.citations, [1, 2]);
    assert.deepEqual(end.invalidCitations, [3, 9]);
  });

  it('does the same for an answer that is not streamed', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['Only [2] and [4].'] }]);
    const response = await ask(api, knowledgeBaseId, { question: 'Why do tides rise and fall?', stream: false });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { sources: unknown[]; citations: number[]; invalidCitations: number[] };
    assert.equal(body.sources.length, 2);
    assert.deepEqual(body.citations, [2]);
    assert.deepEqual(body.invalidCitations, [4]);
  });
});
