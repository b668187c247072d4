import { Worker } from 'node:worker_threads';
import { AbortedError } from '@passage/spec';
import type { LexicalSegmentRow } from './lexical-segment-builder.js';

export type SegmentThreadRequest = { kind: 'rows'; rows: LexicalSegmentRow[]; vectors: number } | { kind: 'finish'; sequence: number };
export type SegmentThreadReply = { kind: 'added' } | { kind: 'done'; bytes: Uint8Array } | { kind: 'failed'; message: string };

/** One page of rows for the builder, and how many of them came with a vector. */
export interface SegmentRowPage {
  rows: LexicalSegmentRow[];
  vectors: number;
}

/** Pages sent ahead of the thread's acknowledgements: enough to keep it busy, few enough to bound the memory they hold. */
const pagesInFlight = 4;

/** Built into dist/ (`npm run build`) this module is JavaScript, and so is the thread's entry. */
const compiled = import.meta.url.endsWith('.js');
const workerUrl = new URL(compiled ? './lexical-segment-worker.js' : './lexical-segment-worker.ts', import.meta.url);
/** Worker threads do not get the tsx hooks of `--import tsx` (see bounded-parser.ts in ingestion): the thread registers tsx itself. */
const bootstrap = compiled
  ? `import(${JSON.stringify(workerUrl.href)});`
  : `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); });`;

/**
 * Builds a lexical segment in a thread of its own from pages of rows (terms as the store's JSON
 * text: parsing them is the thread's work too), so the calling thread only reads the pages and
 * posts them. Resolves with the segment's bytes, consistent with the change feed at `sequence()`
 * (asked once the pages are done).
 */
export async function buildLexicalSegmentInThread(pages: AsyncIterable<SegmentRowPage>, sequence: () => number, signal?: AbortSignal): Promise<Uint8Array> {
  const worker = new Worker(bootstrap, { eval: true });
  let settle: ((reply: SegmentThreadReply) => void) | null = null;
  const replies: SegmentThreadReply[] = [];
  let failure: Error | null = null;
  const next = () =>
    new Promise<SegmentThreadReply>((resolve, reject) => {
      const queued = replies.shift();
      if (queued !== undefined) resolve(queued);
      else if (failure !== null) reject(failure);
      else settle = resolve;
    });
  const fail = (error: Error) => {
    failure = error;
    if (settle !== null) {
      const pending = settle;
      settle = null;
      pending({ kind: 'failed', message: error.message });
    }
  };
  worker.on('message', (reply: SegmentThreadReply) => {
    if (settle !== null) {
      const pending = settle;
      settle = null;
      pending(reply);
    } else replies.push(reply);
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the lexical segment thread exited (code ${code})`)));
  const expect = async (kind: 'added' | 'done') => {
    const reply = await next();
    if (reply.kind === 'failed') throw new Error(`building the lexical segment failed: ${reply.message}`);
    if (reply.kind !== kind) throw new Error(`the lexical segment thread answered ${reply.kind} instead of ${kind}`);
    return reply;
  };
  try {
    let inFlight = 0;
    for await (const page of pages) {
      if (signal?.aborted === true) throw new AbortedError();
      worker.postMessage({ kind: 'rows', rows: page.rows, vectors: page.vectors } satisfies SegmentThreadRequest);
      inFlight += 1;
      if (inFlight >= pagesInFlight) {
        await expect('added');
        inFlight -= 1;
      }
    }
    for (; inFlight > 0; inFlight -= 1) await expect('added');
    worker.postMessage({ kind: 'finish', sequence: sequence() } satisfies SegmentThreadRequest);
    const done = (await expect('done')) as { kind: 'done'; bytes: Uint8Array };
    return done.bytes;
  } finally {
    worker.removeAllListeners('exit');
    await worker.terminate();
  }
}
