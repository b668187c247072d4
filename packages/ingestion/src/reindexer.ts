import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortedError,
  AppError,
  NotFoundError,
  silentLogger,
  throwIfAborted,
  type Catalog,
  type ChunkIndex,
  type GenerationSchema,
  type IngestionQueue,
  type Logger,
  type ReindexProgress,
} from '@passage/spec';

export interface ReindexerOptions {
  catalog: Catalog;
  index: ChunkIndex;
  /** Where documents are rebuilt: this process (embedded) or the workers (BullMQ). */
  queue: IngestionQueue;
  /** What the new generation is built with (this process's embedder). */
  schema: GenerationSchema;
  /** Names this reindexer in the lock, e.g. `reindex@host:pid`. */
  owner: string;
  /** How long the lock holds without renewal, ms; renewed every third of it. Default: 30000. */
  leaseMs?: number;
  /** Documents rebuilt at once. Default: the queue's own. */
  concurrency?: number;
  /** Drop the previous generations after the switch. Default: false (kept for comparison or rollback). */
  dropOld?: boolean;
  /** Wait between the switch and the drop, so that searches already under way on the old generation end, ms. Default: 5000. */
  dropGraceMs?: number;
  /** Called on every change of progress. */
  onProgress?: (progress: ReindexProgress & { knowledgeBaseId: string; targetGeneration: number }) => void;
  logger?: Logger;
}

/** One document that could not be rebuilt. */
export interface ReindexFailure {
  documentId: string;
  name: string;
  code: string;
  message: string;
}

export interface ReindexResult {
  knowledgeBaseId: string;
  fromGeneration: number;
  targetGeneration: number;
  /** True when an interrupted reindex into the same target was taken over. */
  resumed: boolean;
  /** The knowledge base now reads the target generation. */
  switched: boolean;
  /** The previous generation was dropped. */
  dropped: boolean;
  /** Ready documents the target holds at the end (rebuilt now or earlier, or written there by uploads meanwhile). */
  documents: number;
  rebuilt: number;
  failed: ReindexFailure[];
  chunksBefore: number;
  chunksAfter: number;
  elapsedMs: number;
}

/** What a dry run would do. */
export interface ReindexPlan {
  knowledgeBaseId: string;
  fromGeneration: number;
  targetGeneration: number;
  documents: number;
  chunks: number;
  from: GenerationSchema;
  to: GenerationSchema;
  /** A reindex that runs or was interrupted. */
  pending: { targetGeneration: number; running: boolean } | null;
}

/** Rounds of "rebuild what the target lacks, then try to switch": uploads meanwhile add rounds. */
const maximumRounds = 10;

/**
 * Rebuilds a knowledge base into its next index generation with the current settings, then
 * switches searches to it in one step. Searches and answers keep reading the live generation
 * until the switch; uploads that arrive meanwhile are written into both generations by their
 * ingestion (or rebuilt here when their vectors do not fit the new schema), and the catalog
 * refuses the switch while any ready document is missing from the target. One reindex per
 * knowledge base at a time (a lease that a killed process stops renewing); running it again
 * after a kill resumes it: documents already complete in the target are not rebuilt.
 */
export class Reindexer {
  readonly #options: ReindexerOptions;
  readonly #logger: Logger;

  constructor(options: ReindexerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  async plan(knowledgeBaseId: string): Promise<ReindexPlan> {
    const { catalog, index, schema } = this.#options;
    const knowledgeBase = await this.#knowledgeBase(knowledgeBaseId);
    const ready = (await catalog.listDocuments(knowledgeBaseId)).filter((document) => document.status === 'ready');
    const pending = knowledgeBase.reindex;
    return {
      knowledgeBaseId,
      fromGeneration: knowledgeBase.generation,
      targetGeneration: pending?.targetGeneration ?? knowledgeBase.generation + 1,
      documents: ready.length,
      chunks: await index.countChunks(knowledgeBaseId, knowledgeBase.generation),
      from: knowledgeBase.schema,
      to: schema,
      pending: pending === null ? null : { targetGeneration: pending.targetGeneration, running: Date.parse(pending.leaseExpiresAt) > Date.now() },
    };
  }

  async reindex(knowledgeBaseId: string, signal: AbortSignal): Promise<ReindexResult> {
    const started = performance.now();
    const { catalog, index, owner, schema } = this.#options;
    const leaseMs = this.#options.leaseMs ?? 30_000;
    const before = await this.#knowledgeBase(knowledgeBaseId);
    const chunksBefore = await index.countChunks(knowledgeBaseId, before.generation);
    const lease = await catalog.beginReindex(knowledgeBaseId, { owner, leaseMs, schema });
    const target = lease.state.targetGeneration;
    const log = { knowledgeBaseId, targetGeneration: target, owner };
    if (lease.resumed && !sameSchema(lease.state.schema, schema)) {
      await catalog.renewReindex(knowledgeBaseId, { owner, leaseMs: 0 });
      throw new AppError(
        'invalid_request',
        `An interrupted reindex of ${knowledgeBaseId} into generation ${target} was started with ${describe(lease.state.schema)}, ` +
          `but this one would build with ${describe(schema)}: run it with those settings to resume it, or with --abandon to start over`,
      );
    }
    this.#logger.info({ ...log, resumed: lease.resumed }, lease.resumed ? 'resuming the reindex' : 'reindex started');

    // The lock is kept while we work; losing it (another process took it over) stops us.
    const stop = new AbortController();
    const working = AbortSignal.any([signal, stop.signal]);
    let progress: ReindexProgress = lease.state.progress;
    const report = () => this.#options.onProgress?.({ ...progress, knowledgeBaseId, targetGeneration: target });
    const renew = async () => {
      if (!(await catalog.renewReindex(knowledgeBaseId, { owner, leaseMs, progress }))) {
        stop.abort(new AbortedError(`The reindex lock of ${knowledgeBaseId} was lost`));
      }
    };
    const heartbeat = setInterval(
      () => {
        renew().catch((error: unknown) => this.#logger.warn({ ...log, err: error }, 'could not renew the reindex lock'));
      },
      Math.max(10, Math.floor(leaseMs / 3)),
    );

    const failed = new Map<string, ReindexFailure>();
    let rebuilt = 0;
    try {
      // A fresh target starts empty: whatever an abandoned attempt left there goes.
      if (!lease.resumed) await index.dropGeneration({ knowledgeBaseId, generation: target }, working);
      await index.createGeneration({ knowledgeBaseId, generation: target }, schema, working);
      let switched: { previousGeneration: number } | null = null;
      for (let round = 1; round <= maximumRounds && switched === null; round += 1) {
        const documents = await catalog.listDocuments(knowledgeBaseId);
        const names = new Map(documents.map((document) => [document.id, document.name]));
        const ready = documents.filter((document) => document.status === 'ready');
        const done = await catalog.documentsInGeneration(knowledgeBaseId, target);
        // A fresh run rebuilds every ready document once: generation records that an abandoned
        // attempt at the same target left behind must not pass for work done.
        if (round === 1 && !lease.resumed) done.clear();
        const todo = ready.filter((document) => !done.has(document.id) && !failed.has(document.id)).map((document) => document.id);
        progress = {
          documentsTotal: ready.length,
          documentsDone: ready.length - todo.length - countIn(failed, ready),
          documentsFailed: failed.size,
          chunks: sum(done.values()),
        };
        report();
        for await (const outcome of this.#options.queue.rebuild({
          knowledgeBaseId,
          documentIds: todo,
          generation: target,
          schema,
          signal: working,
          ...(this.#options.concurrency === undefined ? {} : { concurrency: this.#options.concurrency }),
        })) {
          if (outcome.kind === 'done') {
            rebuilt += 1;
            progress = { ...progress, documentsDone: progress.documentsDone + 1, chunks: progress.chunks + outcome.chunks };
          } else if (outcome.kind === 'failed') {
            failed.set(outcome.documentId, { documentId: outcome.documentId, name: names.get(outcome.documentId) ?? '', ...outcome.error });
            progress = { ...progress, documentsFailed: failed.size };
            this.#logger.warn({ ...log, documentId: outcome.documentId, code: outcome.error.code, reason: outcome.error.message }, 'document not rebuilt');
          } else {
            // Deleted or changed meanwhile: the switch check decides whether it is still needed.
            progress = { ...progress, documentsTotal: progress.documentsTotal - 1 };
          }
          report();
        }
        throwIfAborted(working);
        if (failed.size > 0) break;
        const outcome = await catalog.switchGeneration(knowledgeBaseId, { owner, targetGeneration: target });
        if (outcome.switched) switched = outcome;
        else this.#logger.info({ ...log, missing: outcome.missing.length }, 'documents arrived meanwhile; rebuilding them before the switch');
      }
      if (switched === null) {
        // Left for a later run to resume: the lease is let go now rather than when it expires.
        await catalog.renewReindex(knowledgeBaseId, { owner, leaseMs: 0, progress });
        return await this.#result(
          {
            knowledgeBaseId,
            fromGeneration: before.generation,
            targetGeneration: target,
            resumed: lease.resumed,
            switched: false,
            dropped: false,
            rebuilt,
            failed: [...failed.values()],
            chunksBefore,
          },
          started,
        );
      }
      await index.activateGeneration({ knowledgeBaseId, generation: target });
      this.#logger.info({ ...log, previousGeneration: switched.previousGeneration }, 'switched to the new generation');
      let dropped = false;
      if (this.#options.dropOld === true) {
        await sleep(this.#options.dropGraceMs ?? 5000, undefined, { signal });
        // Every older generation goes, also one an earlier reindex without --drop-old kept
        // (dropping a generation that is gone already changes nothing).
        for (let generation = switched.previousGeneration; generation >= 1; generation -= 1) {
          await index.dropGeneration({ knowledgeBaseId, generation });
        }
        dropped = true;
      }
      return await this.#result(
        {
          knowledgeBaseId,
          fromGeneration: switched.previousGeneration,
          targetGeneration: target,
          resumed: lease.resumed,
          switched: true,
          dropped,
          rebuilt,
          failed: [],
          chunksBefore,
        },
        started,
      );
    } catch (error) {
      if (working.aborted) {
        // Interrupted: the lease runs out and a later run resumes from what is recorded.
        throw working.reason instanceof AppError ? working.reason : new AbortedError('The reindex was interrupted');
      }
      throw error;
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Forgets an interrupted reindex (its lease must have run out) and drops what it built. */
  async abandon(knowledgeBaseId: string): Promise<number | null> {
    const { catalog, index, owner, schema } = this.#options;
    const knowledgeBase = await this.#knowledgeBase(knowledgeBaseId);
    if (knowledgeBase.reindex === null) return null;
    const lease = await catalog.beginReindex(knowledgeBaseId, { owner, leaseMs: this.#options.leaseMs ?? 30_000, schema });
    await catalog.abandonReindex(knowledgeBaseId, owner);
    await index.dropGeneration({ knowledgeBaseId, generation: lease.state.targetGeneration });
    return lease.state.targetGeneration;
  }

  async #knowledgeBase(knowledgeBaseId: string) {
    const knowledgeBase = await this.#options.catalog.getKnowledgeBase(knowledgeBaseId);
    if (knowledgeBase === null) throw new NotFoundError('knowledge_base_not_found', `Knowledge base ${knowledgeBaseId} does not exist`);
    return knowledgeBase;
  }

  async #result(run: Omit<ReindexResult, 'documents' | 'chunksAfter' | 'elapsedMs'>, started: number): Promise<ReindexResult> {
    const { catalog, index } = this.#options;
    const { knowledgeBaseId } = run;
    const [documents, chunksAfter] = await Promise.all([
      catalog.documentsInGeneration(knowledgeBaseId, run.targetGeneration),
      index.countChunks(knowledgeBaseId, run.targetGeneration),
    ]);
    return { ...run, documents: documents.size, chunksAfter, elapsedMs: Math.round(performance.now() - started) };
  }
}

function sameSchema(left: GenerationSchema, right: GenerationSchema): boolean {
  return left.embeddingModel === right.embeddingModel && left.denseDimensions === right.denseDimensions;
}

function describe(schema: GenerationSchema): string {
  return schema.embeddingModel === null ? 'no embedder' : `${schema.embeddingModel} (${schema.denseDimensions} dimensions)`;
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

function countIn(failed: Map<string, ReindexFailure>, documents: Array<{ id: string }>): number {
  return documents.filter((document) => failed.has(document.id)).length;
}
