import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { documentStatuses, estimateTokens, type Catalog } from '@passage/spec';
import type { AnswerServiceEvent } from '@passage/answering';
import { registerIngestionMetrics } from '@passage/runtime';
import type { EventLoopMonitor } from './event-loop-monitor.js';

/**
 * The service's Prometheus metrics (prom-client: the standard Node client, with the process and
 * runtime metrics built in), in one registry per process. Everything is named `passage_…`.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry, prefix: 'passage_' });

export const requestDuration = new Histogram({
  name: 'passage_http_request_duration_seconds',
  help: 'HTTP requests by method, route (the path template) and status, and how long they took',
  labelNames: ['method', 'route', 'status'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
  registers: [metricsRegistry],
});

const timeToFirstToken = new Histogram({
  name: 'passage_answer_first_token_seconds',
  help: 'Time from the question to the first text of the answer',
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
  registers: [metricsRegistry],
});

const tokensStreamed = new Counter({
  name: 'passage_answer_tokens_total',
  help: 'Answer tokens sent to clients (estimated from the text, as usage is)',
  registers: [metricsRegistry],
});

const answersEnded = new Counter({
  name: 'passage_answers_total',
  help: 'Answers by outcome: `end`, or the code of the error that ended them (llm_* and embedding_failed among them)',
  labelNames: ['outcome'],
  registers: [metricsRegistry],
});

export const openAnswerStreams = new Gauge({
  name: 'passage_open_answer_streams',
  help: 'Answers in progress (streamed or not)',
  registers: [metricsRegistry],
});

/**
 * Feeds the ingestion metrics from the pipeline of this process (INGEST_IN_API=true); worker
 * processes export theirs on WORKER_METRICS_PORT. Errors of embedding a question show in
 * `passage_answers_total` under their code.
 */
export const ingestionMetrics = registerIngestionMetrics(metricsRegistry);

let documentsCatalog: Catalog | null = null;
new Gauge({
  name: 'passage_documents',
  help: 'Documents by status, read from the catalog at each scrape',
  labelNames: ['status'],
  registers: [metricsRegistry],
  async collect() {
    this.reset();
    if (documentsCatalog === null) return;
    for (const status of documentStatuses) this.set({ status }, (await documentsCatalog.listDocumentsByStatus([status])).length);
  },
});

new Gauge({
  name: 'passage_ingestion_queue_depth',
  help: 'Documents waiting for ingestion (queued in the catalog, which both queues follow)',
  registers: [metricsRegistry],
  async collect() {
    this.set(documentsCatalog === null ? 0 : (await documentsCatalog.listDocumentsByStatus(['queued'])).length);
  },
});

let eventLoopMonitor: EventLoopMonitor | null = null;
new Gauge({
  name: 'passage_event_loop_delay_seconds',
  help: 'Event-loop delay since the previous scrape (event-loop-monitor.ts), by quantile',
  labelNames: ['quantile'],
  registers: [metricsRegistry],
  collect() {
    this.reset();
    if (eventLoopMonitor === null) return;
    const stats = eventLoopMonitor.stats();
    this.set({ quantile: '0.5' }, stats.p50Ms / 1000);
    this.set({ quantile: '0.99' }, stats.p99Ms / 1000);
    this.set({ quantile: '1' }, stats.maxMs / 1000);
  },
});

/** Where the catalog-backed gauges read, and the event-loop monitor to report (main.ts). */
export function observeRuntime(catalog: Catalog, monitor: EventLoopMonitor | null): void {
  documentsCatalog = catalog;
  eventLoopMonitor = monitor;
}

/** Counts what an answer event says: tokens of text, the time to the first one, and how it ended. */
export function observeAnswerEvent(event: AnswerServiceEvent): void {
  switch (event.type) {
    case 'text-delta':
      tokensStreamed.inc(estimateTokens(event.delta));
      return;
    case 'end':
      answersEnded.inc({ outcome: 'end' });
      if (event.timings.firstTokenMs !== null) timeToFirstToken.observe(event.timings.firstTokenMs / 1000);
      return;
    case 'error':
      answersEnded.inc({ outcome: event.code });
      return;
    default:
      return;
  }
}
