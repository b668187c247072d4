/**
 * Start-up time and resident memory of the API, from the sources through tsx (`npm run
 * start:source`) and compiled (`npm start`, after `npm run build`), measured side by side:
 * the two alternate, each run on a fresh DATA_DIR. Per run: milliseconds from spawn to the
 * "listening" log line, RSS once listening, RSS after one PDF upload is ready and one question
 * is answered.
 *
 *   npm run measure:start -- [--runs 5] [--pdf <file>] [--timeout-minutes 10]
 *
 * CI runs it once per Node as the smoke test of the compiled start; past --timeout-minutes it
 * stops the API and fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    pdf: {
      type: 'string',
      default: path.join(process.env.SHARED_DIR ?? path.join(root, '../shared'), 'pdfs/normal_text/tracemonkey_14p.pdf'),
    },
    'timeout-minutes': { type: 'string', default: '10' },
  },
});

let running: ChildProcess | undefined;
setTimeout(
  () => {
    console.error(`measure-start: not done after ${values['timeout-minutes']} min: the API was stopped`);
    running?.kill('SIGKILL');
    process.exit(1);
  },
  Number(values['timeout-minutes']) * 60_000,
).unref();

const modes = {
  tsx: ['--import', 'tsx', 'apps/api/src/main.ts'],
  compiled: ['--conditions=passage-dist', 'apps/api/dist/main.js'],
} as const;
type Mode = keyof typeof modes;

interface Sample {
  startMs: number;
  rssListeningMb: number;
  rssAfterAskMb: number;
}

/** Resident set of a process, from /proc (Linux): the child's own figure, not ours. */
async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) / 1024;
}

function waitForListening(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      buffered += text;
      const port = /"port":(\d+)[^\n]*listening on/.exec(buffered)?.[1];
      if (port !== undefined) resolve(Number(port));
    });
    child.on('exit', (code) => reject(new Error(`the API exited (${code}) before listening:\n${buffered}`)));
  });
}

async function json(response: Response): Promise<any> {
  if (!response.ok) throw new Error(`${response.url}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function measure(mode: Mode, pdf: Uint8Array): Promise<Sample> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'passage-measure-'));
  const started = performance.now();
  const child = spawn(process.execPath, modes[mode], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running = child;
  try {
    const port = await waitForListening(child);
    const startMs = performance.now() - started;
    const rssListeningMb = await rssMb(child.pid!);
    const base = `http://127.0.0.1:${port}/v1`;
    const kb = await json(
      await fetch(`${base}/knowledge-bases`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'measure' }),
      }),
    );
    const form = new FormData();
    form.append('files', new Blob([pdf], { type: 'application/pdf' }), path.basename(values.pdf));
    const upload = await json(await fetch(`${base}/knowledge-bases/${kb.id}/documents`, { method: 'POST', body: form }));
    const documentId = upload.data[0].id as string;
    for (;;) {
      const document = await json(await fetch(`${base}/knowledge-bases/${kb.id}/documents/${documentId}`));
      if (document.status === 'ready') break;
      if (document.status === 'failed') throw new Error(`ingestion failed: ${JSON.stringify(document.error)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await json(
      await fetch(`${base}/knowledge-bases/${kb.id}/ask`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ question: 'Which optimizations are easy because traces are in SSA form?' }),
      }),
    );
    return { startMs, rssListeningMb, rssAfterAskMb: await rssMb(child.pid!) };
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  }
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const pdf = new Uint8Array(await readFile(values.pdf));
const samples: Record<Mode, Sample[]> = { tsx: [], compiled: [] };
for (let run = 0; run < Number(values.runs); run += 1) {
  for (const mode of Object.keys(modes) as Mode[]) {
    const sample = await measure(mode, pdf);
    samples[mode].push(sample);
    console.error(`run ${run + 1} ${mode}: ${JSON.stringify(sample)}`);
  }
}
console.log('| mode | start to "listening", ms | RSS listening, MiB | RSS after upload + question, MiB |');
console.log('|---|---|---|---|');
for (const mode of Object.keys(modes) as Mode[]) {
  const of = (key: keyof Sample) => median(samples[mode].map((sample) => sample[key])).toFixed(0);
  console.log(`| ${mode} | ${of('startMs')} | ${of('rssListeningMb')} | ${of('rssAfterAskMb')} |`);
}
console.log(`medians of ${values.runs} runs each, alternating; node ${process.version}`);
