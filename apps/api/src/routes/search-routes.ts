import { Router } from 'express';
import { z } from 'zod';
import type { Runtime } from '@passage/runtime';
import { abortOnDisconnect } from '../abort-on-disconnect.js';
import { parseRequest } from '../request-validation.js';
import { retrievalModeSchema } from './ask-route.js';

export const searchSchema = z.object({
  query: z.string().trim().min(1).max(4000),
  topK: z.number().int().min(1).max(50).optional(),
  mode: retrievalModeSchema,
});

/** `POST …/search`. `POST …/ask` is served before Express: see ask-route.ts and app.ts. */
export function searchRoutes(runtime: Runtime): Router {
  const router = Router({ mergeParams: true });

  router.post('/search', async (request, response) => {
    const knowledgeBaseId = (request.params as { knowledgeBaseId: string }).knowledgeBaseId;
    const body = parseRequest(searchSchema, request.body);
    const controller = abortOnDisconnect(response);
    const hits = await runtime.retriever.search({
      knowledgeBaseId,
      query: body.query,
      topK: body.topK ?? runtime.config.TOP_K,
      signal: controller.signal,
      ...(body.mode === undefined ? {} : { mode: body.mode }),
    });
    response.json({
      data: hits.map((hit) => ({
        chunkId: hit.chunk.id,
        documentId: hit.chunk.documentId,
        documentName: hit.chunk.documentName,
        page: hit.chunk.page,
        start: hit.chunk.start,
        end: hit.chunk.end,
        score: hit.score,
        text: hit.chunk.text,
      })),
    });
  });

  return router;
}
