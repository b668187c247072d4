/**
 * The floor of `bench:stream`: the least a Node relay can do, in a process of its own. For each
 * `POST /ask {question}` it opens a streamed chat completion on the stub with plain `node:http`,
 * parses the stub's SSE and re-emits each delta as a `text-delta` event, then `end`. Backpressure
 * and disconnects are handled as in the API, so the comparison is fair; nothing else is done.
 * Prints `{"port":…}` once it listens.
 *
 * Arguments: --upstream http://127.0.0.1:PORT (the stub)
 */
import { Agent, createServer, request } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { stringArgument } from './arguments.js';

const upstream = new URL(stringArgument('--upstream', 'http://127.0.0.1:8000'));
const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, maxFreeSockets: 100_000 });

const server = createServer({ noDelay: true }, (incoming, response) => {
  let body = '';
  incoming.setEncoding('utf8');
  incoming.on('data', (piece: string) => (body += piece));
  incoming.on('end', () => {
    const { question } = JSON.parse(body) as { question: string };
    const outgoing = request(
      { host: upstream.hostname, port: upstream.port, path: '/v1/chat/completions', method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (upstreamResponse) => {
        if (upstreamResponse.statusCode !== 200) {
          response.writeHead(502).end();
          upstreamResponse.resume();
          return;
        }
        response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
        response.flushHeaders();
        upstreamResponse.setEncoding('utf8');
        let buffer = '';
        upstreamResponse.on('data', (piece: string) => {
          buffer += piece;
          let boundary = buffer.indexOf('\n\n');
          while (boundary >= 0) {
            const block = buffer.slice(0, boundary);
            buffer = buffer.slice(boundary + 2);
            boundary = buffer.indexOf('\n\n');
            if (!block.startsWith('data: ')) continue;
            const data = block.slice(6);
            if (data === '[DONE]') {
              response.end('event: end\ndata: {}\n\n');
              return;
            }
            const content = (JSON.parse(data) as { choices?: Array<{ delta?: { content?: string } }> }).choices?.[0]?.delta?.content;
            if (content && !response.write(`event: text-delta\ndata: ${JSON.stringify({ delta: content })}\n\n`)) {
              upstreamResponse.pause();
              response.once('drain', () => upstreamResponse.resume());
            }
          }
        });
      },
    );
    outgoing.on('error', () => response.destroy());
    response.on('close', () => {
      if (!response.writableFinished) outgoing.destroy();
    });
    outgoing.end(JSON.stringify({ model: 'stub', stream: true, messages: [{ role: 'user', content: question }] }));
  });
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
process.on('SIGTERM', () => process.exit(0));
