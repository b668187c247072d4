import pino from 'pino';
import { createRuntime, exitOnConfigError, loadConfigOrExit } from '@passage/runtime';

const config = loadConfigOrExit(process.env);

const logger = pino({ level: config.LOG_LEVEL, base: { service: 'passage-worker' } });
// With REDIS_URL the worker consumes the BullMQ queue that API replicas fill (any number of workers
// may run). Without it, it shares DATA_DIR with an API started with INGEST_IN_API=false and polls
// the embedded catalog for the documents it queues.
const runtime = await createRuntime(config, logger, { pollIntervalMs: 1000, chatModel: false }).catch(exitOnConfigError);
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
  await runtime.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
