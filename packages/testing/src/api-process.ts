import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repositoryRoot } from './shared-directory.js';

export interface ApiProcess {
  url: string;
  port: number;
  dataDirectory: string;
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit: no shutdown code runs. */
  kill(): Promise<void>;
}

export async function temporaryDataDirectory(prefix = 'passage-test-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

/**
 * Data folders that startApiProcess made itself: removed when this process exits. Not at `stop`,
 * because a test may start the API again on the same folder (a restart), and every test file
 * runs in a process of its own, so its folders go with it. They were left behind before: 72 of
 * them after one CI run.
 */
const madeDataDirectories = new Set<string>();

function removeMadeDataDirectories(): void {
  for (const directory of madeDataDirectories) rmSync(directory, { recursive: true, force: true });
}

/**
 * Starts `apps/api` as its own process on a free port (PORT=0) and resolves once it listens,
 * reading the port from its log line.
 */
export async function startApiProcess(
  options: {
    dataDirectory?: string;
    env?: Record<string, string>;
    timeoutMs?: number;
    /** Flags for node itself, e.g. `--cpu-prof` (which NODE_OPTIONS does not take). Default: none. */
    nodeArguments?: string[];
  } = {},
): Promise<ApiProcess> {
  let dataDirectory = options.dataDirectory;
  if (dataDirectory === undefined) {
    dataDirectory = await temporaryDataDirectory();
    if (madeDataDirectories.size === 0) process.once('exit', removeMadeDataDirectories);
    madeDataDirectories.add(dataDirectory);
  }
  const child = spawn(process.execPath, [...(options.nodeArguments ?? []), '--import', 'tsx', path.join(repositoryRoot, 'apps/api/src/main.ts')], {
    cwd: repositoryRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDirectory,
      LOG_LEVEL: 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let listening = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`API did not start in time:\n${output}`));
    }, options.timeoutMs ?? 30_000);
    // Stays for the process's life: everything it prints goes into `output` once.
    const onData = (data: Buffer) => {
      output += data.toString('utf8');
      if (listening) return;
      const match = /"port":(\d+)/.exec(output);
      if (match?.[1] !== undefined) {
        listening = true;
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (data: Buffer) => (output += data.toString('utf8')));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`API exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDirectory,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls until `check` returns a value that is not undefined. */
export async function waitFor<T>(check: () => Promise<T | undefined>, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${options.what ?? 'condition'}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
