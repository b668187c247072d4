/**
 * Virtual users for `bench:stream`: each asks, reads the streamed answer to its end and asks
 * again. Works over plain `node:http` with a keep-alive agent that has a socket per user, and
 * reads the events with string scanning only, so that the generator spends little CPU of the
 * machine it shares with what it measures.
 */
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** What a target speaks: our `/ask` and the relay send named SSE events; the stub sends OpenAI chunks. */
export type TargetProtocol = 'events' | 'openai';

export interface Target {
  name: string;
  url: URL;
  protocol: TargetProtocol;
  /** The request body for a question. */
  body: (question: string) => string;
  /** Tokens of a complete answer; a stream with fewer (or more) counts as an error. */
  expectedTokens: number;
}

export interface StreamRecord {
  startedAt: number;
  /** ms from sending the request to the first token; null when none came. */
  firstTokenMs: number | null;
  /** ms between consecutive tokens as they arrived. */
  gaps: number[];
  endedAt: number;
  error: string | null;
  /** `timings.retrievalMs` of our `end` event (retrieval, prompt and the model request started), if any. */
  retrievalMs: number | null;
}

/** Sends one question and reads its stream to the end. */
export function streamOnce(target: Target, question: string, agent: Agent): Promise<StreamRecord> {
  return new Promise((resolve) => {
    const body = target.body(question);
    const startedAt = performance.now();
    let firstAt = -1;
    let lastAt = -1;
    let tokens = 0;
    let ended = false;
    let error: string | null = null;
    let retrievalMs: number | null = null;
    const gaps: number[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      if (error === null && !ended) error = 'stream ended without its end event';
      if (error === null && tokens !== target.expectedTokens) error = `${tokens} tokens instead of ${target.expectedTokens}`;
      resolve({ startedAt, firstTokenMs: firstAt < 0 ? null : firstAt - startedAt, gaps, endedAt: performance.now(), error, retrievalMs });
    };
    const outgoing = request(
      target.url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (response) => {
        if (response.statusCode !== 200) {
          error = `HTTP ${response.statusCode}`;
          response.resume();
          response.on('end', finish);
          return;
        }
        response.setEncoding('utf8');
        let buffer = '';
        response.on('data', (piece: string) => {
          const now = performance.now();
          buffer += piece;
          let boundary = buffer.indexOf('\n\n');
          while (boundary >= 0) {
            const kind = classify(target.protocol, buffer, boundary);
            if (kind === 'end' && target.protocol === 'events') {
              const timings = /"retrievalMs":([\d.]+)/.exec(buffer.slice(0, boundary));
              if (timings?.[1] !== undefined) retrievalMs = Number(timings[1]);
            }
            buffer = buffer.slice(boundary + 2);
            boundary = buffer.indexOf('\n\n');
            if (kind === 'token') {
              tokens += 1;
              if (firstAt < 0) firstAt = now;
              else gaps.push(now - lastAt);
              lastAt = now;
            } else if (kind === 'end') ended = true;
            else if (kind === 'error') error ??= 'error event';
          }
        });
        response.on('end', finish);
        response.on('error', (cause: Error) => {
          error ??= cause.message;
          finish();
        });
      },
    );
    outgoing.on('error', (cause) => {
      error ??= cause.message;
      finish();
    });
    outgoing.end(body);
  });
}

/** What the block that ends at `end` is, looking at its first characters only. */
function classify(protocol: TargetProtocol, buffer: string, end: number): 'token' | 'end' | 'error' | 'other' {
  if (protocol === 'events') {
    if (buffer.startsWith('event: text-delta', 0)) return 'token';
    if (buffer.startsWith('event: end', 0)) return 'end';
    if (buffer.startsWith('event: error', 0)) return 'error';
    return 'other';
  }
  if (buffer.startsWith('data: [DONE]', 0)) return 'end';
  const content = buffer.indexOf('"content":"');
  if (content >= 0 && content < end) return buffer[content + 11] === '"' ? 'other' : 'token';
  if (buffer.slice(0, end).includes('"error"')) return 'error';
  return 'other';
}

export interface SteadyOptions {
  users: number;
  /** Users start evenly over this time, ms. */
  spreadMs: number;
  /** From the start; requests started before its end are not measured, ms. */
  warmupMs: number;
  measureMs: number;
  questions: string[];
  /** Called every `sampleIntervalMs` during the measured window with the number of open streams. */
  onSample?: (openStreams: number) => void;
  sampleIntervalMs?: number;
}

export interface LoadResult {
  firstTokenMs: number[];
  /** Our `end` events' retrievalMs, for the measured streams. */
  retrievalMs: number[];
  gaps: number[];
  /** Streams completed without error inside the measured window (steady) or in all (burst). */
  completed: number;
  /** Streams completed without error over the whole run, warm-up and tail included. */
  completedInRun: number;
  errors: number;
  errorExamples: string[];
  /** Seconds the completions are counted over. */
  seconds: number;
}

function newAgent(users: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, maxFreeSockets: users + 10, timeout: 120_000 });
}

/** N users asking one question after the other for warm-up plus measured time. */
export async function runSteady(target: Target, options: SteadyOptions): Promise<LoadResult> {
  const agent = newAgent(options.users);
  const started = performance.now();
  const measureFrom = started + options.warmupMs;
  const measureUntil = measureFrom + options.measureMs;
  const result: LoadResult = {
    firstTokenMs: [],
    retrievalMs: [],
    gaps: [],
    completed: 0,
    completedInRun: 0,
    errors: 0,
    errorExamples: [],
    seconds: options.measureMs / 1000,
  };
  let open = 0;
  let asked = 0;
  const sampler = setInterval(() => {
    const now = performance.now();
    if (now >= measureFrom && now < measureUntil) options.onSample?.(open);
  }, options.sampleIntervalMs ?? 250);

  const user = async (position: number) => {
    await sleep((position * options.spreadMs) / options.users);
    while (performance.now() < measureUntil) {
      const question = options.questions[asked++ % options.questions.length] ?? 'question';
      open += 1;
      const record = await streamOnce(target, question, agent);
      open -= 1;
      const measured = record.startedAt >= measureFrom && record.startedAt < measureUntil;
      if (measured) {
        if (record.firstTokenMs !== null) result.firstTokenMs.push(record.firstTokenMs);
        if (record.retrievalMs !== null) result.retrievalMs.push(record.retrievalMs);
        for (const gap of record.gaps) result.gaps.push(gap);
      }
      const inWindow = record.endedAt >= measureFrom && record.endedAt < measureUntil;
      if (record.error !== null) {
        if (measured || inWindow) {
          result.errors += 1;
          if (result.errorExamples.length < 5) result.errorExamples.push(record.error);
        }
        // A failing target must not turn the loop into a flood.
        await sleep(100);
      } else {
        result.completedInRun += 1;
        if (inWindow) result.completed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: options.users }, (_, position) => user(position)));
  clearInterval(sampler);
  agent.destroy();
  return result;
}

/** N requests sent at the same moment, each read to its end. */
export async function runBurst(target: Target, users: number, questions: string[], onSample?: (openStreams: number) => void): Promise<LoadResult> {
  const agent = newAgent(users);
  let open = users;
  const sampler = setInterval(() => onSample?.(open), 100);
  const started = performance.now();
  const records = await Promise.all(
    Array.from({ length: users }, async (_, position) => {
      const record = await streamOnce(target, questions[position % questions.length] ?? 'question', agent);
      open -= 1;
      return record;
    }),
  );
  clearInterval(sampler);
  agent.destroy();
  const failed = records.filter((record) => record.error !== null);
  return {
    firstTokenMs: records.flatMap((record) => (record.firstTokenMs === null ? [] : [record.firstTokenMs])),
    retrievalMs: records.flatMap((record) => (record.retrievalMs === null ? [] : [record.retrievalMs])),
    gaps: records.flatMap((record) => record.gaps),
    completed: records.length - failed.length,
    completedInRun: records.length - failed.length,
    errors: failed.length,
    errorExamples: failed.slice(0, 5).map((record) => record.error ?? ''),
    seconds: (Math.max(...records.map((record) => record.endedAt)) - started) / 1000,
  };
}

/** The value at quantile q (0…1) of unsorted values, nearest rank; NaN when there are none. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}
