/**
 * The local provider with a real model: the tiny Gemma 3 270M GGUF that `npm run
 * prepare:local-model` puts in the model cache (.ci/run prepares it). Without it these tests fail
 * and say what to run. Answers are kept short (a few tokens) so that the file runs in seconds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AbortedError, AppError, ConfigError, type ChatMessage, type ChatModel } from '@passage/spec';
import { LocalChatModel, type LocalGenerationReport } from './local-chat-model.js';
import { installNodeLlamaCppCommand } from './node-llama-cpp-binding.js';
import { requireTinyModel } from './tiny-model.js';

const question: ChatMessage[] = [
  { role: 'system', content: 'You answer questions about the passages. Cite a passage as [n].' },
  { role: 'user', content: 'Passages:\n[1] The lighthouse at Cape Verity was built in 1874 of granite.\n\nQuestion: When was the lighthouse built?' },
];
// A request the model keeps answering for hundreds of tokens: what an abort must cut short.
const longRequest = { messages: [{ role: 'user' as const, content: 'Write a very long story about a lighthouse keeper, in many chapters.' }], maxTokens: 400 };

/** Reads a stream to its end, returning the deltas. */
async function collect(model: ChatModel, request: Partial<Parameters<ChatModel['stream']>[0]> = {}): Promise<string[]> {
  const deltas: string[] = [];
  for await (const delta of model.stream({ messages: question, signal: new AbortController().signal, maxTokens: 6, temperature: 0, ...request })) {
    deltas.push(delta);
  }
  return deltas;
}

/** The next report the model gives. */
function nextReport(model: LocalChatModel): Promise<LocalGenerationReport> {
  return new Promise((resolve) => {
    model.onGenerationEnd = (report) => {
      model.onGenerationEnd = null;
      resolve(report);
    };
  });
}

describe('LocalChatModel with the tiny GGUF model', () => {
  let modelPath: string;
  let model: LocalChatModel;

  before(async () => {
    modelPath = await requireTinyModel();
    // The default context size: the model's own.
    model = await LocalChatModel.load({ modelPath, threads: 1 });
  });
  after(async () => {
    await model.close();
  });

  it('streams real tokens, with the prompt built by the model family chat template and the context size the model was trained for', async () => {
    const ended = nextReport(model);
    const deltas = await collect(model);
    const report = await ended;
    assert.ok(deltas.length > 0, 'no delta');
    assert.ok(deltas.join('').trim().length > 0, `empty answer: ${JSON.stringify(deltas)}`);
    assert.equal(report.reason, 'completed');
    assert.ok(report.completionTokens > 0 && report.completionTokens <= 6, JSON.stringify(report));
    assert.ok(report.promptTokens > 20, JSON.stringify(report));
    assert.equal(model.chatTemplate, 'Gemma');
    assert.equal(model.trainContextSize, 32_768);
    assert.equal(model.contextSize, model.trainContextSize);
    // Gemma's template: turns between <start_of_turn> and <end_of_turn>, the system text inside the first user turn.
    assert.equal(model.countPromptTokens(question), report.promptTokens);
    assert.ok(model.countPromptTokens([{ role: 'user', content: 'x' }]) < report.promptTokens);
  });

  it('answers the same way twice at temperature 0 (the sequence is reused cleanly)', async () => {
    assert.deepEqual(await collect(model), await collect(model));
  });

  it('stops generating within one token of an abort, and reports that it stopped', async () => {
    const controller = new AbortController();
    const ended = nextReport(model);
    const deltas: string[] = [];
    await assert.rejects(async () => {
      for await (const delta of model.stream({ ...longRequest, signal: controller.signal })) {
        deltas.push(delta);
        controller.abort();
      }
    }, AbortedError);
    const report = await ended;
    assert.equal(deltas.length, 1);
    assert.equal(report.reason, 'aborted');
    assert.ok(report.tokensAfterStop <= 1, JSON.stringify(report));
    assert.ok(report.completionTokens < longRequest.maxTokens, JSON.stringify(report));
    assert.deepEqual(model.stats, { generating: 0, waiting: 0, started: model.stats.started, ended: model.stats.started });
  });

  it('stops generating when the consumer stops reading (breaks out of the loop)', async () => {
    const ended = nextReport(model);
    for await (const delta of model.stream({ ...longRequest, signal: new AbortController().signal })) {
      assert.equal(typeof delta, 'string');
      break;
    }
    const report = await ended;
    assert.equal(report.reason, 'consumer stopped');
    assert.ok(report.tokensAfterStop <= 1, JSON.stringify(report));
    assert.ok(report.completionTokens < longRequest.maxTokens, JSON.stringify(report));
  });

  it('serves two concurrent requests one after the other: the second streams nothing until the first has ended', async () => {
    const events: string[] = [];
    model.onGenerationEnd = (report) => events.push(`ended ${report.reason}`);
    const first = model.stream({ messages: question, signal: new AbortController().signal, maxTokens: 6, temperature: 0 });
    const second = model.stream({ messages: question, signal: new AbortController().signal, maxTokens: 6, temperature: 0 });
    const read = async (name: string, stream: AsyncIterable<string>) => {
      let deltas = 0;
      for await (const delta of stream) {
        if (deltas === 0) events.push(`${name} first delta`);
        deltas += delta === '' ? 0 : 1;
      }
      return deltas;
    };
    const started = model.stats.started;
    const firstDone = read('first', first);
    const secondDone = read('second', second);
    const [firstDeltas, secondDeltas] = await Promise.all([firstDone, secondDone]);
    model.onGenerationEnd = null;
    assert.ok(firstDeltas > 0 && secondDeltas > 0);
    assert.deepEqual(events, ['first first delta', 'ended completed', 'second first delta', 'ended completed']);
    assert.equal(model.stats.started, started + 2);
  });

  it('lets a request that waits for its turn be aborted: it never starts generating', async () => {
    const running = new AbortController();
    const waiting = new AbortController();
    const reports: LocalGenerationReport[] = [];
    model.onGenerationEnd = (report) => reports.push(report);
    const startedBefore = model.stats.started;
    const first = model.stream({ ...longRequest, signal: running.signal })[Symbol.asyncIterator]();
    assert.equal((await first.next()).done, false);
    const second = model.stream({ messages: question, signal: waiting.signal, maxTokens: 6 })[Symbol.asyncIterator]();
    const secondResult = second.next();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual({ generating: model.stats.generating, waiting: model.stats.waiting }, { generating: 1, waiting: 1 });
    waiting.abort();
    await assert.rejects(secondResult, AbortedError);
    assert.equal(model.stats.waiting, 0);
    running.abort();
    await assert.rejects(first.next(), AbortedError);
    model.onGenerationEnd = null;
    assert.equal(model.stats.started, startedBefore + 1);
    assert.deepEqual(
      reports.map((report) => report.reason),
      ['aborted while waiting', 'aborted'],
    );
    assert.equal(reports[0]?.completionTokens, 0);
  });

  it('refuses at once a request whose signal is already aborted', async () => {
    const startedBefore = model.stats.started;
    await assert.rejects(collect(model, { signal: AbortSignal.abort() }), AbortedError);
    assert.equal(model.stats.started, startedBefore);
  });
});

describe('LocalChatModel limits and failures', () => {
  it('stops with llm_timeout when no token comes within the idle time-out', async () => {
    const model = await LocalChatModel.load({ modelPath: await requireTinyModel(), contextSize: 512, threads: 1, idleTimeoutMs: 1 });
    try {
      const ended = nextReport(model);
      await assert.rejects(
        collect(model),
        (error: unknown) => error instanceof AppError && error.code === 'llm_timeout' && /no token for 1 ms/.test(error.message),
      );
      assert.equal((await ended).reason, 'idle timeout');
    } finally {
      await model.close();
    }
  });

  it('stops with llm_timeout when the whole answer takes longer than the total time-out', async () => {
    const model = await LocalChatModel.load({ modelPath: await requireTinyModel(), contextSize: 512, threads: 1, timeoutMs: 1 });
    try {
      await assert.rejects(collect(model), (error: unknown) => error instanceof AppError && error.code === 'llm_timeout' && /within 1 ms/.test(error.message));
    } finally {
      await model.close();
    }
  });

  it('fails with llm_failed, saying what to change, when the prompt does not fit the context', async () => {
    const model = await LocalChatModel.load({ modelPath: await requireTinyModel(), contextSize: 512, threads: 1 });
    try {
      assert.equal(model.contextSize, 512);
      const long: ChatMessage[] = [{ role: 'user', content: 'lighthouse '.repeat(600) }];
      await assert.rejects(
        collect(model, { messages: long }),
        (error: unknown) => error instanceof AppError && error.code === 'llm_failed' && /CONTEXT_TOKEN_BUDGET/.test(error.message),
      );
      assert.equal(model.stats.generating, 0);
    } finally {
      await model.close();
    }
  });

  it('fails at load with a ConfigError naming LLM_MODEL_PATH when the file does not exist', async () => {
    await assert.rejects(
      LocalChatModel.load({ modelPath: '/nonexistent/model.gguf' }),
      (error: unknown) => error instanceof ConfigError && error.variable === 'LLM_MODEL_PATH' && /no model file/.test(error.message),
    );
  });

  it('fails at load with a ConfigError naming LLM_MODEL_PATH when the file is not a GGUF model', async () => {
    await assert.rejects(
      LocalChatModel.load({ modelPath: new URL(import.meta.url).pathname }),
      (error: unknown) => error instanceof ConfigError && error.variable === 'LLM_MODEL_PATH' && /cannot load/.test(error.message),
    );
  });

  it('fails at load, saying what to install, when node-llama-cpp is not installed', async () => {
    const missing = Object.assign(new Error("Cannot find package 'node-llama-cpp' imported from /app/packages/llm-local/dist/local-chat-model.js"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    await assert.rejects(
      LocalChatModel.load({ modelPath: await requireTinyModel(), importBinding: () => Promise.reject(missing) }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.variable === 'LLM_PROVIDER' &&
        error.message.includes(installNodeLlamaCppCommand) &&
        /not installed/.test(error.message),
    );
  });
});
