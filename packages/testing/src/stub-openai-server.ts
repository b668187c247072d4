import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

/** What the stub does with one chat completion request. */
export type StubBehaviour =
  | { kind: 'stream'; tokens: string[]; firstTokenDelayMs?: number; tokenIntervalMs?: number; failAfterTokens?: number; stallAfterTokens?: number }
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> };

export interface RecordedRequest {
  body: {
    model?: string;
    stream?: boolean;
    messages?: Array<{ role: string; content: string }>;
    [key: string]: unknown;
  };
  headers: IncomingMessage['headers'];
  /** Resolves when the client closed the connection before the stub finished. */
  aborted: Promise<void>;
  wasAborted: () => boolean;
}

export interface StubOpenAiServer {
  url: string;
  /** `url` + `/v1`, what OPENAI_BASE_URL takes. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Behaviour for the next requests, in order; the last one repeats. */
  setBehaviours(behaviours: StubBehaviour[]): void;
  close(): Promise<void>;
}

/**
 * A local server speaking OpenAI's chat completions protocol (JSON and `stream: true` SSE), with
 * scripted latency and faults, so the real `openai` SDK can be exercised without a model.
 */
export async function startStubOpenAiServer(initial: StubBehaviour[] = [{ kind: 'stream', tokens: ['Hello', ' world'] }]): Promise<StubOpenAiServer> {
  let behaviours = [...initial];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();

  const server: Server = createServer(async (request, response) => {
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
    let abortedFlag = false;
    let resolveAborted: () => void = () => {};
    const aborted = new Promise<void>((resolve) => (resolveAborted = resolve));
    response.once('close', () => {
      if (!response.writableFinished) {
        abortedFlag = true;
        resolveAborted();
      }
    });
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as RecordedRequest['body'];
    requests.push({ body, headers: request.headers, aborted, wasAborted: () => abortedFlag });
    const behaviour = behaviours.length > 1 ? behaviours.shift()! : behaviours[0]!;
    await respond(behaviour, body, response, () => abortedFlag);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
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
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

async function respond(behaviour: StubBehaviour, body: RecordedRequest['body'], response: ServerResponse, aborted: () => boolean): Promise<void> {
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
  if (body.stream !== true) {
    response.setHeader('Content-Type', 'application/json');
    response.end(
      JSON.stringify({
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: behaviour.tokens.join('') }, finish_reason: 'stop' }],
      }),
    );
    return;
  }
  response.setHeader('Content-Type', 'text/event-stream');
  response.setHeader('Cache-Control', 'no-cache');
  response.flushHeaders();
  const chunk = (delta: Record<string, unknown>, finishReason: string | null) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finishReason }] })}\n\n`;
  if (behaviour.firstTokenDelayMs) await sleep(behaviour.firstTokenDelayMs);
  if (aborted()) return;
  response.write(chunk({ role: 'assistant', content: '' }, null));
  for (const [position, token] of behaviour.tokens.entries()) {
    if (behaviour.failAfterTokens !== undefined && position === behaviour.failAfterTokens) {
      // Let what was written reach the client, then cut the connection mid-stream.
      await sleep(50);
      response.socket?.destroy();
      return;
    }
    if (behaviour.stallAfterTokens !== undefined && position === behaviour.stallAfterTokens) {
      await new Promise<void>((resolve) => response.once('close', () => resolve()));
      return;
    }
    if (position > 0 && behaviour.tokenIntervalMs) await sleep(behaviour.tokenIntervalMs);
    if (aborted()) return;
    response.write(chunk({ content: token }, null));
  }
  response.write(chunk({}, 'stop'));
  response.end('data: [DONE]\n\n');
}
