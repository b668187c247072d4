import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@passage/spec';

/**
 * The request log of the whole HTTP stack (the Express routes and the answer endpoints): once the
 * response is finished, one debug line with method, URL, status and duration in ms.
 */
export function logRequest(logger: Logger, request: IncomingMessage, url: string, response: ServerResponse): void {
  const started = performance.now();
  response.once('finish', () => {
    logger.debug({ method: request.method, url, status: response.statusCode, ms: Math.round(performance.now() - started) }, 'request');
  });
}
