import { once } from 'node:events';
import { createServer } from 'node:http';
import pino from 'pino';
import { createRuntime, exitOnConfigError, loadConfigOrExit } from '@passage/runtime';
import { createApp } from './app.js';
import { eventLoopEndpoint } from './event-loop-endpoint.js';
import { startEventLoopMonitor } from './event-loop-monitor.js';

const config = loadConfigOrExit(process.env);

const logger = pino({ level: config.LOG_LEVEL, base: { service: 'passage-api' } });
const runtime = await createRuntime(config, logger).catch(exitOnConfigError);
const eventLoop = startEventLoopMonitor();
const eventLoopStats = eventLoopEndpoint(eventLoop);
const app = createApp(runtime, logger);
const server = createServer((request, response) => {
  if (!eventLoopStats(request, response)) app(request, response);
});
server.listen(config.PORT, config.HOST);
await once(server, 'listening');
const address = server.address();
const port = typeof address === 'object' && address !== null ? address.port : config.PORT;
logger.info(
  { host: config.HOST, port, dataDir: config.DATA_DIR, answers: runtime.chatModel ? `llm (${config.LLM_MODEL})` : 'extractive' },
  `listening on http://${config.HOST}:${port}`,
);
// Ingestion starts after the server listens, so resuming a backlog never delays /healthz.
if (config.INGEST_IN_API) await runtime.queue.start();
else logger.info({}, 'ingestion left to worker processes (INGEST_IN_API=false)');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  server.close();
  server.closeAllConnections();
  eventLoop.stop();
  await runtime.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
