import { Worker } from 'node:worker_threads';
import type { HnswParameters } from './hnsw-graph.js';

export type HnswThreadRequest =
  | {
      kind: 'start';
      knowledgeBaseId: string;
      generation: number;
      sequence: number;
      dimensions: number;
      parameters: Omit<HnswParameters, 'expansionSearch'>;
      /** usearch's insertion threads. */
      threads: number;
      graphFile: string;
      descriptionFile: string;
    }
  | { kind: 'vectors'; ids: string[]; vectors: Float32Array }
  | { kind: 'finish' };
export type HnswThreadReply = { kind: 'done'; count: number; bytes: number; buildMs: number } | { kind: 'failed'; message: string };

/** One page of unit vectors, `dimensions` floats per id, in the order of `ids`. */
export interface HnswVectorPage {
  ids: string[];
  vectors: Float32Array;
}

/** Built into dist/ (`npm run build`) this module is JavaScript, and so is the thread's entry. */
const compiled = import.meta.url.endsWith('.js');
const workerUrl = new URL(compiled ? './hnsw-graph-worker.js' : './hnsw-graph-worker.ts', import.meta.url);
/**
 * Worker threads do not get the tsx hooks of `--import tsx`: from source the thread registers tsx
 * itself. The bootstrap is a `data:` module, not `eval: true` code: usearch's loader (the bindings
 * package, which looks for its caller's file in the stack) never returns when imported from eval'd code.
 */
const entry = compiled
  ? workerUrl
  : new URL(
      `data:text/javascript,${encodeURIComponent(
        `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); });`,
      )}`,
    );

/**
 * Builds an HNSW graph in a thread of its own from pages of vectors (transferred, not copied), so
 * the calling thread only reads and posts them: inserting 100,000 vectors takes minutes of CPU.
 * The thread writes the graph to `start.graphFile` and its description (HnswGraphDescription) to
 * `start.descriptionFile`; resolves with what it built once both are written.
 */
export async function buildHnswGraphInThread(
  start: Omit<Extract<HnswThreadRequest, { kind: 'start' }>, 'kind'>,
  pages: AsyncIterable<HnswVectorPage>,
): Promise<{ count: number; bytes: number; buildMs: number }> {
  const worker = new Worker(entry);
  const finished = new Promise<HnswThreadReply>((resolve) => {
    worker.once('message', resolve);
    worker.once('error', (error) => resolve({ kind: 'failed', message: error.message }));
    worker.once('exit', (code) => resolve({ kind: 'failed', message: `the HNSW graph thread exited (code ${code})` }));
  });
  try {
    worker.postMessage({ kind: 'start', ...start } satisfies HnswThreadRequest);
    for await (const page of pages) {
      worker.postMessage({ kind: 'vectors', ids: page.ids, vectors: page.vectors } satisfies HnswThreadRequest, [page.vectors.buffer as ArrayBuffer]);
    }
    worker.postMessage({ kind: 'finish' } satisfies HnswThreadRequest);
    const reply = await finished;
    if (reply.kind === 'failed') throw new Error(`building the HNSW graph failed: ${reply.message}`);
    return reply;
  } finally {
    worker.removeAllListeners();
    await worker.terminate();
  }
}
