import type { IncomingMessage, ServerResponse } from 'node:http';

/** Methods that change something: refused from a browser origin that is not allowed, even without a preflight. */
const stateChanging = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** What the origin check decided. */
export type OriginDecision = 'continue' | 'preflight-answered' | 'refused';

/**
 * CORS and the origin check. No `Origin` header (curl, SDKs, servers) or the page's own origin
 * (the web page at `/`): allowed. A browser origin listed in CORS_ORIGINS: allowed, with CORS
 * headers, and its preflights answered. Any other origin: its preflights get no CORS headers (the
 * browser then refuses), and its state-changing requests are refused outright (403), since a
 * plain form POST needs no preflight and would otherwise reach the handler.
 */
export function originCheck(allowedOrigins: readonly string[]): (request: IncomingMessage, response: ServerResponse) => OriginDecision {
  const allowed = new Set(allowedOrigins.map((origin) => origin.toLowerCase().replace(/\/$/, '')));
  return (request, response) => {
    const origin = request.headers.origin;
    if (origin === undefined || isSameOrigin(origin, request.headers.host)) return 'continue';
    const listed = allowed.has(origin.toLowerCase());
    const preflight = request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
    if (listed) {
      response.setHeader('Access-Control-Allow-Origin', origin);
      response.setHeader('Vary', 'Origin');
      response.setHeader('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After');
      if (preflight) {
        response.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE');
        response.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Request-Id');
        response.setHeader('Access-Control-Max-Age', '600');
        response.statusCode = 204;
        response.end();
        return 'preflight-answered';
      }
      return 'continue';
    }
    if (preflight) {
      response.statusCode = 204;
      response.end();
      return 'preflight-answered';
    }
    return stateChanging.has(request.method ?? '') ? 'refused' : 'continue';
  };
}

/** Whether `Origin` names the host the request was sent to (scheme aside: the page and the API share a port). */
function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}
