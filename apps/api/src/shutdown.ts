import type { Server } from 'node:http';
import type { Logger } from '@passage/spec';
import { answerStreams } from './answer-streams.js';

/** Whether this process is shutting down: from then on the gate answers new requests `503 shutting_down`. */
export const serverState = { stopping: false };

export interface GracefulShutdownOptions {
  server: Server;
  logger: Logger;
  /** SHUTDOWN_GRACE_MS: how long open answers may run on, ms. */
  graceMs: number;
  /** Closes what the server used (stores, queue, rate limiter), once no answer is open. */
  release: () => Promise<void>;
}

/**
 * A graceful shutdown: stop accepting connections (and answer requests that still come on open
 * ones with 503), let the answers in progress finish for up to `graceMs`, end the rest with an
 * `error` event `shutting_down` (answer-streams.ts), then release the stores and the queue (whose
 * jobs finish or are released for another worker) and close the last connections.
 */
export async function shutDownGracefully(options: GracefulShutdownOptions, signal: string): Promise<void> {
  const { server, logger } = options;
  serverState.stopping = true;
  logger.info({ signal, openAnswers: answerStreams.open, graceMs: options.graceMs }, 'shutting down');
  server.close();
  server.closeIdleConnections();
  const { finished, cut } = await answerStreams.drain(options.graceMs);
  logger.info({ finished, cut }, 'answers drained');
  await options.release();
  server.closeAllConnections();
}
