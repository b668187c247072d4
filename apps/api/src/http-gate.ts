import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, NotFoundError, type Logger, type RateLimiter } from '@passage/spec';
import { apiRoutes, type ApiRoute } from './api-routes.js';
import { bearerToken, hasScope, secretsEqual, type Authenticator, type Principal } from './authenticate.js';
import { discardBody, hasBody } from './body-limit.js';
import { originCheck } from './cors.js';
import { isLoopbackHost } from './host-check.js';
import { respondWithError, type ErrorShape } from './http-errors.js';
import { requestDuration } from './metrics.js';
import { setRequestContext, type RequestContext } from './request-context.js';
import { requestIdOf } from './request-id.js';
import { routeMatcher } from './route-match.js';
import { serverState } from './shutdown.js';

export interface HttpGateOptions {
  logger: Logger;
  authenticator: Authenticator;
  /** CORS_ORIGINS. */
  corsOrigins: readonly string[];
  /** Per caller; null: no rate limit (RATE_LIMIT_PER_MINUTE=0). */
  rateLimiter: RateLimiter | null;
  /** MAX_STREAMS_PER_KEY: answers one key may have in progress at once (no cap without keys). */
  maxStreamsPerCaller: number;
  /** METRICS_TOKEN; undefined: `/metrics` takes an admin key (or nothing, without keys). */
  metricsToken: string | undefined;
  /** Answer only requests whose `Host` is a loopback name: no keys, and AUTH_DISABLED not set. */
  loopbackOnly: boolean;
  /** LOG_QUESTIONS: the request log line carries the question. */
  logQuestions: boolean;
}

/** Most bytes of a refused request's body read and thrown away: 1 MiB. */
const refusedBodyLimitBytes = 1024 * 1024;

const jsonMediaType = /^application\/json\s*(?:;|$)/i;
const multipartMediaType = /^multipart\/form-data\s*(?:;|$)/i;

/**
 * What every request passes before a handler sees it, in this order: a request id (taken from
 * `X-Request-Id` or made, and returned); without keys (and without AUTH_DISABLED), the `Host` check (loopback names only);
 * the origin check (cors.ts); during a shutdown, 503 `shutting_down`; the route table (an unknown path under /v1 is a 404, a known path
 * with another method a 405, both in the route's error shape); for a JSON route a body of another
 * media type is a 415, for the upload route one that is not multipart; authentication and the
 * route's scope and knowledge base; the caller's rate limit and, for answers, its open streams.
 * On the way out it writes the one request log line (info) and the latency metric.
 *
 * Returns a listener that calls `next` when the request may go on.
 */
export function httpGate(options: HttpGateOptions): (request: IncomingMessage, response: ServerResponse, next: () => void) => void {
  const matchRoute = routeMatcher(apiRoutes);
  const checkOrigin = originCheck(options.corsOrigins);
  const openStreams = new Map<string, number>();
  const { logger, authenticator } = options;

  const refuse = (request: IncomingMessage, response: ServerResponse, shape: ErrorShape, error: AppError) => {
    if (error.code === 'unauthorized' && !response.headersSent) response.setHeader('WWW-Authenticate', 'Bearer');
    respondWithError(logger, shape, error, request, request.url ?? '', response);
    // The body of a refused request is read and thrown away (so that a client that sends it all
    // before reading gets the answer), up to a limit past which the connection is cut.
    if (hasBody(request) && !request.complete) discardBody(request, refusedBodyLimitBytes);
  };

  const admit = async (request: IncomingMessage, response: ServerResponse, context: RequestContext, route: ApiRoute, parameters: Record<string, string>) => {
    const shape = route.errorShape;
    if (route.access === 'public') return true;
    if (route.access === 'metrics') {
      const token = bearerToken(request);
      if (options.metricsToken !== undefined && token !== undefined && secretsEqual(token, options.metricsToken)) return true;
      const principal = await authenticator.authenticate(request);
      context.principal = principal;
      if (!hasScope(principal, 'admin')) throw forbidden('The metrics need METRICS_TOKEN or a key with the admin scope');
      return true;
    }
    const principal = await authenticator.authenticate(request);
    context.principal = principal;
    if (!hasScope(principal, route.access)) throw forbidden(`This needs a key with the ${route.access} scope`);
    if (route.unrestrictedKey === true && principal.knowledgeBases !== null) throw forbidden('A key limited to knowledge bases cannot do this');
    const knowledgeBaseId = route.knowledgeBaseParameter === undefined ? undefined : parameters[route.knowledgeBaseParameter];
    if (knowledgeBaseId !== undefined && principal.knowledgeBases !== null && !principal.knowledgeBases.has(knowledgeBaseId)) {
      // The same answer as for a knowledge base that does not exist: nothing tells them apart.
      throw new NotFoundError(
        'knowledge_base_not_found',
        shape === 'openai'
          ? `The model \`${knowledgeBaseId}\` does not exist: no knowledge base has that id`
          : `Knowledge base ${knowledgeBaseId} does not exist`,
      );
    }
    const caller = callerOf(principal, request);
    if (options.rateLimiter !== null) {
      const decision = await options.rateLimiter.take(caller);
      if (!decision.allowed) {
        throw new AppError('rate_limited', `Too many requests for this key (or address); retry after ${decision.retryAfterSeconds} s`, {
          retryable: true,
          retryAfterSeconds: decision.retryAfterSeconds,
        });
      }
    }
    if (route.answerStream === true && principal.keyId !== null) {
      const open = openStreams.get(caller) ?? 0;
      if (open >= options.maxStreamsPerCaller) {
        throw new AppError('rate_limited', `Too many answers in progress for this key (at most ${options.maxStreamsPerCaller} at once)`, {
          retryable: true,
          retryAfterSeconds: 1,
        });
      }
      openStreams.set(caller, open + 1);
      response.once('close', () => {
        const left = (openStreams.get(caller) ?? 1) - 1;
        if (left <= 0) openStreams.delete(caller);
        else openStreams.set(caller, left);
      });
    }
    return true;
  };

  return (request, response, next) => {
    const started = performance.now();
    const requestId = requestIdOf(request);
    response.setHeader('X-Request-Id', requestId);
    const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
    const matched = matchRoute(request.method ?? 'GET', path);
    const context: RequestContext = { requestId, route: matched.kind === 'none' ? null : matched.route, principal: null };
    setRequestContext(request, context);
    // 'close', not 'finish': a request whose client went away is logged too, with status 499.
    response.once('close', () => {
      const ms = performance.now() - started;
      const status = response.writableFinished ? response.statusCode : 499;
      const route =
        matched.kind === 'route' ? matched.route.path : matched.kind === 'method' ? matched.route.path : path.startsWith('/v1') ? 'unknown' : 'static';
      requestDuration.observe({ method: request.method ?? '', route, status: String(status) }, ms / 1000);
      logger.info(
        {
          requestId,
          method: request.method,
          route,
          status,
          ms: Math.round(ms),
          keyId: context.principal?.keyId ?? null,
          ...(options.logQuestions && context.question !== undefined ? { question: context.question } : {}),
        },
        'request',
      );
    });
    const shape: ErrorShape = matched.kind === 'none' ? (path.startsWith('/v1/chat/') ? 'openai' : 'passage') : matched.route.errorShape;

    if (options.loopbackOnly && !isLoopbackHost(request.headers.host)) {
      refuse(request, response, shape, forbidden('Without API keys this service answers only requests to localhost or 127.0.0.1 (set ADMIN_API_KEY)'));
      return;
    }
    const origin = checkOrigin(request, response);
    if (origin === 'preflight-answered') return;
    if (origin === 'refused') {
      refuse(request, response, shape, forbidden(`Requests from the origin ${truncate(request.headers.origin ?? '')} are not allowed (CORS_ORIGINS)`));
      return;
    }
    if (serverState.stopping && matched.kind !== 'none' && matched.route.access !== 'public') {
      response.setHeader('Connection', 'close');
      refuse(request, response, shape, new AppError('shutting_down', 'The server is shutting down', { retryable: true, retryAfterSeconds: 1 }));
      return;
    }
    if (matched.kind === 'none') {
      if (path === '/v1' || path.startsWith('/v1/')) {
        refuse(request, response, shape, new NotFoundError('not_found', `No route for ${request.method ?? ''} ${truncate(path)}`));
        return;
      }
      next(); // outside the API: the web page, or Express's 404
      return;
    }
    if (matched.kind === 'method') {
      response.setHeader('Allow', matched.allowed.join(', '));
      refuse(
        request,
        response,
        shape,
        new AppError('method_not_allowed', `${request.method ?? ''} is not allowed on ${matched.route.path}; use ${matched.allowed.join(' or ')}`),
      );
      return;
    }
    const mediaTypeError = checkMediaType(request, matched.route);
    if (mediaTypeError !== null) {
      refuse(request, response, shape, mediaTypeError);
      return;
    }
    admit(request, response, context, matched.route, matched.parameters).then(
      () => next(),
      (error: unknown) =>
        refuse(request, response, shape, error instanceof AppError ? error : new AppError('internal_error', 'Authentication failed', { cause: error })),
    );
  };
}

function checkMediaType(request: IncomingMessage, route: ApiRoute): AppError | null {
  if (route.body === undefined || !hasBody(request)) return null;
  const type = request.headers['content-type'] ?? '';
  const expected = route.body.mediaType;
  const accepted = expected === 'application/json' ? jsonMediaType.test(type) : multipartMediaType.test(type);
  if (accepted) return null;
  return new AppError('unsupported_media_type', `The body must be ${expected}${type === '' ? '' : `, not ${truncate(type)}`}`);
}

function callerOf(principal: Principal, request: IncomingMessage): string {
  return principal.keyId === null ? `address:${request.socket.remoteAddress ?? 'unknown'}` : `key:${principal.keyId}`;
}

function forbidden(message: string): AppError {
  return new AppError('forbidden', message);
}

/** At most 100 characters of something the client sent, for an error message. */
export function truncate(value: string, length = 100): string {
  return value.length <= length ? value : `${value.slice(0, length)}…`;
}
