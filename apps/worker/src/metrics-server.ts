import { timingSafeEqual, createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { registerIngestionMetrics } from '@passage/runtime';
import { Registry, collectDefaultMetrics } from 'prom-client';

/** The worker's own metrics: the ingestion metrics of its pipeline and the process metrics. */
export function workerMetrics(): { registry: Registry; observer: ReturnType<typeof registerIngestionMetrics> } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'passage_' });
  return { registry, observer: registerIngestionMetrics(registry) };
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Serves `GET /metrics` (Prometheus text) on `host:port` (port 0: any free one) and resolves with
 * the server once it listens. With `token`, a request must carry `Authorization: Bearer <token>`.
 */
export async function serveMetrics(options: { registry: Registry; host: string; port: number; token: string | undefined }): Promise<Server> {
  const expected = options.token === undefined ? null : digest(`Bearer ${options.token}`);
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: this port serves only GET /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Only GET /metrics\n');
      return;
    }
    // Digests of equal length, so the comparison takes the same time whatever was sent.
    if (expected !== null && !timingSafeEqual(digest(request.headers.authorization ?? ''), expected)) {
      response.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' }).end('METRICS_TOKEN required\n');
      return;
    }
    options.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': options.registry.contentType }).end(request.method === 'HEAD' ? undefined : text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`The metrics could not be collected: ${(error as Error).message}\n`),
    );
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  return server;
}
