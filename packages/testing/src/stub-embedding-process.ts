import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A stub embeddings server running in a child process. */
export interface StubEmbeddingServerProcess {
  /** `http://127.0.0.1:port/v1`. */
  baseUrl: string;
  close(): Promise<void>;
}

/**
 * Starts the stub embeddings server (fixed latency per request) in a process of its own, so that
 * a benchmark of the client does not share its event loop with the server's JSON work.
 */
export async function startStubEmbeddingServerProcess(options: { dimensions: number; latencyMs: number }): Promise<StubEmbeddingServerProcess> {
  const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'stub-embedding-main.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', entry, String(options.dimensions), String(options.latencyMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const baseUrl = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (data: Buffer) => {
      output += data.toString('utf8');
      const line = output.split('\n')[0];
      if (output.includes('\n') && line !== undefined) resolve(line.trim());
    });
    child.once('exit', (code) => reject(new Error(`the stub embeddings server exited with ${code}: ${output}`)));
  });
  return {
    baseUrl,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
