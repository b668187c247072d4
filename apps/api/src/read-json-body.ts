import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { InvalidRequestError } from '@passage/spec';
import { hasBody, readLimitedBody } from './body-limit.js';

const jsonMediaType = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

function isJson(request: IncomingMessage): boolean {
  return jsonMediaType.test(request.headers['content-type'] ?? '');
}

async function parseJsonBody(request: IncomingMessage, limitBytes: number, response: ServerResponse | undefined): Promise<unknown> {
  const body = await readLimitedBody(request, limitBytes, response);
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new InvalidRequestError('The request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null) throw new InvalidRequestError('The request body is not valid JSON');
  return value;
}

/**
 * Reads a JSON request body for the routes served without Express, as `jsonBody` does for the
 * others: only for a JSON content type (anything else reads as no body), at most `limitBytes`
 * (refused as the bytes arrive, see readLimitedBody), an object or an array. An empty body is `{}`.
 * Pass `response` so that a refused body closes the connection after the 413.
 */
export async function readJsonBody(request: IncomingMessage, limitBytes: number, response?: ServerResponse): Promise<unknown> {
  if (!isJson(request)) {
    request.resume();
    return undefined;
  }
  return parseJsonBody(request, limitBytes, response);
}

/**
 * Express middleware in place of `express.json()`: a request with a JSON content type and a body
 * gets `request.body` parsed as readJsonBody does; any other request is left unread for the next
 * handler. `limitBytes`: largest body, in bytes.
 */
export function jsonBody(limitBytes: number): RequestHandler {
  return (request, response, next) => {
    if (!isJson(request) || !hasBody(request)) {
      next();
      return;
    }
    parseJsonBody(request, limitBytes, response).then((body) => {
      request.body = body;
      next();
    }, next);
  };
}
