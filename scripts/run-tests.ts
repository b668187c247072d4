/**
 * Finds every `*.test.ts` beside the code and runs them with Node's own test runner (Node 20's
 * `--test` does not expand globs). Extra arguments narrow the set: `npm test -- retrieval`.
 *
 * Two limits make a hung test fail instead of hanging CI:
 * - TEST_TIMEOUT_MS (default 15 min) goes to `--test-timeout`. Node 22 and later apply it to each
 *   test without a `timeout` of its own; Node 20 applies it to each test file as a whole.
 * - TEST_RUN_TIMEOUT_MINUTES (default 30): past it, the whole run (the runner, every test file and
 *   every process they started) is killed and the run fails with a message saying so.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { qdrantBinary } from '@passage/testing';

const root = path.resolve(import.meta.dirname, '..');
const filters = process.argv.slice(2);
const testTimeoutMs = positiveNumber('TEST_TIMEOUT_MS', 15 * 60_000);
const runTimeoutMinutes = positiveNumber('TEST_RUN_TIMEOUT_MINUTES', 30);

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`${name} must be a positive number, not ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

async function findTests(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  const found: string[] = [];
  for (const entry of entries) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) found.push(...(await findTests(full)));
    else if (entry.name.endsWith('.test.ts')) found.push(full);
  }
  return found;
}

// The cluster test starts Qdrant processes itself and needs the server binary; without one it is
// left out, and the lines below say so.
const clusterTest = path.join('apps', 'api', 'src', 'qdrant-cluster.test.ts');
const binary = qdrantBinary();

const files = [
  ...(await findTests(path.join(root, 'packages'))),
  ...(await findTests(path.join(root, 'apps'))),
  ...(await findTests(path.join(root, 'scripts'))),
]
  .map((file) => path.relative(root, file))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .filter((file) => binary !== null || file !== clusterTest)
  .sort();

if (files.length === 0) {
  console.error(`No test files match ${filters.join(' ')}`);
  process.exit(1);
}

// Which Qdrant the Qdrant suites talk to, said once before and once after the run: without a
// server they run against the OpenAPI-checked stand-in only, and that must not go unnoticed.
const qdrantUrl = process.env.QDRANT_URL;
const qdrantLines = [
  qdrantUrl === undefined || qdrantUrl === ''
    ? 'Qdrant suites: against the fake (packages/testing/src/fake-qdrant-server.ts) only; QDRANT_URL is not set'
    : `Qdrant suites: against the fake and the real server at ${qdrantUrl}: ${await qdrantVersion(qdrantUrl)}`,
  binary === null
    ? `Qdrant cluster test (3 peers, one killed): not run; ${process.env.QDRANT_BIN === 'none' ? 'QDRANT_BIN=none' : 'no qdrant binary (QDRANT_BIN is not set and none is on PATH)'}`
    : `Qdrant cluster test (3 peers, one killed): runs ${binary}`,
].join('\n');
console.log(qdrantLines);

/** What the server at `url` says it is; a URL where no Qdrant answers stops the run. */
async function qdrantVersion(url: string): Promise<string> {
  try {
    const response = await fetch(url.replace(/\/+$/, '') + '/', { signal: AbortSignal.timeout(5_000) });
    const body = (await response.json()) as { title?: string; version?: string; commit?: string };
    if (body.version === undefined) throw new Error(`no version in ${JSON.stringify(body)}`);
    return `${body.title ?? 'qdrant'} ${body.version}${body.commit === undefined ? '' : ` (commit ${body.commit.slice(0, 10)})`}`;
  } catch (error) {
    console.error(`QDRANT_URL is ${url}, but no Qdrant answers there: ${String(error)}`);
    process.exit(2);
  }
}

// A process group of its own, so that the overall time-out can kill the test files' processes
// and whatever servers they started, not only the runner.
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${testTimeoutMs}`, ...files], {
  cwd: root,
  stdio: 'inherit',
  detached: true,
});

function killGroup(signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // The group is gone already.
  }
}

let timedOut = false;
const runTimer = setTimeout(() => {
  timedOut = true;
  console.error(
    `\nnpm test: the run took longer than ${runTimeoutMinutes} min (TEST_RUN_TIMEOUT_MINUTES) and was killed; ` +
      'a test is probably hanging: the output above shows the last tests that ran.',
  );
  killGroup('SIGTERM');
  setTimeout(() => {
    killGroup('SIGKILL');
    process.exit(1);
  }, 10_000).unref();
}, runTimeoutMinutes * 60_000);

// Detached, the group no longer gets the terminal's Ctrl-C: pass it on.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killGroup(signal);
    setTimeout(() => killGroup('SIGKILL'), 5_000).unref();
  });
}

child.on('exit', (code, signal) => {
  clearTimeout(runTimer);
  console.log(qdrantLines);
  // Servers a test file left behind would otherwise outlive the run.
  killGroup('SIGKILL');
  process.exit(timedOut ? 1 : (code ?? (signal ? 1 : 0)));
});
