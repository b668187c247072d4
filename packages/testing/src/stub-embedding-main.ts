/**
 * Entry point of a stub embeddings server in a process of its own (see
 * startStubEmbeddingServerProcess): prints its base URL on the first line of standard output, then
 * serves until it is killed. Arguments: dimensions, latency in ms.
 */
import { startStubEmbeddingServer } from './stub-embedding-server.js';

const dimensions = Number(process.argv[2] ?? 8);
const latencyMs = Number(process.argv[3] ?? 0);
const server = await startStubEmbeddingServer({ dimensions, behaviours: [{ kind: 'embed', latencyMs }] });
process.stdout.write(`${server.baseUrl}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
