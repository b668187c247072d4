import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import {
  AbortedError,
  AppError,
  silentLogger,
  toAppError,
  type Catalog,
  type IngestionQueue,
  type Logger,
} from '@passage/spec';

/** What the queue needs of the ingestion service (IngestionService satisfies it). */
export interface DocumentIngestion {
  /**
   * Processes one document. Resolves with the outcome (input errors included); rejects with a
   * retryable AppError for the queue to retry, or an AbortedError when the signal fired.
   */
  ingest(
    documentId: string,
    signal: AbortSignal,
  ): Promise<{ kind: 'ready' } | { kind: 'failed'; error: AppError } | { kind: 'skipped'; reason: string }>;
  /** Marks the document failed after the queue gave up on a retryable fault. */
  giveUp(documentId: string, error: AppError): Promise<void>;
}

export interface BullMqIngestionQueueOptions {
  /** Redis, `redis://host:port[/db]`. */
  url: string;
  /** Start of every BullMQ key (`${prefix}:${queueName}:...`), so deployments and tests can share a Redis. Default: `passage`. */
  prefix?: string;
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

type IngestionJob = Job<IngestionJobData, string, 'ingest'>;

const retryAfterBackoff = 'retry-after';

/**
 * The ingestion queue on BullMQ. Every process may enqueue (the API does: one job per document,
 * job id = document id, so enqueuing twice is harmless); processes that call `start()` (the
 * workers, or the API when INGEST_IN_API=true) also consume. Reliability comes from BullMQ's locks
 * and from the service: a killed worker's job comes back after its lock expires, is claimed again
 * through the catalog (which counts the attempt) and overwrites its deterministic chunk ids.
 */
export class BullMqIngestionQueue implements IngestionQueue {
  readonly #options: BullMqIngestionQueueOptions;
  readonly #logger: Logger;
  readonly #queue: Queue<IngestionJobData, string, 'ingest'>;
  readonly #running = new Map<string, AbortController>();
  #worker: Worker<IngestionJobData, string, 'ingest'> | null = null;
  #sweeper: NodeJS.Timeout | null = null;
  #closing = false;

  constructor(options: BullMqIngestionQueueOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    // A producer fails fast when Redis is down (the upload answers 503) instead of waiting for it.
    this.#queue = new Queue(this.#queueName, {
      connection: { url: options.url, maxRetriesPerRequest: 2 },
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
    return this.#options.prefix ?? 'passage';
  }

  get #queueName(): string {
    return this.#options.queueName ?? 'ingestion';
  }

  async enqueue(documentIds: string[]): Promise<void> {
    if (documentIds.length === 0) return;
    try {
      await this.#queue.addBulk(documentIds.map((documentId) => ({ name: 'ingest', data: { documentId }, opts: { jobId: documentId } })));
    } catch (error) {
      throw new AppError('service_unavailable', `The ingestion queue (Redis) refused the job: ${(error as Error).message}`, {
        retryable: true,
        cause: error,
      });
    }
  }

  async start(): Promise<void> {
    if (this.#worker !== null || this.#closing) return;
    const options = this.#options;
    const worker = new Worker<IngestionJobData, string, 'ingest'>(this.#queueName, (job, token, signal) => this.#process(job, token, signal), {
      connection: { url: options.url },
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

  cancel(documentId: string): void {
    const running = this.#running.get(documentId);
    if (running !== undefined) {
      running.abort(new AbortedError('The document was deleted'));
      return;
    }
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
    for (const controller of this.#running.values()) controller.abort(new AbortedError('The worker is shutting down'));
    try {
      await this.#worker?.close();
    } finally {
      await this.#queue.close();
    }
  }

  async #process(job: IngestionJob, token: string | undefined, bullSignal: AbortSignal | undefined): Promise<string> {
    const { documentId } = job.data;
    const controller = new AbortController();
    const onBullAbort = () => controller.abort(bullSignal?.reason);
    bullSignal?.addEventListener('abort', onBullAbort, { once: true });
    this.#running.set(documentId, controller);
    const attempts = job.opts.attempts ?? 1;
    const log = { documentId, attempt: job.attemptsMade + 1, attempts };
    try {
      if (this.#closing) throw new AbortedError('The worker is shutting down');
      const outcome = await this.#options.ingestion.ingest(documentId, controller.signal);
      // Bad input: the service recorded the document failed with its reason; the job fails at once.
      if (outcome.kind === 'failed') throw new UnrecoverableError(`${outcome.error.code}: ${outcome.error.message}`);
      return outcome.kind;
    } catch (error) {
      if (error instanceof UnrecoverableError) throw error;
      if (controller.signal.aborted || error instanceof AbortedError) {
        if (!this.#closing) return 'cancelled';
        // Shutting down: hand the job back now rather than when its lock expires. The document stays
        // `processing` and the next worker to take the job resumes it.
        if (token !== undefined) await job.moveToWait(token);
        this.#logger.info(log, 'ingestion interrupted by shutdown; job handed back');
        throw new WaitingError();
      }
      const appError = toAppError(error);
      if (!appError.retryable || job.attemptsMade + 1 >= attempts) {
        this.#logger.error({ ...log, err: error }, 'ingestion gave up');
        await this.#options.ingestion.giveUp(documentId, appError);
        throw new UnrecoverableError(`${appError.code}: ${appError.message}`);
      }
      this.#logger.warn({ ...log, code: appError.code, reason: appError.message }, 'ingestion will retry');
      throw appError;
    } finally {
      bullSignal?.removeEventListener('abort', onBullAbort);
      this.#running.delete(documentId);
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
