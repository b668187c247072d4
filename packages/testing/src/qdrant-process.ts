import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitFor } from './api-process.js';

/**
 * The Qdrant server binary the tests may start: `QDRANT_BIN`, else `qdrant` on `PATH`; null when
 * there is none, or when `QDRANT_BIN=none` says not to use one (the suites that need one say so
 * instead of running).
 */
export function qdrantBinary(environment: NodeJS.ProcessEnv = process.env): string | null {
  const named = environment.QDRANT_BIN;
  if (named === 'none') return null;
  if (named !== undefined && named !== '') return named;
  for (const directory of (environment.PATH ?? '').split(path.delimiter)) {
    if (directory === '') continue;
    const candidate = path.join(directory, 'qdrant');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

/** One Qdrant process on loopback ports, its storage in a folder of its own. */
export interface QdrantPeer {
  /** REST root, `http://127.0.0.1:<port>`. */
  url: string;
  /** Peer-to-peer (cluster) URI, null for a single node. */
  peerUri: string | null;
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGKILL and wait for the exit: the peer dies as on a power loss. */
  kill(): Promise<void>;
}

/** Qdrant processes started by a test; `stop` kills them all and deletes their storage. */
export interface QdrantServers {
  peers: QdrantPeer[];
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function startPeer(binary: string, folder: string, cluster: { bootstrap: string | null } | null): Promise<QdrantPeer> {
  const [httpPort, grpcPort, p2pPort] = [await freePort(), await freePort(), await freePort()];
  await mkdir(path.join(folder, 'storage'), { recursive: true });
  const peerUri = cluster === null ? null : `http://127.0.0.1:${p2pPort}`;
  const clusterArguments = cluster === null ? [] : [...(cluster.bootstrap === null ? [] : ['--bootstrap', cluster.bootstrap]), '--uri', peerUri!];
  const child = spawn(binary, clusterArguments, {
    cwd: folder,
    env: {
      PATH: process.env.PATH ?? '',
      QDRANT__SERVICE__HOST: '127.0.0.1',
      QDRANT__SERVICE__HTTP_PORT: String(httpPort),
      QDRANT__SERVICE__GRPC_PORT: String(grpcPort),
      QDRANT__STORAGE__STORAGE_PATH: path.join(folder, 'storage'),
      QDRANT__STORAGE__SNAPSHOTS_PATH: path.join(folder, 'snapshots'),
      QDRANT__TELEMETRY_DISABLED: 'true',
      QDRANT__LOG_LEVEL: 'WARN',
      ...(cluster === null ? {} : { QDRANT__CLUSTER__ENABLED: 'true', QDRANT__CLUSTER__P2P__PORT: String(p2pPort) }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (data: Buffer) => {
    output += data.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${httpPort}`;
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  await waitFor(
    async () => {
      if (gone) throw new Error(`Qdrant at ${url} exited while starting:\n${output}`);
      const response = await fetch(`${url}/readyz`).catch(() => null);
      return response?.ok === true ? true : undefined;
    },
    { intervalMs: 100, timeoutMs: 60_000, what: `Qdrant at ${url} to be ready` },
  );
  return {
    url,
    peerUri,
    child,
    output: () => output,
    async kill() {
      if (!gone) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Starts one Qdrant node (no cluster) with its storage in a temporary folder. */
export async function startQdrantServer(binary: string): Promise<QdrantServers> {
  return startQdrantCluster(binary, 1);
}

/**
 * Starts `size` Qdrant processes; with more than one, in Qdrant's distributed mode: the first
 * starts the cluster (`--uri`), the others join it through it (`--bootstrap`). Resolves once the
 * first peer's `/cluster` lists them all.
 */
export async function startQdrantCluster(binary: string, size: number): Promise<QdrantServers> {
  const root = await mkdtemp(path.join(tmpdir(), 'passage-qdrant-'));
  const peers: QdrantPeer[] = [];
  const stop = async () => {
    await Promise.all(peers.map((peer) => peer.kill()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    if (size === 1) {
      peers.push(await startPeer(binary, path.join(root, 'peer-0'), null));
      return { peers, stop };
    }
    const first = await startPeer(binary, path.join(root, 'peer-0'), { bootstrap: null });
    peers.push(first);
    for (let number = 1; number < size; number += 1) {
      peers.push(await startPeer(binary, path.join(root, `peer-${number}`), { bootstrap: first.peerUri }));
    }
    await waitFor(
      async () => {
        const response = await fetch(`${first.url}/cluster`).catch(() => null);
        if (response?.ok !== true) return undefined;
        const body = (await response.json()) as { result?: { peers?: Record<string, unknown> } };
        return Object.keys(body.result?.peers ?? {}).length === size ? true : undefined;
      },
      { intervalMs: 200, timeoutMs: 60_000, what: `all ${size} Qdrant peers to join the cluster` },
    );
    return { peers, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
