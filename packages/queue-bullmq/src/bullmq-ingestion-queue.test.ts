import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { AbortedError, AppError, DocumentError, type Catalog, type DocumentRecord } from '@passage/spec';
import { testRedisUrl, uniqueRedisPrefix, waitFor } from '@passage/testing';
import { BullMqIngestionQueue, type DocumentIngestion } from './bullmq-ingestion-queue.js';

type Outcome = Awaited<ReturnType<DocumentIngestion['ingest']>>;

/** An ingestion double: each document id gets a script of what its successive runs do. */
function scriptedIngestion(script: Record<string, Array<(signal: AbortSignal) => Promise<Outcome>>>) {
  const runs: Array<{ documentId: string; at: number }> = [];
  const givenUp: Array<{ documentId: string; code: string }> = [];
  const ingestion: DocumentIngestion = {
    async ingest(documentId, signal) {
      runs.push({ documentId, at: performance.now() });
      const steps = script[documentId] ?? [];
      const step = steps.length > 1 ? steps.shift()! : steps[0];
      return step === undefined ? { kind: 'ready' } : step(signal);
    },
    async giveUp(documentId, error) {
      givenUp.push({ documentId, code: error.code });
    },
  };
  return { ingestion, runs, givenUp, runsOf: (id: string) => runs.filter((run) => run.documentId === id) };
}

/** A catalog double that only answers the queue's recovery question. */
function catalogWith(unfinished: string[]): Catalog {
  const unsupported = () => Promise.reject(new Error('not used by the queue'));
  return {
    listDocumentsByStatus: async () => unfinished.map((id) => ({ id }) as DocumentRecord),
    createKnowledgeBase: unsupported,
    getKnowledgeBase: unsupported,
    listKnowledgeBases: unsupported,
    deleteKnowledgeBase: unsupported,
    setGeneration: unsupported,
    createDocuments: unsupported,
    getDocument: unsupported,
    listDocuments: unsupported,
    updateDocument: unsupported,
    claimDocument: unsupported,
    deleteDocument: unsupported,
    close: async () => {},
  };
}

const untilAborted = (signal: AbortSignal) =>
  new Promise<Outcome>((_resolve, reject) => signal.addEventListener('abort', () => reject(new AbortedError()), { once: true }));

describe('BullMQ ingestion queue (real Redis)', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  function newQueue(label: string, ingestion: DocumentIngestion, overrides: { catalog?: Catalog; prefix?: string; concurrency?: number } = {}) {
    const fresh = uniqueRedisPrefix(label);
    if (overrides.prefix === undefined) cleanups.push(fresh.cleanup);
    const prefix = overrides.prefix ?? fresh.prefix;
    const queue = new BullMqIngestionQueue({
      url: testRedisUrl,
      prefix,
      ingestion,
      catalog: overrides.catalog ?? catalogWith([]),
      concurrency: overrides.concurrency ?? 2,
      backoffDelayMs: 50,
      sweepIntervalMs: 0,
    });
    cleanups.unshift(() => queue.close());
    return { queue, prefix };
  }

  it('processes each enqueued document once, however often it is enqueued', async () => {
    const { ingestion, runs } = scriptedIngestion({});
    const { queue } = newQueue('once', ingestion);
    await queue.enqueue(['doc_a', 'doc_b']);
    await queue.enqueue(['doc_a']);
    await queue.start();
    await waitFor(async () => (runs.length >= 2 ? true : undefined), { timeoutMs: 10_000 });
    await sleep(300);
    assert.deepEqual(runs.map((run) => run.documentId).sort(), ['doc_a', 'doc_b']);
    await queue.close();
  });

  it('retries a retryable fault with backoff, honouring Retry-After, and gives up after the last attempt', async () => {
    const rateLimited = () => Promise.reject(new AppError('embedding_failed', 'HTTP 429', { retryable: true, retryAfterSeconds: 0.4 }));
    const { ingestion, runsOf, givenUp } = scriptedIngestion({
      doc_flaky: [rateLimited, async () => ({ kind: 'ready' })],
      doc_down: [() => Promise.reject(new AppError('embedding_failed', 'HTTP 503', { retryable: true }))],
    });
    const { queue } = newQueue('retry', ingestion);
    await queue.start();
    await queue.enqueue(['doc_flaky', 'doc_down']);
    await waitFor(async () => (runsOf('doc_flaky').length === 2 && givenUp.length === 1 ? true : undefined), { timeoutMs: 10_000 });
    const [first, second] = runsOf('doc_flaky');
    assert.ok(second!.at - first!.at >= 380, `retried after ${Math.round(second!.at - first!.at)} ms, Retry-After said 400`);
    assert.equal(runsOf('doc_down').length, 3, 'three attempts');
    assert.deepEqual(givenUp, [{ documentId: 'doc_down', code: 'embedding_failed' }]);
  });

  it('fails bad input at once: no retry, and a thrown input error is recorded through giveUp', async () => {
    const { ingestion, runsOf, givenUp } = scriptedIngestion({
      doc_corrupt: [async () => ({ kind: 'failed', error: new DocumentError('pdf_corrupt', 'broken xref') })],
      doc_bad: [() => Promise.reject(new AppError('invalid_request', 'nonsense'))],
    });
    const { queue } = newQueue('unrecoverable', ingestion);
    await queue.start();
    await queue.enqueue(['doc_corrupt', 'doc_bad']);
    await waitFor(async () => (givenUp.length === 1 && runsOf('doc_corrupt').length === 1 ? true : undefined), { timeoutMs: 10_000 });
    await sleep(400);
    assert.equal(runsOf('doc_corrupt').length, 1);
    assert.equal(runsOf('doc_bad').length, 1);
    // The service already recorded the corrupt one `failed`; only the thrown error needed giveUp.
    assert.deepEqual(givenUp, [{ documentId: 'doc_bad', code: 'invalid_request' }]);
  });

  it('hands a running job back on close, and another consumer finishes it', async () => {
    const first = scriptedIngestion({ doc_long: [untilAborted] });
    const { queue: closing, prefix } = newQueue('handback', first.ingestion);
    await closing.start();
    await closing.enqueue(['doc_long']);
    await waitFor(async () => (first.runs.length === 1 ? true : undefined), { timeoutMs: 10_000 });
    const closed = performance.now();
    await closing.close();

    const second = scriptedIngestion({});
    const { queue: taking } = newQueue('handback', second.ingestion, { prefix });
    await taking.start();
    await waitFor(async () => (second.runs.length === 1 ? true : undefined), { timeoutMs: 5_000 });
    assert.ok(performance.now() - closed < 3_000, 'taken over without waiting for the lock to expire');
    assert.deepEqual(first.givenUp, []);
  });

  it('stops a running document when it is cancelled (deleted), without retrying it', async () => {
    const { ingestion, runsOf, givenUp } = scriptedIngestion({ doc_deleted: [untilAborted] });
    const { queue } = newQueue('cancel', ingestion);
    await queue.start();
    await queue.enqueue(['doc_deleted']);
    await waitFor(async () => (runsOf('doc_deleted').length === 1 ? true : undefined), { timeoutMs: 10_000 });
    queue.cancel('doc_deleted');
    await sleep(400);
    assert.equal(runsOf('doc_deleted').length, 1);
    assert.deepEqual(givenUp, []);
  });

  it('enqueues the documents the catalog holds unfinished when consumption starts', async () => {
    const { ingestion, runs } = scriptedIngestion({});
    const { queue } = newQueue('sweep', ingestion, { catalog: catalogWith(['doc_lost', 'doc_orphan']) });
    await queue.start();
    await waitFor(async () => (runs.length === 2 ? true : undefined), { timeoutMs: 10_000 });
    assert.deepEqual(runs.map((run) => run.documentId).sort(), ['doc_lost', 'doc_orphan']);
  });

  it('reports an unreachable Redis on enqueue as a retryable service_unavailable error', async () => {
    const queue = new BullMqIngestionQueue({ url: 'redis://127.0.0.1:1', ingestion: scriptedIngestion({}).ingestion, catalog: catalogWith([]) });
    try {
      await assert.rejects(queue.enqueue(['doc_x']), { code: 'service_unavailable', retryable: true });
    } finally {
      await queue.close();
    }
  });
});
