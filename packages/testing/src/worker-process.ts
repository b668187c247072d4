import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repositoryRoot } from './shared-directory.js';

export interface WorkerProcess {
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGTERM and wait for exit (running documents are handed back to the queue). */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit: no shutdown code runs. */
  kill(): Promise<void>;
}

/**
 * Starts `apps/worker` (`npm run worker`) as its own process and resolves once it logs that it
 * consumes. `env` adds to a minimal environment (PATH, HOME, DATA_DIR, LOG_LEVEL=info).
 */
export async function startWorkerProcess(options: { dataDirectory: string; env?: Record<string, string>; timeoutMs?: number }): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repositoryRoot, 'apps/worker/src/main.ts')], {
    cwd: repositoryRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DATA_DIR: options.dataDirectory,
      LOG_LEVEL: 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (data: Buffer) => (output += data.toString('utf8')));
  child.stderr?.on('data', (data: Buffer) => (output += data.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      // As the API launcher does: a worker that did not start is not left running (it would hold the test process open).
      child.kill('SIGKILL');
      reject(new Error(`worker did not start in time:\n${output}`));
    }, options.timeoutMs ?? 30_000);
    const check = () => {
      if (output.includes('"msg":"worker started"')) {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before starting:\n${output}`));
    });
  });
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
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
