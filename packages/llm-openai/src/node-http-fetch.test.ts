import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { requestHandler } from '@passage/testing';
import { createNodeHttpFetch, eventStreamOf } from './node-http-fetch.js';

describe('createNodeHttpFetch', () => {
  let server: Server;
  let url: string;
  const received: Array<{ method: string | undefined; headers: IncomingMessage['headers']; body: string }> = [];
  const closedEarly: boolean[] = [];
  let handle: (response: ServerResponse) => void = () => {};
  const transport = createNodeHttpFetch();

  before(async () => {
    server = createServer(
      requestHandler(async (request, response) => {
        let body = '';
        for await (const piece of request) body += String(piece);
        received.push({ method: request.method, headers: request.headers, body });
        response.once('close', () => closedEarly.push(!response.writableFinished));
        handle(response);
      }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    transport.close();
    server.closeAllConnections();
    server.close();
  });

  it('sends method, headers and body, and reads a JSON answer whole with its status and headers', async () => {
    handle = (response) => {
      response.writeHead(404, { 'content-type': 'application/json', 'x-request-id': 'req-1' });
      response.end('{"error":{"message":"nope"}}');
    };
    const response = await transport.fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: new Headers({ authorization: 'Bearer key', 'content-type': 'application/json' }),
      body: '{"model":"m"}',
    });
    assert.equal(response.status, 404);
    assert.equal(response.headers.get('x-request-id'), 'req-1');
    assert.deepEqual(await response.json(), { error: { message: 'nope' } });
    assert.equal(eventStreamOf(response), undefined);
    const request = received.at(-1);
    assert.equal(request?.method, 'POST');
    assert.equal(request?.headers.authorization, 'Bearer key');
    assert.equal(request?.body, '{"model":"m"}');
  });

  it('gives an event stream as a Response without body and its bytes as the Node stream', async () => {
    handle = (response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end('data: one\n\n');
    };
    const response = await transport.fetch(url, { method: 'POST', body: '{}' });
    assert.equal(response.body, null);
    assert.equal(response.ok, true);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('Content-Type'), 'text/event-stream');
    assert.equal(response.url, `${url}/`);
    const stream = eventStreamOf(response);
    assert.ok(stream);
    let text = '';
    for await (const piece of stream) text += String(piece);
    assert.equal(text, 'data: one\n\n');
  });

  it('closes the connection when the signal aborts in the middle of an event stream', async () => {
    handle = (response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('data: first\n\n');
    };
    const controller = new AbortController();
    const response = await transport.fetch(url, { method: 'POST', body: '{}', signal: controller.signal });
    const stream = eventStreamOf(response)!;
    const closed = new Promise((resolve) => stream.once('close', resolve));
    const before = closedEarly.length;
    controller.abort();
    await closed;
    while (closedEarly.length === before) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closedEarly.at(-1), true, 'the server saw the connection close before its answer ended');
  });

  it('rejects with the abort reason when the signal has already fired', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(transport.fetch(url, { signal: controller.signal }), { name: 'AbortError' });
  });
});
