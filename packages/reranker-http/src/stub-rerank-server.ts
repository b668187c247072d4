/**
 * A `/rerank` server for tests, in either answer shape: TEI's `[{ index, score }]` or Cohere's
 * `{ results: [{ index, relevance_score }] }`, sorted best first as real servers answer. A text's
 * score is the share of the query's words it holds, so rankings mean something. Each request can
 * be told to fail with a status and headers, or to never answer.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type StubRerankBehaviour =
  | { kind: 'rerank'; shape: 'tei' | 'cohere'; corrupt?: 'index' | 'score' }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: unknown }
  | { kind: 'hang' };

export interface StubRerankRequest {
  query: string;
  texts: string[];
  model: string | undefined;
  authorization: string | undefined;
}

export interface StubRerankServer {
  baseUrl: string;
  requests: StubRerankRequest[];
  /** Behaviour for the next requests, in order; the last one repeats. */
  setBehaviours(behaviours: StubRerankBehaviour[]): void;
  close(): Promise<void>;
}

/** The stub's score: the share of the query's words found in the text. */
export function wordOverlapScore(query: string, text: string): number {
  const words = (value: string) => value.toLowerCase().match(/\p{L}+|\p{N}+/gu) ?? [];
  const queryWords = new Set(words(query));
  const textWords = new Set(words(text));
  if (queryWords.size === 0) return 0;
  return [...queryWords].filter((word) => textWords.has(word)).length / queryWords.size;
}

export async function startStubRerankServer(behaviours: StubRerankBehaviour[] = [{ kind: 'rerank', shape: 'tei' }]): Promise<StubRerankServer> {
  let queue = [...behaviours];
  const requests: StubRerankRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    void answer(request, response).catch((error: unknown) => {
      response.destroy(error as Error);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { query: string; documents?: string[]; texts?: string[]; model?: string };
    if (request.method !== 'POST' || request.url?.endsWith('/rerank') !== true) {
      response.writeHead(404).end();
      return;
    }
    const texts = body.documents ?? body.texts ?? [];
    requests.push({ query: body.query, texts, model: body.model, authorization: request.headers.authorization });
    const behaviour = queue.length > 1 ? queue.shift()! : queue[0]!;
    if (behaviour.kind === 'hang') return;
    if (behaviour.kind === 'status') {
      response.writeHead(behaviour.status, { 'content-type': 'application/json', ...behaviour.headers });
      response.end(JSON.stringify(behaviour.body ?? { error: `stub status ${behaviour.status}` }));
      return;
    }
    const scored = texts.map((text, index) => ({ index, score: wordOverlapScore(body.query, text) })).sort((a, b) => b.score - a.score);
    if (behaviour.corrupt === 'index' && scored[0] !== undefined) scored[0].index = texts.length;
    const payload =
      behaviour.shape === 'tei'
        ? scored.map((entry) => ({ index: entry.index, score: behaviour.corrupt === 'score' ? 'high' : entry.score }))
        : { id: 'stub', results: scored.map((entry) => ({ index: entry.index, relevance_score: behaviour.corrupt === 'score' ? null : entry.score })) };
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    setBehaviours(next) {
      queue = [...next];
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
