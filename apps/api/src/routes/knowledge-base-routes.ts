import { Router } from 'express';
import { z } from 'zod';
import { NotFoundError, newKnowledgeBaseId, type KnowledgeBase } from '@passage/spec';
import type { Runtime } from '@passage/runtime';
import { parseRequest } from '../request-validation.js';

const createSchema = z.object({ name: z.string().trim().min(1).max(200) });

export function publicKnowledgeBase(knowledgeBase: KnowledgeBase) {
  return { id: knowledgeBase.id, name: knowledgeBase.name, createdAt: knowledgeBase.createdAt };
}

export function knowledgeBaseRoutes(runtime: Runtime): Router {
  const router = Router();

  router.post('/', async (request, response) => {
    const body = parseRequest(createSchema, request.body);
    const knowledgeBase = await runtime.catalog.createKnowledgeBase({ id: newKnowledgeBaseId(), name: body.name });
    response.status(201).json(publicKnowledgeBase(knowledgeBase));
  });

  router.get('/', async (_request, response) => {
    const knowledgeBases = await runtime.catalog.listKnowledgeBases();
    response.json({ data: knowledgeBases.map(publicKnowledgeBase) });
  });

  router.get('/:knowledgeBaseId', async (request, response) => {
    const knowledgeBase = await runtime.catalog.getKnowledgeBase(request.params.knowledgeBaseId);
    if (knowledgeBase === null) throw new NotFoundError('knowledge_base_not_found', `Knowledge base ${request.params.knowledgeBaseId} does not exist`);
    response.json(publicKnowledgeBase(knowledgeBase));
  });

  router.delete('/:knowledgeBaseId', async (request, response) => {
    const id = request.params.knowledgeBaseId;
    const documents = await runtime.catalog.listDocuments(id);
    if (!(await runtime.catalog.getKnowledgeBase(id))) throw new NotFoundError('knowledge_base_not_found', `Knowledge base ${id} does not exist`);
    for (const document of documents) runtime.queue.cancel(document.id);
    // Index first: once the catalog forgets the knowledge base nothing would find the chunks again.
    await runtime.index.deleteKnowledgeBase(id);
    await runtime.catalog.deleteKnowledgeBase(id);
    await Promise.all(documents.map((document) => runtime.files.delete(document.id)));
    response.status(204).end();
  });

  return router;
}
