import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { AbortedError, AppError, DocumentError, type Catalog, type DocumentRecord, type GenerationSchema, type RebuildOutcome } from '@passage/spec';
import { connectTestRedis, standaloneTestRedis, startRedisCluster, uniqueRedisPrefix, waitFor } from '@passage/testing';
import { BullMqIngestionQueue, type DocumentIngestion } from './bullmq-ingestion-queue.js';
import { bullMqKeyPrefix } from './redis-connect.js';

type Outcome = Awaited<ReturnType<DocumentIngestion['ingest']>>;
type RebuildTarget = Parameters<DocumentIngestion['rebuild']>[1];

/**
 * An ingestion double: each document id gets a script of what its successive ingestion runs do,
 * and of what its successive rebuilds do.
 */
function scriptedIngestion(
  script: Record<string, Array<(signal: AbortSignal) => Promise<Outcome>>>,
  rebuildScript: Record<string, Array<(signal: AbortSignal) => Promise<RebuildOutcome>>> = {},
) {
  const runs: Array<{ documentId: string }> = [];
  const rebuilds: Array<{ documentId: string; target: RebuildTarget }> = [];
  const givenUp: Array<{ documentId: string; code: string }> = [];
  const next = <T>(steps: T[] | undefined): T | undefined => (steps !== undefined && steps.length > 1 ? steps.shift() : steps?.[0]);
  const ingestion: DocumentIngestion = {
    async ingest(documentId, signal) {
      runs.push({ documentId });
      const step = next(script[documentId]);
      return step === undefined ? { kind: 'ready' } : step(signal);
    },
    async giveUp(documentId, error) {
      givenUp.push({ documentId, code: error.code });
    },
    async rebuild(documentId, target, signal) {
      rebuilds.push({ documentId, target });
      const step = next(rebuildScript[documentId]);
      return step === undefined ? { documentId, kind: 'done', chunks: 1 } : step(signal);
    },
  };
  return {
    ingestion,
    runs,
    rebuilds,
    givenUp,
    runsOf: (id: string) => runs.filter((run) => run.documentId === id),
    rebuildsOf: (id: string) => rebuilds.filter((run) => run.documentId === id),
  };
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
    beginReindex: unsupported,
    renewReindex: unsupported,
    abandonReindex: unsupported,
    switchGeneration: unsupported,
    recordDocumentGeneration: unsupported,
    documentsInGeneration: unsupported,
    searchableDocuments: unsupported,
    createDocuments: unsupported,
    findDocumentByName: unsupported,
    getDocument: unsupported,
    listDocuments: unsupported,
    updateDocument: unsupported,
    completeDocument: unsupported,
    claimDocument: unsupported,
    deleteDocument: unsupported,
    close: async () => {},
  };
}

const schema: GenerationSchema = { embeddingModel: 'tiny', denseDimensions: 8 };

async function collect(outcomes: AsyncIterable<RebuildOutcome>): Promise<RebuildOutcome[]> {
  const collected: RebuildOutcome[] = [];
  for await (const outcome of outcomes) collected.push(outcome);
  return collected;
}

const untilAborted = (signal: AbortSignal) =>
  new Promise<Outcome>((_resolve, reject) => signal.addEventListener('abort', () => reject(new AbortedError()), { once: true }));

const cluster = await startRedisCluster();
after(() => cluster.stop());

// The same tests on the standalone test server (BullMQ connects to the URL itself) and on a Redis
// Cluster of three masters (connections made by the store's factory, prefix in a hash tag).
for (const redis of [standaloneTestRedis, cluster]) {
  describe(`BullMQ ingestion queue on a ${redis.description}`, () => {
    const cleanups: Array<() => Promise<unknown>> = [];
    after(async () => {
      for (const cleanup of cleanups) await cleanup();
    });

    function newQueue(label: string, ingestion: DocumentIngestion, overrides: { catalog?: Catalog; prefix?: string; concurrency?: number } = {}) {
      const fresh = uniqueRedisPrefix(label, redis);
      if (overrides.prefix === undefined) cleanups.push(fresh.cleanup);
      const prefix = overrides.prefix ?? fresh.prefix;
      const queue = new BullMqIngestionQueue({
        url: redis.url,
        ...(redis.cluster
          ? { cluster: true, connect: (purpose: { connectionName: string; maxRetriesPerRequest: number | null }) => connectTestRedis(redis, purpose) }
          : {}),
        prefix,
        ingestion,
        catalog: overrides.catalog ?? catalogWith([]),
        concurrency: overrides.concurrency ?? 2,
        backoffDelayMs: 50,
        sweepIntervalMs: 0,
      });
      // A second handle on the same BullMQ queue, to read job states instead of waiting for nothing to happen.
      const connection = redis.cluster ? connectTestRedis(redis, { connectionName: 'passage-test-inspector', maxRetriesPerRequest: 2 }) : null;
      const inspector = new Queue('ingestion', { connection: connection ?? { url: redis.url }, prefix: bullMqKeyPrefix(prefix, redis.cluster) });
      cleanups.unshift(
        () => queue.close(),
        async () => {
          await inspector.close();
          connection?.disconnect();
        },
      );
      const stateOf = (jobId: string) => inspector.getJobState(jobId);
      return { queue, prefix, inspector, stateOf };
    }

    it('processes each enqueued document once, however often it is enqueued', async () => {
      const { ingestion, runs } = scriptedIngestion({});
      const { queue, inspector } = newQueue('once', ingestion);
      await queue.enqueue(['doc_a', 'doc_b']);
      await queue.enqueue(['doc_a']);
      await queue.start();
      const counts = await waitFor(
        async () => {
          const current = await inspector.getJobCounts('wait', 'active', 'delayed', 'completed');
          return current.completed === 2 ? current : undefined;
        },
        { timeoutMs: 10_000 },
      );
      assert.deepEqual(counts, { wait: 0, active: 0, delayed: 0, completed: 2 }, 'nothing is left to run');
      assert.deepEqual(runs.map((run) => run.documentId).sort(), ['doc_a', 'doc_b']);
      await queue.close();
    });

    it('retries a retryable fault with backoff, honouring Retry-After, and gives up after the last attempt', async () => {
      // A Retry-After far longer than the 50 ms backoff: the job's delay shows which one the queue chose.
      const rateLimited = () => Promise.reject(new AppError('embedding_failed', 'HTTP 429', { retryable: true, retryAfterSeconds: 60 }));
      const { ingestion, runsOf, givenUp } = scriptedIngestion({
        doc_flaky: [rateLimited, async () => ({ kind: 'ready' })],
        doc_down: [() => Promise.reject(new AppError('embedding_failed', 'HTTP 503', { retryable: true }))],
      });
      const { queue, inspector, stateOf } = newQueue('retry', ingestion);
      await queue.start();
      await queue.enqueue(['doc_flaky', 'doc_down']);
      await waitFor(async () => ((await stateOf('doc_flaky')) === 'delayed' ? true : undefined), { timeoutMs: 10_000, what: 'the rate-limited job to wait' });
      const delayed = await inspector.getJob('doc_flaky');
      assert.equal(delayed?.delay, 60_000, 'delayed by the Retry-After, not by the backoff');
      assert.equal(runsOf('doc_flaky').length, 1);
      await delayed.promote();
      await waitFor(async () => (runsOf('doc_flaky').length === 2 && givenUp.length === 1 ? true : undefined), { timeoutMs: 10_000 });
      assert.equal(await stateOf('doc_flaky'), 'completed');
      assert.equal(runsOf('doc_down').length, 3, 'three attempts');
      assert.deepEqual(givenUp, [{ documentId: 'doc_down', code: 'embedding_failed' }]);
    });

    it('fails bad input at once: no retry, and a thrown input error is recorded through giveUp', async () => {
      const { ingestion, runsOf, givenUp } = scriptedIngestion({
        doc_corrupt: [async () => ({ kind: 'failed', error: new DocumentError('pdf_corrupt', 'broken xref') })],
        doc_bad: [() => Promise.reject(new AppError('invalid_request', 'nonsense'))],
      });
      const { queue, stateOf } = newQueue('unrecoverable', ingestion);
      await queue.start();
      await queue.enqueue(['doc_corrupt', 'doc_bad']);
      // Failed is final: a job to be retried would be delayed or waiting.
      await waitFor(async () => ((await stateOf('doc_corrupt')) === 'failed' && (await stateOf('doc_bad')) === 'failed' ? true : undefined), {
        timeoutMs: 10_000,
      });
      assert.equal(runsOf('doc_corrupt').length, 1);
      assert.equal(runsOf('doc_bad').length, 1);
      // The service already recorded the corrupt one `failed`; only the thrown error needed giveUp.
      assert.deepEqual(givenUp, [{ documentId: 'doc_bad', code: 'invalid_request' }]);
    });

    it('hands a running job back on close, and another consumer finishes it', async () => {
      const first = scriptedIngestion({ doc_long: [untilAborted] });
      const { queue: closing, prefix, stateOf } = newQueue('handback', first.ingestion);
      await closing.start();
      await closing.enqueue(['doc_long']);
      await waitFor(async () => (first.runs.length === 1 ? true : undefined), { timeoutMs: 10_000 });
      await closing.close();
      // Not handed back, the job would stay active, locked, until its lock expired (10 s).
      assert.equal(await stateOf('doc_long'), 'waiting', 'handed back on close, not left to its lock');

      const second = scriptedIngestion({});
      const { queue: taking } = newQueue('handback', second.ingestion, { prefix });
      await taking.start();
      await waitFor(async () => (second.runs.length === 1 ? true : undefined), { timeoutMs: 10_000 });
      await waitFor(async () => ((await stateOf('doc_long')) === 'completed' ? true : undefined), {
        timeoutMs: 10_000,
        what: 'the taken-over job to complete',
      });
      assert.deepEqual(first.givenUp, []);
    });

    it('stops a running document when it is cancelled (deleted), without retrying it', async () => {
      const { ingestion, runsOf, givenUp } = scriptedIngestion({ doc_deleted: [untilAborted] });
      const { queue, stateOf } = newQueue('cancel', ingestion);
      await queue.start();
      await queue.enqueue(['doc_deleted']);
      await waitFor(async () => (runsOf('doc_deleted').length === 1 ? true : undefined), { timeoutMs: 10_000 });
      queue.cancel('doc_deleted');
      await waitFor(async () => ((await stateOf('doc_deleted')) === 'completed' ? true : undefined), { timeoutMs: 10_000 });
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

    it('rebuilds every document on the workers, retrying retryable faults, and yields each outcome once with failures and their reasons', async () => {
      const { ingestion, rebuilds, rebuildsOf } = scriptedIngestion(
        {},
        {
          doc_done: [async () => ({ documentId: 'doc_done', kind: 'done', chunks: 7 })],
          doc_gone: [async () => ({ documentId: 'doc_gone', kind: 'skipped', reason: 'deleted' })],
          doc_wrong_model: [async () => ({ documentId: 'doc_wrong_model', kind: 'failed', error: { code: 'invalid_request', message: 'embedder mismatch' } })],
          doc_flaky: [
            () => Promise.reject(new AppError('embedding_failed', 'HTTP 503', { retryable: true })),
            async () => ({ documentId: 'doc_flaky', kind: 'done', chunks: 2 }),
          ],
          doc_down: [() => Promise.reject(new AppError('embedding_failed', 'HTTP 503: still down', { retryable: true }))],
        },
      );
      const { queue } = newQueue('rebuild', ingestion);
      await queue.start();
      const documentIds = ['doc_done', 'doc_gone', 'doc_wrong_model', 'doc_flaky', 'doc_down'];
      const outcomes = await collect(
        queue.rebuild({ knowledgeBaseId: 'kb_r', documentIds, generation: 2, schema, concurrency: 2, signal: AbortSignal.timeout(20_000) }),
      );
      const byDocument = new Map(outcomes.map((outcome) => [outcome.documentId, outcome]));
      assert.equal(outcomes.length, documentIds.length, 'one outcome per document');
      assert.deepEqual(Object.fromEntries(byDocument), {
        doc_done: { documentId: 'doc_done', kind: 'done', chunks: 7 },
        doc_gone: { documentId: 'doc_gone', kind: 'skipped', reason: 'deleted' },
        doc_wrong_model: { documentId: 'doc_wrong_model', kind: 'failed', error: { code: 'invalid_request', message: 'embedder mismatch' } },
        doc_flaky: { documentId: 'doc_flaky', kind: 'done', chunks: 2 },
        doc_down: { documentId: 'doc_down', kind: 'failed', error: { code: 'embedding_failed', message: 'HTTP 503: still down' } },
      });
      assert.equal(rebuildsOf('doc_flaky').length, 2);
      assert.equal(rebuildsOf('doc_down').length, 3, 'retried as ingestion jobs are');
      assert.equal(rebuildsOf('doc_wrong_model').length, 1, 'a failed outcome is not retried');
      assert.deepEqual(rebuilds[0]?.target, { knowledgeBaseId: 'kb_r', generation: 2, schema });
    });

    it('rebuilds into a generation again after an earlier rebuild of the same documents and generation finished', async () => {
      const { ingestion, rebuildsOf } = scriptedIngestion({});
      const { queue } = newQueue('rebuild-again', ingestion);
      await queue.start();
      const request = () => ({ knowledgeBaseId: 'kb_a', documentIds: ['doc_a'], generation: 3, schema, signal: AbortSignal.timeout(10_000) });
      assert.deepEqual(await collect(queue.rebuild(request())), [{ documentId: 'doc_a', kind: 'done', chunks: 1 }]);
      assert.deepEqual(await collect(queue.rebuild(request())), [{ documentId: 'doc_a', kind: 'done', chunks: 1 }]);
      assert.equal(rebuildsOf('doc_a').length, 2, 'the second reindex ran its own job');
    });

    it('stops following a rebuild on abort and removes the jobs that have not started', async () => {
      let release: () => void = () => {};
      const released = new Promise<void>((resolve) => (release = resolve));
      const { ingestion, rebuildsOf } = scriptedIngestion(
        {},
        { doc_slow: [async () => released.then(() => ({ documentId: 'doc_slow', kind: 'done', chunks: 1 }))] },
      );
      const { queue, stateOf, inspector } = newQueue('rebuild-abort', ingestion, { concurrency: 1 });
      await queue.start();
      const controller = new AbortController();
      const following = collect(
        queue.rebuild({ knowledgeBaseId: 'kb_s', documentIds: ['doc_slow', 'doc_b', 'doc_c'], generation: 2, schema, signal: controller.signal }),
      );
      await waitFor(async () => (rebuildsOf('doc_slow').length === 1 ? true : undefined), { timeoutMs: 10_000 });
      controller.abort();
      await assert.rejects(following, { code: 'aborted' });
      assert.equal(await stateOf('rebuild:2:doc_b'), 'unknown', 'removed before it started');
      assert.equal(await stateOf('rebuild:2:doc_c'), 'unknown');
      assert.equal(await stateOf('rebuild:2:doc_slow'), 'active', 'the running one goes on');
      release();
      await waitFor(async () => ((await inspector.getJobCounts('active')).active === 0 ? true : undefined), { timeoutMs: 10_000 });
      assert.deepEqual(await inspector.getJobCounts('wait', 'active', 'delayed'), { wait: 0, active: 0, delayed: 0 });
      assert.equal(rebuildsOf('doc_b').length + rebuildsOf('doc_c').length, 0);
    });
  });
}

describe('BullMQ ingestion queue', () => {
  it('reports an unreachable Redis on enqueue as a retryable service_unavailable error', async () => {
    const queue = new BullMqIngestionQueue({ url: 'redis://127.0.0.1:1', ingestion: scriptedIngestion({}).ingestion, catalog: catalogWith([]) });
    try {
      await assert.rejects(queue.enqueue(['doc_x']), { code: 'service_unavailable', retryable: true });
    } finally {
      await queue.close();
    }
  });
});
