/**
 * One evaluation run: a BEIR-layout set goes through the product's own ingestion path into a fresh
 * knowledge base of the embedded store (a temporary SQLite database), then every query through the
 * product's retrieval path, and the rankings are scored.
 *
 * Each corpus record is one document: its text one page, its title the document's title. Only the
 * file parser is replaced (records are not files); chunking, analysis, embedding and indexing are
 * the IngestionService's, and searches are the Retriever's over the LocalChunkIndex, wired as the
 * runtime wires them.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { IngestionService, type ChunkingOptions } from '@passage/ingestion';
import { LocalChunkIndex, Retriever, createAnalyzer, type AnalyzerOptions, type LocalChunkIndexOptions } from '@passage/retrieval';
import {
  AppError,
  defaultHybridFusion,
  generationSchemaOf,
  newDocumentId,
  newKnowledgeBaseId,
  throwIfAborted,
  type Embedder,
  type HybridFusion,
  type Reranker,
  type RetrievalMode,
} from '@passage/spec';
import { SqliteCatalog, SqliteChunkStore, openDatabase } from '@passage/store-sqlite';
import type { BeirDataset } from './beir-dataset.js';
import { CorpusRecordParser, encodeCorpusRecord } from './corpus-record-parser.js';
import { MemoryFileStore } from './memory-file-store.js';
import { answerFoundAtK, documentRanking, mean, ndcgAtK, recallAtK, reciprocalRankAtK } from './retrieval-metrics.js';

export interface EvaluationProgress {
  stage: 'ingest' | 'search';
  done: number;
  total: number;
}

export interface EvaluationOptions {
  dataset: BeirDataset;
  mode: RetrievalMode;
  /** Needed for the dense and hybrid modes. Default: none. */
  embedder?: Embedder | null;
  /** Second stage over every query's first `rerankCandidates` hits. Default: none. */
  reranker?: Reranker | null;
  /** As RERANK_CANDIDATES. Default 50. */
  rerankCandidates?: number;
  /** As CHUNK_TOKENS and CHUNK_OVERLAP_TOKENS. Default: the ingestion defaults (256 and 32). */
  chunking?: ChunkingOptions;
  /** Texts per embedding request (EMBEDDING_BATCH_SIZE). Default 32. */
  embeddingBatchSize?: number;
  /** How hybrid searches fuse their lists, unless a variant names it (HYBRID_FUSION). Default `dbsf`. */
  fusion?: HybridFusion;
  /** RRF's k for hybrid searches fused by `rrf` (RRF_K). Default 60. */
  rrfK?: number;
  /** Chunks retrieved per query; documents are ranked from them by their best chunk. Default 100. */
  chunkDepth?: number;
  /** Documents ingested at the same time. Default 4. */
  concurrency?: number;
  /** Analyzer settings, to measure a variant. Default: the product's. */
  analyzer?: AnalyzerOptions;
  /** Index settings besides the store, to measure a variant (rrfK wins over its own). Default: the product's. */
  index?: Omit<LocalChunkIndexOptions, 'store'>;
  /** Index each record's title with its chunks, as the product does with a document's title. Default true. */
  titles?: boolean;
  /** Called as documents are ingested and queries searched. */
  onProgress?: (progress: EvaluationProgress) => void;
  signal?: AbortSignal;
}

/** One way of searching the ingested set. */
export interface EvaluationVariant {
  mode: RetrievalMode;
  /** Rerank the first stage's hits (needs `reranker`). */
  rerank: boolean;
  /** How a hybrid search fuses its lists. Default: `options.fusion`. */
  fusion?: HybridFusion;
}

export interface EvaluationResult {
  dataset: string;
  mode: RetrievalMode;
  /** How the lists were fused: hybrid mode only, else null. */
  fusion: HybridFusion | null;
  /** Whether the reranker reordered the first stage's hits. */
  reranked: boolean;
  /** Queries with relevance judgements: the ones the document metrics average over. */
  queries: number;
  'ndcg@10': number;
  'recall@10': number;
  'mrr@10': number;
  /** Present when the set has answers: over the queries that have some. */
  'answerRecall@1'?: number;
  'answerRecall@5'?: number;
  'answerRecall@10'?: number;
  documents: number;
  /** Documents that ended `failed` (an empty record, say); their chunks are missing. */
  failedDocuments: number;
  chunks: number;
  ingestSeconds: number;
  searchSeconds: number;
  /** Median time of one query's retrieval (embedding the query, searching, reranking), ms. */
  queryP50Ms: number;
  /** Median time of one query's reranking, ms; present with a reranker. */
  rerankP50Ms?: number;
}

const answerCutoffs = [1, 5, 10] as const;

/** One run: ingests the set, then searches it in `options.mode` (reranked when a reranker is given). */
export async function runEvaluation(options: EvaluationOptions): Promise<EvaluationResult> {
  const [result] = await runEvaluations({ ...options, variants: [{ mode: options.mode, rerank: (options.reranker ?? null) !== null }] });
  return result!;
}

/**
 * Ingests the set once, then searches it in each variant (`options.variants`, default: `options.mode`
 * reranked when a reranker is given): ingestion with a real model costs far more than the searches.
 */
export async function runEvaluations(options: EvaluationOptions & { variants?: EvaluationVariant[] }): Promise<EvaluationResult[]> {
  const { dataset, signal } = options;
  const embedder = options.embedder ?? null;
  const variants = options.variants ?? [{ mode: options.mode, rerank: (options.reranker ?? null) !== null }];
  for (const { mode } of variants) {
    if (mode !== 'lexical' && embedder === null) {
      throw new AppError('invalid_request', `Mode "${mode}" needs an embedder: set EMBEDDING_PROVIDER (and EMBEDDING_MODEL)`);
    }
  }
  const workDirectory = await mkdtemp(path.join(tmpdir(), 'passage-eval-'));
  const database = openDatabase({ dataDirectory: workDirectory });
  const catalog = new SqliteCatalog(database);
  const index = new LocalChunkIndex({
    ...options.index,
    store: new SqliteChunkStore(database),
    ...(options.fusion === undefined ? {} : { fusion: options.fusion }),
    ...(options.rrfK === undefined ? {} : { rrfK: options.rrfK }),
  });
  try {
    const analyzer = createAnalyzer(options.analyzer);
    const files = new MemoryFileStore();
    const ingestion = new IngestionService({
      catalog,
      files,
      index,
      parser: new CorpusRecordParser(),
      analyzer,
      embedder,
      ...(options.chunking === undefined ? {} : { chunking: options.chunking }),
      ...(options.embeddingBatchSize === undefined ? {} : { embeddingBatchSize: options.embeddingBatchSize }),
    });
    const reranker = options.reranker ?? null;
    const retriever = new Retriever({
      catalog,
      index,
      analyzer,
      embedder,
      reranker,
      ...(options.rerankCandidates === undefined ? {} : { rerankCandidates: options.rerankCandidates }),
    });

    // Ingest.
    const ingestStarted = performance.now();
    const schema = generationSchemaOf(embedder);
    const knowledgeBase = await catalog.createKnowledgeBase({ id: newKnowledgeBaseId(), name: dataset.name, schema });
    await index.createGeneration({ knowledgeBaseId: knowledgeBase.id, generation: 1 }, schema);
    const corpusIdByDocument = new Map<string, string>();
    const newDocuments = dataset.corpus.map((record) => {
      const bytes = encodeCorpusRecord(options.titles === false ? { ...record, title: '' } : record);
      const id = newDocumentId();
      corpusIdByDocument.set(id, record.id);
      files.put(id, bytes);
      return {
        id,
        knowledgeBaseId: knowledgeBase.id,
        name: record.id,
        bytes: bytes.byteLength,
        contentHash: createHash('sha256').update(bytes).digest('hex'),
        mediaType: 'application/json',
      };
    });
    const created = await catalog.createDocuments(newDocuments);
    let failedDocuments = 0;
    let ingested = 0;
    // A corpus record whose bytes repeat another's is not ingested twice (a duplicate upload).
    const pending = created.filter((result) => !result.duplicate).map((result) => result.document.id);
    const toIngest = pending.length;
    const controller = new AbortController();
    const forward = () => controller.abort();
    signal?.addEventListener('abort', forward, { once: true });
    const worker = async (): Promise<void> => {
      for (let documentId = pending.shift(); documentId !== undefined; documentId = pending.shift()) {
        const outcome = await ingestion.ingest(documentId, controller.signal);
        if (outcome.kind === 'failed') failedDocuments += 1;
        else if (outcome.kind === 'skipped') throw new Error(`Document ${documentId} was skipped: ${outcome.reason}`);
        ingested += 1;
        options.onProgress?.({ stage: 'ingest', done: ingested, total: toIngest });
      }
    };
    try {
      await Promise.all(
        Array.from({ length: Math.max(1, options.concurrency ?? 4) }, async () => {
          try {
            await worker();
          } catch (error) {
            // One failure stops the other workers; the first error is the one reported.
            controller.abort();
            throw error;
          }
        }),
      );
    } finally {
      signal?.removeEventListener('abort', forward);
    }
    const chunks = await index.countChunks(knowledgeBase.id, knowledgeBase.generation);
    const ingestSeconds = (performance.now() - ingestStarted) / 1000;

    // Search and score, once for each variant, over the same ingested knowledge base.
    const chunkDepth = options.chunkDepth ?? 100;
    const evaluated = dataset.queries.filter((query) => dataset.judgements.has(query.id) || (dataset.answers?.get(query.id)?.length ?? 0) > 0);
    const results: EvaluationResult[] = [];
    for (const variant of variants) {
      const searchStarted = performance.now();
      const ndcg: number[] = [];
      const recall: number[] = [];
      const reciprocalRank: number[] = [];
      const answerFound = answerCutoffs.map(() => [] as number[]);
      const queryMs: number[] = [];
      const rerankMs: number[] = [];
      options.onProgress?.({ stage: 'search', done: 0, total: evaluated.length });
      for (const [position, query] of evaluated.entries()) {
        throwIfAborted(signal);
        const queryStarted = performance.now();
        const hits = await retriever.search({
          knowledgeBaseId: knowledgeBase.id,
          query: query.text,
          topK: chunkDepth,
          mode: variant.mode,
          ...(variant.fusion === undefined ? {} : { fusion: variant.fusion }),
          rerank: variant.rerank,
          onRerank: (timing) => rerankMs.push(timing.rerankMs),
          ...(signal === undefined ? {} : { signal }),
        });
        queryMs.push(performance.now() - queryStarted);
        const judgements = dataset.judgements.get(query.id);
        if (judgements !== undefined) {
          const ranking = documentRanking(hits.map((hit) => corpusIdByDocument.get(hit.chunk.documentId) ?? hit.chunk.documentId));
          ndcg.push(ndcgAtK(ranking, judgements, 10));
          recall.push(recallAtK(ranking, judgements, 10));
          reciprocalRank.push(reciprocalRankAtK(ranking, judgements, 10));
        }
        const answers = dataset.answers?.get(query.id) ?? [];
        if (answers.length > 0) {
          const passages = hits.map((hit) => hit.chunk.text);
          answerCutoffs.forEach((k, slot) => answerFound[slot]?.push(answerFoundAtK(passages, answers, k) ? 1 : 0));
        }
        options.onProgress?.({ stage: 'search', done: position + 1, total: evaluated.length });
      }
      const searchSeconds = (performance.now() - searchStarted) / 1000;

      const hasAnswers = (answerFound[0]?.length ?? 0) > 0;
      results.push({
        dataset: dataset.name,
        mode: variant.mode,
        fusion: variant.mode === 'hybrid' ? (variant.fusion ?? options.fusion ?? defaultHybridFusion) : null,
        reranked: variant.rerank && reranker !== null,
        queries: ndcg.length,
        'ndcg@10': mean(ndcg),
        'recall@10': mean(recall),
        'mrr@10': mean(reciprocalRank),
        ...(hasAnswers
          ? {
              'answerRecall@1': mean(answerFound[0] ?? []),
              'answerRecall@5': mean(answerFound[1] ?? []),
              'answerRecall@10': mean(answerFound[2] ?? []),
            }
          : {}),
        documents: newDocuments.length,
        failedDocuments,
        chunks,
        ingestSeconds,
        searchSeconds,
        queryP50Ms: median(queryMs),
        ...(variant.rerank && reranker !== null ? { rerankP50Ms: median(rerankMs) } : {}),
      });
    }
    return results;
  } finally {
    await index.close();
    await catalog.close();
    database.close();
    await rm(workDirectory, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
