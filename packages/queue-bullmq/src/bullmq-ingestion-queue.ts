import { Queue, UnrecoverableError, WaitingError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import {
  AbortedError,
  AppError,
  silentLogger,
  throwIfAborted,
  toAppError,
  type Catalog,
  type GenerationSchema,
  type IngestionQueue,
  type Logger,
  type RebuildOutcome,
  type RebuildRequest,
} from '@passage/spec';
import { FinishedJobEvents, type FinishedJob } from './finished-job-events.js';
import { bullMqKeyPrefix, type RedisConnect } from './redis-connect.js';

/** What the queue needs of the ingestion service (IngestionService satisfies it). */
export interface DocumentIngestion {
  /**
   * Processes one document. Resolves with the outcome (input errors included); rejects with a
   * retryable AppError for the queue to retry, or an AbortedError when the signal fired.
   */
  ingest(documentId: string, signal: AbortSignal): Promise<{ kind: 'ready' } | { kind: 'failed'; error: AppError } | { kind: 'skipped'; reason: string }>;
  /** Marks the document failed after the queue gave up on a retryable fault. */
  giveUp(documentId: string, error: AppError): Promise<void>;
  /**
   * Rebuilds a ready document into a generation (a reindex). Resolves with the outcome; rejects with
   * a retryable AppError for the queue to retry, or an AbortedError when the signal fired.
   */
  rebuild(documentId: string, target: { knowledgeBaseId: string; generation: number; schema: GenerationSchema }, signal: AbortSignal): Promise<RebuildOutcome>;
}

export interface BullMqIngestionQueueOptions {
  /** Redis, `redis://host:port[/db]`. */
  url: string;
  /**
   * Start of every BullMQ key (`${prefix}:${queueName}:...`, or `{${prefix}}:${queueName}:...` with
   * `cluster`), so deployments and tests can share a Redis. Default: `passage`.
   */
  prefix?: string;
  /**
   * Makes the queue's Redis connections, which are handed to BullMQ and closed with the queue (the
   * runtime passes createRedisClient of @passage/store-redis). Default: BullMQ connects to `url`.
   */
  connect?: RedisConnect;
  /** `true`: the connections `connect` makes reach a Redis Cluster, and the prefix carries a hash tag (bullMqKeyPrefix). Default: false. */
  cluster?: boolean;
  /** Default: `ingestion`. */
  queueName?: string;
  /** The ingestion service that processes a job. */
  ingestion: DocumentIngestion;
  /** Read when consuming starts (and every `sweepIntervalMs`) to enqueue documents whose job was lost. */
  catalog: Catalog;
  /** Documents this process ingests at once once `start()` was called. Default: 2. */
  concurrency?: number;
  /**
   * Runs of a job with a retryable fault (embedder 429/5xx, network) before the document fails.
   * Every run is a claim that the catalog counts, and the service fails a document claimed more
   * than its maxAttempts (3) times, so keep this at most that. Default: 3.
   */
  attempts?: number;
  /** Delay before the first retry, ms, doubled each time (with up to 20% jitter); an upstream Retry-After wins when longer. Default: 1000. */
  backoffDelayMs?: number;
  /**
   * How long a worker's lock on a running job lasts without renewal, ms; the worker renews it every
   * half of this. A worker killed mid-job loses the lock after at most this long, and the job is
   * then picked up by another worker at the next stalled check. Default: 10000.
   */
  lockDurationMs?: number;
  /** How often each worker looks for jobs whose lock expired (a killed worker's), ms. Default: 5000. */
  stalledIntervalMs?: number;
  /**
   * How often a consuming process re-enqueues documents the catalog holds `queued` or
   * `processing` (adding a job that exists changes nothing), ms; this recovers a document accepted
   * while Redis refused the job. 0 turns it off. Default: 60000.
   */
  sweepIntervalMs?: number;
  logger?: Logger;
}

interface IngestionJobData {
  documentId: string;
}

interface RebuildJobData {
  documentId: string;
  knowledgeBaseId: string;
  generation: number;
  schema: GenerationSchema;
}

type JobName = 'ingest' | 'rebuild';
type JobData = IngestionJobData | RebuildJobData;
/** `ingest` jobs return the outcome's kind; `rebuild` jobs their RebuildOutcome. */
type JobResult = string | RebuildOutcome;
type QueueJob = Job<JobData, JobResult, JobName>;

const retryAfterBackoff = 'retry-after';

/**
 * The ingestion queue on BullMQ. Every process may enqueue (the API does: one job per document,
 * job id = document id, so enqueuing twice is harmless); processes that call `start()` (the
 * workers, or the API when INGEST_IN_API=true) also consume. Reliability comes from BullMQ's locks
 * and from the service: a killed worker's job comes back after its lock expires, is claimed again
 * through the catalog (which counts the attempt) and overwrites its deterministic chunk ids.
 *
 * A reindex's documents are `rebuild` jobs on the same queue (job id
 * `rebuild:<generation>:<documentId>`), consumed by the same workers with the same retries; the
 * process that asked follows them through the queue's event stream.
 */
export class BullMqIngestionQueue implements IngestionQueue {
  readonly #options: BullMqIngestionQueueOptions;
  readonly #logger: Logger;
  readonly #queue: Queue<JobData, JobResult, JobName>;
  /** Jobs this process runs, by job id. */
  readonly #running = new Map<string, { documentId: string; controller: AbortController }>();
  #worker: Worker<JobData, JobResult, JobName> | null = null;
  #sweeper: NodeJS.Timeout | null = null;
  #closing = false;
  /** Connections made by `connect`, closed after the queue. */
  readonly #connections: Array<Redis | Cluster> = [];

  constructor(options: BullMqIngestionQueueOptions) {
    if (options.cluster === true && options.connect === undefined) throw new RangeError('A queue on a Redis Cluster needs `connect` to make its connections');
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    // A producer fails fast when Redis is down (the upload answers 503) instead of waiting for it.
    this.#queue = new Queue(this.#queueName, {
      connection: this.#connection('passage-queue', 2),
      skipWaitingForReady: true,
      prefix: this.#prefix,
      defaultJobOptions: {
        attempts: options.attempts ?? 3,
        backoff: { type: retryAfterBackoff, delay: options.backoffDelayMs ?? 1000 },
        removeOnComplete: { age: 24 * 3600, count: 10_000 },
        removeOnFail: { age: 7 * 24 * 3600 },
      },
    });
    this.#queue.on('error', (error) => this.#logger.error({ err: error }, 'ingestion queue connection error'));
  }

  get #prefix(): string {
    return bullMqKeyPrefix(this.#options.prefix ?? 'passage', this.#options.cluster ?? false);
  }

  /** BullMQ's connection: a client made by `connect` (closed with the queue), else options for `url`. */
  #connection(connectionName: string, maxRetriesPerRequest: number | null): ConnectionOptions {
    const { connect } = this.#options;
    if (connect === undefined) return maxRetriesPerRequest === null ? { url: this.#options.url } : { url: this.#options.url, maxRetriesPerRequest };
    const client = connect({ connectionName, maxRetriesPerRequest });
    client.on('error', (error: Error) => this.#logger.warn({ err: error }, `Redis connection problem (${connectionName})`));
    this.#connections.push(client);
    return client;
  }

  get #queueName(): string {
    return this.#options.queueName ?? 'ingestion';
  }

  async enqueue(documentIds: string[]): Promise<void> {
    if (documentIds.length === 0) return;
    await this.#producing('adding ingestion jobs', () =>
      this.#queue.addBulk(documentIds.map((documentId) => ({ name: 'ingest' as const, data: { documentId }, opts: { jobId: documentId } }))),
    );
  }

  async start(): Promise<void> {
    if (this.#worker !== null || this.#closing) return;
    const options = this.#options;
    const worker = new Worker<JobData, JobResult, JobName>(this.#queueName, (job, token, signal) => this.#process(job, token, signal), {
      connection: this.#connection('passage-worker', null),
      prefix: this.#prefix,
      concurrency: options.concurrency ?? 2,
      lockDuration: options.lockDurationMs ?? 10_000,
      stalledInterval: options.stalledIntervalMs ?? 5_000,
      // Interruptions are bounded by the service (it fails a document claimed too often, with a
      // reason), so BullMQ's own limit, which would fail the job without telling the catalog, is
      // set out of the way.
      maxStalledCount: 10,
      settings: { backoffStrategy: (attemptsMade, _type, error) => this.#backoffMs(attemptsMade, error) },
      autorun: false,
    });
    worker.on('error', (error) => this.#logger.error({ err: error }, 'ingestion worker error'));
    worker.on('stalled', (jobId) => this.#logger.warn({ documentId: jobId }, 'job of a stopped worker taken over'));
    this.#worker = worker;
    worker.run().catch((error: unknown) => this.#logger.error({ err: error }, 'ingestion worker stopped'));
    await worker.waitUntilReady();
    await this.#sweep();
    const interval = options.sweepIntervalMs ?? 60_000;
    if (interval > 0) {
      this.#sweeper = setInterval(() => {
        this.#sweep().catch((error: unknown) => this.#logger.error({ err: error }, 're-enqueuing unfinished documents failed'));
      }, interval);
      this.#sweeper.unref();
    }
  }

  /**
   * Rebuilds documents into a generation on the workers: one `rebuild` job per document, at most
   * `request.concurrency` of them unfinished at a time (default: all at once, the workers'
   * concurrency bounding the work), and yields each outcome as its job ends. An abort (or leaving
   * the loop) stops following and removes the jobs that have not started; running ones finish.
   */
  async *rebuild(request: RebuildRequest): AsyncIterable<RebuildOutcome> {
    const { signal } = request;
    throwIfAborted(signal);
    const documentIds = [...new Set(request.documentIds)];
    if (documentIds.length === 0) return;
    const jobIdPrefix = `rebuild:${request.generation}:`;
    const ahead = Math.max(1, request.concurrency ?? documentIds.length);
    const unfinished = new Map<string, string>();
    const events = await this.#producing('following the rebuild', () =>
      FinishedJobEvents.open(this.#queue as unknown as Queue, {
        url: this.#options.url,
        ...(this.#options.connect === undefined ? {} : { connect: this.#options.connect }),
        prefix: this.#prefix,
        wanted: (jobId) => unfinished.has(jobId),
        logger: this.#logger,
      }),
    );
    try {
      let next = 0;
      while (next < documentIds.length || unfinished.size > 0) {
        const batch = documentIds.slice(next, next + ahead - unfinished.size);
        next += batch.length;
        if (batch.length > 0) {
          for (const documentId of batch) unfinished.set(`${jobIdPrefix}${documentId}`, documentId);
          await this.#producing('adding rebuild jobs', () =>
            this.#queue.addBulk(
              batch.map((documentId) => ({
                name: 'rebuild' as const,
                data: { documentId, knowledgeBaseId: request.knowledgeBaseId, generation: request.generation, schema: request.schema },
                // Removed once finished (the outcome travels in the event), so that a later reindex
                // into the same generation number adds its own job instead of finding this one.
                opts: { jobId: `${jobIdPrefix}${documentId}`, removeOnComplete: true, removeOnFail: true },
              })),
            ),
          );
        }
        const finished = await events.next(signal);
        const documentId = unfinished.get(finished.jobId);
        if (documentId === undefined) continue;
        unfinished.delete(finished.jobId);
        yield toRebuildOutcome(documentId, finished);
      }
    } finally {
      try {
        await Promise.all([...unfinished.keys()].map((jobId) => this.#queue.remove(jobId)));
      } finally {
        await events.close();
      }
    }
  }

  cancel(documentId: string): void {
    let found = false;
    for (const running of this.#running.values()) {
      if (running.documentId !== documentId) continue;
      running.controller.abort(new AbortedError('The document was deleted'));
      found = true;
    }
    if (found) return;
    // Elsewhere the job, if it still waits, is dropped; a running one ends by itself: the service
    // finds the document gone when it records the result, and removes its chunks.
    this.#queue.remove(documentId).catch((error: unknown) => {
      this.#logger.warn({ documentId, err: error }, 'could not drop the job of a deleted document; it will be skipped');
    });
  }

  /** Stops taking jobs; running ones are interrupted and handed back to the queue at once. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    for (const { controller } of this.#running.values()) controller.abort(new AbortedError('The worker is shutting down'));
    try {
      await this.#worker?.close();
    } finally {
      try {
        await this.#queue.close();
      } finally {
        await Promise.all(this.#connections.map((client) => client.quit().catch(() => client.disconnect())));
      }
    }
  }

  async #process(job: QueueJob, token: string | undefined, bullSignal: AbortSignal | undefined): Promise<JobResult> {
    const { documentId } = job.data;
    const jobId = job.id ?? documentId;
    const controller = new AbortController();
    const onBullAbort = () => controller.abort(bullSignal?.reason);
    bullSignal?.addEventListener('abort', onBullAbort, { once: true });
    this.#running.set(jobId, { documentId, controller });
    const attempts = job.opts.attempts ?? 1;
    const log = { documentId, job: job.name, attempt: job.attemptsMade + 1, attempts };
    try {
      if (this.#closing) throw new AbortedError('The worker is shutting down');
      if (job.name === 'rebuild') {
        const { knowledgeBaseId, generation, schema } = job.data as RebuildJobData;
        const outcome = await this.#options.ingestion.rebuild(documentId, { knowledgeBaseId, generation, schema }, controller.signal);
        if (outcome.kind === 'failed') throw new UnrecoverableError(failedReason(outcome.error));
        return outcome;
      }
      const outcome = await this.#options.ingestion.ingest(documentId, controller.signal);
      // Bad input: the service recorded the document failed with its reason; the job fails at once.
      if (outcome.kind === 'failed') throw new UnrecoverableError(failedReason(outcome.error));
      return outcome.kind;
    } catch (error) {
      if (error instanceof UnrecoverableError) throw error;
      if (controller.signal.aborted || error instanceof AbortedError) {
        if (!this.#closing) return job.name === 'rebuild' ? { documentId, kind: 'skipped', reason: 'deleted' } : 'cancelled';
        // Shutting down: hand the job back now rather than when its lock expires. The document stays
        // `processing` and the next worker to take the job resumes it.
        if (token !== undefined) await job.moveToWait(token);
        this.#logger.info(log, 'job interrupted by shutdown; handed back');
        throw new WaitingError();
      }
      const appError = toAppError(error);
      if (!appError.retryable || job.attemptsMade + 1 >= attempts) {
        this.#logger.error({ ...log, err: error }, 'job gave up');
        // A rebuild that gives up leaves the document as it is: its live generation still serves it.
        if (job.name === 'ingest') await this.#options.ingestion.giveUp(documentId, appError);
        throw new UnrecoverableError(failedReason(appError));
      }
      this.#logger.warn({ ...log, code: appError.code, reason: appError.message }, 'job will retry');
      throw appError;
    } finally {
      bullSignal?.removeEventListener('abort', onBullAbort);
      this.#running.delete(jobId);
    }
  }

  /** Runs a producer-side Redis operation; a failure is the queue being unavailable, which a retry may fix. */
  async #producing<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw new AppError('service_unavailable', `The ingestion queue (Redis) failed ${what}: ${(error as Error).message}`, {
        retryable: true,
        cause: error,
      });
    }
  }

  /** Exponential backoff with jitter; an upstream Retry-After (the error's retryAfterSeconds) wins when longer. */
  #backoffMs(attemptsMade: number, error: Error | undefined): number {
    const base = (this.#options.backoffDelayMs ?? 1000) * 2 ** Math.max(0, attemptsMade - 1);
    const jittered = Math.round(base * (0.8 + Math.random() * 0.2));
    const retryAfterSeconds = error instanceof AppError ? error.retryAfterSeconds : undefined;
    return retryAfterSeconds === undefined ? jittered : Math.max(jittered, Math.ceil(retryAfterSeconds * 1000));
  }

  /** Enqueues what the catalog says is unfinished; jobs that exist are left as they are. */
  async #sweep(): Promise<void> {
    const unfinished = await this.#options.catalog.listDocumentsByStatus(['queued', 'processing']);
    if (unfinished.length === 0) return;
    await this.enqueue(unfinished.map((document) => document.id));
    this.#logger.debug({ documents: unfinished.length }, 'unfinished documents enqueued');
  }
}

/** How a job's failure is recorded in BullMQ, and read back by `toRebuildOutcome`. */
function failedReason(error: { code: string; message: string }): string {
  return `${error.code}: ${error.message}`;
}

function toRebuildOutcome(documentId: string, finished: FinishedJob): RebuildOutcome {
  if (finished.completed) return finished.returnValue as RebuildOutcome;
  const parsed = /^([a-z_]+): ([\s\S]*)$/.exec(finished.failedReason);
  return {
    documentId,
    kind: 'failed',
    error: parsed === null ? { code: 'internal_error', message: finished.failedReason } : { code: parsed[1]!, message: parsed[2]! },
  };
}
