import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { ClientOptions } from 'openai';
import { EventStreamResponse } from './event-stream-response.js';

/** What the openai SDK takes as its `fetch` option. */
export type SdkFetch = NonNullable<ClientOptions['fetch']>;

export interface NodeHttpFetchOptions {
  /**
   * Idle kept-alive connections kept per host, for the next request. Below the number of answers
   * that stream at once, finished streams would close connections that the next ones reopen.
   * Default: 1024.
   */
  maxIdleConnections?: number;
}

/** A `fetch` for the openai SDK, with the Node `IncomingMessage` behind each event stream. */
export interface NodeHttpFetch {
  fetch: SdkFetch;
  /** Closes the idle kept-alive connections. */
  close(): void;
}

/**
 * The body of an event-stream Response that `createNodeHttpFetch` returned, as the Node stream it
 * arrives on: read it in place of `response.body`, which is null. Undefined for other responses.
 */
export function eventStreamOf(response: Response): IncomingMessage | undefined {
  const candidate: unknown = response;
  return candidate instanceof EventStreamResponse ? candidate.stream : undefined;
}

/**
 * A `fetch` over `node:http`/`node:https` with kept-alive connections, for the openai SDK's
 * `fetch` option: the SDK still builds, authenticates and times out the request and turns HTTP
 * statuses into its error classes; this only moves the bytes. Web streams, which cost more CPU
 * than the rest of a relayed token together, are left out: a 2xx `text/event-stream` answer comes
 * as an EventStreamResponse (the part of a Response the SDK reads, no body), its bytes are read
 * from `eventStreamOf(response)`; any other answer is read whole into an ordinary Response. No
 * redirects are followed and no compression is asked for.
 */
export function createNodeHttpFetch(options: NodeHttpFetchOptions = {}): NodeHttpFetch {
  const agentOptions = { keepAlive: true, maxFreeSockets: options.maxIdleConnections ?? 1024 };
  const httpAgent = new HttpAgent(agentOptions);
  const httpsAgent = new HttpsAgent(agentOptions);

  const fetch: SdkFetch = (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = typeof input === 'string' ? new URL(input) : input instanceof URL ? input : new URL(input.url);
      const signal = init.signal ?? null;
      if (signal?.aborted) {
        reject(signal.reason as unknown); // what fetch rejects with: the signal's reason
        return;
      }
      const body = bodyOf(init.body);
      const headers = headersOf(init.headers);
      if (body !== null) headers['content-length'] = body.byteLength;
      const https = url.protocol === 'https:';
      const outgoing = (https ? httpsRequest : httpRequest)(url, { method: init.method ?? 'GET', headers, agent: https ? httpsAgent : httpAgent });
      const abort = () => outgoing.destroy(signal?.reason as Error);
      signal?.addEventListener('abort', abort, { once: true });
      const release = () => signal?.removeEventListener('abort', abort);
      outgoing.on('error', (error) => {
        release();
        reject(error);
      });
      outgoing.once('response', (incoming) => {
        incoming.once('close', release);
        const status = incoming.statusCode ?? 500;
        if (status >= 200 && status < 300 && /^text\/event-stream\b/i.test(incoming.headers['content-type'] ?? '')) {
          // Its reader sees a failure through the stream's state; until reading starts, an
          // abort must not count as an unhandled 'error' event.
          incoming.on('error', ignore);
          // The SDK types its fetch as answering a Response; it reads no more of a 2xx answer than this has.
          resolve(new EventStreamResponse(incoming, url.href) as unknown as Response);
          return;
        }
        const init = { status, statusText: incoming.statusMessage ?? '', headers: responseHeadersOf(incoming) };
        const pieces: Buffer[] = [];
        incoming.on('data', (piece: Buffer) => pieces.push(piece));
        incoming.on('error', reject);
        incoming.once('end', () => resolve(new Response(nullBodyStatus(status) ? null : Buffer.concat(pieces), init)));
      });
      outgoing.end(body ?? undefined);
    });

  return {
    fetch,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

function ignore(): void {}

function bodyOf(body: RequestInit['body']): Buffer | null {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError('This fetch sends string and byte bodies only');
}

function headersOf(headers: RequestInit['headers']): OutgoingHttpHeaders {
  const result: OutgoingHttpHeaders = {};
  // The SDK passes a Headers: read in place rather than copied into another one first.
  (headers instanceof Headers ? headers : new Headers(headers)).forEach((value, name) => {
    result[name] = value;
  });
  return result;
}

function responseHeadersOf(incoming: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = incoming.rawHeaders;
  for (let position = 0; position + 1 < raw.length; position += 2) headers.append(raw[position]!, raw[position + 1]!);
  return headers;
}

function nullBodyStatus(status: number): boolean {
  return status === 204 || status === 205 || status === 304;
}
