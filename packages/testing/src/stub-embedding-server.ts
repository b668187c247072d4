import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { seededRandom } from '@passage/spec';
import { requestHandler } from './request-handler.js';

/** What the stub does with one embeddings request. */
export type StubEmbeddingBehaviour =
  | {
      kind: 'embed';
      latencyMs?: number;
      vectorsShort?: boolean;
      ignoreEncodingFormat?: boolean;
      /** Answer only once this many requests are in flight together; until then, hold every request (forever, if they never are). */
      holdUntilInFlight?: number;
    }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: unknown };

export interface StubEmbeddingRequest {
  model: string | undefined;
  inputs: string[];
  encodingFormat: string | undefined;
  /** The `input_type` of the body, if any. */
  inputType: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  startedAt: number;
  endedAt: number | null;
}

export interface StubEmbeddingServer {
  /** `http://127.0.0.1:port/v1`, what EMBEDDING_BASE_URL takes. */
  baseUrl: string;
  dimensions: number;
  requests: StubEmbeddingRequest[];
  /** The most requests that were ever being answered at the same time. */
  maxInFlight(): number;
  /** Behaviour for the next requests, in order; the last one repeats. */
  setBehaviours(behaviours: StubEmbeddingBehaviour[]): void;
  close(): Promise<void>;
}

/** The stub's vector for a text: deterministic, unit length, so tests can predict every answer. */
export function stubEmbedding(text: string, dimensions: number): number[] {
  const seed = createHash('sha256').update(text).digest().readUInt32LE(0);
  const random = seededRandom(seed);
  const vector = Array.from({ length: dimensions }, () => random() * 2 - 1);
  const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0)) || 1;
  return vector.map((value) => Math.fround(value / norm));
}

/**
 * A local server speaking OpenAI's `POST /v1/embeddings` (float and base64 encodings), with a fixed
 * latency per request and scripted failures (429 with Retry-After, 5xx), that counts requests in
 * flight, so batching, the concurrency cap and retries of an embedder can be measured.
 */
export async function startStubEmbeddingServer(options: { dimensions?: number; behaviours?: StubEmbeddingBehaviour[] } = {}): Promise<StubEmbeddingServer> {
  const dimensions = options.dimensions ?? 8;
  let behaviours: StubEmbeddingBehaviour[] = [...(options.behaviours ?? [{ kind: 'embed' }])];
  const requests: StubEmbeddingRequest[] = [];
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let maxInFlight = 0;
  /** Held requests, released together once enough are in flight. */
  let held: Array<() => void> = [];
  const releaseHeldAt = (count: number) => {
    if (inFlight < count) return;
    for (const release of held) release();
    held = [];
  };

  const server: Server = createServer(
    requestHandler(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      response.setHeader('content-type', 'application/json');
      if (request.method !== 'POST' || !request.url?.endsWith('/embeddings')) {
        response.statusCode = 404;
        response.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
        model?: string;
        input?: string | string[];
        encoding_format?: string;
        input_type?: string;
      };
      const inputs = typeof body.input === 'string' ? [body.input] : (body.input ?? []);
      const recorded: StubEmbeddingRequest = {
        model: body.model,
        inputs,
        encodingFormat: body.encoding_format,
        inputType: body.input_type,
        headers: request.headers,
        startedAt: performance.now(),
        endedAt: null,
      };
      requests.push(recorded);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const behaviour = behaviours.length > 1 ? behaviours.shift()! : behaviours[0]!;
        if (behaviour.kind === 'status') {
          response.statusCode = behaviour.status;
          for (const [name, value] of Object.entries(behaviour.headers ?? {})) response.setHeader(name, value);
          response.end(JSON.stringify(behaviour.body ?? { error: { message: `stub status ${behaviour.status}`, type: 'stub_error', code: null } }));
          return;
        }
        if (behaviour.holdUntilInFlight !== undefined) {
          const released = new Promise<void>((resolve) => held.push(resolve));
          releaseHeldAt(behaviour.holdUntilInFlight);
          await released;
        }
        if (behaviour.latencyMs) await new Promise((resolve) => setTimeout(resolve, behaviour.latencyMs));
        const answered = behaviour.vectorsShort ? inputs.slice(1) : inputs;
        const data = answered.map((text, index) => {
          const vector = stubEmbedding(text, dimensions);
          const embedding =
            body.encoding_format === 'base64' && !behaviour.ignoreEncodingFormat ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
          return { object: 'embedding', index, embedding };
        });
        response.end(
          JSON.stringify({ object: 'list', data, model: body.model ?? 'stub-embedding', usage: { prompt_tokens: inputs.length, total_tokens: inputs.length } }),
        );
      } finally {
        inFlight -= 1;
        recorded.endedAt = performance.now();
      }
    }),
  );
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    dimensions,
    requests,
    maxInFlight: () => maxInFlight,
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
