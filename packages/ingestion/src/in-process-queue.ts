import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortedError,
  silentLogger,
  throwIfAborted,
  toAppError,
  type AppError,
  type Catalog,
  type IngestionQueue,
  type Logger,
  type RebuildOutcome,
  type RebuildRequest,
} from '@passage/spec';
import type { IngestionService } from './ingestion-service.js';

export interface InProcessQueueOptions {
  catalog: Catalog;
  service: IngestionService;
  /** Documents processed at the same time. Default: 1. */
  concurrency?: number;
  /** Tries for a retryable fault (embedder 429, network) before the document fails. Default: 3. */
  retryAttempts?: number;
  /** First retry delay, doubled each time, ms; a Retry-After from upstream wins. Default: 1000. */
  retryBaseDelayMs?: number;
  /**
   * Also look for new `queued` documents this often, ms, for a worker process that shares the
   * store with an API that does not ingest. Default: off.
   */
  pollIntervalMs?: number;
  logger?: Logger;
}

/**
 * The embedded default's queue. The catalog is the durable part: a document is recorded `queued`
 * before the upload is answered, and `start()` picks up every `queued` or `processing` document
 * left by an earlier run. This class only schedules, in this process, with bounded concurrency.
 */
export class InProcessQueue implements IngestionQueue {
  readonly #options: InProcessQueueOptions;
  readonly #logger: Logger;
  readonly #pending: string[] = [];
  readonly #pendingSet = new Set<string>();
  readonly #running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  readonly #idleWaiters: Array<() => void> = [];
  #started = false;
  #closed = false;
  #poller: NodeJS.Timeout | null = null;

  constructor(options: InProcessQueueOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  async enqueue(documentIds: string[]): Promise<void> {
    for (const id of documentIds) {
      if (this.#pendingSet.has(id) || this.#running.has(id)) continue;
      this.#pending.push(id);
      this.#pendingSet.add(id);
    }
    this.#pump();
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const unfinished = await this.#options.catalog.listDocumentsByStatus(['processing', 'queued']);
    if (unfinished.length > 0) this.#logger.info({ documents: unfinished.length }, 'resuming unfinished ingestion');
    await this.enqueue(unfinished.map((document) => document.id));
    const interval = this.#options.pollIntervalMs;
    if (interval !== undefined) {
      this.#poller = setInterval(() => {
        this.#options.catalog
          .listDocumentsByStatus(['queued'])
          .then((queued) => this.enqueue(queued.map((document) => document.id)))
          .catch((error: unknown) => this.#logger.error({ err: error }, 'polling for queued documents failed'));
      }, interval);
    }
  }

  /**
   * Rebuilds documents into a generation in this process, `request.concurrency` (default: this
   * queue's concurrency) at a time, retrying retryable faults as ingestion does; yields each
   * outcome as it ends, in completion order.
   */
  async *rebuild(request: RebuildRequest): AsyncIterable<RebuildOutcome> {
    const { signal } = request;
    const queue = [...request.documentIds];
    const finished: RebuildOutcome[] = [];
    let wake: (() => void) | null = null;
    let running = 0;
    const failures: unknown[] = [];
    const lane = async () => {
      for (let documentId = queue.shift(); documentId !== undefined && !signal.aborted; documentId = queue.shift()) {
        const outcome = await this.#withRetries(
          documentId,
          signal,
          () =>
            this.#options.service.rebuild(
              documentId,
              { knowledgeBaseId: request.knowledgeBaseId, generation: request.generation, schema: request.schema },
              signal,
            ),
          async (error): Promise<RebuildOutcome> => ({ documentId, kind: 'failed', error: { code: error.code, message: error.message } }),
        );
        if (outcome !== null) finished.push(outcome);
        wake?.();
      }
    };
    const lanes = Math.max(1, Math.min(request.concurrency ?? this.#options.concurrency ?? 1, queue.length));
    running = lanes;
    for (let count = 0; count < lanes; count += 1) {
      lane()
        .catch((error: unknown) => {
          failures.push(error);
        })
        .finally(() => {
          running -= 1;
          wake?.();
        });
    }
    while (running > 0 || finished.length > 0) {
      if (finished.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      yield* finished.splice(0);
    }
    if (failures.length > 0) throw failures[0];
    throwIfAborted(signal);
  }

  /** Stops the running document (its file was deleted, say). It is not retried in this process. */
  cancel(documentId: string): void {
    if (this.#pendingSet.delete(documentId)) {
      const position = this.#pending.indexOf(documentId);
      if (position >= 0) this.#pending.splice(position, 1);
    }
    this.#running.get(documentId)?.controller.abort();
  }

  /** Resolves when nothing is pending or running. */
  async idle(): Promise<void> {
    if (this.#pending.length === 0 && this.#running.size === 0) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#poller !== null) clearInterval(this.#poller);
    this.#pending.length = 0;
    this.#pendingSet.clear();
    for (const { controller } of this.#running.values()) controller.abort();
    await Promise.all([...this.#running.values()].map(({ done }) => done));
  }

  #pump(): void {
    if (!this.#started || this.#closed) return;
    const concurrency = this.#options.concurrency ?? 1;
    while (this.#running.size < concurrency) {
      const id = this.#pending.shift();
      if (id === undefined) break;
      this.#pendingSet.delete(id);
      const controller = new AbortController();
      const done = this.#process(id, controller.signal)
        .catch((error: unknown) => this.#logger.error({ documentId: id, err: error }, 'ingestion bookkeeping failed'))
        .finally(() => {
          this.#running.delete(id);
          this.#pump();
          if (this.#pending.length === 0 && this.#running.size === 0) {
            for (const resolve of this.#idleWaiters.splice(0)) resolve();
          }
        });
      this.#running.set(id, { controller, done });
    }
  }

  async #process(documentId: string, signal: AbortSignal): Promise<void> {
    await this.#withRetries(
      documentId,
      signal,
      () => this.#options.service.ingest(documentId, signal),
      async (error) => {
        await this.#options.service.giveUp(documentId, error);
        return null;
      },
    );
  }

  /**
   * Runs one piece of work on a document, retrying retryable faults with exponential backoff (an
   * upstream Retry-After wins); past the last attempt, or for a fault that is not retryable, answers
   * what `giveUp` makes of it. Null when it was aborted (the document stays as it was).
   */
  async #withRetries<T>(documentId: string, signal: AbortSignal, work: () => Promise<T>, giveUp: (error: AppError) => Promise<T | null>): Promise<T | null> {
    const attempts = this.#options.retryAttempts ?? 3;
    const baseDelay = this.#options.retryBaseDelayMs ?? 1000;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await work();
      } catch (error) {
        if (signal.aborted || error instanceof AbortedError) return null;
        const appError = toAppError(error);
        if (!appError.retryable || attempt >= attempts) {
          this.#logger.error({ documentId, err: error, attempt }, 'ingestion gave up');
          return giveUp(appError);
        }
        const delay = appError.retryAfterSeconds !== undefined ? appError.retryAfterSeconds * 1000 : baseDelay * 2 ** (attempt - 1);
        this.#logger.warn({ documentId, code: appError.code, attempt, delayMs: delay }, 'ingestion will retry');
        try {
          await sleep(delay, undefined, { signal });
        } catch {
          return null; // aborted while waiting
        }
      }
    }
  }
}
