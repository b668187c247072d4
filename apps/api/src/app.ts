import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import type { Runtime } from '@passage/runtime';
import { NotFoundError, type Logger } from '@passage/spec';
import { answerEndpoints } from './answer-endpoints.js';
import { errorHandler } from './http-errors.js';
import { modelRoutes } from './routes/chat-completions-routes.js';
import { documentRoutes } from './routes/document-routes.js';
import { knowledgeBaseRoutes } from './routes/knowledge-base-routes.js';
import { searchRoutes } from './routes/search-routes.js';

/**
 * The HTTP API over a runtime, as a request listener for `http.createServer`: the answer
 * endpoints first (answer-endpoints.ts), every other route through Express. Routes only translate
 * HTTP to services and back.
 */
export function createApp(runtime: Runtime, logger: Logger): RequestListener {
  const answers = answerEndpoints(runtime, logger);
  const app = createExpressApp(runtime, logger);
  return (request, response) => {
    if (!answers(request, response)) app(request, response);
  };
}

function createExpressApp(runtime: Runtime, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json({ limit: '1mb' }));
  app.use((request, response, next) => {
    const started = performance.now();
    response.once('finish', () => {
      logger.debug(
        { method: request.method, url: request.originalUrl, status: response.statusCode, ms: Math.round(performance.now() - started) },
        'request',
      );
    });
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
