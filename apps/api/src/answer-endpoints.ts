import type { IncomingMessage, ServerResponse } from 'node:http';
import { match } from 'path-to-regexp';
import { InvalidRequestError, type Logger } from '@passage/spec';
import { respondWithError, type ErrorShape } from './http-errors.js';
import { readJsonBody } from './read-json-body.js';
import { decodeParameters } from './route-match.js';

/** A route served before Express, declared in app.ts's table of routes. */
export interface AnswerRoute {
  method: 'POST';
  /** In Express's path syntax, matched as Express 5 matches it (see answerEndpoints). */
  path: string;
  /** The shape of its errors, as the Express error handler of the same path has it. */
  errorShape: ErrorShape;
  /** Handles a request whose JSON body has been read; `parameters` are the decoded path parameters. */
  handle(parameters: Record<string, string>, body: unknown, request: IncomingMessage, response: ServerResponse): Promise<void>;
}

export interface AnswerEndpointsOptions {
  logger: Logger;
  /** Largest JSON body, bytes: the limit of the Express routes. */
  bodyLimitBytes: number;
}

/**
 * The fast path of the HTTP stack, for the routes that hold a connection for a whole answer
 * (`POST …/ask`, `POST /v1/chat/completions`): Express's per-request machinery (routing through
 * every router, its request and response prototypes, the middleware chain) cost about 1 ms of CPU
 * per streamed answer, a fifth of the total. It is only a dispatcher: it matches the routes with
 * Express's own matcher (path-to-regexp 8: case-insensitive, optional trailing slash, query string
 * ignored) and shares with the Express app the body reader and its limit, the request log and the
 * error responses (`respondWithError`, also behind Express's error handler). Returns a listener
 * that answers true when it took the request; anything else (another method, another path) is
 * Express's.
 */
export function answerEndpoints(routes: AnswerRoute[], options: AnswerEndpointsOptions): (request: IncomingMessage, response: ServerResponse) => boolean {
  const matchers = routes.map((route) => ({ route, match: match(route.path, { decode: false }) }));
  const { logger, bodyLimitBytes } = options;

  const serve = async (
    route: AnswerRoute,
    rawParameters: Partial<Record<string, string | string[]>>,
    request: IncomingMessage,
    response: ServerResponse,
    url: string,
  ) => {
    try {
      const parameters = decodeParameters(rawParameters, (value) => {
        throw new InvalidRequestError(`Malformed path parameter: ${value}`);
      });
      await route.handle(parameters, await readJsonBody(request, bodyLimitBytes, response), request, response);
    } catch (error) {
      // A stream that had started cannot carry an error status any more: cut it.
      if (!respondWithError(logger, route.errorShape, error, request, url, response)) response.destroy();
    } finally {
      // Every path, a client that went away included: nothing more is done for this request.
      logger.debug({ method: request.method, url, completed: response.writableFinished }, 'answer work ended');
    }
  };

  return (request, response) => {
    const url = request.url ?? '';
    for (const { route, match: matchPath } of matchers) {
      if (request.method !== route.method) continue;
      const query = url.indexOf('?');
      const matched = matchPath(query < 0 ? url : url.slice(0, query));
      if (matched === false) continue;
      void serve(route, matched.params, request, response, url);
      return true;
    }
    return false;
  };
}
