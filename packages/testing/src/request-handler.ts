import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/**
 * An async request handler as a listener for `createServer`, which ignores the promise: a failure
 * destroys the response (the client sees the connection cut) instead of becoming an unhandled rejection.
 */
export function requestHandler(handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>): RequestListener {
  return (request, response) => {
    handle(request, response).catch((error: unknown) => response.destroy(error instanceof Error ? error : new Error(String(error))));
  };
}
