import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Runtime } from '@passage/runtime';
import { InvalidRequestError, type Logger } from '@passage/spec';
import { fromFrameworkError, sendError, sendOpenAiError, statusOf } from './http-errors.js';
import { readJsonBody } from './read-json-body.js';
import { askHandler } from './routes/ask-route.js';
import { chatCompletionHandler } from './routes/chat-completions-routes.js';

/** Largest JSON request body, as for the Express routes. */
const bodyLimitBytes = 1024 * 1024;

interface Endpoint {
  pattern: RegExp;
  errorShape: 'passage' | 'openai';
  handle(match: RegExpExecArray, body: unknown, request: IncomingMessage, response: ServerResponse): Promise<void>;
}

/**
 * The two answer endpoints, `POST …/ask` and `POST /v1/chat/completions`, served before Express.
 * They hold a connection for the whole answer, and Express's per-request machinery (routing
 * through every router, its body parser, the request and response prototypes) cost about 1 ms of
 * CPU per streamed answer at 100 concurrent streams, a fifth of the total: this path reads and
 * validates the body and maps errors exactly as the Express routes do. Returns a listener that
 * answers true when it took the request.
 */
export function answerEndpoints(runtime: Runtime, logger: Logger): (request: IncomingMessage, response: ServerResponse) => boolean {
  const ask = askHandler(runtime);
  const chatCompletion = chatCompletionHandler(runtime);
  const endpoints: Endpoint[] = [
    {
      pattern: /^\/v1\/knowledge-bases\/([^/]+)\/ask\/?$/i,
      errorShape: 'passage',
      handle: (match, body, request, response) => ask(decodeParameter(match[1] ?? ''), body, request, response),
    },
    {
      pattern: /^\/v1\/chat\/completions\/?$/i,
      errorShape: 'openai',
      handle: (_match, body, request, response) => chatCompletion(body, request, response),
    },
  ];

  const serve = async (endpoint: Endpoint, match: RegExpExecArray, request: IncomingMessage, response: ServerResponse) => {
    const started = performance.now();
    response.once('finish', () => {
      logger.debug({ method: request.method, url: request.url, status: response.statusCode, ms: Math.round(performance.now() - started) }, 'request');
    });
    try {
      await endpoint.handle(match, await readJsonBody(request, bodyLimitBytes), request, response);
    } catch (error) {
      const appError = fromFrameworkError(error);
      if (statusOf(appError.code) >= 500) logger.error({ err: error, method: request.method, url: request.url }, 'request failed');
      if (response.headersSent) {
        response.destroy();
        return;
      }
      if (endpoint.errorShape === 'openai') sendOpenAiError(response, appError);
      else sendError(response, appError);
    }
  };

  return (request, response) => {
    if (request.method !== 'POST') return false;
    const url = request.url ?? '';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    for (const endpoint of endpoints) {
      const match = endpoint.pattern.exec(path);
      if (match === null) continue;
      void serve(endpoint, match, request, response);
      return true;
    }
    return false;
  };
}

function decodeParameter(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new InvalidRequestError(`Malformed path parameter: ${value}`);
  }
}
