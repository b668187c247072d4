import type { IngestionObserver } from '@passage/ingestion';
import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * Registers the ingestion metrics (stage durations, embedder errors) in a prom-client registry and
 * returns the observer that feeds them, for `createRuntime`'s `ingestionObserver`. One definition
 * for the API (INGEST_IN_API=true) and the worker processes (WORKER_METRICS_PORT).
 */
export function registerIngestionMetrics(registry: Registry): IngestionObserver {
  const stageDuration = new Histogram({
    name: 'passage_ingestion_stage_duration_seconds',
    help: 'How long each ingestion stage of a document took when it ended without error: parsing (OCR included), chunking (with term analysis), embedding, indexing',
    labelNames: ['stage'],
    buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600],
    registers: [registry],
  });
  const embedderErrors = new Counter({
    name: 'passage_embedder_errors_total',
    help: 'Embedding requests of ingestion that failed (after the client retried), by error code',
    labelNames: ['code'],
    registers: [registry],
  });
  return {
    onStageFinished(stage, seconds) {
      stageDuration.observe({ stage }, seconds);
    },
    onEmbedderError(code) {
      embedderErrors.inc({ code });
    },
  };
}
