import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import type { Runtime } from '@passage/runtime';
import { NotFoundError, type Logger, type RateLimiter } from '@passage/spec';
import { answerEndpoints, type AnswerRoute } from './answer-endpoints.js';
import { Authenticator } from './authenticate.js';
import { JSON_BODY_LIMIT_BYTES } from './body-limit.js';
import { eventLoopEndpoint } from './event-loop-endpoint.js';
import type { EventLoopMonitor } from './event-loop-monitor.js';
import { httpGate } from './http-gate.js';
import { MemoryRateLimiter } from './memory-rate-limiter.js';
import { operationsRoutes } from './operations-routes.js';
import { rateLimitSettings } from './rate-limit-settings.js';
import { errorHandler } from './http-errors.js';
import { jsonBody } from './read-json-body.js';
import { apiKeyRoutes } from './routes/api-key-routes.js';
import { askHandler } from './routes/ask-route.js';
import { chatCompletionHandler, modelRoutes } from './routes/chat-completions-routes.js';
import { documentRoutes } from './routes/document-routes.js';
import { knowledgeBaseRoutes } from './routes/knowledge-base-routes.js';
import { searchRoutes } from './routes/search-routes.js';
import { webPage } from './web-page.js';

/**
 * The HTTP API over a runtime, as a request listener for `http.createServer`. This file is the
 * table of routes: the two answer endpoints, which hold a connection for a whole answer, are
 * served by the small dispatcher of answer-endpoints.ts; every other route by Express. Both share
 * the body limit and reader, the request log and the error responses. Routes only translate HTTP
 * to services and back.
 */
export interface AppOptions {
  /** Rate limits per caller (Redis-backed in the scaled mode). Default: in memory, as rateLimitSettings says. */
  rateLimiter?: RateLimiter | null;
  /** Serves `/v1/stats/event-loop` and the event-loop metric. Default: none. */
  eventLoop?: EventLoopMonitor;
}

export function createApp(runtime: Runtime, logger: Logger, options: AppOptions = {}): RequestListener {
  const { config } = runtime;
  // Every request passes the gate first: request id, Host and origin checks, the route table's access rules, rate limits (http-gate.ts).
  const gate = httpGate({
    logger,
    authenticator: new Authenticator({ adminKey: config.ADMIN_API_KEY, keys: runtime.apiKeys }),
    corsOrigins: config.CORS_ORIGINS,
    rateLimiter: options.rateLimiter !== undefined ? options.rateLimiter : memoryRateLimiter(config),
    maxStreamsPerCaller: config.MAX_STREAMS_PER_KEY,
    metricsToken: config.METRICS_TOKEN,
    loopbackOnly: config.ADMIN_API_KEY === undefined && !config.AUTH_DISABLED,
    logQuestions: config.LOG_QUESTIONS,
  });
  const eventLoopStats = options.eventLoop === undefined ? () => false : eventLoopEndpoint(options.eventLoop);
  const answerRoutes: AnswerRoute[] = [
    { method: 'POST', path: '/v1/knowledge-bases/:knowledgeBaseId/ask', errorShape: 'passage', handle: askHandler(runtime) },
    { method: 'POST', path: '/v1/chat/completions', errorShape: 'openai', handle: chatCompletionHandler(runtime) },
  ];
  const answers = answerEndpoints(answerRoutes, { logger, bodyLimitBytes: JSON_BODY_LIMIT_BYTES });
  const app = createExpressApp(runtime, logger);
  return (request, response) => {
    gate(request, response, () => {
      if (!eventLoopStats(request, response) && !answers(request, response)) app(request, response);
    });
  };
}

function memoryRateLimiter(config: Runtime['config']): MemoryRateLimiter | null {
  const settings = rateLimitSettings(config);
  return settings === null ? null : new MemoryRateLimiter(settings);
}

function createExpressApp(runtime: Runtime, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Not express.json(): it reads a refused body to its end before answering; this stops at the limit.
  app.use(jsonBody(JSON_BODY_LIMIT_BYTES));

  app.use(operationsRoutes(runtime));
  app.use('/v1/api-keys', apiKeyRoutes(runtime));
  app.use('/v1/knowledge-bases', knowledgeBaseRoutes(runtime));
  app.use('/v1/knowledge-bases/:knowledgeBaseId/documents', documentRoutes(runtime));
  app.use('/v1/knowledge-bases/:knowledgeBaseId', searchRoutes(runtime));
  // OpenAI-compatible: `model` names a knowledge base; errors in OpenAI's shape, bad JSON included.
  app.use('/v1', modelRoutes(runtime));
  app.use(['/v1/chat/completions', '/v1/models'], errorHandler(logger, 'openai'));
  // The web page at / (apps/web): after every API route, so that they keep precedence.
  app.use(webPage());

  app.use((request) => {
    throw new NotFoundError('not_found', `No route for ${request.method} ${request.path}`);
  });
  app.use(errorHandler(logger));
  return app;
}
