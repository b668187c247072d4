import { once } from 'node:events';
import { createServer } from 'node:http';
import pino from 'pino';
import { createRuntime, exitOnConfigError, loadConfigOrExit } from '@passage/runtime';
import { RedisRateLimiter } from '@passage/store-redis';
import { createApp } from './app.js';
import { startEventLoopMonitor } from './event-loop-monitor.js';
import { MemoryRateLimiter } from './memory-rate-limiter.js';
import { ingestionMetrics, observeRuntime } from './metrics.js';
import { rateLimitSettings } from './rate-limit-settings.js';
import { shutDownGracefully } from './shutdown.js';

const config = loadConfigOrExit(process.env);

const logger = pino({ level: config.LOG_LEVEL, base: { service: 'passage-api' } });

const loopbackHost = config.HOST === 'localhost' || config.HOST === '::1' || /^127(?:\.\d{1,3}){3}$/.test(config.HOST);
if (config.ADMIN_API_KEY === undefined && !loopbackHost && !config.AUTH_DISABLED) {
  // Anyone who can reach the address could read, upload and delete: refuse rather than expose it.
  console.error(
    `Refusing to listen on ${config.HOST} without authentication: set ADMIN_API_KEY (see README, Security), ` +
      'listen on 127.0.0.1, or set AUTH_DISABLED=true when something in front of the service authenticates.',
  );
  process.exit(2);
}

const runtime = await createRuntime(config, logger, { ingestionObserver: ingestionMetrics }).catch(exitOnConfigError);
const eventLoop = startEventLoopMonitor();
observeRuntime(runtime.catalog, eventLoop);
const settings = rateLimitSettings(config);
const rateLimiter =
  settings === null
    ? null
    : config.REDIS_URL === undefined
      ? new MemoryRateLimiter(settings)
      : new RedisRateLimiter({ url: config.REDIS_URL, cluster: config.REDIS_CLUSTER, keyPrefix: config.QUEUE_PREFIX, logger, ...settings });
const server = createServer(createApp(runtime, logger, { rateLimiter, eventLoop }));
server.listen(config.PORT, config.HOST);
await once(server, 'listening');
const address = server.address();
const port = typeof address === 'object' && address !== null ? address.port : config.PORT;
const authentication =
  config.ADMIN_API_KEY !== undefined
    ? 'API keys (ADMIN_API_KEY and the keys made with it)'
    : config.AUTH_DISABLED
      ? 'none (AUTH_DISABLED=true: whatever is in front of the service must authenticate)'
      : 'none: no ADMIN_API_KEY, so only requests to a loopback name (localhost, 127.0.0.1) are answered';
logger.info(
  { host: config.HOST, port, dataDir: config.DATA_DIR, answers: runtime.chatModel ? `llm (${runtime.chatModel.name})` : 'extractive', authentication },
  `listening on http://${config.HOST}:${port}`,
);
if (config.ADMIN_API_KEY === undefined) logger.warn({ authentication }, 'authentication is off');
// Ingestion starts after the server listens, so resuming a backlog never delays /healthz.
if (config.INGEST_IN_API) await runtime.queue.start();
else logger.info({}, 'ingestion left to worker processes (INGEST_IN_API=false)');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  let code = 0;
  try {
    await shutDownGracefully(
      {
        server,
        logger,
        graceMs: config.SHUTDOWN_GRACE_MS,
        release: async () => {
          eventLoop.stop();
          await rateLimiter?.close();
          await runtime.close();
        },
      },
      signal,
    );
    logger.info({ signal }, 'stopped');
  } catch (error) {
    code = 1;
    logger.error({ err: error, signal }, 'shutdown failed');
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
