import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Router, type RequestHandler } from 'express';
import { InvalidRequestError, NotFoundError, newDocumentId, type DocumentRecord, type NewDocument } from '@passage/spec';
import type { Runtime } from '@passage/runtime';
import { isDisplayableName } from '../display-name.js';
import { uploadFiles, type UploadedFile } from '../upload-files.js';

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
    ...(document.replaces === null ? {} : { replaces: document.replaces }),
    ...(document.error === null ? {} : { error: document.error }),
    createdAt: document.createdAt,
    updatedAt: document.updatedAt,
  };
}

/** `replace` from the query or the form: a document id, `true` (the newest document of the same name), or absent. */
function replaceParameter(...values: unknown[]): string | true | null {
  for (const value of values) {
    if (value === undefined || value === '' || value === 'false') continue;
    if (typeof value !== 'string') throw new InvalidRequestError('"replace" is a document id or "true"');
    return value === 'true' ? true : value;
  }
  return null;
}

/**
 * The `password` form field(s) of an upload, one per file: a single value is every file's (a
 * PDF that needs none ignores it), several are matched to the files by order. An empty value is
 * no password. Passwords are kept in memory until ingestion ends, so an upload ingested by
 * another process (a queue in Redis) cannot carry one.
 */
function uploadPasswords(runtime: Runtime, value: unknown, files: number): (string | undefined)[] {
  if (value === undefined) return [];
  const values = Array.isArray(value) ? (value as unknown[]) : [value];
  if (values.some((item) => typeof item !== 'string')) throw new InvalidRequestError('"password" is a text field');
  if (values.length !== 1 && values.length !== files) {
    throw new InvalidRequestError(
      `"password" is given ${values.length} times for ${files} files: give it once (for every file) or once per file, in the files' order`,
    );
  }
  if (runtime.config.REDIS_URL !== undefined && values.some((item) => item !== '')) {
    throw new InvalidRequestError('"password" is not accepted when ingestion runs through a shared queue (REDIS_URL): it would have to be stored');
  }
  return Array.from({ length: files }, (_, index) => {
    const password = (values.length === 1 ? values[0] : values[index]) as string;
    return password === '' ? undefined : password;
  });
}

/** The id of the document an upload replaces; `true` picks the newest of the same name, and none is fine. */
async function replacedDocument(runtime: Runtime, knowledgeBaseId: string, replace: string | true, name: string): Promise<string | null> {
  if (replace === true) return (await runtime.catalog.findDocumentByName(knowledgeBaseId, name))?.id ?? null;
  if ((await runtime.catalog.getDocument(knowledgeBaseId, replace)) === null) {
    throw new NotFoundError('document_not_found', `Document ${replace} (to replace) does not exist in ${knowledgeBaseId}`);
  }
  return replace;
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
    const uploaded = (request.files as UploadedFile[] | undefined) ?? [];
    const stored: string[] = [];
    try {
      if (uploaded.length === 0) throw new InvalidRequestError('No file received: send one or more files in the multipart field "files"');
      const replace = replaceParameter(request.query.replace, (request.body as Record<string, unknown> | undefined)?.replace);
      if (replace !== null && uploaded.length !== 1) throw new InvalidRequestError('"replace" takes exactly one file');
      const passwords = uploadPasswords(runtime, (request.body as Record<string, unknown> | undefined)?.password, uploaded.length);
      const documents: NewDocument[] = [];
      for (const file of uploaded) {
        const id = newDocumentId();
        const name = file.originalname.normalize('NFC').slice(0, 500) || 'untitled';
        if (!isDisplayableName(name)) {
          throw new InvalidRequestError('files: a file name must not contain control characters, bidirectional overrides or lone surrogates');
        }
        await runtime.files.putFromPath(id, file.path);
        stored.push(id);
        documents.push({
          id,
          knowledgeBaseId,
          name,
          bytes: file.size,
          contentHash: file.sha256,
          mediaType: file.mimetype || null,
          replaces: replace === null ? null : await replacedDocument(runtime, knowledgeBaseId, replace, name),
        });
      }
      const results = await runtime.catalog.createDocuments(documents);
      // A duplicate's bytes are already stored under the existing document.
      const kept = new Set(results.filter((result) => !result.duplicate).map((result) => result.document.id));
      await Promise.all(stored.filter((id) => !kept.has(id)).map((id) => runtime.files.delete(id)));
      stored.length = 0;
      documents.forEach((document, index) => {
        const password = passwords[index];
        if (password !== undefined && kept.has(document.id)) runtime.passwords.set(document.id, password);
      });
      await runtime.queue.enqueue([...kept]);
      response.status(kept.size > 0 ? 202 : 200).json({
        data: results.map(({ document, duplicate }) => ({
          id: document.id,
          name: document.name,
          bytes: document.bytes,
          status: document.status,
          duplicate,
          ...(document.replaces === null ? {} : { replaces: document.replaces }),
        })),
      });
    } catch (error) {
      // Nothing of a refused upload stays: the originals stored before the failure go too.
      await Promise.all(stored.map((id) => runtime.files.delete(id)));
      throw error;
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
    // The catalog first: searches return only documents it holds, so from here on no answer cites
    // this one, and a worker in the middle of it finds it gone and removes what it wrote.
    await runtime.catalog.deleteDocument(knowledgeBaseId, documentId);
    runtime.queue.cancel(documentId);
    runtime.passwords.delete(documentId);
    await runtime.index.deleteDocument(knowledgeBaseId, documentId);
    await runtime.files.delete(documentId);
    response.status(204).end();
  });

  return router;
}
