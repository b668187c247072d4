/**
 * `npm run bench:scale -- [--chunks 100000,1000000] [--json] [--legacy-index <module>] [--keep <dir>] [--data <dir>]`:
 * the embedded store as a knowledge base grows. Per size it generates a corpus (seeded: English
 * prose drawn from the word frequencies of the shared SciFact abstracts, and one document in ten
 * of sentences drawn from the shared CMRC 2018 paragraphs), ingests it through the IngestionService
 * into a fresh data folder (as `npm run eval` does: records instead of files, everything else the
 * product's), then starts a fresh process on that folder (the probe) that measures what a restarted
 * server meets: time to the first search (the index loaded cold), the longest event-loop block
 * meanwhile (until the vectors are read and the dense graph is in use: mapped from the folder's
 * `dense-indexes`, as the server keeps it, or built by the first probe), resident memory then, and
 * lexical search p50/p99 through the LocalChunkIndex at 1 and 16 concurrent queries of ten words:
 * a first pass (`lexical-first-pass`: the postings read from the segment file) and a second (cached).
 *
 * `--legacy-index <module>` runs a second probe with another LocalChunkIndex module on the same
 * folder (the implementation before segments, say, taken out of git), for figures side by side.
 * Rows (`--json` prints them as one JSON line at the end): {chunks, ingestChunksPerSecond,
 * dataBytes, rssBytes, coldFirstSearchMs, mode, concurrency, p50Ms, p99Ms, maxEventLoopBlockMs,
 * index}. `--data <dir>` probes an existing folder (made with `--keep`) instead of ingesting.
 * `--repeat <k>` then copies every chunk k − 1 more times under new ids (the corpus repeated) and
 * measures again at k times the size: a million chunks without ingesting them all. `--repeat 2,20`
 * measures at 2 and at 20 times the ingested size only (list 1 too for the ingested size itself).
 * `--segment-replicas <k>` (with `--data`, after a run that wrote the folder's segment file): the
 * segment alone at k times its size, without SQLite, ingestion or a build from the store. The file's
 * chunks are replicated k times under new ids (as `--repeat` does to the stored chunks, but at the
 * segment level, in seconds: the copies' document ids are not in id order, which only the lookup
 * of a document by id, for deletes, needs), written to a temporary file, and a fresh process
 * measures what a restart meets: reading the file, resident memory, the first search, and p50/p99
 * of lexical searches at top 10 and 100, pruned and exhaustive (rows `segment-…`, no vectors).
 * `--queries <n>`: queries of each run (default 300).
 * Run it alone, under `nice`: it measures time.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { TransformersEmbedder, writeFixtureModel } from '@passage/embedder-transformers';
import { CorpusRecordParser, encodeCorpusRecord } from '@passage/evaluation';
import { IngestionService } from '@passage/ingestion';
import {
  LexicalSegment,
  LocalChunkIndex,
  SegmentedBm25Index,
  createAnalyzer,
  defaultDocumentWeight,
  documentSlotArray,
  encodeLexicalSegment,
  type FrequencyArray,
} from '@passage/retrieval';
import {
  generationSchemaOf,
  newDocumentId,
  newKnowledgeBaseId,
  seededRandom,
  throwIfAborted,
  type ChunkIndex,
  type ChunkStore,
  type Embedder,
  type FileStore,
  type RandomAccessFile,
  type RetrievalMode,
} from '@passage/spec';
import { SqliteCatalog, SqliteChunkStore, openDatabase, openRandomAccessFile } from '@passage/store-sqlite';
import { sharedPath } from '@passage/testing';

const { values } = parseArgs({
  options: {
    chunks: { type: 'string', default: '100000' },
    json: { type: 'boolean', default: false },
    'legacy-index': { type: 'string' },
    keep: { type: 'string' },
    data: { type: 'string' },
    probe: { type: 'string' },
    'segment-replicas': { type: 'string' },
    'segment-probe': { type: 'string' },
    queries: { type: 'string', default: '300' },
    'knowledge-base': { type: 'string' },
    'index-module': { type: 'string' },
    seed: { type: 'string', default: '17' },
    repeat: { type: 'string', default: '1' },
    embedder: { type: 'string', default: 'fixture' },
    'ingest-only': { type: 'boolean', default: false },
  },
  strict: true,
});

const seed = Number(values.seed);
/** Words of one generated English document: about 40 chunks of the default 256 tokens. */
const wordsPerDocument = 8000;
const chineseShare = 0.1;
/** Queries of each run (`--queries`). Default 300. */
const queriesPerRun = Number(values.queries);
if (values.embedder !== 'fixture' && values.embedder !== 'none') throw new Error(`--embedder takes fixture or none, got ${values.embedder}`);

/**
 * The fixture embedder (the tests' generated model, 16 dimensions, written to a temporary folder:
 * the same vectors in every process), or null with `--embedder none`.
 */
async function fixtureEmbedder(): Promise<Embedder | null> {
  if (values.embedder === 'none') return null;
  const directory = await mkdtemp(path.join(tmpdir(), 'passage-scale-model-'));
  try {
    const model = await writeFixtureModel(directory);
    return await TransformersEmbedder.load({ model: model.directory });
  } finally {
    // Loaded into memory: the files are no longer needed (each run left its folder in the temporary directory).
    await rm(directory, { recursive: true, force: true });
  }
}

interface Vocabulary {
  english: string[];
  /** Cumulative weights of `english`, for sampling by frequency. */
  englishWeights: Float64Array;
  chinese: string[];
}

async function loadVocabulary(): Promise<Vocabulary> {
  const counts = new Map<string, number>();
  for (const line of (await readFile(sharedPath('eval/en_scifact/corpus.jsonl'), 'utf8')).split('\n')) {
    if (line.trim() === '') continue;
    const record = JSON.parse(line) as { text: string; title: string };
    for (const word of `${record.title} ${record.text}`.split(/\s+/)) if (word !== '') counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const english = [...counts.keys()];
  const englishWeights = new Float64Array(english.length);
  let total = 0;
  english.forEach((word, index) => {
    total += counts.get(word) as number;
    englishWeights[index] = total;
  });
  const chinese: string[] = [];
  for (const line of (await readFile(sharedPath('eval/zh_cmrc2018/corpus.jsonl'), 'utf8')).split('\n')) {
    if (line.trim() === '') continue;
    const record = JSON.parse(line) as { text: string };
    for (const sentence of record.text.split(/(?<=[。！？])/)) if (sentence.trim() !== '') chinese.push(sentence.trim());
  }
  return { english, englishWeights, chinese };
}

function englishWord(vocabulary: Vocabulary, random: () => number): string {
  const weights = vocabulary.englishWeights;
  const target = random() * (weights[weights.length - 1] as number);
  let low = 0;
  let high = weights.length - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((weights[middle] as number) < target) low = middle + 1;
    else high = middle;
  }
  return vocabulary.english[low] as string;
}

/** The text of generated document `number`: the same for the same seed. */
function documentText(vocabulary: Vocabulary, number: number): { title: string; text: string } {
  const random = seededRandom(seed * 1_000_003 + number);
  if (random() < chineseShare) {
    const sentences: string[] = [];
    for (let length = 0; length < wordsPerDocument * 2.5;) {
      const sentence = vocabulary.chinese[Math.floor(random() * vocabulary.chinese.length)] as string;
      sentences.push(sentence);
      length += sentence.length;
    }
    return { title: `文档 ${number}`, text: sentences.join('') };
  }
  const words: string[] = [];
  for (let index = 0; index < wordsPerDocument; index += 1) words.push(englishWord(vocabulary, random));
  return { title: `Document ${number}`, text: words.join(' ') };
}

/** Originals made on demand from their number, so a million chunks of text never sit in memory. */
class GeneratedFileStore implements FileStore {
  readonly #numbers = new Map<string, number>();
  constructor(private readonly vocabulary: Vocabulary) {}
  register(documentId: string, number: number): void {
    this.#numbers.set(documentId, number);
  }
  async putFromPath(): Promise<void> {
    throw new Error('not used by the benchmark');
  }
  async read(documentId: string, signal?: AbortSignal): Promise<Uint8Array> {
    throwIfAborted(signal);
    const number = this.#numbers.get(documentId);
    if (number === undefined) throw Object.assign(new Error(`No original for ${documentId}`), { code: 'ENOENT' });
    return encodeCorpusRecord(documentText(this.vocabulary, number));
  }
  async delete(documentId: string): Promise<void> {
    this.#numbers.delete(documentId);
  }
  async exists(documentId: string): Promise<boolean> {
    return this.#numbers.has(documentId);
  }
}

async function folderBytes(directory: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(directory, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/** Ingests generated documents until the knowledge base holds at least `targetChunks`. */
async function ingest(directory: string, targetChunks: number, vocabulary: Vocabulary): Promise<{ knowledgeBaseId: string; chunks: number; seconds: number }> {
  const database = openDatabase({ dataDirectory: directory });
  const catalog = new SqliteCatalog(database);
  const index = new LocalChunkIndex({ store: new SqliteChunkStore(database) });
  const files = new GeneratedFileStore(vocabulary);
  const embedder = await fixtureEmbedder();
  const ingestion = new IngestionService({ catalog, files, index, parser: new CorpusRecordParser(), analyzer: createAnalyzer(), embedder });
  const schema = generationSchemaOf(embedder);
  const knowledgeBase = await catalog.createKnowledgeBase({ id: newKnowledgeBaseId(), name: 'scale', schema });
  await index.createGeneration({ knowledgeBaseId: knowledgeBase.id, generation: 1 }, schema);
  const started = performance.now();
  const controller = new AbortController();
  let chunks = 0;
  let next = 0;
  let lastReport = started;
  const worker = async () => {
    while (chunks < targetChunks) {
      const number = next++;
      const id = newDocumentId();
      files.register(id, number);
      await catalog.createDocuments([
        {
          id,
          knowledgeBaseId: knowledgeBase.id,
          name: `generated-${number}.json`,
          bytes: 0,
          contentHash: createHash('sha256').update(`${seed}/${number}`).digest('hex'),
          mediaType: 'application/json',
        },
      ]);
      const outcome = await ingestion.ingest(id, controller.signal);
      if (outcome.kind !== 'ready') throw new Error(`document ${number} did not become ready: ${JSON.stringify(outcome)}`);
      chunks += outcome.document.chunks ?? 0;
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        process.stderr.write(`  ingested ${chunks} chunks in ${((lastReport - started) / 1000).toFixed(0)} s\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  const seconds = (performance.now() - started) / 1000;
  await index.close();
  database.close();
  return { knowledgeBaseId: knowledgeBase.id, chunks, seconds };
}

interface ProbeResult {
  coldFirstSearchMs: number;
  maxEventLoopBlockMs: number;
  rssBytes: number;
  /** Where the cold start went: the index's reads of the store, timed around the store's methods. */
  cold: Record<string, number>;
  /** `mode` is a retrieval mode, or `segment-<pruned|exhaustive>-top<k>` for the segment searched alone. */
  runs: Array<{ mode: string; concurrency: number; p50Ms: number; p99Ms: number; maxMs: number; cpuP50Ms?: number; cpuP99Ms?: number }>;
}

/** The store with its cold-start reads timed (ms, from the call to the last byte handed over). */
class TimedChunkStore extends SqliteChunkStore {
  readonly pieces: Record<string, number> = {};
  #add(name: string, milliseconds: number): void {
    this.pieces[name] = Math.round((this.pieces[name] ?? 0) + milliseconds);
  }
  override async openLexicalSegment(knowledgeBaseId: string, generation: number): Promise<RandomAccessFile | null> {
    const started = performance.now();
    const file = await super.openLexicalSegment(knowledgeBaseId, generation);
    if (file === null) return null;
    this.#add('segmentBytes', file.size);
    this.#add('openSegmentFileMs', performance.now() - started);
    // What the index reads of it: the tables at the open, then each search's postings not in its cache.
    return {
      size: file.size,
      read: async (target, position) => {
        this.#add('segmentBytesRead', target.byteLength);
        await file.read(target, position);
      },
      close: () => file.close(),
    };
  }
  override vectorPages(knowledgeBaseId: string, generation: number): ReturnType<SqliteChunkStore['vectorPages']> {
    const inner = super.vectorPages(knowledgeBaseId, generation);
    const add = (name: string, value: number) => this.#add(name, value);
    return (async function* () {
      add('vectorsReading', 1);
      const started = performance.now();
      let count = 0;
      for await (const page of inner) {
        count += page.length;
        yield page;
      }
      // Includes the index's own work on each page (adding the vectors), as the loop interleaves both.
      add('vectorsLoadMs', performance.now() - started);
      add('vectors', count);
    })();
  }
  override async snapshotRows(...args: Parameters<SqliteChunkStore['snapshotRows']>): ReturnType<SqliteChunkStore['snapshotRows']> {
    const started = performance.now();
    const snapshot = await super.snapshotRows(...args);
    this.#add('snapshotOpenMs', performance.now() - started);
    return snapshot;
  }
}

/** The segment's chunks k times over, under new ids: a segment k times the size (see `--segment-replicas`). */
function replicateSegment(segment: LexicalSegment, replicas: number): Uint8Array {
  const chunks = segment.chunkCount;
  const documents = segment.documentCount;
  const terms = Array.from({ length: segment.termCount }, (_, number) => segment.term(number));
  const pack = (strings: string[]) => {
    const encoded = strings.map((text) => Buffer.from(text, 'utf8'));
    const offsets = new Uint32Array(strings.length + 1);
    encoded.forEach((bytes, index) => (offsets[index + 1] = (offsets[index] as number) + bytes.length));
    return { bytes: new Uint8Array(Buffer.concat(encoded)), offsets };
  };
  const suffix = (copy: number) => (copy === 0 ? '' : `-copy${copy}`);
  const repeatedPostings = <T extends FrequencyArray | Int32Array | Uint16Array>(
    offsets: Uint32Array,
    values: T,
    make: (length: number) => T,
    shift: number,
  ): { offsets: Uint32Array; values: T } => {
    const next = new Uint32Array(offsets.length);
    const out = make(values.length * replicas);
    let position = 0;
    for (let term = 0; term + 1 < offsets.length; term += 1) {
      const first = offsets[term] as number;
      const end = offsets[term + 1] as number;
      for (let copy = 0; copy < replicas; copy += 1) {
        for (let index = first; index < end; index += 1) out[position++] = (values[index] as number) + copy * shift;
      }
      next[term + 1] = position;
    }
    return { offsets: next, values: out };
  };
  const sameType =
    <T extends FrequencyArray | Int32Array | Uint16Array>(array: T) =>
    (length: number) =>
      new (array.constructor as new (length: number) => T)(length);
  const slots = repeatedPostings(segment.postingOffsets, segment.postingSlots, sameType(segment.postingSlots), chunks);
  const frequencies = repeatedPostings(segment.postingOffsets, segment.postingFrequencies, sameType(segment.postingFrequencies), 0);
  const documentSlots = repeatedPostings(
    segment.documentPostingOffsets,
    segment.documentPostingDocuments,
    (length) => documentSlotArray(length, documents * replicas),
    documents,
  );
  const documentFrequencies = repeatedPostings(
    segment.documentPostingOffsets,
    segment.documentPostingFrequencies,
    sameType(segment.documentPostingFrequencies),
    0,
  );
  const chunkIds = pack(Array.from({ length: chunks * replicas }, (_, slot) => segment.chunkId(slot % chunks) + suffix(Math.floor(slot / chunks))));
  const documentIds = pack(
    Array.from({ length: documents * replicas }, (_, slot) => segment.documentId(slot % documents) + suffix(Math.floor(slot / documents))),
  );
  const repeated = <T extends Float64Array | Int32Array | FrequencyArray>(array: T, shift: number): T => {
    const out = new (array.constructor as new (length: number) => T)(array.length * replicas);
    for (let copy = 0; copy < replicas; copy += 1)
      for (let index = 0; index < array.length; index += 1) out[copy * array.length + index] = (array[index] as number) + copy * shift;
    return out;
  };
  const documentChunkStarts = new Uint32Array(documents * replicas + 1);
  for (let copy = 0; copy < replicas; copy += 1) {
    for (let document = 0; document <= documents; document += 1)
      documentChunkStarts[copy * documents + document] = (segment.documentChunkStarts[document] as number) + copy * chunks;
  }
  const documentTermEntries = segment.documentTermOffsets[documents] as number;
  const documentTermOffsets = new Uint32Array(documents * replicas + 1);
  for (let copy = 0; copy < replicas; copy += 1) {
    for (let document = 0; document <= documents; document += 1)
      documentTermOffsets[copy * documents + document] = (segment.documentTermOffsets[document] as number) + copy * documentTermEntries;
  }
  const packedTerms = pack(terms);
  return encodeLexicalSegment({
    sequence: segment.sequence,
    vectorCount: segment.vectorCount * replicas,
    termBytes: packedTerms.bytes,
    termOffsets: packedTerms.offsets,
    postingOffsets: slots.offsets,
    postingSlots: slots.values,
    postingFrequencies: frequencies.values,
    documentPostingOffsets: documentSlots.offsets,
    documentPostingDocuments: documentSlots.values,
    documentPostingFrequencies: documentFrequencies.values,
    chunkIdBytes: chunkIds.bytes,
    chunkIdOffsets: chunkIds.offsets,
    chunkLengths: repeated(segment.chunkLengths, 0),
    chunkDocuments: repeated(segment.chunkDocuments, documents),
    documentIdBytes: documentIds.bytes,
    documentIdOffsets: documentIds.offsets,
    documentChunkStarts,
    documentLengths: repeated(segment.documentLengths, 0),
    termSaturations: segment.termSaturations ?? new Float64Array(segment.termCount),
    saturation: segment.saturation ?? { k1: Number.NaN, b: Number.NaN, averageChunkLength: 1 },
    documentTermOffsets,
    documentTerms: repeated(segment.documentTerms, 0),
    documentTermChunks: repeated(segment.documentTermChunks, 0),
  });
}

/** In a fresh process: a segment file read as a restart would, then searched alone (see `--segment-replicas`). */
async function segmentProbe(file: string): Promise<ProbeResult> {
  const vocabulary = await loadVocabulary();
  const analyzer = createAnalyzer();
  const random = seededRandom(seed + 99);
  const queries = Array.from({ length: queriesPerRun }, (_, number) =>
    analyzer.termFrequencies(
      number % 10 === 9
        ? (vocabulary.chinese[Math.floor(random() * vocabulary.chinese.length)] as string).slice(0, 20)
        : Array.from({ length: 10 }, () => englishWord(vocabulary, random)).join(' '),
    ),
  );
  const blocks = watchEventLoopBlocks();
  const started = performance.now();
  // Opened as a restart does: every part but the postings now, each query's postings read per term (and cached).
  const segment = await LexicalSegment.open(await openRandomAccessFile(file));
  const read = performance.now();
  const lexical = await SegmentedBm25Index.open({}, segment);
  const opened = performance.now();
  const release = await lexical.prepare(queries[0] as Record<string, number>);
  lexical.search(queries[0] as Record<string, number>, 10, defaultDocumentWeight);
  release();
  const coldFirstSearchMs = performance.now() - started;
  const firstSearchMs = performance.now() - opened;
  blocks.stop();
  (globalThis as { gc?: () => void }).gc?.();
  const rssBytes = process.memoryUsage().rss;
  const runs: ProbeResult['runs'] = [];
  for (const topK of [10, 100]) {
    for (const exhaustive of [false, true]) {
      const times: number[] = [];
      // CPU time too: on a shared machine a search's wall time includes waiting for a core.
      const cpuTimes: number[] = [];
      for (const query of queries) {
        const begun = performance.now();
        const cpu = process.cpuUsage();
        // Reading the postings not in the cache yet counts: the first round of queries reads them all.
        const releaseQuery = await lexical.prepare(query);
        lexical.search(query, topK, defaultDocumentWeight, { exhaustive });
        releaseQuery();
        const spent = process.cpuUsage(cpu);
        times.push(performance.now() - begun);
        cpuTimes.push((spent.user + spent.system) / 1000);
      }
      times.sort((left, right) => left - right);
      cpuTimes.sort((left, right) => left - right);
      const mode = `segment-${exhaustive ? 'exhaustive' : 'pruned'}-top${topK}`;
      runs.push({
        mode,
        concurrency: 1,
        p50Ms: percentile(times, 0.5),
        p99Ms: percentile(times, 0.99),
        maxMs: times.at(-1) ?? Number.NaN,
        cpuP50Ms: percentile(cpuTimes, 0.5),
        cpuP99Ms: percentile(cpuTimes, 0.99),
      });
    }
  }
  const cold = {
    openSegmentMs: Math.round(read - started),
    segmentBytes: (await stat(file)).size,
    cachedPostingBytes: segment.cachedBytes,
    openIndexMs: Math.round(opened - read),
    firstSearchMs: Math.round(firstSearchMs),
  };
  return { coldFirstSearchMs, maxEventLoopBlockMs: blocks.longest(), rssBytes, cold, runs };
}

const percentile = (sorted: number[], fraction: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;

/** In a fresh process: opens the folder as a restarted server would and measures (see the top of the file). */
async function probe(directory: string, knowledgeBaseId: string, indexModule: string | undefined): Promise<ProbeResult> {
  const vocabulary = await loadVocabulary();
  const analyzer = createAnalyzer();
  const random = seededRandom(seed + 99);
  const texts = Array.from({ length: queriesPerRun }, (_, number) =>
    number % 10 === 9
      ? (vocabulary.chinese[Math.floor(random() * vocabulary.chinese.length)] as string).slice(0, 20)
      : Array.from({ length: 10 }, () => englishWord(vocabulary, random)).join(' '),
  );
  const queries = texts.map((text) => analyzer.termFrequencies(text));
  type IndexConstructor = new (options: { store: ChunkStore; dense?: { directory: string } }) => ChunkIndex;
  const Index: IndexConstructor =
    indexModule === undefined
      ? LocalChunkIndex
      : ((await import(pathToFileURL(path.resolve(indexModule)).href)) as { LocalChunkIndex: IndexConstructor }).LocalChunkIndex;
  const delay = monitorEventLoopDelay({ resolution: 5 });
  const blocks = watchEventLoopBlocks();
  delay.enable();
  const started = performance.now();
  const database = openDatabase({ dataDirectory: directory });
  const store = new TimedChunkStore(database);
  // The dense graph is kept in the data folder as the server keeps it: a restart maps it instead of building it again.
  const index = new Index({ store, dense: { directory: path.join(directory, 'dense-indexes') } });
  const search = (terms: Record<string, number>, mode: RetrievalMode, vector?: number[]) =>
    index.search({ knowledgeBaseId, generation: 1, terms, mode, topK: 10, ...(vector === undefined ? {} : { vector }) });
  await search(queries[0] as Record<string, number>, 'lexical');
  const coldFirstSearchMs = performance.now() - started;
  // What is read in the background (the stored vectors) counts towards memory and blocks.
  while (store.pieces['vectorsReading'] !== undefined && store.pieces['vectorsLoadMs'] === undefined) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  store.pieces['loadedMs'] = Math.round(performance.now() - started);
  // The dense graph: mapped from the data folder after a restart, else built in the background (a
  // first start): searches are measured once it is in use, as a server runs from then on.
  if (index instanceof LocalChunkIndex) {
    const settling = performance.now();
    await index.settleDenseIndex(knowledgeBaseId, 1);
    store.pieces['denseSettleMs'] = Math.round(performance.now() - settling);
  }
  delay.disable();
  blocks.stop();
  const maxEventLoopBlockMs = Math.max(blocks.longest(), delay.max / 1e6 - 5);
  (globalThis as { gc?: () => void }).gc?.();
  const memory = process.memoryUsage();
  const rssBytes = memory.rss;
  // Where it goes: the JavaScript heap (objects, strings) and the typed arrays' memory outside it.
  store.pieces['heapUsedBytes'] = memory.heapUsed;
  store.pieces['arrayBuffersBytes'] = memory.arrayBuffers;
  const runs: ProbeResult['runs'] = [];
  const measureRuns = async (mode: RetrievalMode, vectors?: number[][], label: string = mode) => {
    for (const concurrency of [1, 16]) {
      const times: number[] = [];
      let position = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (position < queries.length) {
            const number = position++;
            const begun = performance.now();
            await search(queries[number] as Record<string, number>, mode, vectors?.[number]);
            times.push(performance.now() - begun);
          }
        }),
      );
      times.sort((left, right) => left - right);
      runs.push({ mode: label, concurrency, p50Ms: percentile(times, 0.5), p99Ms: percentile(times, 0.99), maxMs: times.at(-1) ?? Number.NaN });
    }
  };
  // The first pass reads each query's postings from the segment file (nothing is cached after a
  // restart); the second finds them in the cache, as a server's frequent terms are.
  await measureRuns('lexical', undefined, 'lexical-first-pass');
  await measureRuns('lexical');
  // Hybrid with the fixture embedder: loaded after the memory figure (it is not the index's).
  if (values.embedder === 'fixture') {
    const embedder = await fixtureEmbedder();
    if (embedder !== null) await measureRuns('hybrid', await embedder.embed(texts, 'query'));
  }
  // The graph built by the first start (in the background, during the searches above) is saved for the next.
  if (index instanceof LocalChunkIndex) {
    const settling = performance.now();
    await index.settleDenseIndex(knowledgeBaseId, 1);
    store.pieces['denseSettleMs'] = Math.round(performance.now() - settling);
  }
  await index.close();
  database.close();
  // The segment file searched alone, with and without pruning (the same hits): what pruning saves.
  const files = (await readdir(path.join(directory, 'lexical-segments'))).filter((name) => name.endsWith('.segment'));
  if (files.length === 1) {
    const buffer = await readFile(path.join(directory, 'lexical-segments', files[0] as string));
    const segment = new LexicalSegment(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength));
    const lexical = new SegmentedBm25Index({}, segment);
    for (const topK of [10, 100]) {
      for (const exhaustive of [false, true]) {
        const times: number[] = [];
        for (const query of queries) {
          const begun = performance.now();
          lexical.search(query, topK, defaultDocumentWeight, { exhaustive });
          times.push(performance.now() - begun);
        }
        times.sort((left, right) => left - right);
        const mode = `segment-${exhaustive ? 'exhaustive' : 'pruned'}-top${topK}`;
        runs.push({ mode, concurrency: 1, p50Ms: percentile(times, 0.5), p99Ms: percentile(times, 0.99), maxMs: times.at(-1) ?? Number.NaN });
      }
    }
  }
  return { coldFirstSearchMs, maxEventLoopBlockMs, rssBytes, cold: store.pieces, runs };
}

async function runProbe(directory: string, knowledgeBaseId: string, indexModule?: string): Promise<ProbeResult> {
  const script = fileURLToPath(import.meta.url);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      'tsx',
      script,
      '--probe',
      directory,
      '--knowledge-base',
      knowledgeBaseId,
      ...(indexModule === undefined ? [] : ['--index-module', indexModule]),
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as ProbeResult;
}

const rows: Array<Record<string, number | string>> = [];

async function measure(
  directory: string,
  knowledgeBaseId: string,
  chunks: number,
  ingestChunksPerSecond: number,
  legacyIndex: string | undefined,
): Promise<void> {
  await rm(path.join(directory, 'lexical-segments'), { recursive: true, force: true });
  await rm(path.join(directory, 'dense-indexes'), { recursive: true, force: true });
  const dataBytes = await folderBytes(directory);
  const probes: Array<[string, string | undefined]> = [
    ['segments (cold: built)', undefined],
    ['segments (restart: read back)', undefined],
  ];
  if (legacyIndex !== undefined) probes.unshift(['legacy', legacyIndex]);
  for (const [label, module] of probes) {
    process.stderr.write(`probing ${label} at ${chunks} chunks\n`);
    const result = await runProbe(directory, knowledgeBaseId, module);
    process.stderr.write(`  cold start pieces: ${JSON.stringify(result.cold)}\n`);
    for (const run of result.runs) {
      rows.push({
        index: label,
        chunks,
        ingestChunksPerSecond,
        dataBytes,
        rssBytes: result.rssBytes,
        coldFirstSearchMs: Math.round(result.coldFirstSearchMs),
        mode: run.mode,
        concurrency: run.concurrency,
        p50Ms: Math.round(run.p50Ms * 100) / 100,
        p99Ms: Math.round(run.p99Ms * 100) / 100,
        maxEventLoopBlockMs: Math.round(result.maxEventLoopBlockMs),
      });
      // Each row as soon as it is measured: a long run stopped early keeps what it measured.
      process.stderr.write(`  ${JSON.stringify(rows.at(-1))}\n`);
    }
  }
}

if (values['segment-probe'] !== undefined) {
  console.log(JSON.stringify(await segmentProbe(values['segment-probe'])));
  process.exit(0);
}

if (values['segment-replicas'] !== undefined) {
  const replicas = Number(values['segment-replicas']);
  if (values.data === undefined || !Number.isInteger(replicas) || replicas < 1) throw new Error('--segment-replicas takes a positive integer, with --data');
  const folder = path.join(values.data, 'lexical-segments');
  const [name] = (await readdir(folder)).filter((entry) => entry.endsWith('.segment'));
  if (name === undefined) throw new Error(`no segment file in ${folder}: run bench:scale on the folder first`);
  const segment = new LexicalSegment(new Uint8Array(await readFile(path.join(folder, name))));
  const replicated = path.join(await mkdtemp(path.join(tmpdir(), 'passage-segment-')), `replicated-${replicas}.segment`);
  await writeFile(replicated, replicateSegment(segment, replicas));
  // Both the original's pages and the copy's are in the page cache now, as a file the server wrote itself would be.
  process.stderr.write(`probing the segment replicated ${replicas} times (${segment.chunkCount * replicas} chunks): ${replicated}\n`);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--segment-probe', replicated, '--queries', String(queriesPerRun)],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const result = JSON.parse(stdout.trim().split('\n').at(-1) as string) as ProbeResult;
  process.stderr.write(`  cold start pieces: ${JSON.stringify(result.cold)}\n`);
  for (const run of result.runs) {
    rows.push({
      index: 'segment alone (replicated)',
      chunks: segment.chunkCount * replicas,
      ingestChunksPerSecond: Number.NaN,
      dataBytes: result.cold.segmentBytes ?? Number.NaN,
      rssBytes: result.rssBytes,
      coldFirstSearchMs: Math.round(result.coldFirstSearchMs),
      mode: run.mode,
      concurrency: run.concurrency,
      p50Ms: Math.round(run.p50Ms * 100) / 100,
      p99Ms: Math.round(run.p99Ms * 100) / 100,
      maxEventLoopBlockMs: Math.round(result.maxEventLoopBlockMs),
      cpuP50Ms: Math.round((run.cpuP50Ms ?? Number.NaN) * 100) / 100,
      cpuP99Ms: Math.round((run.cpuP99Ms ?? Number.NaN) * 100) / 100,
    });
  }
  await rm(path.dirname(replicated), { recursive: true, force: true });
}

if (values.probe !== undefined) {
  console.log(JSON.stringify(await probe(values.probe, values['knowledge-base'] as string, values['index-module'])));
  process.exit(0);
}

const repeats = values.repeat.split(',').map((text) => {
  const factor = Number(text);
  if (!Number.isInteger(factor) || factor < 1) throw new Error(`--repeat takes positive integers separated by commas, got ${text}`);
  return factor;
});
// A single factor measures the ingested size too, as before; a list measures only the sizes it names.
if (repeats.length === 1 && !repeats.includes(1)) repeats.unshift(1);
repeats.sort((left, right) => left - right);
// With --segment-replicas the segment alone was measured above: nothing is ingested or probed.
const sizes = (values['segment-replicas'] !== undefined ? '' : values.chunks)
  .split(',')
  .filter((text) => text !== '')
  .map((text) => {
    const size = Number(text);
    if (!Number.isInteger(size) || size < 1) throw new Error(`--chunks takes positive integers separated by commas, got ${text}`);
    return size;
  });
const vocabulary = await loadVocabulary();
for (const size of sizes) {
  let directory: string;
  let knowledgeBaseId: string;
  let chunks: number;
  let ingestChunksPerSecond = Number.NaN;
  if (values.data !== undefined) {
    directory = values.data;
    const database = openDatabase({ dataDirectory: directory });
    const row = database
      .prepare('SELECT knowledge_base_id AS id, COUNT(*) AS count FROM chunks GROUP BY knowledge_base_id ORDER BY count DESC LIMIT 1')
      .get() as {
      id: string;
      count: number;
    };
    database.close();
    knowledgeBaseId = row.id;
    chunks = row.count;
  } else {
    directory = values.keep ?? (await mkdtemp(path.join(tmpdir(), 'passage-scale-')));
    process.stderr.write(`ingesting ${size} chunks into ${directory}\n`);
    const ingested = await ingest(directory, size, vocabulary);
    knowledgeBaseId = ingested.knowledgeBaseId;
    chunks = ingested.chunks;
    ingestChunksPerSecond = Math.round(chunks / ingested.seconds);
    process.stderr.write(`ingested ${chunks} chunks at ${ingestChunksPerSecond} chunks/s into ${directory}\n`);
    if (values['ingest-only']) continue;
  }
  let copies = 1;
  for (const factor of repeats) {
    for (; copies < factor; copies += 1) {
      // The shared corpora repeated: every chunk again under new chunk and document ids (ingestion is measured above).
      const database = openDatabase({ dataDirectory: directory });
      database
        .prepare(
          `INSERT INTO chunks (id, knowledge_base_id, generation, document_id, document_name, ordinal, page, start_offset, end_offset, text, tokens, terms, vector)
           SELECT id || '-copy' || ?, knowledge_base_id, generation, document_id || '-copy' || ?, document_name, ordinal, page, start_offset, end_offset,
             text, tokens, terms, vector FROM chunks WHERE knowledge_base_id = ? AND id NOT LIKE '%-copy%'`,
        )
        .run(copies, copies, knowledgeBaseId);
      database.close();
    }
    if (factor > 1) process.stderr.write(`repeated the chunks ${factor} times\n`);
    // The implementation before segments needs about 18 KB a chunk: only the new one is measured on a repeated set.
    await measure(directory, knowledgeBaseId, chunks * factor, ingestChunksPerSecond, factor === 1 ? values['legacy-index'] : undefined);
  }
  if (values.keep === undefined && values.data === undefined) await rm(directory, { recursive: true, force: true });
}

const columns = [
  'index',
  'chunks',
  'ingestChunksPerSecond',
  'dataBytes',
  'rssBytes',
  'coldFirstSearchMs',
  'mode',
  'concurrency',
  'p50Ms',
  'p99Ms',
  'maxEventLoopBlockMs',
  'cpuP50Ms',
  'cpuP99Ms',
];
console.log(columns.join(' | '));
for (const row of rows) console.log(columns.map((column) => String(row[column])).join(' | '));
if (values.json) console.log(JSON.stringify(rows));

/** The largest gap between ticks of a 5 ms timer, less its period: how long the event loop was held. */
function watchEventLoopBlocks(): { longest(): number; stop(): void } {
  let longest = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last - 5);
    last = now;
  }, 5);
  return { longest: () => longest, stop: () => clearInterval(timer) };
}
