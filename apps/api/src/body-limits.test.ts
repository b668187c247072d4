import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { toAppError } from '@passage/spec';
import { expectJson, startApiProcess, type ApiProcess } from '@passage/testing';
import { JSON_BODY_LIMIT_BYTES } from './body-limit.js';
import { sendError } from './http-errors.js';
import { readJsonBody } from './read-json-body.js';
import { sendJson } from './send-json.js';
import { MULTIPART_ALLOWANCE_BYTES } from './upload-files.js';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Settles when the server has closed the connection. */
  closed: Promise<void>;
}

/**
 * Opens a connection, sends `head` and then `body` (which may be only the start of the body the
 * head announces), never ends the request, and resolves with the response once it is complete.
 * A server that waits for the rest of the body never answers, and the test times out.
 */
async function sendAndWait(port: number, head: string, body: Buffer = Buffer.alloc(0)): Promise<RawResponse> {
  const socket = connect(port, '127.0.0.1');
  const closed = once(socket, 'close').then(() => undefined);
  socket.on('error', () => {
    // The server closes the connection while the rest of the body is unsent: that is the point.
  });
  socket.write(head);
  if (body.length > 0) socket.write(body);
  let received = Buffer.alloc(0);
  for (;;) {
    const [piece] = (await Promise.race([once(socket, 'data'), closed.then(() => [undefined])])) as [Buffer | undefined];
    if (piece !== undefined) received = Buffer.concat([received, piece]);
    const headEnd = received.indexOf('\r\n\r\n');
    if (headEnd >= 0) {
      const [statusLine = '', ...headerLines] = received.subarray(0, headEnd).toString('latin1').split('\r\n');
      const headers = Object.fromEntries(headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      const bodyBytes = received.subarray(headEnd + 4);
      if (bodyBytes.length >= Number(headers['content-length'] ?? Infinity) || piece === undefined) {
        return { status: Number(statusLine.split(' ')[1]), headers, body: bodyBytes.toString('utf8'), closed };
      }
    }
    if (piece === undefined) throw new Error(`The connection closed without a complete response: ${received.toString('latin1')}`);
  }
}

/** One piece of a chunked body. */
function chunk(data: Buffer | string): Buffer {
  const bytes = Buffer.from(data);
  return Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]);
}

function requestHead(method: string, target: string, headers: Record<string, string | number>): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines.join('')}\r\n`;
}

function errorCode(response: RawResponse): string {
  return (JSON.parse(response.body) as { error: { code: string } }).error.code;
}

/** Asserts a 413 `payload_too_large` that tells the client, and shows it, that the connection ends. */
async function assertRefusedAndClosed(response: RawResponse): Promise<void> {
  assert.equal(response.status, 413);
  assert.equal(errorCode(response), 'payload_too_large');
  assert.equal(response.headers['connection'], 'close');
  await response.closed;
}

const boundary = 'passage-limit-test';
const maxFileBytes = 64 * 1024;
const maxFiles = 2;

function filePart(name: string, content: Buffer | string): Buffer {
  return Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\n`),
    Buffer.from(content),
    Buffer.from('\r\n'),
  ]);
}

describe('Upload and JSON body limits act as the bytes arrive', () => {
  let api: ApiProcess;
  let knowledgeBaseId: string;
  let uploadsPath: string;
  const originals = () => path.join(api.dataDirectory, 'originals');

  before(async () => {
    api = await startApiProcess({ env: { MAX_UPLOAD_BYTES: String(maxFileBytes), MAX_FILES_PER_UPLOAD: String(maxFiles) } });
    const created = await fetch(`${api.url}/v1/knowledge-bases`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":"limits"}',
    });
    knowledgeBaseId = (await expectJson<{ id: string }>(created, 201)).id;
    uploadsPath = `/v1/knowledge-bases/${knowledgeBaseId}/documents`;
  });
  after(async () => {
    await api?.stop();
  });

  /** Asserts that no upload left a file: neither in flight (.uploads) nor stored as an original. */
  const assertNothingOnDisk = async () => {
    assert.deepEqual(await readdir(path.join(originals(), '.uploads')), []);
    assert.deepEqual(
      (await readdir(originals())).filter((name) => name !== '.uploads'),
      [],
    );
    const listed = await expectJson<{ data: unknown[] }>(await fetch(`${api.url}${uploadsPath}`), 200);
    assert.deepEqual(listed.data, []);
  };

  it('refuses an upload whose Content-Length is over the largest possible upload before reading any of it', async () => {
    const declared = maxFiles * maxFileBytes + MULTIPART_ALLOWANCE_BYTES + 1;
    const head = requestHead('POST', uploadsPath, { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': declared });
    await assertRefusedAndClosed(await sendAndWait(api.port, head));
    await assertNothingOnDisk();
  });

  it('cuts a chunked upload of twice the file limit at the limit, closes the connection and keeps nothing', async () => {
    const head = requestHead('POST', uploadsPath, { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Transfer-Encoding': 'chunked' });
    // The whole body would be 2 × the limit; only a little over the limit is ever sent.
    const start = filePart('twice.txt', Buffer.alloc(2 * maxFileBytes, 'a')).subarray(0, maxFileBytes + 8 * 1024 + 200);
    await assertRefusedAndClosed(await sendAndWait(api.port, head, chunk(start)));
    await assertNothingOnDisk();
  });

  it('removes the files already received in a request when a later file is over the limit', async () => {
    const head = requestHead('POST', uploadsPath, { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Transfer-Encoding': 'chunked' });
    const start = Buffer.concat([filePart('small.txt', 'A small file that arrived whole.'), filePart('big.txt', Buffer.alloc(maxFileBytes + 8 * 1024, 'b'))]);
    await assertRefusedAndClosed(await sendAndWait(api.port, head, chunk(start)));
    await assertNothingOnDisk();
  });

  it('refuses a file too many or a file in another field with 400, which a fetch client reads, and keeps none of the files', async () => {
    const tooMany = new FormData();
    for (const name of ['one.txt', 'two.txt', 'three.txt']) tooMany.append('files', new Blob([name.repeat(1000)], { type: 'text/plain' }), name);
    const tooManyError = await expectJson<{ error: { code: string } }>(await fetch(`${api.url}${uploadsPath}`, { method: 'POST', body: tooMany }), 400);
    assert.equal(tooManyError.error.code, 'too_many_files');
    const wrongField = new FormData();
    wrongField.append('files', new Blob(['first'], { type: 'text/plain' }), 'first.txt');
    wrongField.append('file', new Blob(['x'.repeat(maxFileBytes)], { type: 'text/plain' }), 'second.txt');
    const wrongFieldError = await expectJson<{ error: { code: string } }>(await fetch(`${api.url}${uploadsPath}`, { method: 'POST', body: wrongField }), 400);
    assert.equal(wrongFieldError.error.code, 'invalid_request');
    await assertNothingOnDisk();
  });

  it('accepts a file of exactly MAX_UPLOAD_BYTES', async () => {
    const form = new FormData();
    form.append('files', new Blob([Buffer.alloc(maxFileBytes, 'c')], { type: 'text/plain' }), 'exact.txt');
    const accepted = await expectJson<{ data: { bytes: number; status: string }[] }>(
      await fetch(`${api.url}${uploadsPath}`, { method: 'POST', body: form }),
      202,
    );
    assert.deepEqual(
      accepted.data.map((document) => document.bytes),
      [maxFileBytes],
    );
    assert.deepEqual(await readdir(path.join(originals(), '.uploads')), []);
  });

  it('refuses a JSON body whose Content-Length is over 1 MiB on an Express route before reading any of it', async () => {
    const head = requestHead('POST', '/v1/knowledge-bases', { 'Content-Type': 'application/json', 'Content-Length': JSON_BODY_LIMIT_BYTES + 1 });
    await assertRefusedAndClosed(await sendAndWait(api.port, head));
  });

  it('cuts a chunked JSON body on an Express route at 1 MiB and closes the connection', async () => {
    const head = requestHead('POST', '/v1/knowledge-bases', { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    const start = `{"name":"${'n'.repeat(JSON_BODY_LIMIT_BYTES)}`;
    await assertRefusedAndClosed(await sendAndWait(api.port, head, chunk(start)));
  });

  it('refuses a JSON body whose Content-Length is over 1 MiB on the answer endpoint before reading any of it', async () => {
    const head = requestHead('POST', `/v1/knowledge-bases/${knowledgeBaseId}/ask`, {
      'Content-Type': 'application/json',
      'Content-Length': JSON_BODY_LIMIT_BYTES + 1,
    });
    await assertRefusedAndClosed(await sendAndWait(api.port, head));
  });

  it('cuts a chunked JSON body on the answer endpoint at 1 MiB and closes the connection', async () => {
    const head = requestHead('POST', `/v1/knowledge-bases/${knowledgeBaseId}/ask`, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    const start = `{"question":"${'q'.repeat(JSON_BODY_LIMIT_BYTES)}`;
    await assertRefusedAndClosed(await sendAndWait(api.port, head, chunk(start)));
  });
});

describe('readJsonBody (the answer endpoints, served without Express) cuts a body at its limit', () => {
  const limitBytes = 1024;
  let server: Server;
  let port: number;

  before(async () => {
    // The answer endpoints' handling: read the body, answer, or send the error.
    server = createServer((request, response) => {
      readJsonBody(request, limitBytes, response).then(
        (body) => sendJson(response, 200, { body }),
        (error: unknown) => sendError(response, toAppError(error)),
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    server.close();
    await once(server, 'close');
  });

  it('refuses a Content-Length over the limit before reading any of the body and closes the connection', async () => {
    const head = requestHead('POST', '/ask', { 'Content-Type': 'application/json', 'Content-Length': limitBytes + 1 });
    await assertRefusedAndClosed(await sendAndWait(port, head));
  });

  it('cuts a chunked body of twice the limit at the limit and closes the connection', async () => {
    const head = requestHead('POST', '/ask', { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    const start = `{"question":"${'q'.repeat(limitBytes)}`;
    await assertRefusedAndClosed(await sendAndWait(port, head, chunk(start)));
  });

  it('reads a body within the limit', async () => {
    const head = requestHead('POST', '/ask', { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    const response = await sendAndWait(port, head, Buffer.concat([chunk('{"question":'), chunk('"why?"}'), Buffer.from('0\r\n\r\n')]));
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.body), { body: { question: 'why?' } });
  });
});
