import pino from 'pino';
import { createRuntime, exitOnConfigError, loadConfigOrExit } from '@passage/runtime';

const config = loadConfigOrExit(process.env);

const logger = pino({ level: config.LOG_LEVEL, base: { service: 'passage-worker' } });
// Embedded store: this process shares DATA_DIR with an API started with INGEST_IN_API=false and
// takes the documents it queues.
const runtime = await createRuntime(config, logger, { pollIntervalMs: 1000 }).catch(exitOnConfigError);
await runtime.queue.start();
logger.info({ dataDir: config.DATA_DIR, concurrency: config.INGEST_CONCURRENCY }, 'worker started');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'worker shutting down');
  await runtime.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
