/**
 * `npm run eval -- --dataset <dir> [--mode lexical|dense|hybrid] [--json]`: retrieval quality on a
 * set in BEIR layout (see ../shared/eval/README.md), through the product's ingestion and retrieval
 * paths, into a fresh knowledge base of the embedded store. Prints nDCG@10, Recall@10 and MRR@10
 * at document level (a document scores as its best chunk) and, when the set has answers,
 * answer-recall@1/5/10 at chunk level. With `--json`, the last line of standard output is one JSON
 * object with the same figures. Progress goes to standard error.
 *
 * Configuration comes from the environment as for the server (CHUNK_TOKENS, CHUNK_OVERLAP_TOKENS,
 * EMBEDDING_PROVIDER, EMBEDDING_MODEL, EMBEDDING_BATCH_SIZE, HYBRID_FUSION, RRF_K, RETRIEVAL_MODE);
 * `--mode` takes several modes, comma-separated, searched over one ingestion; with a reranker, each
 * mode is measured without and with it (one result, and one JSON line with `--json`, each).
 * `--embedding-provider`, `--embedding-model` and `--embedding-precision` override the embedding
 * variables, `--rerank-provider`, `--rerank-model`, `--rerank-candidates` and `--rerank-precision`
 * the RERANK_* ones. The mode defaults as the server's does: RETRIEVAL_MODE, else hybrid with an
 * embedder, else lexical. `--fusion dbsf,rrf` measures hybrid mode with each fusion (default
 * HYBRID_FUSION) over the same ingestion. `--sample-documents <n>` and `--sample-queries <n>`
 * (`--seed`) evaluate a reproducible sample of the set (see sampleDataset): for runs the full set
 * makes too slow.
 */
import { parseArgs } from 'node:util';
import { ProgressBar, loadBeirDataset, runEvaluations, sampleDataset, type EvaluationResult } from '@passage/evaluation';
import { createEmbedder, createReranker, exitOnConfigError } from '@passage/runtime';
import { AbortedError, loadConfig, type Config, type Embedder, type Logger, type HybridFusion, type Reranker, type RetrievalMode } from '@passage/spec';

const usage =
  'usage: npm run eval -- --dataset <dir> [--mode lexical|dense|hybrid[,…]] [--fusion dbsf|rrf[,…]] [--json] [--embedding-provider none|local|openai] ' +
  '[--embedding-model <id or folder>] [--embedding-precision fp32|q8] [--rerank-provider none|local|http] [--rerank-model <id or folder>] ' +
  '[--rerank-candidates <n>] [--rerank-precision fp32|q8] [--sample-documents <n>] [--sample-queries <n>] [--seed <n>] [--chunk-depth <n>] [--concurrency <n>]';

const started = performance.now();
const { values } = parseArgs({
  options: {
    dataset: { type: 'string' },
    mode: { type: 'string' },
    fusion: { type: 'string' },
    json: { type: 'boolean', default: false },
    'embedding-provider': { type: 'string' },
    'embedding-model': { type: 'string' },
    'embedding-precision': { type: 'string' },
    'rerank-provider': { type: 'string' },
    'rerank-model': { type: 'string' },
    'rerank-candidates': { type: 'string' },
    'rerank-precision': { type: 'string' },
    'sample-documents': { type: 'string' },
    'sample-queries': { type: 'string' },
    seed: { type: 'string' },
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
// Several modes, comma-separated, are searched over one ingestion.
const requestedModes = values.mode?.split(',').map((mode) => mode.trim());
if (requestedModes !== undefined && !requestedModes.every((mode) => modes.includes(mode as RetrievalMode))) {
  console.error(`--mode must be one or more of ${modes.join(', ')}, comma-separated\n${usage}`);
  process.exit(2);
}
const fusions: readonly HybridFusion[] = ['dbsf', 'rrf'];
const requestedFusions = values.fusion?.split(',').map((fusion) => fusion.trim());
if (requestedFusions !== undefined && !requestedFusions.every((fusion) => fusions.includes(fusion as HybridFusion))) {
  console.error(`--fusion must be one or more of ${fusions.join(', ')}, comma-separated\n${usage}`);
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
const sampleDocuments = positiveInteger('sample-documents', values['sample-documents']);
const sampleQueries = positiveInteger('sample-queries', values['sample-queries']);
const seed = positiveInteger('seed', values.seed);

let config: Config;
try {
  config = loadConfig({
    ...process.env,
    ...(values['embedding-provider'] === undefined ? {} : { EMBEDDING_PROVIDER: values['embedding-provider'] }),
    ...(values['embedding-model'] === undefined ? {} : { EMBEDDING_MODEL: values['embedding-model'] }),
    ...(values['embedding-precision'] === undefined ? {} : { EMBEDDING_PRECISION: values['embedding-precision'] }),
    ...(values['rerank-provider'] === undefined ? {} : { RERANK_PROVIDER: values['rerank-provider'] }),
    ...(values['rerank-model'] === undefined ? {} : { RERANK_MODEL: values['rerank-model'] }),
    ...(values['rerank-candidates'] === undefined ? {} : { RERANK_CANDIDATES: values['rerank-candidates'] }),
    ...(values['rerank-precision'] === undefined ? {} : { RERANK_PRECISION: values['rerank-precision'] }),
  });
} catch (error) {
  exitOnConfigError(error);
}
const embeddingConfigured = config.EMBEDDING_PROVIDER !== 'none';
const selectedModes = (requestedModes as RetrievalMode[] | undefined) ?? [config.RETRIEVAL_MODE ?? (embeddingConfigured ? 'hybrid' : 'lexical')];
const mode = selectedModes.find((selected) => selected !== 'lexical');
if (mode !== undefined && !embeddingConfigured) {
  console.error(`--mode ${mode} needs an embedder: set EMBEDDING_PROVIDER=local (and EMBEDDING_MODEL) or pass --embedding-provider`);
  process.exit(2);
}

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
const progress = new ProgressBar();
let results: EvaluationResult[];
let embedder: Embedder | null;
let reranker: Reranker | null;
// Model loading is reported on standard error; a reranker that cannot be loaded must not pass unseen.
const stderrLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (fields, message) => console.error(`warning: ${message ?? JSON.stringify(fields)}`),
  error: (fields, message) => console.error(`error: ${message ?? JSON.stringify(fields)}`),
};
try {
  const fullDataset = await loadBeirDataset(values.dataset, controller.signal);
  const dataset =
    sampleDocuments === undefined && sampleQueries === undefined
      ? fullDataset
      : sampleDataset(fullDataset, {
          ...(sampleDocuments === undefined ? {} : { documents: sampleDocuments }),
          ...(sampleQueries === undefined ? {} : { queries: sampleQueries }),
          ...(seed === undefined ? {} : { seed }),
        });
  // A lexical run needs no model: nothing is loaded, nothing embedded.
  embedder = mode === undefined ? null : await createEmbedder(config, stderrLogger).catch(exitOnConfigError);
  reranker = await createReranker(config, stderrLogger);
  if (config.RERANK_PROVIDER !== 'none' && reranker === null) {
    console.error('The reranker could not be loaded (see the warning above): not measuring without it');
    process.exit(2);
  }
  // Hybrid mode is measured with each fusion asked for; with a reranker, each is measured without it and with it.
  const selectedFusions = (requestedFusions as HybridFusion[] | undefined) ?? [config.HYBRID_FUSION];
  const variants = selectedModes.flatMap((selected) =>
    (selected === 'hybrid' ? selectedFusions : [undefined]).flatMap((fusion) =>
      (reranker === null ? [false] : [false, true]).map((rerank) => ({ mode: selected, rerank, ...(fusion === undefined ? {} : { fusion }) })),
    ),
  );
  results = await runEvaluations({
    dataset,
    mode: selectedModes[0]!,
    variants,
    embedder,
    reranker,
    rerankCandidates: config.RERANK_CANDIDATES,
    chunking: { targetTokens: config.CHUNK_TOKENS, overlapTokens: config.CHUNK_OVERLAP_TOKENS },
    embeddingBatchSize: config.EMBEDDING_BATCH_SIZE,
    fusion: config.HYBRID_FUSION,
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
for (const result of results) {
  const figures: Array<[string, number | undefined]> = [
    ['nDCG@10', result['ndcg@10']],
    ['Recall@10', result['recall@10']],
    ['MRR@10', result['mrr@10']],
    ['answer-recall@1', result['answerRecall@1']],
    ['answer-recall@5', result['answerRecall@5']],
    ['answer-recall@10', result['answerRecall@10']],
  ];
  const rerank =
    !result.reranked || reranker === null ? null : { provider: config.RERANK_PROVIDER, model: reranker.name, candidates: config.RERANK_CANDIDATES };
  const chunksPerSecond = result.chunks / Math.max(1e-9, result.ingestSeconds);
  console.log(
    `${result.dataset}, ${result.mode}${result.fusion === null ? '' : ` (${result.fusion})`}${embedder === null || result.mode === 'lexical' ? '' : ` (${embedder.name})`}${rerank === null ? '' : ` + rerank (${rerank.model}, ${rerank.candidates})`}: ` +
      `${result.queries} queries, ${result.documents} documents${result.failedDocuments > 0 ? ` (${result.failedDocuments} failed)` : ''}, ${result.chunks} chunks`,
  );
  for (const [label, value] of figures) if (value !== undefined) console.log(`  ${label.padEnd(17)} ${value.toFixed(4)}`);
  console.log(
    `  ingest ${result.ingestSeconds.toFixed(1)} s (${chunksPerSecond.toFixed(1)} chunks/s), search ${result.searchSeconds.toFixed(1)} s, ` +
      `query p50 ${result.queryP50Ms.toFixed(1)} ms${result.rerankP50Ms === undefined ? '' : ` (rerank p50 ${result.rerankP50Ms.toFixed(1)} ms)`}, wall ${wallSeconds.toFixed(1)} s`,
  );
  if (values.json) {
    const rounded = Object.fromEntries(
      Object.entries(result).map(([key, value]) => [key, typeof value === 'number' && !Number.isInteger(value) ? round(value) : value]),
    );
    console.log(
      JSON.stringify({
        ...rounded,
        ...(embedder === null ? {} : { embedder: embedder.name }),
        // The precision is the local provider's setting; a server's model has its own.
        ...(embedder === null || config.EMBEDDING_PROVIDER !== 'local' ? {} : { embeddingPrecision: config.EMBEDDING_PRECISION }),
        rerank: rerank === null ? null : { ...rerank, ...(config.RERANK_PROVIDER === 'local' ? { precision: config.RERANK_PRECISION } : {}) },
        chunksPerSecond: round(chunksPerSecond),
        wallSeconds: round(wallSeconds),
      }),
    );
  }
}
