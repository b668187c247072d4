import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A client's own id is kept when it is short and plain; anything else is replaced, so that logs stay clean. */
const acceptedRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's `X-Request-Id` when acceptable, else a new UUID. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && acceptedRequestId.test(given) ? given : randomUUID();
}
