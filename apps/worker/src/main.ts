import pino from 'pino';
import type { AddressInfo } from 'node:net';
import { createRuntime, exitOnConfigError, loadConfigOrExit } from '@passage/runtime';
import { serveMetrics, workerMetrics } from './metrics-server.js';

const config = loadConfigOrExit(process.env);

const logger = pino({ level: config.LOG_LEVEL, base: { service: 'passage-worker' } });
// With REDIS_URL the worker consumes the BullMQ queue that API replicas fill (any number of workers
// may run). Without it, it shares DATA_DIR with an API started with INGEST_IN_API=false and polls
// the embedded catalog for the documents it queues.
const metrics = config.WORKER_METRICS_PORT === undefined ? null : workerMetrics();
const runtime = await createRuntime(config, logger, {
  pollIntervalMs: 1000,
  answering: false,
  ...(metrics === null ? {} : { ingestionObserver: metrics.observer }),
}).catch(exitOnConfigError);
const metricsServer =
  metrics === null || config.WORKER_METRICS_PORT === undefined
    ? null
    : await serveMetrics({ registry: metrics.registry, host: config.HOST, port: config.WORKER_METRICS_PORT, token: config.METRICS_TOKEN });
if (metricsServer !== null) {
  const { port } = metricsServer.address() as AddressInfo;
  logger.info({ host: config.HOST, metricsPort: port, token: config.METRICS_TOKEN !== undefined }, `metrics on http://${config.HOST}:${port}/metrics`);
}
await runtime.queue.start();
const distributed = config.REDIS_URL !== undefined;
logger.info(
  {
    queue: distributed ? 'bullmq' : 'embedded',
    concurrency: distributed ? config.WORKER_CONCURRENCY : config.INGEST_CONCURRENCY,
    dataDir: config.DATA_DIR,
    ...(distributed ? { queuePrefix: config.QUEUE_PREFIX } : {}),
  },
  'worker started',
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'worker shutting down');
  // Running documents are interrupted and handed back to the queue for another worker.
  metricsServer?.close();
  await runtime.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
