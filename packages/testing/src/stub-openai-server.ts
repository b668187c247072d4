import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { requestHandler } from './request-handler.js';

/** What the stub does with one chat completion request. */
export type StubBehaviour =
  | {
      kind: 'stream';
      tokens: string[];
      /** Wait before the first token, ms (headers are sent at once). Default: 0. */
      firstTokenDelayMs?: number;
      /** Wait between tokens, ms. Default: 0. */
      tokenIntervalMs?: number;
      /** Cut the connection after this many tokens (a broken stream). */
      failAfterTokens?: number;
      /** Send this many tokens, then an OpenAI-style `data: {"error":…}` event and end the stream. */
      errorEventAfterTokens?: number;
      /** Send this many tokens, then nothing until the client goes away (0 without streaming: never answer). */
      stallAfterTokens?: number;
      /** Awaited before each token: lets a test decide when the next token goes. */
      beforeToken?: (position: number) => Promise<void>;
    }
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  /** Close the connection without answering, as a server does with a kept-alive connection it just timed out. */
  | { kind: 'reset' };

export interface RecordedRequest {
  body: {
    model?: string;
    stream?: boolean;
    messages?: Array<{ role: string; content: string }>;
    [key: string]: unknown;
  };
  headers: IncomingMessage['headers'];
  /** performance.now() when the request body had arrived. */
  receivedAt: number;
  /** Resolves when the client closed the connection before the stub finished. */
  aborted: Promise<void>;
  wasAborted: () => boolean;
  /** performance.now() when the client closed the connection early; undefined while it has not. */
  closedAt: () => number | undefined;
  /** Tokens handed to the socket so far; a token waits while the socket's buffer is full. */
  tokensWritten: () => number;
  /** performance.now() when the first token was handed to the socket; undefined before. */
  firstTokenAt: () => number | undefined;
  /** True while a write waits for `drain`: the client is not reading. */
  waitingForDrain: () => boolean;
}

export interface StubOpenAiServerOptions {
  /** Keep a RecordedRequest per request (tests). A load run turns it off. Default: true. */
  record?: boolean;
  /** Default: 0, any free port. */
  port?: number;
}

export interface StubOpenAiServer {
  url: string;
  /** `url` + `/v1`, what OPENAI_BASE_URL takes. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Behaviour for the next requests, in order; the last one repeats. */
  setBehaviours(behaviours: StubBehaviour[]): void;
  /** TCP connections accepted so far (keep-alive reuse shows as fewer connections than requests). */
  connectionCount(): number;
  close(): Promise<void>;
}

/**
 * A local server speaking OpenAI's chat completions protocol (JSON and `stream: true` SSE), with
 * scripted latency and faults, so the real `openai` SDK can be exercised without a model. Streams
 * respect backpressure: a token is not written while the socket's buffer is full.
 */
export async function startStubOpenAiServer(
  initial: StubBehaviour[] = [{ kind: 'stream', tokens: ['Hello', ' world'] }],
  options: StubOpenAiServerOptions = {},
): Promise<StubOpenAiServer> {
  let behaviours = [...initial];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const record = options.record ?? true;

  const server: Server = createServer(
    requestHandler(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      if (request.url?.endsWith('/models') && request.method === 'GET') {
        response.setHeader('Content-Type', 'application/json');
        response.end(JSON.stringify({ object: 'list', data: [{ id: 'stub-model', object: 'model', created: 0, owned_by: 'stub' }] }));
        return;
      }
      if (!request.url?.endsWith('/chat/completions') || request.method !== 'POST') {
        response.statusCode = 404;
        response.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }));
        return;
      }
      const state: ResponseState = { closedAt: undefined, tokensWritten: 0, waitingForDrain: false, firstTokenAt: undefined };
      let resolveAborted: () => void = () => {};
      const aborted = new Promise<void>((resolve) => (resolveAborted = resolve));
      response.once('close', () => {
        if (!response.writableFinished) {
          state.closedAt = performance.now();
          resolveAborted();
        }
      });
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as RecordedRequest['body'];
      if (record) {
        requests.push({
          body,
          headers: request.headers,
          receivedAt: performance.now(),
          aborted,
          wasAborted: () => state.closedAt !== undefined,
          closedAt: () => state.closedAt,
          tokensWritten: () => state.tokensWritten,
          firstTokenAt: () => state.firstTokenAt,
          waitingForDrain: () => state.waitingForDrain,
        });
      }
      const behaviour = behaviours.length > 1 ? behaviours.shift()! : behaviours[0]!;
      await respond(behaviour, body, response, state);
    }),
  );
  server.on('connection', (socket) => {
    connections += 1;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    requests,
    setBehaviours(next) {
      behaviours = [...next];
    },
    connectionCount: () => connections,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}

interface ResponseState {
  closedAt: number | undefined;
  tokensWritten: number;
  waitingForDrain: boolean;
  firstTokenAt: number | undefined;
}

async function respond(behaviour: StubBehaviour, body: RecordedRequest['body'], response: ServerResponse, state: ResponseState): Promise<void> {
  if (behaviour.kind === 'reset') {
    response.socket?.destroy();
    return;
  }
  if (behaviour.kind === 'status') {
    response.statusCode = behaviour.status;
    response.setHeader('Content-Type', 'application/json');
    for (const [name, value] of Object.entries(behaviour.headers ?? {})) response.setHeader(name, value);
    response.end(JSON.stringify(behaviour.body ?? { error: { message: `stub status ${behaviour.status}`, type: 'stub_error', code: null } }));
    return;
  }
  const id = `chatcmpl-stub-${Date.now()}`;
  const model = body.model ?? 'stub-model';
  const created = Math.floor(Date.now() / 1000);
  const closed = () => state.closedAt !== undefined || response.destroyed;
  if (body.stream !== true) {
    if (behaviour.stallAfterTokens !== undefined) {
      if (!closed()) await new Promise<void>((resolve) => response.once('close', () => resolve()));
      return;
    }
    if (behaviour.firstTokenDelayMs) await sleep(behaviour.firstTokenDelayMs);
    if (closed()) return;
    response.setHeader('Content-Type', 'application/json');
    response.end(
      JSON.stringify({
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: behaviour.tokens.join('') }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: behaviour.tokens.length, total_tokens: 1 + behaviour.tokens.length },
      }),
    );
    return;
  }
  response.setHeader('Content-Type', 'text/event-stream');
  response.setHeader('Cache-Control', 'no-cache');
  response.flushHeaders();
  response.socket?.setNoDelay(true);
  // Every chunk but the delta is the same: render it once.
  const prefix = `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":`;
  const chunk = (delta: string, finishReason: string | null) =>
    `${prefix}${delta},"finish_reason":${finishReason === null ? 'null' : `"${finishReason}"`}}]}\n\n`;
  const write = async (text: string): Promise<void> => {
    if (response.write(text)) return;
    state.waitingForDrain = true;
    await new Promise<void>((resolve) => {
      const done = () => {
        response.off('drain', done);
        response.off('close', done);
        resolve();
      };
      response.on('drain', done);
      response.on('close', done);
    });
    state.waitingForDrain = false;
  };
  if (behaviour.firstTokenDelayMs) await sleep(behaviour.firstTokenDelayMs);
  if (closed()) return;
  await write(chunk('{"role":"assistant","content":""}', null));
  for (const [position, token] of behaviour.tokens.entries()) {
    if (behaviour.failAfterTokens !== undefined && position === behaviour.failAfterTokens) {
      // Let what was written reach the client, then cut the connection mid-stream.
      await sleep(50);
      response.socket?.destroy();
      return;
    }
    if (behaviour.errorEventAfterTokens !== undefined && position === behaviour.errorEventAfterTokens) {
      response.end(`data: ${JSON.stringify({ error: { message: 'The stub model failed mid-stream', type: 'server_error', param: null, code: null } })}\n\n`);
      return;
    }
    if (behaviour.stallAfterTokens !== undefined && position === behaviour.stallAfterTokens) {
      if (!closed()) await new Promise<void>((resolve) => response.once('close', () => resolve()));
      return;
    }
    if (position > 0 && behaviour.tokenIntervalMs) await sleep(behaviour.tokenIntervalMs);
    if (behaviour.beforeToken) await behaviour.beforeToken(position);
    if (closed()) return;
    state.firstTokenAt ??= performance.now();
    await write(chunk(`{"content":${JSON.stringify(token)}}`, null));
    state.tokensWritten += 1;
  }
  if (closed()) return;
  await write(chunk('{}', 'stop'));
  response.end('data: [DONE]\n\n');
}
