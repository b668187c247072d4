import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAnalyzer } from '@passage/retrieval';
import { AppError, NotFoundError, type ChatModel, type ChatStreamRequest, type SearchHit } from '@passage/spec';
import { AnswerService, type AnswerServiceEvent, type PassageSearch } from './answer-service.js';

const hits: SearchHit[] = [
  {
    score: 3.2,
    chunk: {
      id: 'c1',
      knowledgeBaseId: 'kb',
      documentId: 'd1',
      documentName: 'tracemonkey.pdf',
      generation: 1,
      ordinal: 0,
      page: 3,
      start: 0,
      end: 120,
      tokens: 30,
      text: 'Trace trees are compiled to native code. The compiler records loops while the interpreter runs them.',
    },
  },
  {
    score: 1.1,
    chunk: {
      id: 'c2',
      knowledgeBaseId: 'kb',
      documentId: 'd2',
      documentName: 'other.pdf',
      generation: 1,
      ordinal: 4,
      page: 9,
      start: 10,
      end: 60,
      tokens: 12,
      text: 'Unrelated sentence about weather in spring.',
    },
  },
];

const search = (result: SearchHit[] = hits): PassageSearch & { queries: string[] } => {
  const queries: string[] = [];
  return {
    queries,
    async search(request) {
      queries.push(request.query);
      if (request.knowledgeBaseId === 'missing') throw new NotFoundError('knowledge_base_not_found', 'no such knowledge base');
      return result;
    },
  };
};

function scriptedModel(script: (request: ChatStreamRequest) => AsyncGenerator<string>): ChatModel & { requests: ChatStreamRequest[] } {
  const requests: ChatStreamRequest[] = [];
  return {
    name: 'scripted',
    requests,
    stream(request) {
      requests.push(request);
      return script(request);
    },
  };
}

async function collect(events: AsyncIterable<AnswerServiceEvent>): Promise<AnswerServiceEvent[]> {
  const collected: AnswerServiceEvent[] = [];
  for await (const event of events) collected.push(event);
  return collected;
}

const analyzer = createAnalyzer();

describe('AnswerService', () => {
  it('answers extractively with cited sentences when no model is configured', async () => {
    const service = new AnswerService({ retriever: search(), analyzer });
    const events = await collect(service.answer({ knowledgeBaseId: 'kb', question: 'How are trace trees compiled?', signal: new AbortController().signal }));
    assert.equal(events[0]?.type, 'sources');
    const end = events.at(-1);
    assert.equal(end?.type, 'end');
    if (end?.type !== 'end') return;
    assert.equal(end.mode, 'extractive');
    assert.match(end.answer, /Trace trees are compiled to native code\. \[1\]/);
    assert.ok(end.citations.includes(1));
    assert.deepEqual(end.invalidCitations, []);
    const deltas = events.filter((event) => event.type === 'text-delta').map((event) => (event.type === 'text-delta' ? event.delta : ''));
    assert.ok(deltas.length > 1, 'the answer is streamed in pieces');
    assert.equal(deltas.join(''), end.answer);
    assert.ok(end.timings.firstTokenMs !== null && end.timings.totalMs >= end.timings.firstTokenMs);
  });

  it('says so, without citations, when nothing was retrieved', async () => {
    const service = new AnswerService({ retriever: search([]), analyzer });
    const events = await collect(service.answer({ knowledgeBaseId: 'kb', question: 'anything?', signal: new AbortController().signal }));
    const end = events.at(-1);
    assert.equal(end?.type, 'end');
    if (end?.type === 'end') {
      assert.match(end.answer, /No passage/);
      assert.deepEqual(end.citations, []);
    }
  });

  it('streams model deltas, checks citations against the sources and flags invalid ones', async () => {
    const model = scriptedModel(async function* () {
      yield 'Native code [1]';
      yield ' and more [7].';
    });
    const service = new AnswerService({ retriever: search(), analyzer, chatModel: model });
    const events = await collect(service.answer({ knowledgeBaseId: 'kb', question: 'How?', signal: new AbortController().signal }));
    assert.deepEqual(
      events.map((event) => event.type),
      ['sources', 'text-delta', 'text-delta', 'end'],
    );
    const end = events.at(-1);
    if (end?.type !== 'end') assert.fail('no end');
    assert.equal(end.mode, 'llm');
    assert.deepEqual(end.citations, [1]);
    assert.deepEqual(end.invalidCitations, [7]);
    assert.ok(end.usage.promptTokens > 20 && end.usage.completionTokens > 0);
    const messages = model.requests[0]?.messages ?? [];
    assert.deepEqual(
      messages.map((message) => message.role),
      ['system', 'user'],
    );
    assert.match(messages.at(-1)?.content ?? '', /\[1\] tracemonkey\.pdf, page 3/);
  });

  it('condenses a follow-up with the model, retrieves with the standalone question and answers with the history', async () => {
    const model = scriptedModel(async function* (request) {
      if (request.maxTokens !== undefined) yield* ['"Standalone question: How are ', 'trace trees compiled?"'];
      else yield 'Natively [1].';
    });
    const retriever = search();
    const service = new AnswerService({ retriever, analyzer, chatModel: model });
    const history = [
      { role: 'user' as const, content: 'Tell me about trace trees' },
      { role: 'assistant' as const, content: 'They record loops [1].' },
    ];
    const events = await collect(service.answer({ knowledgeBaseId: 'kb', question: 'How are they compiled?', history, signal: new AbortController().signal }));
    assert.equal(events.at(-1)?.type, 'end');
    assert.equal(model.requests.length, 2);
    assert.equal(model.requests[0]?.temperature, 0);
    assert.match(
      model.requests[0]?.messages.at(-1)?.content ?? '',
      /User: Tell me about trace trees\nAssistant: They record loops \[1\]\.\n\nLast question: How are they compiled\?/,
    );
    assert.deepEqual(retriever.queries, ['How are trace trees compiled?']);
    assert.deepEqual(model.requests[1]?.messages.slice(1, -1), history);
  });

  it('does not call the model to condense for an unknown knowledge base', async () => {
    const model = scriptedModel(async function* () {
      yield 'x';
    });
    const service = new AnswerService({ retriever: search(), analyzer, chatModel: model, catalog: { getKnowledgeBase: async () => null } });
    await assert.rejects(
      collect(
        service.answer({ knowledgeBaseId: 'missing', question: 'q', history: [{ role: 'user', content: 'earlier' }], signal: new AbortController().signal }),
      ),
      (error: unknown) => error instanceof AppError && error.code === 'knowledge_base_not_found',
    );
    assert.equal(model.requests.length, 0);
  });

  it('throws a failed condense call before the first event', async () => {
    // eslint-disable-next-line require-yield -- a model that fails before its first delta
    const model = scriptedModel(async function* () {
      throw new AppError('llm_unavailable', 'down');
    });
    const service = new AnswerService({ retriever: search(), analyzer, chatModel: model });
    await assert.rejects(
      collect(service.answer({ knowledgeBaseId: 'kb', question: 'q', history: [{ role: 'user', content: 'earlier' }], signal: new AbortController().signal })),
      (error: unknown) => error instanceof AppError && error.code === 'llm_unavailable',
    );
  });

  it('uses the recent user turns for retrieval when condensing is off', async () => {
    const model = scriptedModel(async function* () {
      yield 'ok';
    });
    const retriever = search();
    const service = new AnswerService({ retriever, analyzer, chatModel: model, condense: false, retrievalHistoryTurns: 1 });
    const history = [
      { role: 'user' as const, content: 'first' },
      { role: 'assistant' as const, content: 'answer' },
      { role: 'user' as const, content: 'second' },
    ];
    await collect(service.answer({ knowledgeBaseId: 'kb', question: 'third?', history, signal: new AbortController().signal }));
    assert.deepEqual(retriever.queries, ['second\nthird?']);
    assert.equal(model.requests.length, 1);
  });

  it('turns a failure after some deltas into an error event, never into answer text', async () => {
    const model = scriptedModel(async function* () {
      yield 'Partial';
      throw new AppError('llm_failed', 'upstream broke');
    });
    const service = new AnswerService({ retriever: search(), analyzer, chatModel: model });
    const events = await collect(service.answer({ knowledgeBaseId: 'kb', question: 'How?', signal: new AbortController().signal }));
    assert.deepEqual(
      events.map((event) => event.type),
      ['sources', 'text-delta', 'error'],
    );
    assert.deepEqual(events[2], { type: 'error', code: 'llm_failed', message: 'upstream broke' });
  });

  it('passes the wait a rate-limited model asked for on the error event', async () => {
    // eslint-disable-next-line require-yield -- a model that fails before its first delta
    const model = scriptedModel(async function* () {
      throw new AppError('llm_rate_limited', 'slow down', { retryAfterSeconds: 7 });
    });
    const service = new AnswerService({ retriever: search(), analyzer, chatModel: model });
    const events = await collect(service.answer({ knowledgeBaseId: 'kb', question: 'How?', signal: new AbortController().signal }));
    assert.deepEqual(events.at(-1), { type: 'error', code: 'llm_rate_limited', message: 'slow down', retryAfterSeconds: 7 });
  });

  it('throws before the first event for an unknown knowledge base', async () => {
    const service = new AnswerService({ retriever: search(), analyzer });
    await assert.rejects(
      collect(service.answer({ knowledgeBaseId: 'missing', question: 'q', signal: new AbortController().signal })),
      (error: unknown) => error instanceof AppError && error.code === 'knowledge_base_not_found',
    );
  });

  it('stops producing events once the request is aborted', async () => {
    const controller = new AbortController();
    const model = scriptedModel(async function* (request) {
      for (let position = 0; position < 100; position += 1) {
        if (request.signal.aborted) return;
        yield `token${position} `;
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    });
    const service = new AnswerService({ retriever: search(), analyzer, chatModel: model });
    const events: AnswerServiceEvent[] = [];
    for await (const event of service.answer({ knowledgeBaseId: 'kb', question: 'q', signal: controller.signal })) {
      events.push(event);
      if (event.type === 'text-delta' && events.length === 3) controller.abort();
    }
    assert.equal(events.length, 3);
    assert.ok(events.every((event) => event.type !== 'end' && event.type !== 'error'));
  });
});
