import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Router, type RequestHandler } from 'express';
import { InvalidRequestError, NotFoundError, newDocumentId, type DocumentRecord, type NewDocument } from '@passage/spec';
import type { Runtime } from '@passage/runtime';
import { uploadFiles } from '../upload-files.js';

export function publicDocument(document: DocumentRecord) {
  return {
    id: document.id,
    knowledgeBaseId: document.knowledgeBaseId,
    name: document.name,
    bytes: document.bytes,
    type: document.type,
    status: document.status,
    progress: document.progress,
    pages: document.pages,
    chunks: document.chunks,
    ...(document.error === null ? {} : { error: document.error }),
    createdAt: document.createdAt,
    updatedAt: document.updatedAt,
  };
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path)) hash.update(piece as Buffer);
  return hash.digest('hex');
}

export function documentRoutes(runtime: Runtime): Router {
  const router = Router({ mergeParams: true });
  mkdirSync(runtime.uploadDirectory, { recursive: true });
  const upload = uploadFiles({
    directory: runtime.uploadDirectory,
    field: 'files',
    maxFileBytes: runtime.config.MAX_UPLOAD_BYTES,
    maxFiles: runtime.config.MAX_FILES_PER_UPLOAD,
  });

  const requireKnowledgeBase: RequestHandler = async (request, _response, next) => {
    const id = (request.params as { knowledgeBaseId: string }).knowledgeBaseId;
    if ((await runtime.catalog.getKnowledgeBase(id)) === null) {
      throw new NotFoundError('knowledge_base_not_found', `Knowledge base ${id} does not exist`);
    }
    next();
  };

  router.post('/', requireKnowledgeBase, upload, async (request, response) => {
    const knowledgeBaseId = (request.params as { knowledgeBaseId: string }).knowledgeBaseId;
    const uploaded = (request.files as Express.Multer.File[] | undefined) ?? [];
    try {
      if (uploaded.length === 0) throw new InvalidRequestError('No file received: send one or more files in the multipart field "files"');
      const documents: NewDocument[] = [];
      for (const file of uploaded) {
        const id = newDocumentId();
        const contentHash = await sha256OfFile(file.path);
        await runtime.files.putFromPath(id, file.path);
        documents.push({
          id,
          knowledgeBaseId,
          name: file.originalname.normalize('NFC').slice(0, 500) || 'untitled',
          bytes: file.size,
          contentHash,
          mediaType: file.mimetype || null,
        });
      }
      let created: DocumentRecord[];
      try {
        created = await runtime.catalog.createDocuments(documents);
      } catch (error) {
        await Promise.all(documents.map((document) => runtime.files.delete(document.id)));
        throw error;
      }
      await runtime.queue.enqueue(created.map((document) => document.id));
      response.status(202).json({
        data: created.map((document) => ({ id: document.id, name: document.name, bytes: document.bytes, status: document.status })),
      });
    } finally {
      // Whatever was not moved into the file store is a leftover of this request.
      await Promise.all(uploaded.map((file) => rm(file.path, { force: true })));
    }
  });

  router.get('/', requireKnowledgeBase, async (request, response) => {
    const knowledgeBaseId = (request.params as { knowledgeBaseId: string }).knowledgeBaseId;
    const documents = await runtime.catalog.listDocuments(knowledgeBaseId);
    response.json({ data: documents.map(publicDocument) });
  });

  router.get('/:documentId', requireKnowledgeBase, async (request, response) => {
    const { knowledgeBaseId, documentId } = request.params as { knowledgeBaseId: string; documentId: string };
    const document = await runtime.catalog.getDocument(knowledgeBaseId, documentId);
    if (document === null) throw new NotFoundError('document_not_found', `Document ${documentId} does not exist in ${knowledgeBaseId}`);
    response.json(publicDocument(document));
  });

  router.delete('/:documentId', requireKnowledgeBase, async (request, response) => {
    const { knowledgeBaseId, documentId } = request.params as { knowledgeBaseId: string; documentId: string };
    const document = await runtime.catalog.getDocument(knowledgeBaseId, documentId);
    if (document === null) throw new NotFoundError('document_not_found', `Document ${documentId} does not exist in ${knowledgeBaseId}`);
    runtime.queue.cancel(documentId);
    // Chunks go first so that no search after this response can return them.
    await runtime.index.deleteDocument(knowledgeBaseId, documentId);
    await runtime.catalog.deleteDocument(knowledgeBaseId, documentId);
    await runtime.files.delete(documentId);
    response.status(204).end();
  });

  return router;
}
