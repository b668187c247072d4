import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestRedis } from './redis-test-prefix.js';

const run = promisify(execFile);

/** A Redis Cluster of `redis-server` processes on loopback ports, started for tests. */
export interface RedisCluster extends TestRedis {
  /** Client ports of the masters; `url` names the first. */
  ports: number[];
  /** Stops every process (SIGTERM, then SIGKILL after 5 s) and removes their folder. */
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  /** Master processes (no replicas). Default: 3. */
  masters?: number;
  /** How long starting and joining them may take, ms. Default: 30000. */
  timeoutMs?: number;
}

/**
 * Starts `masters` processes of `redis-server --cluster-enabled yes` in a temporary folder (no
 * persistence, bound to 127.0.0.1, on free ports whose cluster bus port, +10000, is free too), joins
 * them with `redis-cli --cluster create` and waits until every node reports `cluster_state:ok`.
 * Whatever fails on the way, the processes are stopped and the folder removed; a process that exits
 * without `stop` still takes them down.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const directory = await mkdtemp(path.join(tmpdir(), 'passage-redis-cluster-'));
  const children: ChildProcess[] = [];
  const output: string[] = [];
  const killAll = () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  const stop = async () => {
    process.removeListener('exit', killAll);
    await Promise.all(children.map((child) => stopProcess(child)));
    await rm(directory, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    while (ports.length < masters) {
      const port = await freeClusterPort();
      if (!ports.includes(port)) ports.push(port);
    }
    for (const port of ports) {
      // prettier-ignore
      const child = spawn('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
        '--cluster-config-file', path.join(directory, `nodes-${port}.conf`), '--dir', directory,
        '--save', '', '--appendonly', 'no', '--cluster-node-timeout', '5000', '--daemonize', 'no',
      ], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      child.stdout?.on('data', (chunk: Buffer) => output.push(`[${port}] ${chunk.toString()}`));
      child.stderr?.on('data', (chunk: Buffer) => output.push(`[${port}] ${chunk.toString()}`));
    }
    for (const port of ports) await until(deadline, `redis-server on port ${port} to answer`, async () => (await cli(port, 'ping')) === 'PONG');
    await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: Math.max(1, deadline - Date.now()),
    });
    for (const port of ports) {
      await until(deadline, `node ${port} to report cluster_state:ok`, async () => (await cli(port, 'cluster', 'info')).includes('cluster_state:ok'));
    }
    return {
      url: `redis://127.0.0.1:${ports[0]}`,
      cluster: true,
      description: `Redis Cluster of ${masters} masters at 127.0.0.1:${ports.join(',')}`,
      ports,
      stop,
    };
  } catch (error) {
    await stop();
    throw new Error(`Starting a Redis Cluster failed: ${(error as Error).message}\n${output.join('')}`, { cause: error });
  }
}

async function cli(port: number, ...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5_000 });
    return stdout.trim();
  } catch {
    return '';
  }
}

async function until(deadline: number, what: string, check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A port free for the server, whose cluster bus port (port + 10000) is free as well. */
async function freeClusterPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await isFree(port)) && (await isFree(port + 10_000))) return port;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
