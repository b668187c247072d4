import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import type { Runtime } from '@passage/runtime';
import { NotFoundError, type Logger } from '@passage/spec';
import { answerEndpoints, type AnswerRoute } from './answer-endpoints.js';
import { JSON_BODY_LIMIT_BYTES } from './body-limit.js';
import { errorHandler } from './http-errors.js';
import { jsonBody } from './read-json-body.js';
import { logRequest } from './request-log.js';
import { askHandler } from './routes/ask-route.js';
import { chatCompletionHandler, modelRoutes } from './routes/chat-completions-routes.js';
import { documentRoutes } from './routes/document-routes.js';
import { knowledgeBaseRoutes } from './routes/knowledge-base-routes.js';
import { searchRoutes } from './routes/search-routes.js';

/**
 * The HTTP API over a runtime, as a request listener for `http.createServer`. This file is the
 * table of routes: the two answer endpoints, which hold a connection for a whole answer, are
 * served by the small dispatcher of answer-endpoints.ts; every other route by Express. Both share
 * the body limit and reader, the request log and the error responses. Routes only translate HTTP
 * to services and back.
 */
export function createApp(runtime: Runtime, logger: Logger): RequestListener {
  const answerRoutes: AnswerRoute[] = [
    { method: 'POST', path: '/v1/knowledge-bases/:knowledgeBaseId/ask', errorShape: 'passage', handle: askHandler(runtime) },
    { method: 'POST', path: '/v1/chat/completions', errorShape: 'openai', handle: chatCompletionHandler(runtime) },
  ];
  const answers = answerEndpoints(answerRoutes, { logger, bodyLimitBytes: JSON_BODY_LIMIT_BYTES });
  const app = createExpressApp(runtime, logger);
  return (request, response) => {
    if (!answers(request, response)) app(request, response);
  };
}

function createExpressApp(runtime: Runtime, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Not express.json(): it reads a refused body to its end before answering; this stops at the limit.
  app.use(jsonBody(JSON_BODY_LIMIT_BYTES));
  app.use((request, response, next) => {
    logRequest(logger, request, request.originalUrl, response);
    next();
  });

  app.get('/healthz', (_request, response) => {
    response.json({ status: 'ok', mode: runtime.chatModel ? 'llm' : 'extractive' });
  });
  app.use('/v1/knowledge-bases', knowledgeBaseRoutes(runtime));
  app.use('/v1/knowledge-bases/:knowledgeBaseId/documents', documentRoutes(runtime));
  app.use('/v1/knowledge-bases/:knowledgeBaseId', searchRoutes(runtime));
  // OpenAI-compatible: `model` names a knowledge base; errors in OpenAI's shape, bad JSON included.
  app.use('/v1', modelRoutes(runtime));
  app.use(['/v1/chat/completions', '/v1/models'], errorHandler(logger, 'openai'));

  app.use((request) => {
    throw new NotFoundError('not_found', `No route for ${request.method} ${request.path}`);
  });
  app.use(errorHandler(logger));
  return app;
}
