import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expectJson, startApiProcess, type ApiProcess } from '@passage/testing';
import { apiRoutes } from './api-routes.js';
import { openApiPath } from './openapi.js';

interface Description {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } }>>;
}

describe('OpenAPI description: made from the route table, and the route table is what is served', () => {
  let api: ApiProcess;
  let description: Description;

  before(async () => {
    api = await startApiProcess();
    description = await expectJson<Description>(await fetch(`${api.url}/openapi.json`), 200);
  });
  after(async () => {
    await api?.stop();
  });

  it('is OpenAPI 3.1 and describes every route of the table, once, and nothing else', () => {
    assert.equal(description.openapi, '3.1.0');
    const described = Object.entries(description.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    const table = apiRoutes.map((route) => `${route.method} ${openApiPath(route.path)}`);
    assert.deepEqual([...described].sort(), [...table].sort());
    assert.equal(new Set(table).size, table.length);
  });

  it('takes the request schemas from the zod schemas that validate the requests', () => {
    const ask = description.paths['/v1/knowledge-bases/{knowledgeBaseId}/ask']?.['post']?.requestBody?.content['application/json']?.schema as {
      properties: Record<string, { maximum?: number; maxLength?: number }>;
      required: string[];
    };
    assert.deepEqual(ask.required, ['question']);
    assert.equal(ask.properties['topK']?.maximum, 50);
    assert.equal(ask.properties['question']?.maxLength, 8000);
  });

  it('serves every described route: none answers the "no route" 404 (a missing knowledge base is another 404)', async () => {
    for (const route of apiRoutes) {
      if (route.method === 'DELETE' && route.path === '/v1/knowledge-bases/:knowledgeBaseId') continue; // covered below, with a real one
      const path = route.path.replace(/:(\w+)/g, (_match, name: string) => `${name}_missing`);
      const response = await fetch(`${api.url}${path}`, {
        method: route.method,
        ...(route.body?.mediaType === 'application/json' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}),
      });
      const text = await response.text();
      // The gate's and Express's answers to a request no handler took.
      assert.doesNotMatch(text, /No route for|method_not_allowed/, `${route.method} ${route.path}: ${text}`);
    }
    const { id } = await expectJson<{ id: string }>(
      await fetch(`${api.url}/v1/knowledge-bases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x' }) }),
      201,
    );
    assert.equal((await fetch(`${api.url}/v1/knowledge-bases/${id}`, { method: 'DELETE' })).status, 204);
  });

  it('serves nothing under /v1 that it does not describe: an unknown path is 404, another method on a known path 405 with Allow', async () => {
    const unknown = await expectJson<{ error: { code: string } }>(await fetch(`${api.url}/v1/reindex`, { method: 'POST' }), 404);
    assert.equal(unknown.error.code, 'not_found');
    const wrongMethod = await fetch(`${api.url}/v1/knowledge-bases`, { method: 'PUT' });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'POST, GET');
  });
});
