import type { ServerResponse } from 'node:http';

/** An AbortController that fires when the client goes away before the response is complete. */
export function abortOnDisconnect(response: ServerResponse): AbortController {
  const controller = new AbortController();
  // The request's own 'close' fires once its body is read; the response's fires when the
  // connection goes away or the response is complete, which `writableFinished` tells apart.
  response.once('close', () => {
    if (!response.writableFinished) controller.abort();
  });
  return controller;
}
