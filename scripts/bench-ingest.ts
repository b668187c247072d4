/**
 * `npm run bench:ingest`: how much the ingestion pipeline costs on top of parsing, and how close
 * the embedding client comes to what an embeddings server allows. A benchmark, not a test.
 *
 * 1. Pages per second of the parser alone (BoundedParser) and of the whole pipeline without an
 *    embedder (IngestionService: read, parse, chunk, analyze, index into the embedded store,
 *    catalog updates), on the same PDFs in the same run, alternating; the ratio is the goal
 *    (≥ 0.8).
 * 2. Embeddings per second through the OpenAI-compatible embedder against a stub server of fixed
 *    latency, with EMBEDDING_BATCH_SIZE and EMBEDDING_MAX_IN_FLIGHT, against the stub's maximum
 *    (in-flight cap × batch / latency; goal ≥ 0.9): for every chunk of the same PDFs in one call,
 *    and for the embedding stage of the pipeline on the 352-page PDF.
 *
 * 3. Responsiveness (scripts/bench-ingest/responsiveness.ts): while the API, in a process of its
 *    own, ingests a generated text file of `--big-text-mb` MB, the 352-page PDF and every other
 *    shared PDF, `--streams` answer streams run and `/healthz` is polled every 50 ms: the API's
 *    event-loop delay p99 and max (goal: max ≤ 50 ms) and the health latency p99 and max (goal:
 *    p99 ≤ 20 ms). Bounded by `--time-limit-s`.
 *
 * Options: `--rounds N` (default 3), `--latency-ms N` (default 100, a fast remote embedding server;
 * below that the few milliseconds of any local HTTP exchange weigh against the maximum),
 * `--big-text-mb N` (100), `--streams N` (100), `--time-limit-s N` (900), `--responsiveness-only`,
 * `--skip-responsiveness`, `--cpu-profile-dir <folder>` (the API's threads under `--cpu-prof` in the responsiveness run), `--json` (the last line is one JSON object with every figure).
 */
import { copyFile, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { BoundedParser, IngestionService, chunkPages } from '@passage/ingestion';
import { OpenAiEmbedder } from '@passage/llm-openai';
import { LocalChunkIndex, createAnalyzer } from '@passage/retrieval';
import { loadConfig, newDocumentId, newKnowledgeBaseId, type Embedder, type EmbeddingPurpose } from '@passage/spec';
import { LocalFileStore, SqliteCatalog, SqliteChunkStore, openDatabase } from '@passage/store-sqlite';
import { sharedPath, startStubEmbeddingServerProcess, temporaryDataDirectory } from '@passage/testing';
import { measureResponsiveness } from './bench-ingest/responsiveness.js';
import { stringArgument } from './bench-stream/arguments.js';

const argument = (name: string, fallback: number) => {
  const position = process.argv.indexOf(`--${name}`);
  const value = position >= 0 ? Number(process.argv[position + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} takes a positive number`);
  return value;
};
const asJson = process.argv.includes('--json');
const rounds = argument('rounds', 3);
const latencyMs = argument('latency-ms', 100);
const bigTextMegabytes = argument('big-text-mb', 100);
const streams = argument('streams', 100);
const timeLimitSeconds = argument('time-limit-s', 900);
const responsivenessOnly = process.argv.includes('--responsiveness-only');
const skipResponsiveness = process.argv.includes('--skip-responsiveness');
const cpuProfileDirectory = stringArgument('--cpu-profile-dir', '') || undefined;
const config = loadConfig(process.env);
const batchSize = config.EMBEDDING_BATCH_SIZE;
const maxInFlight = config.EMBEDDING_MAX_IN_FLIGHT;
const dimensions = 384;

interface ManifestEntry {
  file: string;
  category: string;
}
const manifest = JSON.parse(await readFile(sharedPath('pdfs', 'manifest.json'), 'utf8')) as ManifestEntry[];
const files = manifest.filter((entry) => ['normal_text', 'huge_pages', 'cjk', 'forms'].includes(entry.category)).map((entry) => entry.file);
const bigFile = 'huge_pages/pdfjs_freeculture_352p.pdf';

/** Part 1 and 2: pipeline against parser pages/s, and embeddings/s; prints its rows. */
async function measureThroughput() {
  const directory = await temporaryDataDirectory('passage-bench-ingest-');
  const database = openDatabase({ dataDirectory: directory });
  const catalog = new SqliteCatalog(database);
  const fileStore = new LocalFileStore({ directory: path.join(directory, 'originals') });
  const index = new LocalChunkIndex({ store: new SqliteChunkStore(database) });
  const parser = new BoundedParser({ timeoutMs: config.PARSE_TIMEOUT_MS, memoryMb: config.PARSE_MEMORY_MB });
  const analyzer = createAnalyzer();
  const knowledgeBase = await catalog.createKnowledgeBase({
    id: newKnowledgeBaseId(),
    name: 'Benchmark',
    schema: { embeddingModel: null, denseDimensions: null },
  });
  await index.createGeneration({ knowledgeBaseId: knowledgeBase.id, generation: 1 }, knowledgeBase.schema);
  const chunking = { targetTokens: config.CHUNK_TOKENS, overlapTokens: config.CHUNK_OVERLAP_TOKENS };

  const service = (embedder: Embedder | null) =>
    new IngestionService({
      catalog,
      files: fileStore,
      index,
      parser,
      analyzer,
      embedder,
      embeddingBatchSize: batchSize,
      embeddingConcurrency: maxInFlight,
      chunking,
    });

  /** Stores the file as an upload would and ingests it; ms of `ingest` alone. */
  async function ingestOnce(ingestion: IngestionService, file: string): Promise<{ ms: number; pages: number; chunks: number }> {
    const id = newDocumentId();
    const source = path.join(directory, `upload-${id}`);
    await copyFile(sharedPath('pdfs', file), source);
    await fileStore.putFromPath(id, source);
    await catalog.createDocuments([
      { id, knowledgeBaseId: knowledgeBase.id, name: path.basename(file), bytes: 0, contentHash: id, mediaType: 'application/pdf' },
    ]);
    const started = performance.now();
    const outcome = await ingestion.ingest(id, new AbortController().signal);
    const ms = performance.now() - started;
    if (outcome.kind !== 'ready') throw new Error(`${file} did not ingest: ${JSON.stringify(outcome)}`);
    return { ms, pages: outcome.document.pages ?? 0, chunks: outcome.document.chunks ?? 0 };
  }

  async function parseOnce(file: string, bytes: Uint8Array): Promise<{ ms: number; pages: number }> {
    const started = performance.now();
    const parsed = await parser.parse(bytes, { fileName: path.basename(file) });
    return { ms: performance.now() - started, pages: parsed.pages.length };
  }

  try {
    const documents = await Promise.all(files.map(async (file) => ({ file, bytes: new Uint8Array(await readFile(sharedPath('pdfs', file))) })));
    const plain = service(null);

    // Warm-up: JIT, jieba's dictionary, the first thread, SQLite's caches.
    for (const { file, bytes } of documents) {
      await parseOnce(file, bytes);
      await ingestOnce(plain, file);
    }

    let parserMs = 0;
    let pipelineMs = 0;
    let pages = 0;
    const big = { parserMs: 0, pipelineMs: 0, pages: 0 };
    for (let round = 0; round < rounds; round += 1) {
      for (const { file, bytes } of documents) {
        // Alternate the order so that drift (a warming cache, a busy neighbour) hits both alike.
        let parsed: { ms: number; pages: number };
        let ingested: { ms: number };
        if (round % 2 === 0) {
          parsed = await parseOnce(file, bytes);
          ingested = await ingestOnce(plain, file);
        } else {
          ingested = await ingestOnce(plain, file);
          parsed = await parseOnce(file, bytes);
        }
        parserMs += parsed.ms;
        pipelineMs += ingested.ms;
        pages += parsed.pages;
        if (file === bigFile) {
          big.parserMs += parsed.ms;
          big.pipelineMs += ingested.ms;
          big.pages += parsed.pages;
        }
      }
    }
    const parserPagesPerSecond = (pages / parserMs) * 1000;
    const pipelinePagesPerSecond = (pages / pipelineMs) * 1000;

    // Embeddings: a stub with a fixed latency, in a process of its own; its maximum is cap × batch / latency.
    const stub = await startStubEmbeddingServerProcess({ dimensions, latencyMs });
    let client: { texts: number; ms: number };
    let stage: { chunks: number; ms: number };
    let roundTripMs = Number.NaN;
    try {
      const embedder = await OpenAiEmbedder.create({ model: 'bench-embed', baseUrl: stub.baseUrl, batchSize, maxInFlight, dimensions });
      const texts: string[] = [];
      for (const { file, bytes } of documents) {
        const parsed = await parser.parse(bytes, { fileName: path.basename(file) });
        texts.push(...chunkPages(parsed.pages, chunking).map((draft) => draft.text));
      }
      await embedder.embed(texts.slice(0, batchSize * maxInFlight), 'passage'); // connections warm
      // One request alone, end to end: the stub's latency plus what any HTTP exchange costs.
      const single: number[] = [];
      for (let attempt = 0; attempt < 7; attempt += 1) {
        const sent = performance.now();
        await embedder.embed(texts.slice(attempt * batchSize, (attempt + 1) * batchSize), 'passage');
        single.push(performance.now() - sent);
      }
      roundTripMs = single.sort((left, right) => left - right)[3]!;
      const started = performance.now();
      const vectors = await embedder.embed(texts, 'passage');
      client = { texts: vectors.length, ms: performance.now() - started };

      // The pipeline's embedding stage: from its first request to its last answer.
      const calls: Array<{ start: number; end: number; texts: number }> = [];
      const timed: Embedder = {
        name: embedder.name,
        dimensions: embedder.dimensions,
        async embed(batch: string[], purpose: EmbeddingPurpose, signal?: AbortSignal) {
          const start = performance.now();
          const result = await embedder.embed(batch, purpose, signal);
          calls.push({ start, end: performance.now(), texts: batch.length });
          return result;
        },
      };
      const ingested = await ingestOnce(service(timed), bigFile);
      if (calls.reduce((sum, call) => sum + call.texts, 0) !== ingested.chunks) throw new Error('not every chunk was embedded once');
      stage = { chunks: ingested.chunks, ms: Math.max(...calls.map((call) => call.end)) - Math.min(...calls.map((call) => call.start)) };
    } finally {
      await stub.close();
    }
    const maximum = (maxInFlight * batchSize * 1000) / latencyMs;
    const clientPerSecond = (client.texts / client.ms) * 1000;
    const stagePerSecond = (stage.chunks / stage.ms) * 1000;

    const result = {
      pdfs: documents.length,
      rounds,
      pages,
      parserPagesPerSecond: Math.round(parserPagesPerSecond),
      pipelinePagesPerSecond: Math.round(pipelinePagesPerSecond),
      pipelineToParserRatio: Math.round((pipelinePagesPerSecond / parserPagesPerSecond) * 1000) / 1000,
      bigPdfParserPagesPerSecond: Math.round((big.pages / big.parserMs) * 1000),
      bigPdfPipelinePagesPerSecond: Math.round((big.pages / big.pipelineMs) * 1000),
      bigPdfPipelineToParserRatio: Math.round((big.parserMs / big.pipelineMs) * 1000) / 1000,
      embedding: { batchSize, maxInFlight, latencyMs, dimensions, maximumPerSecond: Math.round(maximum) },
      clientEmbeddings: client.texts,
      clientEmbeddingsPerSecond: Math.round(clientPerSecond),
      clientToMaximumRatio: Math.round((clientPerSecond / maximum) * 1000) / 1000,
      pipelineStageEmbeddings: stage.chunks,
      pipelineStageEmbeddingsPerSecond: Math.round(stagePerSecond),
      pipelineStageToMaximumRatio: Math.round((stagePerSecond / maximum) * 1000) / 1000,
      singleRequestRoundTripMs: Math.round(roundTripMs * 10) / 10,
      clientToRoundTripBoundRatio: Math.round((clientPerSecond / ((maxInFlight * batchSize * 1000) / roundTripMs)) * 1000) / 1000,
    };
    const row = (label: string, value: string) => console.log(`${label.padEnd(52)} ${value}`);
    console.log(`${documents.length} PDFs (normal, huge, CJK, forms), ${rounds} rounds, ${pages} pages parsed per side`);
    row('parser alone (BoundedParser)', `${result.parserPagesPerSecond} pages/s`);
    row('whole pipeline, no embedder (IngestionService)', `${result.pipelinePagesPerSecond} pages/s`);
    row('pipeline ÷ parser (goal ≥ 0.8)', `${result.pipelineToParserRatio}`);
    row(
      `  of which ${path.basename(bigFile)}: parser, pipeline`,
      `${result.bigPdfParserPagesPerSecond}, ${result.bigPdfPipelinePagesPerSecond} pages/s, ratio ${result.bigPdfPipelineToParserRatio}`,
    );
    console.log(
      `stub embeddings server: ${latencyMs} ms per request, batch ${batchSize}, ${maxInFlight} in flight → maximum ${result.embedding.maximumPerSecond}/s`,
    );
    row(
      `embedder, all ${client.texts} chunks of the PDFs in one call`,
      `${result.clientEmbeddingsPerSecond}/s, ${result.clientToMaximumRatio} of maximum (goal ≥ 0.9)`,
    );
    row(
      `pipeline embedding stage, ${path.basename(bigFile)} (${stage.chunks} chunks)`,
      `${result.pipelineStageEmbeddingsPerSecond}/s, ${result.pipelineStageToMaximumRatio} of maximum`,
    );
    row('one request alone, end to end (median of 7)', `${result.singleRequestRoundTripMs} ms`);
    row('embedder ÷ (in-flight cap × batch ÷ that round trip)', `${result.clientToRoundTripBoundRatio}`);
    return result;
  } finally {
    await index.close();
    database.close();
    await rm(directory, { recursive: true, force: true });
  }
}

/** Part 3; prints its rows. */
async function measureResponsivenessAndPrint() {
  console.log(
    `responsiveness: ingesting a generated ${bigTextMegabytes} MB text file and the shared PDFs while ${streams} answer streams run and /healthz is polled every 50 ms (time limit ${timeLimitSeconds} s)`,
  );
  const result = await measureResponsiveness({
    bigTextMegabytes,
    users: streams,
    timeLimitMs: timeLimitSeconds * 1000,
    ...(cpuProfileDirectory === undefined ? {} : { cpuProfileDirectory }),
  });
  const row = (label: string, value: string) => console.log(`${label.padEnd(52)} ${value}`);
  row(
    'ingestion ended within the limit',
    `${result.completed} (${result.ingestionSeconds} s; ready ${result.documents.ready}, failed ${result.documents.failed}, unfinished ${result.documents.unfinished}; generated text: ${result.bigTextStatus}, ${result.bigTextChunks} chunks)`,
  );
  row(
    'API event-loop delay p50 / p99 / max',
    `${result.eventLoopDelayP50Ms} / ${result.eventLoopDelayP99Ms} / ${result.eventLoopDelayMaxMs} ms (goal: max ≤ 50)`,
  );
  row(
    '/healthz p50 / p99 / max',
    `${result.healthP50Ms} / ${result.healthP99Ms} / ${result.healthMaxMs} ms (goal: p99 ≤ 20), ${result.healthRequests} requests, ${result.healthFailures} failed`,
  );
  row('answer streams completed, failed', `${result.streamsCompleted}, ${result.streamErrors}`);
  row('gap between deltas p99 / max', `${result.streamGapP99Ms} / ${result.streamGapMaxMs} ms`);
  return result;
}

const throughput = responsivenessOnly ? {} : await measureThroughput();
const responsiveness = skipResponsiveness ? {} : await measureResponsivenessAndPrint();
if (asJson) console.log(JSON.stringify({ ...throughput, ...responsiveness }));
