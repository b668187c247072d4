import express, { type Express } from 'express';
import type { Runtime } from '@passage/runtime';
import { NotFoundError, type Logger } from '@passage/spec';
import { errorHandler } from './http-errors.js';
import { documentRoutes } from './routes/document-routes.js';
import { knowledgeBaseRoutes } from './routes/knowledge-base-routes.js';
import { questionRoutes } from './routes/question-routes.js';

/** The HTTP API over a runtime. Routes only translate HTTP to services and back. */
export function createApp(runtime: Runtime, logger: Logger): Express {
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
  app.use('/v1/knowledge-bases/:knowledgeBaseId', questionRoutes(runtime));

  app.use((request) => {
    throw new NotFoundError('not_found', `No route for ${request.method} ${request.path}`);
  });
  app.use(errorHandler(logger));
  return app;
}
