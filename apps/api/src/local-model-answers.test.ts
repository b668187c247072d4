/**
 * Answers from a real model running inside the API process: the tiny Gemma 3 270M GGUF that
 * `npm run prepare:local-model` puts in the model cache (.ci/run prepares it; without it these
 * tests fail and say what to run). Two API processes: one whose answers are a few tokens long, for
 * answers that must complete, and one whose answers could run to 1024 tokens, for answers that
 * are cut short. What the provider did is read from its log lines (`local generation …`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { requireTinyModel } from '@passage/llm-local';
import { ask, createTextKnowledgeBase, iterateSse, readSse, startApiProcess, waitFor, type ApiProcess, type ReceivedEvent } from '@passage/testing';

const documents = {
  'lighthouse.txt': 'The Lighthouse of Alexandria stood on the island of Pharos. It was completed around 280 BC under Ptolemy II.',
  'engine.txt': 'Charles Babbage designed the Analytical Engine in 1837. Ada Lovelace wrote notes on the engine in 1843.',
};

interface GenerationLine {
  msg: string;
  reason?: string;
  completionTokens?: number;
  tokensAfterStop?: number;
  maxTokens?: number;
}

/**
 * The API process with the local provider's log lines, collected from its standard output from
 * the start of the first request on (ApiProcess.output() is for text searches, not for counting).
 */
interface LocalApi extends ApiProcess {
  lines: GenerationLine[];
}

/** The local provider's log lines so far, in order. */
function generationLines(api: LocalApi): GenerationLine[] {
  return api.lines;
}

function collectGenerationLines(api: ApiProcess): LocalApi {
  const lines: GenerationLine[] = [];
  let partial = '';
  api.child.stdout?.on('data', (data: Buffer) => {
    const text = partial + data.toString('utf8');
    const complete = text.split('\n');
    partial = complete.pop() ?? '';
    for (const line of complete) if (line.includes('"msg":"local generation')) lines.push(JSON.parse(line) as GenerationLine);
  });
  return Object.assign(api, { lines });
}

const ended = (api: LocalApi) => generationLines(api).filter((line) => line.msg === 'local generation ended');
const started = (api: LocalApi) => generationLines(api).filter((line) => line.msg === 'local generation started');

/** Waits for the provider's report of the generation number `count` (1-based) to end. */
function generationEnded(api: LocalApi, count: number): Promise<GenerationLine> {
  return waitFor(async () => Promise.resolve(ended(api)[count - 1]), { what: `local generation ${count} to end`, timeoutMs: 120_000 });
}

/**
 * Waits until every generation that started has reported its end: a stream can end for its reader
 * a moment before the provider logs the end, and counting from there would take that line for the
 * next test's.
 */
function allGenerationsEnded(api: LocalApi): Promise<boolean> {
  return waitFor(async () => Promise.resolve(started(api).length === ended(api).length || undefined), {
    what: 'every local generation to report its end',
    timeoutMs: 120_000,
  });
}

async function startLocalApi(maxTokens: number): Promise<{ api: LocalApi; knowledgeBaseId: string }> {
  const modelPath = await requireTinyModel();
  const api = collectGenerationLines(
    await startApiProcess({
      timeoutMs: 180_000,
      env: {
        LLM_MODEL_PATH: modelPath,
        LLM_MAX_TOKENS: String(maxTokens),
        LLM_TEMPERATURE: '0',
        // One thread: the tests share two cores with other test files.
        LLM_THREADS: '1',
        LLM_CONTEXT_SIZE: '4096',
        LOG_LEVEL: 'debug',
      },
    }),
  );
  try {
    const { knowledgeBaseId } = await createTextKnowledgeBase(api, 'Wonders', documents);
    return { api, knowledgeBaseId };
  } catch (error) {
    await api.stop();
    throw error;
  }
}

function textOf(events: ReceivedEvent[]): string {
  return events
    .filter((event) => event.event === 'text-delta')
    .map((event) => (event.data as { delta: string }).delta)
    .join('');
}

describe('Answers from the tiny local model in the API process (LLM_MODEL_PATH)', () => {
  let api: LocalApi;
  let knowledgeBaseId: string;

  before(async () => {
    ({ api, knowledgeBaseId } = await startLocalApi(8));
  });
  after(() => api?.stop());

  it('reports the llm mode on /healthz and the model it loaded, with its chat template', async () => {
    assert.deepEqual(await (await fetch(`${api.url}/healthz`)).json(), { status: 'ok', mode: 'llm' });
    const ready = api
      .output()
      .split('\n')
      .find((line) => line.includes('"msg":"chat model ready"'));
    assert.ok(ready, api.output());
    assert.match(ready, /"provider":"local"/);
    assert.match(ready, /"model":"gemma-3-270m-q4_k_m"/);
    assert.match(ready, /"chatTemplate":"Gemma"/);
    assert.match(ready, /"contextSize":4096/);
  });

  it('streams /ask: the sources first, then real tokens from the model, then end in llm mode', async () => {
    await allGenerationsEnded(api);
    const before = ended(api).length;
    const events = await readSse(await ask(api, knowledgeBaseId, { question: 'When was the Lighthouse of Alexandria completed?' }));
    assert.equal(events[0]?.event, 'sources');
    assert.equal((events[0]?.data as { sources: Array<{ documentName: string }> }).sources[0]?.documentName, 'lighthouse.txt');
    const deltas = events.filter((event) => event.event === 'text-delta');
    assert.ok(deltas.length > 0, JSON.stringify(events));
    const end = events.at(-1);
    assert.equal(end?.event, 'end', JSON.stringify(end));
    const data = end.data as { answer: string; mode: string; timings: { firstTokenMs: number } };
    assert.equal(data.mode, 'llm');
    assert.equal(data.answer, textOf(events));
    assert.ok(data.answer.trim().length > 0, 'the model wrote nothing');
    const report = await generationEnded(api, before + 1);
    assert.equal(report.reason, 'completed');
    assert.ok((report.completionTokens ?? 0) > 0 && (report.completionTokens ?? 0) <= 8, JSON.stringify(report));
  });

  it('streams /v1/chat/completions to the openai SDK: a first chunk with the sources, then the model tokens, then stop', async () => {
    const client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: knowledgeBaseId,
      messages: [{ role: 'user', content: 'Who designed the Analytical Engine?' }],
      stream: true,
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const sources = (chunks[0] as unknown as { sources?: Array<{ documentName: string }> }).sources ?? [];
    assert.equal(sources[0]?.documentName, 'engine.txt');
    const content = chunks.slice(1).map((chunk) => chunk.choices[0]?.delta.content ?? '');
    assert.ok(content.filter((piece) => piece !== '').length > 0, JSON.stringify(chunks));
    assert.ok(content.join('').trim().length > 0);
    assert.equal(chunks.at(-1)?.choices[0]?.finish_reason, 'stop');
  });

  it('condenses a follow-up question with the local model, then answers it: two generations, both complete', async () => {
    await allGenerationsEnded(api);
    const before = ended(api).length;
    const response = await ask(api, knowledgeBaseId, {
      question: 'When did she write them?',
      history: [
        { role: 'user', content: 'Who wrote notes on the Analytical Engine?' },
        { role: 'assistant', content: 'Ada Lovelace [1].' },
      ],
      stream: false,
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { answer: string; mode: string };
    assert.equal(body.mode, 'llm');
    assert.ok(body.answer.trim().length > 0);
    const [condense, answer] = [await generationEnded(api, before + 1), await generationEnded(api, before + 2)];
    assert.deepEqual([condense.reason, answer.reason], ['completed', 'completed']);
    // The condense call asks for at most 128 tokens; the answer for LLM_MAX_TOKENS (8).
    const maxTokens = started(api)
      .slice(before)
      .map((line) => line.maxTokens);
    assert.deepEqual(maxTokens, [128, 8]);
  });

  it('serves two concurrent asks one after the other, both to the end and without error', async () => {
    await allGenerationsEnded(api);
    const before = generationLines(api).length;
    const [first, second] = await Promise.all([
      readSse(await ask(api, knowledgeBaseId, { question: 'When was the Lighthouse of Alexandria completed?' })),
      readSse(await ask(api, knowledgeBaseId, { question: 'Who designed the Analytical Engine?' })),
    ]);
    for (const events of [first, second]) {
      assert.equal(events.at(-1)?.event, 'end', JSON.stringify(events.at(-1)));
      assert.ok(textOf(events).trim().length > 0);
    }
    // Both streams can end for their readers a moment before the provider logs the second end.
    await allGenerationsEnded(api);
    const sequence = generationLines(api)
      .slice(before)
      .map((line) => (line.msg === 'local generation ended' ? `ended ${line.reason}` : line.msg));
    // One request waited for its turn; the second generation started only after the first ended.
    assert.deepEqual(sequence, [
      'local generation started',
      'local generation waiting for its turn',
      'ended completed',
      'local generation started',
      'ended completed',
    ]);
  });
});

describe('Answers from the tiny local model cut short: disconnects, and a request aborted while it waits', () => {
  let api: LocalApi;
  let knowledgeBaseId: string;

  before(async () => {
    ({ api, knowledgeBaseId } = await startLocalApi(1024));
  });
  after(() => api?.stop());

  it('stops the generation within a token when the client disconnects, and the provider reports that it stopped', async () => {
    await allGenerationsEnded(api);
    const before = ended(api).length;
    const controller = new AbortController();
    const response = await ask(api, knowledgeBaseId, { question: 'Tell me everything about the Lighthouse of Alexandria.' }, controller.signal);
    await assert.rejects(async () => {
      for await (const event of iterateSse(response)) {
        if (event.event === 'text-delta') controller.abort();
      }
    });
    const report = await generationEnded(api, before + 1);
    assert.equal(report.reason, 'aborted', JSON.stringify(report));
    assert.ok((report.tokensAfterStop ?? 2) <= 1, JSON.stringify(report));
    assert.ok((report.completionTokens ?? 1024) < 1024, JSON.stringify(report));
    assert.doesNotMatch(api.output(), /answer failed/, 'a disconnect is not logged as a failure');
  });

  it('never starts generating for a request whose client leaves while it waits for its turn', async () => {
    const startedBefore = started(api).length;
    const endedBefore = ended(api).length;
    const waitingBefore = generationLines(api).filter((line) => line.msg === 'local generation waiting for its turn').length;
    const running = new AbortController();
    const waiting = new AbortController();
    const first = iterateSse(await ask(api, knowledgeBaseId, { question: 'Tell me everything about the Lighthouse of Alexandria.' }, running.signal));
    for (;;) {
      const next = await first.next();
      assert.equal(next.done, false, 'the first answer ended before its first token');
      if (next.value.event === 'text-delta') break;
    }
    const second = iterateSse(await ask(api, knowledgeBaseId, { question: 'Who designed the Analytical Engine?' }, waiting.signal));
    const secondFirst = await second.next();
    assert.equal(secondFirst.done ? null : secondFirst.value.event, 'sources');
    await waitFor(
      async () =>
        Promise.resolve(generationLines(api).filter((line) => line.msg === 'local generation waiting for its turn').length > waitingBefore ? true : undefined),
      { what: 'the second request to wait for its turn' },
    );
    waiting.abort();
    await assert.rejects(second.next());
    assert.equal((await generationEnded(api, endedBefore + 1)).reason, 'aborted while waiting');
    running.abort();
    await assert.rejects(async () => {
      for (;;) if ((await first.next()).done) break;
    });
    assert.equal((await generationEnded(api, endedBefore + 2)).reason, 'aborted');
    assert.equal(started(api).length, startedBefore + 1, 'only the first request generated');
  });
});

describe('LLM_PROVIDER=local that cannot start', () => {
  it('stops the start with a message naming LLM_MODEL_PATH when the model file does not exist', async () => {
    await assert.rejects(
      startApiProcess({ env: { LLM_PROVIDER: 'local', LLM_MODEL_PATH: '/nonexistent/model.gguf' }, timeoutMs: 60_000 }),
      (error: unknown) =>
        error instanceof Error && /exited with 1/.test(error.message) && /LLM_MODEL_PATH: no model file at \/nonexistent\/model\.gguf/.test(error.message),
    );
  });
});
