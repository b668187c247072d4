import { Router } from 'express';
import { z } from 'zod';
import { NotFoundError, generationSchemaOf, newKnowledgeBaseId, type KnowledgeBase } from '@passage/spec';
import type { Runtime } from '@passage/runtime';
import { displayName } from '../display-name.js';
import { maySeeKnowledgeBase } from '../request-context.js';
import { parseRequest } from '../request-validation.js';

export const createKnowledgeBaseSchema = z.object({ name: displayName(200) });

export function publicKnowledgeBase(knowledgeBase: KnowledgeBase) {
  const { reindex } = knowledgeBase;
  return {
    id: knowledgeBase.id,
    name: knowledgeBase.name,
    createdAt: knowledgeBase.createdAt,
    generation: knowledgeBase.generation,
    embeddingModel: knowledgeBase.schema.embeddingModel,
    reindex:
      reindex === null
        ? null
        : {
            targetGeneration: reindex.targetGeneration,
            embeddingModel: reindex.schema.embeddingModel,
            startedAt: reindex.startedAt,
            // A lease that ran out means the reindexing process stopped; running it again resumes it.
            running: Date.parse(reindex.leaseExpiresAt) > Date.now(),
            ...reindex.progress,
          },
  };
}

export function knowledgeBaseRoutes(runtime: Runtime): Router {
  const router = Router();

  router.post('/', async (request, response) => {
    const body = parseRequest(createKnowledgeBaseSchema, request.body);
    const id = newKnowledgeBaseId();
    const schema = generationSchemaOf(runtime.embedder);
    // The index generation first: a knowledge base the catalog lists can always be written to.
    await runtime.index.createGeneration({ knowledgeBaseId: id, generation: 1 }, schema);
    const knowledgeBase = await runtime.catalog.createKnowledgeBase({ id, name: body.name, schema });
    response.status(201).json(publicKnowledgeBase(knowledgeBase));
  });

  router.get('/', async (request, response) => {
    const knowledgeBases = await runtime.catalog.listKnowledgeBases();
    response.json({ data: knowledgeBases.filter((knowledgeBase) => maySeeKnowledgeBase(request, knowledgeBase.id)).map(publicKnowledgeBase) });
  });

  router.get('/:knowledgeBaseId', async (request, response) => {
    const knowledgeBase = await runtime.catalog.getKnowledgeBase(request.params.knowledgeBaseId);
    if (knowledgeBase === null) throw new NotFoundError('knowledge_base_not_found', `Knowledge base ${request.params.knowledgeBaseId} does not exist`);
    response.json(publicKnowledgeBase(knowledgeBase));
  });

  router.delete('/:knowledgeBaseId', async (request, response) => {
    const id = request.params.knowledgeBaseId;
    const documents = await runtime.catalog.listDocuments(id);
    // The catalog first, in one step: from here on uploads answer 404, workers find their document
    // gone, and searches find no knowledge base. The index finds the generations by name, and a
    // writer that comes late finds its generation gone instead of creating it again.
    if (!(await runtime.catalog.deleteKnowledgeBase(id))) throw new NotFoundError('knowledge_base_not_found', `Knowledge base ${id} does not exist`);
    for (const document of documents) runtime.queue.cancel(document.id);
    await runtime.index.deleteKnowledgeBase(id);
    await Promise.all(documents.map((document) => runtime.files.delete(document.id)));
    response.status(204).end();
  });

  return router;
}
