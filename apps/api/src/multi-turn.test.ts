import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ask,
  createTextKnowledgeBase,
  readSse,
  startApiProcess,
  startModelBackedApi,
  type ApiProcess,
  type ReceivedEvent,
  type StubOpenAiServer,
} from '@passage/testing';

const documents = {
  'lighthouse.txt':
    'The Lighthouse of Alexandria stood on the island of Pharos. Its construction was completed around 280 BC under Ptolemy II. ' +
    'Its light guided ships into the harbour for centuries.',
  'engine.txt':
    'Charles Babbage designed the Analytical Engine in 1837. Ada Lovelace wrote notes on the Analytical Engine in 1843, ' +
    'including a method to compute Bernoulli numbers.',
  'quarry.txt': 'The granite quarry at Rubislaw in Aberdeen opened in 1740. Its grey granite built much of the city, and the pit is 142 metres deep.',
};

type Source = { index: number; documentName: string };

const sourcesOf = (events: ReceivedEvent[]) => (events.find((event) => event.event === 'sources')?.data as { sources: Source[] }).sources;

describe('Multi-turn questions through the API, with a model', () => {
  let stub: StubOpenAiServer;
  let api: ApiProcess;
  let knowledgeBaseId: string;
  let stop: (() => Promise<void>) | undefined;

  before(async () => {
    ({ stub, api, knowledgeBaseId, stop } = await startModelBackedApi('Conversations', documents, { CONTEXT_TOKEN_BUDGET: '800' }));
  });
  after(() => stop?.());

  it('retrieves with the standalone question the model condensed, and answers with the history as messages', async () => {
    stub.setBehaviours([
      { kind: 'stream', tokens: ['When was the Analytical ', 'Engine designed?'] },
      { kind: 'stream', tokens: ['In 1837 [1].'] },
    ]);
    const before = stub.requests.length;
    const history = [
      { role: 'user', content: 'Tell me about the granite quarry at Rubislaw.' },
      { role: 'assistant', content: 'It opened in 1740 [1].' },
      { role: 'user', content: 'And what did Ada Lovelace write about?' },
      { role: 'assistant', content: 'Notes on a machine of Charles Babbage [1].' },
    ];
    const events = await readSse(await ask(api, knowledgeBaseId, { question: 'When was it designed?', history }));
    assert.equal(events.at(-1)?.event, 'end');

    const [condense, answer] = stub.requests.slice(before);
    assert.equal(stub.requests.length - before, 2, 'one condense call, one answer call');
    const condenseText = condense?.body.messages?.map((message) => message.content).join('\n') ?? '';
    assert.match(condenseText, /User: Tell me about the granite quarry at Rubislaw\./);
    assert.match(condenseText, /Assistant: Notes on a machine of Charles Babbage \[1\]\./);
    assert.match(condenseText, /Last question: When was it designed\?/);
    assert.equal(condense?.body.temperature, 0);

    // The condensed question found the engine; the raw user turns would have found the quarry too.
    const sources = sourcesOf(events);
    assert.ok(sources.length > 0);
    assert.ok(
      sources.every((source) => source.documentName === 'engine.txt'),
      JSON.stringify(sources),
    );

    const messages = answer?.body.messages ?? [];
    assert.deepEqual(
      messages.map((message) => message.role),
      ['system', 'user', 'assistant', 'user', 'assistant', 'user'],
    );
    assert.deepEqual(messages.slice(1, -1), history);
    assert.match(messages.at(-1)?.content ?? '', /\n\nQuestion: When was it designed\?$/);
  });

  it('makes no condense call without history', async () => {
    stub.setBehaviours([{ kind: 'stream', tokens: ['In 1740 [1].'] }]);
    const before = stub.requests.length;
    const events = await readSse(await ask(api, knowledgeBaseId, { question: 'When did the granite quarry open?' }));
    assert.equal(events.at(-1)?.event, 'end');
    assert.equal(stub.requests.length - before, 1);
    assert.equal(sourcesOf(events)[0]?.documentName, 'quarry.txt');
  });

  it('drops the oldest turns to fit the budget and always sends the newest question', async () => {
    stub.setBehaviours([
      { kind: 'stream', tokens: ['A standalone question?'] },
      { kind: 'stream', tokens: ['Answer.'] },
    ]);
    const before = stub.requests.length;
    const history = Array.from({ length: 30 }, (_, turn) => ({
      role: turn % 2 === 0 ? 'user' : 'assistant',
      content: `Turn ${turn}: ${'a sentence about harbours and ships that fills the conversation '.repeat(3)}`,
    }));
    const longQuestion = `Newest question, deliberately long: ${'which ships did the light guide into the harbour '.repeat(60)}?`;
    const events = await readSse(await ask(api, knowledgeBaseId, { question: longQuestion, history }));
    assert.equal(events.at(-1)?.event, 'end');
    const messages = stub.requests[before + 1]?.body.messages ?? [];
    const kept = messages.slice(1, -1);
    assert.ok(kept.length > 0 && kept.length < history.length, `${kept.length} of ${history.length} turns kept`);
    assert.deepEqual(kept, history.slice(history.length - kept.length), 'the kept turns are the newest, in order');
    assert.equal(kept[0]?.role, 'user');
    assert.ok(messages.at(-1)?.content.endsWith(`Question: ${longQuestion}`), 'the newest question is sent whole');
    assert.doesNotMatch(stub.requests[before]?.body.messages?.at(-1)?.content ?? '', /Turn 0:/, 'the condense call drops the oldest turns too');
  });
});

describe('Multi-turn questions through the API, without a model', () => {
  let api: ApiProcess;
  let knowledgeBaseId: string;

  before(async () => {
    api = await startApiProcess();
    ({ knowledgeBaseId } = await createTextKnowledgeBase(api, 'Extractive conversations', documents));
  });
  after(async () => {
    await api?.stop();
  });

  it('adds the recent user turns to the retrieval query', async () => {
    const alone = await readSse(await ask(api, knowledgeBaseId, { question: 'When was it opened?' }));
    const withHistory = await readSse(
      await ask(api, knowledgeBaseId, {
        question: 'When was it opened?',
        history: [
          { role: 'user', content: 'What stood on the island of Pharos?' },
          { role: 'assistant', content: 'The Lighthouse of Alexandria [1].' },
        ],
      }),
    );
    assert.equal(sourcesOf(alone)[0]?.documentName, 'quarry.txt', 'alone, the follow-up matches another document');
    assert.equal(sourcesOf(withHistory)[0]?.documentName, 'lighthouse.txt');
    const end = withHistory.at(-1)?.data as { answer: string; mode: string };
    assert.equal(end.mode, 'extractive');
    assert.match(end.answer, /island of Pharos\. \[1\]/, "the answer is taken from the conversation's subject");
  });
});
