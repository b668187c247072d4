import { InProcessQueue, type IngestionService } from '@passage/ingestion';
import type { Catalog, Config, IngestionQueue, Logger } from '@passage/spec';

export interface QueueDependencies {
  catalog: Catalog;
  ingestion: IngestionService;
  logger: Logger;
  /** Poll the catalog for queued documents, ms (a separate worker process). Default: off. */
  pollIntervalMs?: number;
}

/** The ingestion queue the configuration names. Default: in-process, durable through the catalog. */
export function createQueue(config: Config, dependencies: QueueDependencies): IngestionQueue {
  return new InProcessQueue({
    catalog: dependencies.catalog,
    service: dependencies.ingestion,
    concurrency: config.INGEST_CONCURRENCY,
    logger: dependencies.logger,
    ...(dependencies.pollIntervalMs === undefined ? {} : { pollIntervalMs: dependencies.pollIntervalMs }),
  });
}
