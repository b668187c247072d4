/**
 * `npm run bench:search -- [--chunks 10000,100000] [--concurrency 1,16] [--queries 200] [--json]
 * [--data <dir>] [--dense-index auto|exact|approximate] [--ef <n>] [--build-threads <n>]`:
 * search latency of the stores at 10,000 and 100,000 chunks. Per size it writes generated chunks
 * (seeded: 60 words each drawn by a Zipf law from a generated vocabulary, and a random unit vector
 * of 384 dimensions) into the embedded store (SQLite in a data folder, `--data` keeps and reuses
 * it) and, when `QDRANT_URL` is set, into Qdrant (a collection of its own, deleted at the end);
 * waits until the embedded store's dense graph is built (DENSE_INDEX's `auto` builds it from
 * 20,000 vectors), then times lexical, dense and hybrid searches of top 10 at each concurrency
 * (that many searches in flight at once), and compares each dense and hybrid answer of the
 * approximate search with the exact one (the embedded index with `exact`): recall@10. Qdrant's
 * dense answers are compared with the same exact answers; its hybrid fuses its own BM25, so it
 * has no recall figure.
 *
 * Rows (`--json` prints them as one JSON line at the end): {store, mode, chunks, concurrency,
 * p50Ms, p99Ms, recallAt10}. Run it alone, under `nice`: it measures time.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { QdrantChunkIndex } from '@passage/index-qdrant';
import { LocalChunkIndex, type DenseIndexMode } from '@passage/retrieval';
import { chunkId, seededRandom, type ChunkIndex, type IndexedChunk, type RetrievalMode } from '@passage/spec';
import { SqliteChunkStore, openDatabase } from '@passage/store-sqlite';

const { values } = parseArgs({
  options: {
    chunks: { type: 'string', default: '10000,100000' },
    concurrency: { type: 'string', default: '1,16' },
    queries: { type: 'string', default: '200' },
    json: { type: 'boolean', default: false },
    data: { type: 'string' },
    'dense-index': { type: 'string', default: 'auto' },
    ef: { type: 'string' },
    'build-threads': { type: 'string' },
    seed: { type: 'string', default: '5' },
  },
  strict: true,
});

const dimensions = 384;
const chunksPerDocument = 100;
const wordsPerChunk = 60;
const vocabularySize = 50_000;
const topK = 10;
const modes: RetrievalMode[] = ['lexical', 'dense', 'hybrid'];
const sizes = values.chunks.split(',').map(Number);
const concurrencies = values.concurrency.split(',').map(Number);
const queryCount = Number(values.queries);
const seed = Number(values.seed);
const denseMode = values['dense-index'] as DenseIndexMode;
if (!['auto', 'exact', 'approximate'].includes(denseMode)) throw new Error(`--dense-index takes auto, exact or approximate, got ${denseMode}`);

interface Row {
  store: 'embedded' | 'qdrant';
  mode: RetrievalMode;
  chunks: number;
  concurrency: number;
  p50Ms: number;
  p99Ms: number;
  recallAt10: number | null;
}

/** Generated words (`w` and a number in base 36), drawn by a Zipf law: a few common, most rare. */
function zipfWord(random: () => number): string {
  // Inverse of the continuous Zipf (s = 1) cumulative distribution over [1, vocabularySize].
  const rank = Math.floor(Math.exp(random() * Math.log(vocabularySize)));
  return `w${rank.toString(36)}`;
}

function unitVector(random: () => number): number[] {
  const vector = Array.from({ length: dimensions }, () => random() * 2 - 1);
  const norm = Math.hypot(...vector);
  return vector.map((value) => value / norm);
}

function documentChunks(knowledgeBaseId: string, number: number): IndexedChunk[] {
  const random = seededRandom(seed * 1_000_003 + number);
  const documentId = `doc-${number}`;
  return Array.from({ length: chunksPerDocument }, (_, ordinal) => {
    const words = Array.from({ length: wordsPerChunk }, () => zipfWord(random));
    const terms: Record<string, number> = {};
    for (const word of words) terms[word] = (terms[word] ?? 0) + 1;
    const text = words.join(' ');
    return {
      id: chunkId(documentId, 1, ordinal),
      knowledgeBaseId,
      generation: 1,
      documentId,
      documentName: `${documentId}.txt`,
      ordinal,
      page: 1,
      start: 0,
      end: text.length,
      text,
      tokens: wordsPerChunk,
      terms,
      vector: unitVector(random),
    };
  });
}

function queries(): Array<{ terms: Record<string, number>; vector: number[] }> {
  const random = seededRandom(seed + 99);
  return Array.from({ length: queryCount }, () => {
    const terms: Record<string, number> = {};
    for (let word = 0; word < 4; word += 1) terms[zipfWord(random)] = 1;
    return { terms, vector: unitVector(random) };
  });
}

async function fill(index: ChunkIndex, knowledgeBaseId: string, chunks: number): Promise<void> {
  const started = performance.now();
  for (let number = 0; number * chunksPerDocument < chunks; number += 1) {
    await index.upsertDocumentChunks({ knowledgeBaseId, generation: 1, documentId: `doc-${number}` }, documentChunks(knowledgeBaseId, number));
  }
  console.error(`  wrote ${chunks} chunks in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
}

/** p50 and p99 of `queryCount` searches with `concurrency` in flight, after a warm-up of 20; the answers by query. */
async function time(search: (query: number) => Promise<string[]>, concurrency: number): Promise<{ p50Ms: number; p99Ms: number; answers: string[][] }> {
  for (let query = 0; query < Math.min(20, queryCount); query += 1) await search(query);
  const durations: number[] = [];
  const answers: string[][] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let query = next++; query < queryCount; query = next++) {
        const started = performance.now();
        answers[query] = await search(query);
        durations.push(performance.now() - started);
      }
    }),
  );
  durations.sort((left, right) => left - right);
  return { p50Ms: percentile(durations, 0.5), p99Ms: percentile(durations, 0.99), answers };
}

function recall(answers: string[][], exact: string[][]): number {
  let found = 0;
  let total = 0;
  answers.forEach((answer, query) => {
    const truth = new Set(exact[query]);
    total += truth.size;
    found += answer.filter((id) => truth.has(id)).length;
  });
  return total === 0 ? 1 : found / total;
}

const round = (value: number) => Math.round(value * 100) / 100;

async function measure(
  store: Row['store'],
  index: ChunkIndex,
  knowledgeBaseId: string,
  chunks: number,
  exact: Map<RetrievalMode, string[][]> | null,
): Promise<Row[]> {
  const rows: Row[] = [];
  const asked = queries();
  for (const mode of modes) {
    for (const concurrency of concurrencies) {
      const result = await time(async (query) => {
        const { terms, vector } = asked[query]!;
        const hits = await index.search({ knowledgeBaseId, generation: 1, terms, vector, mode, topK });
        return hits.map((hit) => hit.chunk.id);
      }, concurrency);
      const truth = exact?.get(mode);
      const recallAt10 = mode === 'lexical' || truth === undefined || (store === 'qdrant' && mode === 'hybrid') ? null : round(recall(result.answers, truth));
      const row: Row = { store, mode, chunks, concurrency, p50Ms: round(result.p50Ms), p99Ms: round(result.p99Ms), recallAt10 };
      rows.push(row);
      console.error(`  ${JSON.stringify(row)}`);
    }
  }
  return rows;
}

async function embedded(chunks: number): Promise<{ rows: Row[]; exact: Map<RetrievalMode, string[][]> }> {
  const directory = values.data === undefined ? await mkdtemp(path.join(tmpdir(), 'passage-bench-search-')) : path.join(values.data, String(chunks));
  await mkdir(directory, { recursive: true });
  const database = openDatabase({ dataDirectory: directory });
  const store = new SqliteChunkStore(database);
  const knowledgeBaseId = 'bench';
  try {
    const index = new LocalChunkIndex({
      store,
      dense: {
        mode: denseMode,
        directory: path.join(directory, 'dense-indexes'),
        ...(values.ef === undefined ? {} : { expansionSearch: Number(values.ef) }),
        ...(values['build-threads'] === undefined ? {} : { buildThreads: Number(values['build-threads']) }),
      },
    });
    if ((await store.countChunks(knowledgeBaseId, 1)) !== chunks) {
      await store.removeKnowledgeBase(knowledgeBaseId);
      await index.createGeneration({ knowledgeBaseId, generation: 1 }, { embeddingModel: 'random', denseDimensions: dimensions });
      await fill(index, knowledgeBaseId, chunks);
    }
    let started = performance.now();
    const settled = await index.settleDenseIndex(knowledgeBaseId, 1);
    console.error(
      `  embedded: ${settled.vectors} vectors loaded and the dense index ready (${settled.approximate ? 'HNSW graph' : 'exact'}) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );

    const reference = new LocalChunkIndex({ store, dense: { mode: 'exact' } });
    const exact = new Map<RetrievalMode, string[][]>();
    const asked = queries();
    started = performance.now();
    for (const mode of ['dense', 'hybrid'] as const) {
      const answers: string[][] = [];
      for (const { terms, vector } of asked) {
        answers.push((await reference.search({ knowledgeBaseId, generation: 1, terms, vector, mode, topK })).map((hit) => hit.chunk.id));
      }
      exact.set(mode, answers);
    }
    await reference.close();
    console.error(`  exact answers for recall in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const rows = await measure('embedded', index, knowledgeBaseId, chunks, exact);
    await index.close();
    return { rows, exact };
  } finally {
    database.close();
    if (values.data === undefined) await rm(directory, { recursive: true, force: true });
  }
}

async function qdrant(url: string, chunks: number, exact: Map<RetrievalMode, string[][]>): Promise<Row[]> {
  const index = new QdrantChunkIndex({ url, collectionPrefix: `bench${Date.now().toString(36)}` });
  const knowledgeBaseId = 'bench';
  try {
    await index.createGeneration({ knowledgeBaseId, generation: 1 }, { embeddingModel: 'random', denseDimensions: dimensions });
    await index.activateGeneration({ knowledgeBaseId, generation: 1 });
    await fill(index, knowledgeBaseId, chunks);
    return await measure('qdrant', index, knowledgeBaseId, chunks, exact);
  } finally {
    await index.deleteKnowledgeBase(knowledgeBaseId).catch(() => {});
    await index.close();
  }
}

const rows: Row[] = [];
for (const chunks of sizes) {
  console.error(`${chunks} chunks:`);
  const result = await embedded(chunks);
  rows.push(...result.rows);
  if (process.env.QDRANT_URL !== undefined && process.env.QDRANT_URL !== '') rows.push(...(await qdrant(process.env.QDRANT_URL, chunks, result.exact)));
}
console.log('store     mode     chunks   concurrency  p50 ms   p99 ms   recall@10');
for (const row of rows) {
  console.log(
    `${row.store.padEnd(9)} ${row.mode.padEnd(8)} ${String(row.chunks).padStart(7)} ${String(row.concurrency).padStart(12)} ${row.p50Ms.toFixed(2).padStart(8)} ${row.p99Ms.toFixed(2).padStart(8)} ${row.recallAt10 === null ? '        -' : row.recallAt10.toFixed(3).padStart(9)}`,
  );
}
if (values.json) console.log(JSON.stringify(rows));
