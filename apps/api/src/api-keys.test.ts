import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { expectJson, startApiProcess, testRedisUrl, uniqueRedisPrefix, waitUntilEnded, type ApiProcess } from '@passage/testing';
import { apiRoutes } from './api-routes.js';

const adminKey = 'test-admin-key-0123456789';

/** A fetch against the API with a key (or none) and extra headers. */
function client(api: ApiProcess, key: string | undefined) {
  return (method: string, path: string, options: { json?: unknown; form?: FormData; headers?: Record<string, string> } = {}) =>
    fetch(`${api.url}${path}`, {
      method,
      headers: {
        ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
        ...(options.json === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : options.form !== undefined ? { body: options.form } : {}),
    });
}

function textForm(name: string, text: string): FormData {
  const form = new FormData();
  form.append('files', new Blob([new TextEncoder().encode(text)], { type: 'text/plain' }), name);
  return form;
}

/** A route of the table with its parameters filled in. */
function pathOf(path: string, values: Record<string, string>): string {
  return path.replace(/:(\w+)/g, (_match, name: string) => values[name] ?? 'missing');
}

/** A body each route accepts, so that a refusal comes from the access rules and not from validation. */
function bodyOf(operationId: string, knowledgeBaseId: string): { json?: unknown; form?: FormData } {
  switch (operationId) {
    case 'createKnowledgeBase':
      return { json: { name: 'new' } };
    case 'createApiKey':
      return { json: { name: 'new', scopes: ['read'] } };
    case 'uploadDocuments':
      return { form: textForm('intruder.txt', 'planted text') };
    case 'search':
      return { json: { query: 'secret' } };
    case 'ask':
      return { json: { question: 'What is the secret?' } };
    case 'createChatCompletion':
      return { json: { model: knowledgeBaseId, messages: [{ role: 'user', content: 'What is the secret?' }] } };
    default:
      return {};
  }
}

describe('API keys: scopes, knowledge-base limits and revocation', () => {
  let api: ApiProcess;
  let admin: ReturnType<typeof client>;
  const knowledgeBases: Record<'a' | 'b', { id: string; documentId: string }> = { a: { id: '', documentId: '' }, b: { id: '', documentId: '' } };
  const secretOfB = 'The vault combination of knowledge base B is 7391.';
  const keys: Record<string, string> = {};

  const createKey = async (body: Record<string, unknown>) =>
    (await expectJson<{ id: string; key: string }>(await admin('POST', '/v1/api-keys', { json: body }), 201)).key;

  before(async () => {
    api = await startApiProcess({ env: { ADMIN_API_KEY: adminKey, RATE_LIMIT_PER_MINUTE: '0', CORS_ORIGINS: 'https://app.example' } });
    admin = client(api, adminKey);
    for (const [name, text] of [
      ['a', 'Knowledge base A talks about harbour lights.'],
      ['b', secretOfB],
    ] as const) {
      const { id } = await expectJson<{ id: string }>(await admin('POST', '/v1/knowledge-bases', { json: { name } }), 201);
      const uploaded = await expectJson<{ data: Array<{ id: string }> }>(
        await admin('POST', `/v1/knowledge-bases/${id}/documents`, { form: textForm(`${name}.txt`, text) }),
        202,
      );
      const documentId = uploaded.data[0]!.id;
      assert.equal((await waitUntilEnded(api, id, documentId, 60_000, { authorization: `Bearer ${adminKey}` })).status, 'ready');
      knowledgeBases[name] = { id, documentId };
    }
    keys['read'] = await createKey({ name: 'reader', scopes: ['read'] });
    keys['ingest'] = await createKey({ name: 'ingester', scopes: ['ingest'] });
    keys['adminOfA'] = await createKey({ name: 'admin of A', scopes: ['admin'], knowledgeBases: [knowledgeBases.a.id] });
  });
  after(async () => {
    await api?.stop();
  });

  it('answers 401 with WWW-Authenticate on every protected route without a key, or with a wrong one, and shows no data', async () => {
    for (const key of [undefined, 'psg_not-a-key']) {
      for (const route of apiRoutes.filter((candidate) => candidate.access !== 'public')) {
        const values = { knowledgeBaseId: knowledgeBases.b.id, documentId: knowledgeBases.b.documentId, model: knowledgeBases.b.id, keyId: 'key_x' };
        const response = await client(api, key)(route.method, pathOf(route.path, values), bodyOf(route.operationId, knowledgeBases.b.id));
        const text = await response.text();
        assert.equal(response.status, 401, `${route.method} ${route.path}: ${text}`);
        assert.equal(response.headers.get('www-authenticate'), 'Bearer');
        assert.ok(!text.includes('7391'), text);
      }
    }
  });

  it('answers 403 forbidden when the key lacks the scope: read cannot upload, delete or administer; ingest cannot administer', async () => {
    const reader = client(api, keys['read']);
    const ingester = client(api, keys['ingest']);
    const { id, documentId } = knowledgeBases.a;
    const refusals: Array<[ReturnType<typeof client>, string, string, { json?: unknown; form?: FormData }]> = [
      [reader, 'POST', `/v1/knowledge-bases/${id}/documents`, { form: textForm('x.txt', 'x') }],
      [reader, 'DELETE', `/v1/knowledge-bases/${id}/documents/${documentId}`, {}],
      [reader, 'POST', '/v1/knowledge-bases', { json: { name: 'x' } }],
      [reader, 'GET', '/v1/api-keys', {}],
      [reader, 'GET', '/metrics', {}],
      [ingester, 'POST', '/v1/knowledge-bases', { json: { name: 'x' } }],
      [ingester, 'DELETE', `/v1/knowledge-bases/${id}`, {}],
      [ingester, 'POST', '/v1/api-keys', { json: { name: 'x', scopes: ['admin'] } }],
    ];
    for (const [call, method, path, options] of refusals) {
      const body = await expectJson<{ error: { code: string } }>(await call(method, path, options), 403);
      assert.equal(body.error.code, 'forbidden', `${method} ${path}`);
    }
    // What the scopes do allow.
    await expectJson(await reader('POST', `/v1/knowledge-bases/${id}/search`, { json: { query: 'harbour' } }), 200);
    await expectJson(await ingester('GET', `/v1/knowledge-bases/${id}/documents`), 200);
    assert.equal((await expectJson<{ data: unknown[] }>(await reader('GET', '/v1/knowledge-bases'), 200)).data.length >= 2, true);
  });

  it('gives a key of knowledge base A a 404 on every route of B, without any of B’s data, and leaves B as it was', async () => {
    const ofA = client(api, keys['adminOfA']);
    const values = { knowledgeBaseId: knowledgeBases.b.id, documentId: knowledgeBases.b.documentId, model: knowledgeBases.b.id };
    const routesOfB = apiRoutes.filter((route) => route.knowledgeBaseParameter !== undefined || route.operationId === 'createChatCompletion');
    assert.ok(routesOfB.length >= 10);
    for (const route of routesOfB) {
      const response = await ofA(route.method, pathOf(route.path, values), bodyOf(route.operationId, knowledgeBases.b.id));
      const text = await response.text();
      assert.equal(response.status, 404, `${route.method} ${route.path}: ${text}`);
      assert.ok(!text.includes('7391') && !text.includes(knowledgeBases.b.documentId), text);
      const error = (JSON.parse(text) as { error: { code: string; param?: string } }).error;
      assert.equal(error.code, route.errorShape === 'openai' ? 'model_not_found' : 'knowledge_base_not_found');
    }
    const models = await expectJson<{ data: Array<{ id: string }> }>(await ofA('GET', '/v1/models'), 200);
    assert.deepEqual(
      models.data.map((model) => model.id),
      [knowledgeBases.a.id],
    );
    const listed = await expectJson<{ data: Array<{ id: string }> }>(await ofA('GET', '/v1/knowledge-bases'), 200);
    assert.deepEqual(
      listed.data.map((knowledgeBase) => knowledgeBase.id),
      [knowledgeBases.a.id],
    );
    // Nothing of B changed: its document is still there, and nothing was uploaded into it.
    const documents = await expectJson<{ data: Array<{ id: string }> }>(await admin('GET', `/v1/knowledge-bases/${knowledgeBases.b.id}/documents`), 200);
    assert.deepEqual(
      documents.data.map((document) => document.id),
      [knowledgeBases.b.documentId],
    );
    // A key limited to knowledge bases cannot act across them.
    assert.equal((await ofA('POST', '/v1/knowledge-bases', { json: { name: 'x' } })).status, 403);
    assert.equal((await ofA('GET', '/v1/api-keys')).status, 403);
    // …and is served on its own.
    await expectJson(await ofA('POST', `/v1/knowledge-bases/${knowledgeBases.a.id}/search`, { json: { query: 'harbour' } }), 200);
  });

  it('takes the key as the OpenAI SDK sends it, and the SDK sees another knowledge base as a model that does not exist', async () => {
    const openai = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: keys['adminOfA']!, maxRetries: 0 });
    const completion = await openai.chat.completions.create({ model: knowledgeBases.a.id, messages: [{ role: 'user', content: 'What does it talk about?' }] });
    assert.match(completion.choices[0]?.message.content ?? '', /harbour/);
    await assert.rejects(
      openai.chat.completions.create({ model: knowledgeBases.b.id, messages: [{ role: 'user', content: 'What is the combination?' }] }),
      (error: unknown) => error instanceof OpenAI.NotFoundError && error.code === 'model_not_found',
    );
  });

  it('lists keys without the keys themselves, and refuses a revoked key with 401 on its very next request', async () => {
    const created = await expectJson<{ id: string; key: string }>(
      await admin('POST', '/v1/api-keys', { json: { name: 'short-lived', scopes: ['read'] } }),
      201,
    );
    const listed = await (await admin('GET', '/v1/api-keys')).text();
    assert.ok(listed.includes(created.id) && !listed.includes(created.key));
    const user = client(api, created.key);
    await expectJson(await user('GET', '/v1/knowledge-bases'), 200);
    assert.equal((await admin('DELETE', `/v1/api-keys/${created.id}`)).status, 204);
    const refused = await expectJson<{ error: { code: string } }>(await user('GET', '/v1/knowledge-bases'), 401);
    assert.equal(refused.error.code, 'unauthorized');
    assert.equal((await admin('DELETE', `/v1/api-keys/${created.id}`)).status, 404);
  });

  it('refuses a key request that names a knowledge base that does not exist, or an expiry in the past', async () => {
    await expectJson(await admin('POST', '/v1/api-keys', { json: { name: 'x', scopes: ['read'], knowledgeBases: ['kb_nope'] } }), 400);
    await expectJson(await admin('POST', '/v1/api-keys', { json: { name: 'x', scopes: ['read'], expiresAt: '2001-01-01T00:00:00Z' } }), 400);
  });

  it('refuses a state-changing request from a browser origin that is not allowed (a form upload needs no preflight), and serves CORS_ORIGINS', async () => {
    const { id } = knowledgeBases.a;
    const form = textForm('evil.txt', 'planted');
    const refused = await expectJson<{ error: { code: string } }>(
      await admin('POST', `/v1/knowledge-bases/${id}/documents`, { form, headers: { origin: 'https://evil.example' } }),
      403,
    );
    assert.equal(refused.error.code, 'forbidden');
    const preflight = await fetch(`${api.url}/v1/knowledge-bases/${id}/search`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/);
    const evilPreflight = await fetch(`${api.url}/v1/knowledge-bases/${id}/search`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(evilPreflight.headers.get('access-control-allow-origin'), null);
    const allowed = await admin('POST', `/v1/knowledge-bases/${id}/search`, { json: { query: 'harbour' }, headers: { origin: 'https://app.example' } });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example');
    const documents = await expectJson<{ data: Array<{ name: string }> }>(await admin('GET', `/v1/knowledge-bases/${id}/documents`), 200);
    assert.ok(!documents.data.some((document) => document.name === 'evil.txt'));
  });

  it('keeps the operations routes and the web page open: /healthz, /readyz, /openapi.json and / need no key', async () => {
    await expectJson(await fetch(`${api.url}/healthz`), 200);
    const ready = await expectJson<{ status: string; checks: Record<string, { status: string }> }>(await fetch(`${api.url}/readyz`), 200);
    assert.equal(ready.checks['catalog']?.status, 'up');
    await expectJson(await fetch(`${api.url}/openapi.json`), 200);
    // The web page outside /v1 loads without a key (200 once apps/web is built, else Express's 404).
    assert.notEqual((await fetch(`${api.url}/`)).status, 401);
  });
});

/** A GET with a `Host` header of our choosing (fetch does not let one set it). */
function getWithHost(api: ApiProcess, path: string, host: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest({ host: '127.0.0.1', port: api.port, path, headers: { host, ...headers } }, (incoming) => {
      let body = '';
      incoming.setEncoding('utf8');
      incoming.on('data', (piece: string) => (body += piece));
      incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body }));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('Without ADMIN_API_KEY: loopback only', () => {
  let api: ApiProcess;
  before(async () => {
    api = await startApiProcess();
  });
  after(async () => {
    await api?.stop();
  });

  it('says at start that authentication is off', () => {
    assert.match(api.output(), /authentication is off/);
  });

  it('answers a loopback Host and refuses another with 403 (a DNS-rebinding page sends its own name)', async () => {
    assert.equal((await getWithHost(api, '/v1/knowledge-bases', `localhost:${api.port}`)).status, 200);
    const rebound = await getWithHost(api, '/v1/knowledge-bases', `evil.example:${api.port}`);
    assert.equal(rebound.status, 403);
    assert.equal((JSON.parse(rebound.body) as { error: { code: string } }).error.code, 'forbidden');
  });

  it('refuses a cross-origin form upload with 403, and takes the same upload from its own origin', async () => {
    const { id } = await expectJson<{ id: string }>(await client(api, undefined)('POST', '/v1/knowledge-bases', { json: { name: 'forms' } }), 201);
    const post = (origin: string) =>
      client(api, undefined)('POST', `/v1/knowledge-bases/${id}/documents`, { form: textForm('f.txt', 'form text'), headers: { origin } });
    assert.equal((await post('https://evil.example')).status, 403);
    assert.equal((await post(api.url)).status, 202);
  });

  it('refuses to start on a non-loopback address, and starts there with AUTH_DISABLED=true', async () => {
    await assert.rejects(startApiProcess({ env: { HOST: '0.0.0.0' } }), /Refusing to listen on 0\.0\.0\.0 without authentication/);
    const open = await startApiProcess({ env: { HOST: '0.0.0.0', AUTH_DISABLED: 'true' } });
    try {
      assert.match(open.output(), /AUTH_DISABLED=true/);
    } finally {
      await open.stop();
    }
  });
});

describe('Rate limits', () => {
  let api: ApiProcess;
  before(async () => {
    api = await startApiProcess({ env: { ADMIN_API_KEY: adminKey, RATE_LIMIT_PER_MINUTE: '60', RATE_LIMIT_BURST: '3' } });
  });
  after(async () => {
    await api?.stop();
  });

  it('answers 429 with Retry-After once a key’s bucket is empty, and serves it again after that wait', async () => {
    const admin = client(api, adminKey);
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let attempt = 0; attempt < 6 && refused === undefined; attempt += 1) {
      const response = await admin('GET', '/v1/knowledge-bases');
      statuses.push(response.status);
      if (response.status === 429) refused = response;
      else await response.text();
    }
    assert.ok(refused !== undefined, `never refused: ${statuses.join(', ')}`);
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter >= 1, `Retry-After ${retryAfter}`);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'rate_limited');
    // The health check is not limited.
    assert.equal((await fetch(`${api.url}/healthz`)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    assert.equal((await admin('GET', '/v1/knowledge-bases')).status, 200);
  });
});

describe('API keys in the scaled mode (catalog and keys in Redis)', () => {
  const replicas: ApiProcess[] = [];
  const { prefix, cleanup } = uniqueRedisPrefix('api-keys-scaled');
  before(async () => {
    const env = { ADMIN_API_KEY: adminKey, REDIS_URL: testRedisUrl, QUEUE_PREFIX: prefix, INGEST_IN_API: 'false', RATE_LIMIT_PER_MINUTE: '0' };
    for (let replica = 0; replica < 2; replica += 1) replicas.push(await startApiProcess({ env }));
  });
  after(async () => {
    for (const replica of replicas) await replica.stop();
    await cleanup();
  });

  it('serves a key made on one replica on the other, and refuses it there from the moment it is revoked on the first', async () => {
    const [first, second] = replicas as [ApiProcess, ApiProcess];
    const created = await expectJson<{ id: string; key: string }>(
      await client(first, adminKey)('POST', '/v1/api-keys', { json: { name: 'shared', scopes: ['read'] } }),
      201,
    );
    await expectJson(await client(second, created.key)('GET', '/v1/knowledge-bases'), 200);
    assert.equal((await client(first, adminKey)('DELETE', `/v1/api-keys/${created.id}`)).status, 204);
    await expectJson(await client(second, created.key)('GET', '/v1/knowledge-bases'), 401);
  });
});
