/**
 * `npm run bench:stream`: streamed answers under N concurrent users, against the floor that any
 * Node relay reaches on this machine.
 *
 * Starts, each in its own process: a stub LLM (OpenAI-compatible, a fixed time to first token
 * and interval per token), the API with a knowledge base of SciFact abstracts (so retrieval does
 * real work), and a minimal `node:http` relay (scripts/bench-stream/relay-process.ts). The load
 * generator runs here, in none of those processes. For each N it drives the stub directly, the
 * relay and our `/ask` the same way: N users, each asks, reads the stream to its end and asks
 * again; users start spread over --spread-seconds, the first --warmup-seconds are not measured,
 * then --measure-seconds are. Then one burst of N simultaneous requests per target, reported
 * apart. With --cpu-profile it then restarts the API under `--cpu-prof`, drives it at the largest
 * N and prints where its CPU time went.
 *
 * Options: --concurrency 1,100,1000  --measure-seconds 15  --warmup-seconds 3  --spread-seconds 2
 *          --first-token-ms 200  --token-interval-ms 20  --tokens 40  --cpu-profile  --json
 *          --profile-only (skip the comparison, only profile the API at the largest N)
 * After the loads it compares SSE decoders on the stub's bytes (sse-decoder-comparison.ts).
 * With --json the last line of standard output is one JSON object: {"results":[…],"sseDecoders":{…}};
 * each result has cpuMsPerStream and relayCpuMsPerStream, the CPU per completed stream of the API
 * and of the relay, measured side by side, and loadAverage, the machine's load as the row ended.
 */
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { Agent } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTextKnowledgeBase, sharedPath, startApiProcess, temporaryDataDirectory, type ApiProcess } from '@passage/testing';
import { flagArgument, numberArgument, stringArgument } from './bench-stream/arguments.js';
import { summariseCpuProfile } from './bench-stream/cpu-profile-summary.js';
import { compareSseDecoders, type DecoderFigures } from './bench-stream/sse-decoder-comparison.js';
import { percentile, runBurst, runSteady, streamOnce, type LoadResult, type Target } from './bench-stream/load-generator.js';
import { cpuSeconds, machineBusySeconds, openFileLimit, residentBytes, startServiceProcess, type ServiceProcess } from './bench-stream/processes.js';

const concurrencies = stringArgument('--concurrency', '1,100,1000')
  .split(',')
  .map((value) => Number(value.trim()))
  .filter((value) => Number.isInteger(value) && value > 0);
const measureMs = numberArgument('--measure-seconds', 15) * 1000;
const warmupMs = numberArgument('--warmup-seconds', 3) * 1000;
const spreadMs = numberArgument('--spread-seconds', 2) * 1000;
const firstTokenMs = numberArgument('--first-token-ms', 200);
const tokenIntervalMs = numberArgument('--token-interval-ms', 20);
const tokenCount = numberArgument('--tokens', 40);
const asJson = flagArgument('--json');
const profileOnly = flagArgument('--profile-only');
const withProfile = profileOnly || flagArgument('--cpu-profile');

/** Progress goes to standard error, so that with --json standard output ends in the JSON line. */
const progress = (line: string) => process.stderr.write(`${line}\n`);

interface ResultRow {
  concurrency: number;
  mode: 'steady' | 'burst';
  ttftP50Ms: number;
  ttftP99Ms: number;
  directTtftP50Ms: number;
  directTtftP99Ms: number;
  relayTtftP50Ms: number;
  relayTtftP99Ms: number;
  addedTtftP50Ms: number;
  addedTtftP99Ms: number;
  relayAddedTtftP50Ms: number;
  relayAddedTtftP99Ms: number;
  interTokenP99Ms: number;
  errors: number;
  completedPerSecond: number;
  relayCompletedPerSecond: number;
  memoryPerStreamKB: number | null;
  /** CPU ms the API process used per completed stream, in the same window as the streams counted. */
  cpuMsPerStream: number | null;
  /** CPU ms the bare relay used per completed stream, measured the same way in the same run. */
  relayCpuMsPerStream: number | null;
  /**
   * The machine's one-minute load average as this row's loads ended: above the number of cores,
   * other work competed with the processes measured, and the figures of both sides suffer.
   */
  loadAverage: number;
}

const round = (value: number) => Math.round(value * 10) / 10;

async function loadQuestions(): Promise<string[]> {
  const lines = (await readFile(sharedPath('eval', 'en_scifact', 'queries.jsonl'), 'utf8')).split('\n').filter(Boolean);
  return lines.slice(0, 200).map((line) => (JSON.parse(line) as { text: string }).text);
}

/** Ten text documents of 30 SciFact abstracts each: a few hundred chunks to rank. */
async function loadDocuments(): Promise<Record<string, string>> {
  const documents: Record<string, string> = {};
  const corpus = await readFile(sharedPath('eval', 'en_scifact', 'corpus.jsonl'), 'utf8');
  const lines = corpus.split('\n', 300).filter(Boolean);
  for (let document = 0; document < 10; document += 1) {
    const abstracts = lines.slice(document * 30, document * 30 + 30).map((line) => JSON.parse(line) as { title: string; text: string });
    documents[`scifact-${document + 1}.txt`] = abstracts.map((abstract) => `${abstract.title}\n${abstract.text}`).join('\n\n');
  }
  return documents;
}

const serverOf = { direct: 'stub', relay: 'relay', ours: 'api' } as const;

interface Processes {
  stub: ServiceProcess;
  relay: ServiceProcess;
  api: ApiProcess;
}

function targetsOf(processes: Processes, knowledgeBaseId: string): Record<'direct' | 'relay' | 'ours', Target> {
  return {
    direct: {
      name: 'direct',
      url: new URL(`http://127.0.0.1:${processes.stub.port}/v1/chat/completions`),
      protocol: 'openai',
      body: (question) => JSON.stringify({ model: 'stub', stream: true, messages: [{ role: 'user', content: question }] }),
      expectedTokens: tokenCount,
    },
    relay: {
      name: 'relay',
      url: new URL(`http://127.0.0.1:${processes.relay.port}/ask`),
      protocol: 'events',
      body: (question) => JSON.stringify({ question }),
      expectedTokens: tokenCount,
    },
    ours: {
      name: 'ours',
      url: new URL(`${processes.api.url}/v1/knowledge-bases/${knowledgeBaseId}/ask`),
      protocol: 'events',
      body: (question) => JSON.stringify({ question, stream: true }),
      expectedTokens: tokenCount,
    },
  };
}

async function startApi(dataDirectory: string, stubPort: number, nodeArguments: string[] = []): Promise<ApiProcess> {
  return startApiProcess({
    dataDirectory,
    env: { OPENAI_BASE_URL: `http://127.0.0.1:${stubPort}/v1`, OPENAI_API_KEY: 'bench', LLM_MODEL: 'stub' },
    timeoutMs: 60_000,
    nodeArguments,
  });
}

interface Measured {
  result: LoadResult;
  /** The serving process's resident memory while streams were open, with the idle level just before. */
  memory: { idleBytes: number; meanBytes: number; meanOpen: number } | null;
  /** (mean resident − idle) ÷ mean open streams, KB. */
  memoryPerStreamKB: number | null;
  /** Share of one core each process used while measured; `other`: the rest of the machine. */
  cpu: Record<string, number>;
}

/** Runs one load while sampling the serving process's memory and every process's CPU. */
async function measure(
  processes: Processes,
  server: 'api' | 'relay' | 'stub',
  run: (onSample: (open: number) => void) => Promise<LoadResult>,
): Promise<Measured> {
  const pids = { api: processes.api.child.pid, stub: processes.stub.child.pid, relay: processes.relay.child.pid, load: process.pid };
  await sleep(1000);
  const idleBytes = residentBytes(pids[server]);
  const samples: Array<{ bytes: number; open: number }> = [];
  const cpuNow = (): { at: number; used: Record<string, number | null> } => ({
    at: performance.now(),
    used: { ...Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)])), machine: machineBusySeconds() },
  });
  let first: ReturnType<typeof cpuNow> | null = null;
  let last: ReturnType<typeof cpuNow> | null = null;
  const result = await run((open) => {
    const bytes = residentBytes(pids[server]);
    if (bytes !== null) samples.push({ bytes, open });
    last = cpuNow();
    first ??= last;
  });
  const cpu: Record<string, number> = {};
  const start = first as ReturnType<typeof cpuNow> | null;
  const end = last as ReturnType<typeof cpuNow> | null;
  if (start && end && end.at > start.at) {
    for (const name of [...Object.keys(pids), 'machine']) {
      const before = start.used[name];
      const after = end.used[name];
      if (typeof before === 'number' && typeof after === 'number') cpu[name] = (after - before) / ((end.at - start.at) / 1000);
    }
    // What the machine did besides these four processes: the kernel's network work, and anyone else.
    if (cpu['machine'] !== undefined) {
      cpu['other'] = Math.max(0, cpu['machine'] - Object.keys(pids).reduce((sum, name) => sum + (cpu[name] ?? 0), 0));
      delete cpu['machine'];
    }
  }
  const opened = samples.filter((sample) => sample.open > 0);
  // With a handful of streams the difference is noise of the heap, not memory per stream.
  const meanOpenStreams = opened.reduce((sum, sample) => sum + sample.open, 0) / Math.max(opened.length, 1);
  if (idleBytes === null || opened.length === 0 || meanOpenStreams < 10) return { result, memory: null, memoryPerStreamKB: null, cpu };
  const meanBytes = opened.reduce((sum, sample) => sum + sample.bytes, 0) / opened.length;
  const meanOpen = opened.reduce((sum, sample) => sum + sample.open, 0) / opened.length;
  return { result, memory: { idleBytes, meanBytes, meanOpen }, memoryPerStreamKB: round(Math.max(0, meanBytes - idleBytes) / meanOpen / 1024), cpu };
}

/**
 * Memory per open stream between two steady levels: the growth of the API's mean resident memory
 * from the previous N to this one over the growth in open streams. Unlike resident ÷ N it leaves
 * out what any loaded process holds whatever the N (the young generation of the heap, buffers).
 */
function marginalMemoryKB(current: Measured['memory'], previous: Measured['memory']): number | null {
  if (current === null) return null;
  if (previous === null || current.meanOpen - previous.meanOpen < 10)
    return round(Math.max(0, current.meanBytes - current.idleBytes) / current.meanOpen / 1024);
  return round(Math.max(0, current.meanBytes - previous.meanBytes) / (current.meanOpen - previous.meanOpen) / 1024);
}

/** CPU ms the serving process (API or relay) used per completed stream; null without /proc or completions. */
function cpuMsPerStream(measured: Measured, server: 'api' | 'relay'): number | null {
  const share = measured.cpu[server];
  const perSecond = measured.result.completed / measured.result.seconds;
  return share === undefined || perSecond === 0 ? null : Math.round(((share * 1000) / perSecond) * 100) / 100;
}

/** CPU share of each process, and of the serving process (API or relay) per completed stream. */
function describeCpu(measured: Measured, server: 'api' | 'relay' | null): string {
  const shares = Object.entries(measured.cpu)
    .filter(([, share]) => share >= 0.005)
    .map(([name, share]) => `${name} ${Math.round(share * 100)}%`)
    .join(', ');
  const perStream = server === null ? null : cpuMsPerStream(measured, server);
  return `CPU ${shares}${perStream === null ? '' : `; ${server} ${perStream} ms CPU per stream`}`;
}

function rowOf(
  concurrency: number,
  mode: 'steady' | 'burst',
  ours: Measured,
  direct: LoadResult,
  relayMeasured: Measured,
  memoryPerStreamKB: number | null,
): ResultRow {
  const p = (result: LoadResult, q: number) => percentile(result.firstTokenMs, q);
  const relay = relayMeasured.result;
  return {
    concurrency,
    mode,
    ttftP50Ms: round(p(ours.result, 0.5)),
    ttftP99Ms: round(p(ours.result, 0.99)),
    directTtftP50Ms: round(p(direct, 0.5)),
    directTtftP99Ms: round(p(direct, 0.99)),
    relayTtftP50Ms: round(p(relay, 0.5)),
    relayTtftP99Ms: round(p(relay, 0.99)),
    addedTtftP50Ms: round(p(ours.result, 0.5) - p(direct, 0.5)),
    addedTtftP99Ms: round(p(ours.result, 0.99) - p(direct, 0.99)),
    relayAddedTtftP50Ms: round(p(relay, 0.5) - p(direct, 0.5)),
    relayAddedTtftP99Ms: round(p(relay, 0.99) - p(direct, 0.99)),
    interTokenP99Ms: round(percentile(ours.result.gaps, 0.99)),
    errors: ours.result.errors,
    completedPerSecond: round(ours.result.completed / ours.result.seconds),
    relayCompletedPerSecond: round(relay.completed / relay.seconds),
    memoryPerStreamKB,
    cpuMsPerStream: cpuMsPerStream(ours, 'api'),
    relayCpuMsPerStream: cpuMsPerStream(relayMeasured, 'relay'),
    loadAverage: round(loadavg()[0] ?? 0),
  };
}

function summaryLine(name: string, result: LoadResult, extra = ''): string {
  const examples = result.errorExamples.length > 0 ? ` (${[...new Set(result.errorExamples)].join('; ')})` : '';
  const retrieval =
    result.retrievalMs.length > 0
      ? ` (retrieval until the model request p50 ${round(percentile(result.retrievalMs, 0.5))} ms, p99 ${round(percentile(result.retrievalMs, 0.99))} ms)`
      : '';
  return (
    `  ${name.padEnd(6)} ttft p50 ${round(percentile(result.firstTokenMs, 0.5))} ms, p99 ${round(percentile(result.firstTokenMs, 0.99))} ms${retrieval}; ` +
    `inter-token p99 ${round(percentile(result.gaps, 0.99))} ms; completed ${round(result.completed / result.seconds)}/s; ` +
    `errors ${result.errors}${examples}${extra}`
  );
}

async function steadyFor(processes: Processes, targets: ReturnType<typeof targetsOf>, users: number, questions: string[]) {
  const options = { users, spreadMs, warmupMs, measureMs, questions };
  const measured: Record<string, Measured> = {};
  for (const name of ['direct', 'relay', 'ours'] as const) {
    measured[name] = await measure(processes, serverOf[name], (onSample) => runSteady(targets[name], { ...options, onSample }));
  }
  return { direct: measured['direct']!, relay: measured['relay']!, ours: measured['ours']! };
}

async function burstFor(processes: Processes, targets: ReturnType<typeof targetsOf>, users: number, questions: string[]) {
  const measured: Record<string, Measured> = {};
  for (const name of ['direct', 'relay', 'ours'] as const) {
    measured[name] = await measure(processes, serverOf[name], (onSample) => runBurst(targets[name], users, questions, onSample));
  }
  return { direct: measured['direct']!, relay: measured['relay']!, ours: measured['ours']! };
}

function printGoals(rows: ResultRow[]): void {
  const steady = (n: number) => rows.find((row) => row.mode === 'steady' && row.concurrency === n);
  const verdict = (holds: boolean) => (holds ? 'holds' : 'FAILS');
  const lines: string[] = [];
  const at100 = steady(100);
  if (at100) {
    lines.push(`N=100  added TTFT p50 ${at100.addedTtftP50Ms} ms ≤ 3 ms: ${verdict(at100.addedTtftP50Ms <= 3)}`);
    lines.push(`N=100  added TTFT p99 ${at100.addedTtftP99Ms} ms ≤ 10 ms: ${verdict(at100.addedTtftP99Ms <= 10)}`);
  }
  const at1000 = steady(1000);
  if (at1000) {
    const p50Limit = round(1.5 * Math.max(at1000.relayAddedTtftP50Ms, 0));
    const p99Limit = round(1.5 * Math.max(at1000.relayAddedTtftP99Ms, 0));
    lines.push(
      `N=1000 added TTFT p50 ${at1000.addedTtftP50Ms} ms ≤ 1.5 × relay's ${at1000.relayAddedTtftP50Ms} = ${p50Limit} ms: ${verdict(at1000.addedTtftP50Ms <= p50Limit)}`,
    );
    lines.push(
      `N=1000 added TTFT p99 ${at1000.addedTtftP99Ms} ms ≤ 1.5 × relay's ${at1000.relayAddedTtftP99Ms} = ${p99Limit} ms: ${verdict(at1000.addedTtftP99Ms <= p99Limit)}`,
    );
    const limit = round(0.9 * at1000.relayCompletedPerSecond);
    lines.push(
      `N=1000 completed ${at1000.completedPerSecond}/s ≥ 0.9 × relay's ${at1000.relayCompletedPerSecond} = ${limit}/s: ${verdict(at1000.completedPerSecond >= limit)}`,
    );
    lines.push(
      `N=1000 memory ${at1000.memoryPerStreamKB} KB per open stream ≤ 50 KB: ${verdict(at1000.memoryPerStreamKB !== null && at1000.memoryPerStreamKB <= 50)}`,
    );
  }
  const steadyErrors = rows.filter((row) => row.mode === 'steady').reduce((sum, row) => sum + row.errors, 0);
  lines.push(`errors in steady runs: ${steadyErrors}: ${verdict(steadyErrors === 0)}`);
  for (const row of rows.filter((candidate) => candidate.mode === 'steady')) {
    const ratio = row.cpuMsPerStream !== null && row.relayCpuMsPerStream ? ` (${round(row.cpuMsPerStream / row.relayCpuMsPerStream)} × the relay's)` : '';
    lines.push(
      `N=${row.concurrency} CPU per stream: API ${row.cpuMsPerStream ?? '-'} ms, relay ${row.relayCpuMsPerStream ?? '-'} ms${ratio} (for information)`,
    );
  }
  console.log('\nGoals (steady state):');
  for (const line of lines) console.log(`  ${line}`);
}

function printTable(rows: ResultRow[]): void {
  const columns: Array<[string, (row: ResultRow) => string]> = [
    ['N', (row) => String(row.concurrency)],
    ['mode', (row) => row.mode],
    ['ttft p50', (row) => String(row.ttftP50Ms)],
    ['ttft p99', (row) => String(row.ttftP99Ms)],
    ['direct p50', (row) => String(row.directTtftP50Ms)],
    ['direct p99', (row) => String(row.directTtftP99Ms)],
    ['relay p50', (row) => String(row.relayTtftP50Ms)],
    ['relay p99', (row) => String(row.relayTtftP99Ms)],
    ['added p50', (row) => String(row.addedTtftP50Ms)],
    ['added p99', (row) => String(row.addedTtftP99Ms)],
    ['relay+ p50', (row) => String(row.relayAddedTtftP50Ms)],
    ['relay+ p99', (row) => String(row.relayAddedTtftP99Ms)],
    ['gap p99', (row) => String(row.interTokenP99Ms)],
    ['errors', (row) => String(row.errors)],
    ['done/s', (row) => String(row.completedPerSecond)],
    ['relay done/s', (row) => String(row.relayCompletedPerSecond)],
    ['KB/stream', (row) => String(row.memoryPerStreamKB ?? '-')],
    ['CPU ms/stream', (row) => String(row.cpuMsPerStream ?? '-')],
    ['relay CPU ms/stream', (row) => String(row.relayCpuMsPerStream ?? '-')],
    ['load', (row) => String(row.loadAverage)],
  ];
  const widths = columns.map(([title, cell]) => Math.max(title.length, ...rows.map((row) => cell(row).length)));
  const line = (cells: string[]) => `| ${cells.map((cell, position) => cell.padStart(widths[position] ?? 0)).join(' | ')} |`;
  console.log('\nAll times in ms; "added" is ours minus direct, "relay+" the relay minus direct, at the same percentile.');
  console.log("KB/stream: the API's resident memory per open stream; steady rows: growth over the previous N per additional stream; burst rows: over idle.");
  console.log('CPU ms/stream: CPU time of the API process (relay: of the relay process) per completed stream, over the same window.');
  console.log(`load: the one-minute load average when the row's loads ended (${availableParallelism()} cores).`);
  console.log(line(columns.map(([title]) => title)));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const row of rows) console.log(line(columns.map(([, cell]) => cell(row))));
}

async function profileApi(dataDirectory: string, stub: ServiceProcess, relay: ServiceProcess, knowledgeBaseId: string, users: number, questions: string[]) {
  const profileDirectory = await mkdtemp(path.join(tmpdir(), 'passage-cpu-profile-'));
  const spawned = performance.now();
  const api = await startApi(dataDirectory, stub.port, ['--cpu-prof', `--cpu-prof-dir=${profileDirectory}`]);
  // The summary leaves out the start-up (loading modules, the index) and the warm-up.
  let skipMs: number;
  try {
    const targets = targetsOf({ stub, relay, api }, knowledgeBaseId);
    progress(`profiling the API at N=${users} (${(warmupMs + measureMs) / 1000} s)…`);
    skipMs = performance.now() - spawned + warmupMs;
    const result = await runSteady(targets.ours, { users, spreadMs, warmupMs, measureMs, questions });
    console.log(`\nUnder --cpu-prof (slower than unprofiled):`);
    console.log(summaryLine('ours', result));
  } finally {
    await api.stop();
  }
  const files = await Promise.all(
    (await readdir(profileDirectory))
      .filter((name) => name.endsWith('.cpuprofile'))
      .map(async (name) => ({ name, bytes: (await stat(path.join(profileDirectory, name))).size })),
  );
  // The main thread did the serving: its profile is the largest.
  const main = files.sort((left, right) => right.bytes - left.bytes)[0];
  if (main === undefined) {
    console.log(`No CPU profile was written in ${profileDirectory}`);
    return;
  }
  const file = path.join(profileDirectory, main.name);
  const summary = await summariseCpuProfile(file, skipMs);
  console.log(`CPU profile of the API at N=${users}, measured window only: ${file}`);
  console.log(`  busy ${Math.round(summary.busyShare * 100)}% of ${summary.totalMs} ms sampled; self time of the busy part:`);
  console.log('  by origin:');
  for (const group of summary.groups.slice(0, 15)) console.log(`    ${(group.share * 100).toFixed(1).padStart(5)}%  ${group.name}`);
  console.log('  top frames:');
  for (const frame of summary.frames) console.log(`    ${(frame.share * 100).toFixed(1).padStart(5)}%  ${frame.name}`);
}

// ---------------------------------------------------------------------------------------------

progress(
  `bench:stream on Node ${process.version}, ${availableParallelism()} cores, open files limit ${openFileLimit()} (Node raises the soft limit to the hard one)`,
);
progress(`stub: first token after ${firstTokenMs} ms, then ${tokenCount} tokens every ${tokenIntervalMs} ms; N = ${concurrencies.join(', ')}`);
const questions = await loadQuestions();
const dataDirectory = await temporaryDataDirectory('passage-bench-stream-');
const stub = await startServiceProcess('scripts/bench-stream/stub-process.ts', [
  '--first-token-ms',
  String(firstTokenMs),
  '--token-interval-ms',
  String(tokenIntervalMs),
  '--tokens',
  String(tokenCount),
]);
const relay = await startServiceProcess('scripts/bench-stream/relay-process.ts', ['--upstream', `http://127.0.0.1:${stub.port}`]);
const api = await startApi(dataDirectory, stub.port);
const rows: ResultRow[] = [];
let decoders: DecoderFigures | null = null;
try {
  const { knowledgeBaseId } = await createTextKnowledgeBase(api, 'Benchmark', await loadDocuments());
  const processes: Processes = { stub, relay, api };
  const targets = targetsOf(processes, knowledgeBaseId);
  const agent = new Agent({ keepAlive: true });
  for (const target of Object.values(targets)) {
    for (const question of questions.slice(0, 3)) {
      const record = await streamOnce(target, question, agent);
      if (record.error !== null) throw new Error(`${target.name} does not answer properly: ${record.error}`);
    }
  }
  agent.destroy();

  let previousMemory: Measured['memory'] = null;
  for (const users of profileOnly ? [] : concurrencies) {
    progress(`N=${users}: steady, ${(warmupMs + measureMs) / 1000} s per target…`);
    const steady = await steadyFor(processes, targets, users, questions);
    console.log(`\nN=${users}, steady (measured ${measureMs / 1000} s after ${warmupMs / 1000} s of warm-up):`);
    console.log(summaryLine('direct', steady.direct.result, `; ${describeCpu(steady.direct, null)}`));
    console.log(
      summaryLine(
        'relay',
        steady.relay.result,
        `; ${describeCpu(steady.relay, 'relay')}; relay memory ${steady.relay.memoryPerStreamKB ?? '-'} KB per open stream over idle`,
      ),
    );
    const marginal = marginalMemoryKB(steady.ours.memory, previousMemory);
    previousMemory = steady.ours.memory;
    const memory = steady.ours.memory;
    console.log(summaryLine('ours', steady.ours.result, `; ${describeCpu(steady.ours, 'api')}`));
    if (memory !== null) {
      console.log(
        `  API memory: ${Math.round(memory.idleBytes / 1048576)} MB idle, ${Math.round(memory.meanBytes / 1048576)} MB with ${Math.round(memory.meanOpen)} streams open: ` +
          `${steady.ours.memoryPerStreamKB} KB per open stream over idle, ${marginal} KB per additional stream over the previous N`,
      );
    }
    rows.push(rowOf(users, 'steady', steady.ours, steady.direct.result, steady.relay, marginal));

    progress(`N=${users}: burst…`);
    const burst = await burstFor(processes, targets, users, questions);
    console.log(`N=${users}, one burst of ${users} simultaneous requests:`);
    console.log(summaryLine('direct', burst.direct.result));
    console.log(summaryLine('relay', burst.relay.result, `; ${describeCpu(burst.relay, 'relay')}`));
    console.log(
      summaryLine(
        'ours',
        burst.ours.result,
        `; ${describeCpu(burst.ours, 'api')}; API memory ${burst.ours.memoryPerStreamKB ?? '-'} KB per open stream over idle`,
      ),
    );
    rows.push(rowOf(users, 'burst', burst.ours, burst.direct.result, burst.relay, burst.ours.memoryPerStreamKB));
  }
  if (rows.length > 0) {
    printTable(rows);
    printGoals(rows);
  }
  if (!profileOnly) {
    progress('SSE decoders: eventsource-parser against a hand-written one…');
    decoders = compareSseDecoders(tokenCount);
    console.log(
      `\nSSE decoding of one ${tokenCount}-token answer as the stub sends it, CPU µs (JSON.parse included / decoder alone): ` +
        `eventsource-parser ${decoders.eventsourceParserMicrosecondsPerStream} / ${decoders.eventsourceParserDecodeOnlyMicrosecondsPerStream}, ` +
        `hand-written ${decoders.ownDecoderMicrosecondsPerStream} / ${decoders.ownDecoderDecodeOnlyMicrosecondsPerStream}`,
    );
  }

  if (withProfile) {
    await api.stop();
    await profileApi(dataDirectory, stub, relay, knowledgeBaseId, Math.max(...concurrencies), questions);
  }
} finally {
  await api.stop();
  await Promise.all([stub.stop(), relay.stop()]);
  await rm(dataDirectory, { recursive: true, force: true });
}
if (asJson) console.log(JSON.stringify({ results: rows, ...(decoders === null ? {} : { sseDecoders: decoders }) }));
