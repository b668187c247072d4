/**
 * The responsiveness run of `npm run bench:ingest`: while the API (a process of its own) ingests a
 * generated text file of --big-text-mb MB, the 352-page PDF and every other shared PDF, `users`
 * answer streams run back to back (a stub LLM in another process streams the answers) and
 * `/healthz` is polled every 50 ms. Reports the API's own event-loop delay over the ingestion
 * (GET /v1/stats/event-loop) and the health latencies seen by a poller in a process of its own.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, openAsBlob } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTextKnowledgeBase, generateText, repositoryRoot, sharedPath, startApiProcess, temporaryDataDirectory } from '@passage/testing';
import { percentile, streamOnce, type StreamRecord, type Target } from '../bench-stream/load-generator.js';
import { startServiceProcess } from '../bench-stream/processes.js';

export interface ResponsivenessOptions {
  /** Size of the generated text file, in millions of bytes. */
  bigTextMegabytes: number;
  /** Answer streams running at once. */
  users: number;
  /** The run stops after this long even if ingestion has not finished, ms. */
  timeLimitMs: number;
  /** When set, the API runs under `--cpu-prof` and writes its threads' profiles into this folder. */
  cpuProfileDirectory?: string;
}

export interface ResponsivenessResult {
  /** Whether every uploaded document ended (ready or failed) within the time limit. */
  completed: boolean;
  ingestionSeconds: number;
  documents: { ready: number; failed: number; unfinished: number };
  bigTextChunks: number | null;
  /** How the generated text ended: `ready`, or `failed` with the error's code. */
  bigTextStatus: string;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  eventLoopDelayP50Ms: number;
  healthRequests: number;
  healthFailures: number;
  healthP50Ms: number;
  healthP99Ms: number;
  healthMaxMs: number;
  streamsCompleted: number;
  streamErrors: number;
  streamGapP99Ms: number;
  streamGapMaxMs: number;
}

interface DocumentView {
  id: string;
  name: string;
  status: string;
  chunks: number | null;
  error?: { code: string } | null;
}

interface ManifestEntry {
  file: string;
}

const healthIntervalMs = 50;
const tokens = 40;
const questions = ['Why does copyright matter to free culture?', 'What do traces record?', 'Which form fields are required?', 'Kari mo sen ta?'];

export async function measureResponsiveness(options: ResponsivenessOptions): Promise<ResponsivenessResult> {
  const directory = await temporaryDataDirectory('passage-bench-responsiveness-');
  const bigTextPath = path.join(directory, 'generated.txt');
  await writeGeneratedText(bigTextPath, options.bigTextMegabytes * 1_000_000);
  const manifest = JSON.parse(await readFile(sharedPath('pdfs', 'manifest.json'), 'utf8')) as ManifestEntry[];

  const stub = await startServiceProcess('scripts/bench-stream/stub-process.ts', [
    '--first-token-ms',
    '200',
    '--token-interval-ms',
    '20',
    '--tokens',
    String(tokens),
  ]);
  const api = await startApiProcess({
    dataDirectory: path.join(directory, 'data'),
    env: { OPENAI_BASE_URL: `http://127.0.0.1:${stub.port}/v1`, OPENAI_API_KEY: 'sk-bench', LLM_MODEL: 'bench', LOG_LEVEL: 'info' },
    timeoutMs: 60_000,
    ...(options.cpuProfileDirectory === undefined ? {} : { nodeArguments: ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDirectory}`] }),
  });
  const agent = new Agent({ keepAlive: true, maxSockets: options.users + 8 });
  let stopping = false;
  let healthPoller: HealthPoller | undefined;
  try {
    const { knowledgeBaseId } = await createTextKnowledgeBase(api, 'Responsiveness', {
      'seed.txt': 'Free culture depends on copyright law. Traces record hot loops. Required form fields are marked.',
    });
    const target: Target = {
      name: 'ask',
      url: new URL(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/ask`),
      protocol: 'events',
      body: (question) => JSON.stringify({ question, stream: true }),
      expectedTokens: tokens,
    };

    const streams: StreamRecord[] = [];
    const users = Array.from({ length: options.users }, async (_, user) => {
      await sleep((user * 1000) / options.users);
      for (let turn = 0; !stopping; turn += 1) streams.push(await streamOnce(target, questions[(user + turn) % questions.length] as string, agent));
    });
    healthPoller = startHealthPoller(`${api.url}/healthz`);
    await sleep(2000);
    await fetch(`${api.url}/v1/stats/event-loop/reset`, { method: 'POST' });
    const started = performance.now();
    const uploads: Array<{ name: string; blob: Blob }> = [{ name: 'generated.txt', blob: await openAsBlob(bigTextPath, { type: 'text/plain' }) }];
    for (const entry of manifest)
      uploads.push({ name: path.basename(entry.file), blob: await openAsBlob(sharedPath('pdfs', entry.file), { type: 'application/pdf' }) });
    for (let offset = 0; offset < uploads.length; offset += 16) {
      const form = new FormData();
      for (const upload of uploads.slice(offset, offset + 16)) form.append('files', upload.blob, upload.name);
      // A kept-alive connection that the server closes as the request leaves fails with ECONNRESET;
      // a blocked event loop makes that likely. Uploads are deduplicated by content, so retrying is safe.
      for (let attempt = 1; ; attempt += 1) {
        try {
          const response = await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents`, { method: 'POST', body: form });
          if (response.status !== 202) throw new Error(`upload answered ${response.status}: ${await response.text()}`);
          break;
        } catch (error) {
          if (attempt === 3) throw error;
        }
      }
    }

    let documents: DocumentView[] = [];
    let completed = false;
    while (performance.now() - started < options.timeLimitMs) {
      await sleep(500);
      documents = (await getJson<{ data: DocumentView[] }>(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents`)).data;
      if (documents.every((document) => document.status === 'ready' || document.status === 'failed')) {
        completed = true;
        break;
      }
    }
    const ingestionSeconds = (performance.now() - started) / 1000;
    const eventLoop = await getJson<{ p50Ms: number; p99Ms: number; maxMs: number }>(`${api.url}/v1/stats/event-loop`);
    const health = await healthPoller.stop();
    stopping = true;
    await Promise.all(users);

    const bigText = documents.find((document) => document.name === 'generated.txt');
    const healthTimes = health.latenciesMs;
    const gaps = streams.flatMap((stream) => stream.gaps);
    const round = (value: number) => Math.round(value * 10) / 10;
    return {
      completed,
      ingestionSeconds: round(ingestionSeconds),
      documents: {
        ready: documents.filter((document) => document.status === 'ready').length - 1,
        failed: documents.filter((document) => document.status === 'failed').length,
        unfinished: documents.filter((document) => document.status !== 'ready' && document.status !== 'failed').length,
      },
      bigTextChunks: bigText?.chunks ?? null,
      bigTextStatus: bigText === undefined ? 'missing' : bigText.error == null ? bigText.status : `${bigText.status} (${bigText.error.code})`,
      eventLoopDelayP50Ms: eventLoop.p50Ms,
      eventLoopDelayP99Ms: eventLoop.p99Ms,
      eventLoopDelayMaxMs: eventLoop.maxMs,
      healthRequests: healthTimes.length + health.failures,
      healthFailures: health.failures,
      healthP50Ms: round(percentile(healthTimes, 0.5)),
      healthP99Ms: round(percentile(healthTimes, 0.99)),
      healthMaxMs: round(maximum(healthTimes)),
      streamsCompleted: streams.filter((stream) => stream.error === null).length,
      streamErrors: streams.filter((stream) => stream.error !== null).length,
      streamGapP99Ms: round(percentile(gaps, 0.99)),
      streamGapMaxMs: round(maximum(gaps)),
    };
  } finally {
    stopping = true;
    healthPoller?.kill();
    agent.destroy();
    await api.stop();
    await stub.stop();
    await rm(directory, { recursive: true, force: true });
  }
}

interface HealthPoller {
  /** Stops polling and resolves with what the poller saw. */
  stop(): Promise<{ latenciesMs: number[]; failures: number }>;
  kill(): void;
}

/** Polls `url` every 50 ms from a process of its own (scripts/bench-ingest/health-poller.ts). */
function startHealthPoller(url: string): HealthPoller {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repositoryRoot, 'scripts/bench-ingest/health-poller.ts'), '--url', url, '--interval-ms', String(healthIntervalMs)],
    {
      cwd: repositoryRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  child.stdout.on('data', (data: Buffer) => {
    output += data.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      const line = output.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) throw new Error(`the health poller ended with ${code}: ${output}`);
      return JSON.parse(line) as { latenciesMs: number[]; failures: number };
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * A GET whose kept-alive connection the server may close as the request leaves (ECONNRESET, likelier
 * while its event loop is busy): tried three times.
 */
async function getJson<Body>(url: string): Promise<Body> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
      return (await response.json()) as Body;
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

/** The largest value, 0 for none; a spread into Math.max overflows the stack for a long run's hundreds of thousands of gaps. */
function maximum(values: number[]): number {
  let largest = 0;
  for (const value of values) if (value > largest) largest = value;
  return largest;
}

async function writeGeneratedText(file: string, bytes: number): Promise<void> {
  const output = createWriteStream(file);
  for (const piece of generateText(bytes)) {
    if (!output.write(piece)) await new Promise<void>((resolve) => output.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => output.end((error?: Error | null) => (error ? reject(error) : resolve())));
}
