import { createHash, randomBytes } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { InvalidRequestError, NotFoundError, apiKeyScopes, type ApiKeyRecord } from '@passage/spec';
import type { Runtime } from '@passage/runtime';
import { parseRequest } from '../request-validation.js';
import { displayName } from '../display-name.js';

export const createApiKeySchema = z.object({
  name: displayName(200),
  scopes: z.array(z.enum(apiKeyScopes)).min(1).max(apiKeyScopes.length),
  knowledgeBases: z.array(z.string().min(1).max(100)).min(1).max(1000).optional(),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});

/** Prefix of every key, so that a leaked one is recognisable (secret scanners, logs). */
const keyPrefix = 'psg_';

/** SHA-256 of a presented key, hex: what the store looks keys up by. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function publicApiKey(key: ApiKeyRecord) {
  return { id: key.id, name: key.name, scopes: key.scopes, knowledgeBases: key.knowledgeBases, createdAt: key.createdAt, expiresAt: key.expiresAt };
}

/**
 * `POST /v1/api-keys` creates a key and answers it once (only its SHA-256 is stored); `GET` lists
 * the keys without them; `DELETE /v1/api-keys/:keyId` revokes one at once. Admin scope only
 * (http-gate.ts).
 */
export function apiKeyRoutes(runtime: Runtime): Router {
  const router = Router();

  router.post('/', async (request, response) => {
    const body = parseRequest(createApiKeySchema, request.body);
    if (body.expiresAt !== undefined && Date.parse(body.expiresAt) <= Date.now()) throw new InvalidRequestError('expiresAt: must be in the future');
    const knowledgeBases = body.knowledgeBases === undefined ? null : [...new Set(body.knowledgeBases)];
    for (const id of knowledgeBases ?? []) {
      if ((await runtime.catalog.getKnowledgeBase(id)) === null)
        throw new InvalidRequestError(`knowledgeBases: no knowledge base has the id ${JSON.stringify(id.slice(0, 100))}`);
    }
    const key = `${keyPrefix}${randomBytes(32).toString('base64url')}`;
    const created = await runtime.apiKeys.createApiKey({
      id: `key_${randomBytes(10).toString('hex')}`,
      name: body.name,
      scopes: [...new Set(body.scopes)],
      knowledgeBases,
      expiresAt: body.expiresAt === undefined ? null : new Date(body.expiresAt).toISOString(),
      secretHash: hashApiKey(key),
    });
    response.status(201).json({ ...publicApiKey(created), key });
  });

  router.get('/', async (_request, response) => {
    response.json({ data: (await runtime.apiKeys.listApiKeys()).map(publicApiKey) });
  });

  router.delete('/:keyId', async (request, response) => {
    if (!(await runtime.apiKeys.deleteApiKey(request.params.keyId))) throw new NotFoundError('not_found', 'No API key has that id');
    response.status(204).end();
  });

  return router;
}
