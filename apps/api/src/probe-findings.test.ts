import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTextKnowledgeBase, expectJson, startApiProcess, waitFor, type ApiProcess } from '@passage/testing';

/** Sends a raw multipart upload over a socket; `abortAfterBytes` cuts the connection after that many body bytes. */
function rawUpload(api: ApiProcess, knowledgeBaseId: string, partHeader: string, options: { abortAfterBytes?: number } = {}): Promise<string> {
  const boundary = 'probe-boundary';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\n${partHeader}\r\n\r\n`, 'utf8'),
    Buffer.alloc(200_000, 'a'),
    Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'),
  ]);
  return new Promise((resolve, reject) => {
    const socket = connect(api.port, '127.0.0.1', () => {
      socket.write(
        `POST /v1/knowledge-bases/${knowledgeBaseId}/documents HTTP/1.1\r\nHost: 127.0.0.1:${api.port}\r\nConnection: close\r\n` +
          `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      if (options.abortAfterBytes === undefined) {
        socket.write(body);
        return;
      }
      socket.write(body.subarray(0, options.abortAfterBytes), () => setTimeout(() => socket.destroy(), 100));
    });
    let received = '';
    socket.on('data', (piece: Buffer) => (received += piece.toString('utf8')));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

const statusOf = (raw: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);

describe('Probe findings, each fixed', () => {
  let api: ApiProcess;
  let knowledgeBaseId: string;
  const post = (path: string, body: unknown, contentType = 'application/json') =>
    fetch(`${api.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const errorLines = () =>
    api
      .output()
      .split('\n')
      .filter((line) => line.includes('"level":50'));

  before(async () => {
    api = await startApiProcess();
    ({ knowledgeBaseId } = await createTextKnowledgeBase(api, 'Probe', { 'a.txt': 'The harbour light burned olive oil at night.' }));
  });
  after(async () => {
    await api?.stop();
  });

  it('answers a malformed multipart part header (a NUL in the file name, a header over 80 KB) with 400, logged below error', async () => {
    const nul = await rawUpload(api, knowledgeBaseId, 'Content-Disposition: form-data; name="files"; filename="a\u0000b.txt"');
    assert.equal(statusOf(nul), 400, nul);
    assert.match(nul, /"code":"invalid_request"/);
    const long = await rawUpload(api, knowledgeBaseId, `Content-Disposition: form-data; name="files"; filename="a.txt"\r\nX-Padding: ${'p'.repeat(90_000)}`);
    assert.equal(statusOf(long), 400, long.slice(0, 300));
    assert.deepEqual(errorLines(), []);
  });

  it('logs an upload the client aborted as 499 at info level, without a stack, and keeps serving', async () => {
    await rawUpload(api, knowledgeBaseId, 'Content-Disposition: form-data; name="files"; filename="cut.txt"', { abortAfterBytes: 50_000 });
    await expectJson(await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents`), 200);
    // The server sees the connection close on its own time: wait for the request's log line.
    const aborted = await waitFor(
      () =>
        Promise.resolve(
          api
            .output()
            .split('\n')
            .find((line) => line.includes('"msg":"request"') && line.includes('"status":499') && line.includes('/documents')),
        ),
      { timeoutMs: 10_000, what: 'the request line of the aborted upload' },
    );
    assert.equal((JSON.parse(aborted) as { level: number }).level, 30);
    assert.deepEqual(errorLines(), []);
  });

  it('refuses knowledge-base and file names with NUL, control characters, a right-to-left override or a lone surrogate', async () => {
    for (const name of ['a\u0000b', 'bell\u0007', 'invoice\u202Efdp.exe', 'half \ud800 pair']) {
      const refused = await expectJson<{ error: { code: string; message: string } }>(await post('/v1/knowledge-bases', { name }), 400);
      assert.match(refused.error.message, /^name: must not contain/);
    }
    // A lone surrogate escaped in the JSON text, as a client would send it.
    await expectJson(await post('/v1/knowledge-bases', '{"name":"x\\ud800y"}'), 400);
    const form = new FormData();
    form.append('files', new Blob([new TextEncoder().encode('text')], { type: 'text/plain' }), 'report\u202Etxt.exe');
    const refused = await expectJson<{ error: { message: string } }>(
      await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents`, { method: 'POST', body: form }),
      400,
    );
    assert.match(refused.error.message, /file name must not contain/);
    // Names in any script, emoji included, stay welcome.
    await expectJson(await post('/v1/knowledge-bases', { name: '论文 📚 Ελληνικά' }), 201);
  });

  it('answers another JSON media type (application/vnd.api+json) on /search and knowledge-base creation with 415', async () => {
    for (const path of [`/v1/knowledge-bases/${knowledgeBaseId}/search`, '/v1/knowledge-bases']) {
      const refused = await expectJson<{ error: { code: string } }>(await post(path, { query: 'light', name: 'x' }, 'application/vnd.api+json'), 415);
      assert.equal(refused.error.code, 'unsupported_media_type');
    }
  });

  it('never sends a large input back in an error message (a 900 KB model, a long id in the path)', async () => {
    const model = 'm'.repeat(900_000);
    const response = await post('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }] });
    const text = await response.text();
    assert.equal(response.status, 400);
    assert.ok(text.length < 2000, `${text.length} characters`);
    const longId = `kb_${'x'.repeat(6000)}`;
    const notFound = await fetch(`${api.url}/v1/knowledge-bases/${longId}`);
    const notFoundText = await notFound.text();
    assert.equal(notFound.status, 404);
    assert.ok(notFoundText.length < 1200, `${notFoundText.length} characters`);
  });

  it('answers GET /v1/chat/completions with 405 in OpenAI’s error shape', async () => {
    const response = await fetch(`${api.url}/v1/chat/completions`);
    assert.equal(response.headers.get('allow'), 'POST');
    const body = await expectJson<{ error: { type: string; code: string; param: null } }>(response, 405);
    assert.deepEqual(
      { type: body.error.type, code: body.error.code, param: body.error.param },
      { type: 'invalid_request_error', code: 'method_not_allowed', param: null },
    );
  });

  it('takes topK from 1 to 50 on both /search and /ask, and refuses 51 on both', async () => {
    for (const [path, body] of [
      [`/v1/knowledge-bases/${knowledgeBaseId}/search`, { query: 'light' }],
      [`/v1/knowledge-bases/${knowledgeBaseId}/ask`, { question: 'What burned?' }],
    ] as const) {
      await expectJson(await post(path, { ...body, topK: 50 }), 200);
      const refused = await expectJson<{ error: { message: string } }>(await post(path, { ...body, topK: 51 }), 400);
      assert.match(refused.error.message, /^topK: /);
    }
  });
});
