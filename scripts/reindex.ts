/**
 * `npm run reindex -- --kb <id> [--kb <id> ...] | --all [--dry-run] [--concurrency N] [--drop-old]
 * [--drop-grace-ms N] [--lease-ms N] [--abandon] [--json]`: rebuilds knowledge bases from their stored originals
 * into their next index generation with the current settings (chunking, embedding model), then
 * switches searches to it in one step. Reads the same configuration (environment) as the server:
 * in the embedded default it runs beside a running server on the same DATA_DIR and rebuilds in
 * this process; in the scaled mode (REDIS_URL) it enqueues the work for the BullMQ workers and
 * follows it. A progress bar on a terminal (plain lines otherwise) goes to standard error; the
 * summary table (and with --json, one JSON line) to standard output. Exit status: 0 when every
 * knowledge base switched, 1 when a document could not be rebuilt (listed) or a reindex failed, 2
 * for bad arguments, 3 when another reindex holds a knowledge base.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import pino from 'pino';
import { Reindexer, type ReindexResult } from '@passage/ingestion';
import { createRuntime, exitOnConfigError, loadConfigOrExit } from '@passage/runtime';
import { generationSchemaOf, toAppError } from '@passage/spec';

const usage =
  'usage: npm run reindex -- --kb <id> [--kb <id> ...] | --all [--dry-run] [--concurrency N] [--drop-old] [--drop-grace-ms N] [--lease-ms N] [--abandon] [--json]';

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      kb: { type: 'string', multiple: true },
      all: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      concurrency: { type: 'string' },
      'drop-old': { type: 'boolean', default: false },
      'drop-grace-ms': { type: 'string' },
      'lease-ms': { type: 'string' },
      abandon: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
}
try {
  parsed = parse();
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
const { values } = parsed;
const wholeNumber = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) {
    console.error(`--${name} takes a whole number ≥ 0, got "${value}"\n${usage}`);
    process.exit(2);
  }
  return number;
};
if (values.help || (values.kb === undefined && !values.all) || (values.kb !== undefined && values.all)) {
  console.error(usage);
  process.exit(values.help ? 0 : 2);
}
const concurrency = wholeNumber('concurrency', values.concurrency);
const dropGraceMs = wholeNumber('drop-grace-ms', values['drop-grace-ms']);
const leaseMs = wholeNumber('lease-ms', values['lease-ms']);

const config = loadConfigOrExit(process.env);
// Logs go to standard error as JSON lines only when asked (LOG_LEVEL); the bar and table are the interface.
const logger = pino({ level: process.env.LOG_LEVEL === undefined ? 'warn' : config.LOG_LEVEL, base: { service: 'passage-reindex' } }, pino.destination(2));
const runtime = await createRuntime(config, logger).catch(exitOnConfigError);
const schema = generationSchemaOf(runtime.embedder);
const interactive = process.stderr.isTTY && !values.json;
const bar = new SingleBar({
  format: '{kb} |{bar}| {value}/{total} documents | {chunks} chunks | {rate} docs/s | eta {eta_formatted}',
  barsize: 30,
  hideCursor: true,
  etaBuffer: 50,
  stream: process.stderr,
});
let lastLine = 0;
// Per knowledge base: when its run started, whether the bar is drawn, and how many documents an
// interrupted run had done already (they do not count towards the rate).
let startedAt = performance.now();
let barStarted = false;
let doneAtStart = 0;
const rebuiltSoFar = (done: number) => Math.max(0, done - doneAtStart);

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.once('SIGTERM', () => controller.abort());

const reindexer = new Reindexer({
  catalog: runtime.catalog,
  index: runtime.index,
  queue: runtime.queue,
  schema,
  owner: `reindex@${hostname()}:${process.pid}`,
  dropOld: values['drop-old'],
  ...(concurrency === undefined ? {} : { concurrency }),
  ...(dropGraceMs === undefined ? {} : { dropGraceMs }),
  ...(leaseMs === undefined ? {} : { leaseMs }),
  logger,
  onProgress: (progress) => {
    const seconds = (performance.now() - startedAt) / 1000;
    const rate = seconds > 0 ? (rebuiltSoFar(progress.documentsDone) / seconds).toFixed(1) : '0';
    if (interactive) {
      if (!barStarted) {
        bar.start(progress.documentsTotal, progress.documentsDone, { kb: progress.knowledgeBaseId, chunks: progress.chunks, rate });
        barStarted = true;
      }
      bar.setTotal(progress.documentsTotal);
      bar.update(progress.documentsDone, { kb: progress.knowledgeBaseId, chunks: progress.chunks, rate });
    } else if (performance.now() - lastLine > 1000 || progress.documentsDone + progress.documentsFailed >= progress.documentsTotal) {
      lastLine = performance.now();
      console.error(
        `${progress.knowledgeBaseId} → generation ${progress.targetGeneration}: ${progress.documentsDone}/${progress.documentsTotal} documents, ` +
          `${progress.chunks} chunks, ${progress.documentsFailed} failed, ${rate} documents/s`,
      );
    }
  },
});

const knowledgeBaseIds = values.all ? (await runtime.catalog.listKnowledgeBases()).map((knowledgeBase) => knowledgeBase.id) : (values.kb ?? []);
const results: ReindexResult[] = [];
const problems: Array<{ knowledgeBaseId: string; code: string; message: string }> = [];
try {
  for (const knowledgeBaseId of knowledgeBaseIds) {
    if (controller.signal.aborted) break;
    try {
      if (values['dry-run']) {
        const plan = await reindexer.plan(knowledgeBaseId);
        console.log(
          `${knowledgeBaseId}: would rebuild ${plan.documents} documents (${plan.chunks} chunks) from generation ${plan.fromGeneration} ` +
            `(${plan.from.embeddingModel ?? 'lexical only'}) into ${plan.targetGeneration} (${plan.to.embeddingModel ?? 'lexical only'})` +
            (plan.pending === null
              ? ''
              : `; a reindex into ${plan.pending.targetGeneration} is ${plan.pending.running ? 'running' : 'interrupted and would be resumed'}`),
        );
        continue;
      }
      if (values.abandon) {
        const dropped = await reindexer.abandon(knowledgeBaseId);
        console.log(dropped === null ? `${knowledgeBaseId}: no reindex to abandon` : `${knowledgeBaseId}: abandoned the reindex into generation ${dropped}`);
        continue;
      }
      startedAt = performance.now();
      barStarted = false;
      doneAtStart = (await runtime.catalog.getKnowledgeBase(knowledgeBaseId))?.reindex?.progress.documentsDone ?? 0;
      const result = await reindexer.reindex(knowledgeBaseId, controller.signal);
      if (barStarted) bar.stop();
      results.push(result);
      for (const failure of result.failed) {
        console.error(`${knowledgeBaseId}: document ${failure.documentId} (${failure.name}) was not rebuilt: ${failure.code}: ${failure.message}`);
      }
    } catch (error) {
      if (barStarted) bar.stop();
      const appError = toAppError(error);
      problems.push({ knowledgeBaseId, code: appError.code, message: appError.message });
      console.error(`${knowledgeBaseId}: ${appError.code}: ${appError.message}`);
    }
  }
} finally {
  await runtime.close();
}

if (results.length > 0) {
  console.table(
    results.map((result) => ({
      'knowledge base': result.knowledgeBaseId,
      generation: `${result.fromGeneration} → ${result.targetGeneration}`,
      resumed: result.resumed,
      documents: result.documents,
      rebuilt: result.rebuilt,
      failed: result.failed.length,
      'chunks before': result.chunksBefore,
      'chunks after': result.chunksAfter,
      switched: result.switched,
      'old dropped': result.dropped,
      seconds: (result.elapsedMs / 1000).toFixed(1),
    })),
  );
}
if (values.json) console.log(JSON.stringify({ results, problems }));
const conflict = problems.some((problem) => problem.code === 'reindex_in_progress');
const failed = problems.length > 0 || results.some((result) => !result.switched);
process.exit(conflict ? 3 : failed ? 1 : 0);
