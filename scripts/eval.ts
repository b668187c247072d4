/**
 * `npm run eval -- --dataset <dir> [--mode lexical|dense|hybrid] [--json]`: retrieval quality on a
 * set in BEIR layout (see ../shared/eval/README.md), through the product's ingestion and retrieval
 * paths, into a fresh knowledge base of the embedded store. Prints nDCG@10, Recall@10 and MRR@10
 * at document level (a document scores as its best chunk) and, when the set has answers,
 * answer-recall@1/5/10 at chunk level. With `--json`, the last line of standard output is one JSON
 * object with the same figures. Progress goes to standard error.
 *
 * Configuration comes from the environment as for the server (CHUNK_TOKENS, CHUNK_OVERLAP_TOKENS,
 * EMBEDDING_PROVIDER, EMBEDDING_MODEL, EMBEDDING_BATCH_SIZE, RRF_K, RETRIEVAL_MODE);
 * `--embedding-provider` and `--embedding-model` override the two embedding variables. The mode
 * defaults as the server's does: RETRIEVAL_MODE, else hybrid with an embedder, else lexical.
 */
import { parseArgs } from 'node:util';
import { ProgressBar, loadBeirDataset, runEvaluation, type EvaluationResult } from '@passage/evaluation';
import { createEmbedder, exitOnConfigError } from '@passage/runtime';
import { AbortedError, loadConfig, silentLogger, type Config, type Embedder, type RetrievalMode } from '@passage/spec';

const usage =
  'usage: npm run eval -- --dataset <dir> [--mode lexical|dense|hybrid] [--json] [--embedding-provider none|local|openai] ' +
  '[--embedding-model <id or folder>] [--chunk-depth <n>] [--concurrency <n>]';

const started = performance.now();
const { values } = parseArgs({
  options: {
    dataset: { type: 'string' },
    mode: { type: 'string' },
    json: { type: 'boolean', default: false },
    'embedding-provider': { type: 'string' },
    'embedding-model': { type: 'string' },
    'chunk-depth': { type: 'string' },
    concurrency: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (values.help || values.dataset === undefined) {
  console.error(usage);
  process.exit(values.help ? 0 : 2);
}
const modes: readonly RetrievalMode[] = ['lexical', 'dense', 'hybrid'];
if (values.mode !== undefined && !modes.includes(values.mode as RetrievalMode)) {
  console.error(`--mode must be one of ${modes.join(', ')}\n${usage}`);
  process.exit(2);
}
const positiveInteger = (flag: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${flag} must be a positive integer`);
    process.exit(2);
  }
  return value;
};
const chunkDepth = positiveInteger('chunk-depth', values['chunk-depth']);
const concurrency = positiveInteger('concurrency', values.concurrency);

let config: Config;
try {
  config = loadConfig({
    ...process.env,
    ...(values['embedding-provider'] === undefined ? {} : { EMBEDDING_PROVIDER: values['embedding-provider'] }),
    ...(values['embedding-model'] === undefined ? {} : { EMBEDDING_MODEL: values['embedding-model'] }),
  });
} catch (error) {
  exitOnConfigError(error);
}
const embeddingConfigured = config.EMBEDDING_PROVIDER !== 'none';
const mode: RetrievalMode = (values.mode as RetrievalMode | undefined) ?? config.RETRIEVAL_MODE ?? (embeddingConfigured ? 'hybrid' : 'lexical');
if (mode !== 'lexical' && !embeddingConfigured) {
  console.error(`--mode ${mode} needs an embedder: set EMBEDDING_PROVIDER=local (and EMBEDDING_MODEL) or pass --embedding-provider`);
  process.exit(2);
}

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
const progress = new ProgressBar();
let result: EvaluationResult;
let embedder: Embedder | null;
try {
  const dataset = await loadBeirDataset(values.dataset, controller.signal);
  // A lexical run needs no model: nothing is loaded, nothing embedded.
  embedder = mode === 'lexical' ? null : await createEmbedder(config, silentLogger).catch(exitOnConfigError);
  result = await runEvaluation({
    dataset,
    mode,
    embedder,
    chunking: { targetTokens: config.CHUNK_TOKENS, overlapTokens: config.CHUNK_OVERLAP_TOKENS },
    embeddingBatchSize: config.EMBEDDING_BATCH_SIZE,
    rrfK: config.RRF_K,
    ...(chunkDepth === undefined ? {} : { chunkDepth }),
    ...(concurrency === undefined ? {} : { concurrency }),
    onProgress: (update) => progress.update(update),
    signal: controller.signal,
  });
} catch (error) {
  progress.stop();
  if (error instanceof AbortedError) {
    console.error('Interrupted');
    process.exit(130);
  }
  throw error;
}
progress.stop();

const wallSeconds = (performance.now() - started) / 1000;
const round = (value: number) => Math.round(value * 10_000) / 10_000;
const figures: Array<[string, number | undefined]> = [
  ['nDCG@10', result['ndcg@10']],
  ['Recall@10', result['recall@10']],
  ['MRR@10', result['mrr@10']],
  ['answer-recall@1', result['answerRecall@1']],
  ['answer-recall@5', result['answerRecall@5']],
  ['answer-recall@10', result['answerRecall@10']],
];
console.log(
  `${result.dataset}, ${result.mode}${embedder === null ? '' : ` (${embedder.name})`}: ${result.queries} queries, ` +
    `${result.documents} documents${result.failedDocuments > 0 ? ` (${result.failedDocuments} failed)` : ''}, ${result.chunks} chunks`,
);
for (const [label, value] of figures) if (value !== undefined) console.log(`  ${label.padEnd(17)} ${value.toFixed(4)}`);
console.log(
  `  ingest ${result.ingestSeconds.toFixed(1)} s, search ${result.searchSeconds.toFixed(1)} s ` +
    `(${((result.searchSeconds * 1000) / Math.max(1, result.queries)).toFixed(1)} ms a query), wall ${wallSeconds.toFixed(1)} s`,
);
if (values.json) {
  const rounded = Object.fromEntries(
    Object.entries(result).map(([key, value]) => [key, typeof value === 'number' && !Number.isInteger(value) ? round(value) : value]),
  );
  console.log(JSON.stringify({ ...rounded, ...(embedder === null ? {} : { embedder: embedder.name }), wallSeconds: round(wallSeconds) }));
}
