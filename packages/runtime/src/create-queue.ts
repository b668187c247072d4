import { InProcessQueue, type IngestionService } from '@passage/ingestion';
import { BullMqIngestionQueue } from '@passage/queue-bullmq';
import type { Catalog, Config, IngestionQueue, Logger } from '@passage/spec';
import { createRedisClient } from '@passage/store-redis';

export interface QueueDependencies {
  catalog: Catalog;
  ingestion: IngestionService;
  logger: Logger;
  /** Poll the catalog for queued documents, ms (a worker process of the embedded default). Default: off. */
  pollIntervalMs?: number;
}

/**
 * The ingestion queue the configuration names. With REDIS_URL: BullMQ, one job per document under
 * QUEUE_PREFIX; every process enqueues, and those that call `start()` (workers, or the API with
 * INGEST_IN_API=true) consume WORKER_CONCURRENCY documents at a time. With REDIS_CLUSTER its
 * connections are Cluster clients of the store's factory and its keys are under `{QUEUE_PREFIX}`;
 * on a standalone Redis BullMQ connects itself, under QUEUE_PREFIX as ever. Default: in-process,
 * durable through the catalog, INGEST_CONCURRENCY at a time.
 */
export function createQueue(config: Config, dependencies: QueueDependencies): IngestionQueue {
  const url = config.REDIS_URL;
  if (url !== undefined) {
    return new BullMqIngestionQueue({
      url,
      ...(config.REDIS_CLUSTER
        ? {
            cluster: true,
            connect: (purpose: { connectionName: string; maxRetriesPerRequest: number | null }) => createRedisClient({ url, cluster: true, ...purpose }),
          }
        : {}),
      prefix: config.QUEUE_PREFIX,
      ingestion: dependencies.ingestion,
      catalog: dependencies.catalog,
      concurrency: config.WORKER_CONCURRENCY,
      logger: dependencies.logger,
    });
  }
  return new InProcessQueue({
    catalog: dependencies.catalog,
    service: dependencies.ingestion,
    concurrency: config.INGEST_CONCURRENCY,
    logger: dependencies.logger,
    ...(dependencies.pollIntervalMs === undefined ? {} : { pollIntervalMs: dependencies.pollIntervalMs }),
  });
}
