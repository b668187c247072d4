import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AbortedError, type Embedder, type EmbeddingPurpose, type Reranker } from '@passage/spec';
import { loadBeirDataset, type BeirDataset } from './beir-dataset.js';
import { runEvaluation, runEvaluations, type EvaluationProgress } from './run-evaluation.js';

const lines = (records: unknown[]) => `${records.map((record) => JSON.stringify(record)).join('\n')}\n`;

/** Vectors from letter counts: enough to rank, and it records what it embedded. */
class LetterEmbedder implements Embedder {
  readonly name = 'letters';
  readonly dimensions = 26;
  readonly purposes = new Set<EmbeddingPurpose>();
  async embed(texts: string[], purpose: EmbeddingPurpose): Promise<number[][]> {
    this.purposes.add(purpose);
    return texts.map((text) => {
      const vector = new Array<number>(26).fill(0);
      for (const character of text.toLowerCase()) {
        const code = character.charCodeAt(0) - 97;
        if (code >= 0 && code < 26) vector[code] = (vector[code] ?? 0) + 1;
      }
      vector[0] = (vector[0] ?? 0) + 0.01;
      return vector;
    });
  }
}

describe('runEvaluation', () => {
  let directory: string;
  let dataset: BeirDataset;

  before(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'tiny_set-'));
    await writeFile(
      path.join(directory, 'corpus.jsonl'),
      lines([
        { id: 'd1', title: 'Tides', text: 'The moon pulls the ocean twice a day.' },
        { id: 'd2', title: 'Baking bread', text: 'Knead the dough and let it rise in a warm place.' },
        { id: 'd3', title: 'Volcanoes', text: 'Magma rises through the crust and erupts as lava.' },
        { id: 'd4', title: 'Gardening', text: '' },
      ]),
    );
    await writeFile(
      path.join(directory, 'queries.jsonl'),
      lines([
        { id: 'q1', text: 'What pulls the ocean?' },
        // Only the title says "baking": found because titles are indexed with every chunk.
        { id: 'q2', text: 'baking' },
        { id: 'q3', text: 'lava eruption' },
        { id: 'q4', text: 'zebra stripes' },
        { id: 'q5', text: 'a query without judgements or answers' },
      ]),
    );
    await writeFile(path.join(directory, 'qrels.tsv'), 'query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\nq3\td1\t0\nq4\td1\t1\n');
    await writeFile(
      path.join(directory, 'answers.jsonl'),
      lines([
        { id: 'q1', answers: ['moon pulls'] },
        { id: 'q3', answers: ['Erupts as LAVA', 'not there'] },
        { id: 'q4', answers: ['zebra'] },
      ]),
    );
    dataset = await loadBeirDataset(directory);
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('ingests through the product path and scores at document and chunk level', async () => {
    const progress: EvaluationProgress[] = [];
    const result = await runEvaluation({ dataset, mode: 'lexical', onProgress: (update) => progress.push(update) });
    // q1, q2 and q3 find their document first; q4 finds nothing.
    assert.deepEqual(
      { ...result, ingestSeconds: 0, searchSeconds: 0, queryP50Ms: 0 },
      {
        dataset: path.basename(directory),
        mode: 'lexical',
        fusion: null,
        reranked: false,
        queries: 4,
        'ndcg@10': 0.75,
        'recall@10': 0.75,
        'mrr@10': 0.75,
        'answerRecall@1': 2 / 3,
        'answerRecall@5': 2 / 3,
        'answerRecall@10': 2 / 3,
        documents: 4,
        failedDocuments: 1,
        chunks: 3,
        ingestSeconds: 0,
        searchSeconds: 0,
        queryP50Ms: 0,
      },
    );
    assert.deepEqual(progress.at(-1), { stage: 'search', done: 4, total: 4 });
    assert.deepEqual(progress.filter((update) => update.stage === 'ingest').at(-1), { stage: 'ingest', done: 4, total: 4 });
  });

  it('runs the dense and hybrid modes with an embedder, and refuses them without one', async () => {
    const embedder = new LetterEmbedder();
    const dense = await runEvaluation({ dataset, mode: 'dense', embedder, concurrency: 2 });
    assert.equal(dense.mode, 'dense');
    assert.equal(dense.chunks, 3);
    assert.deepEqual([...embedder.purposes].sort(), ['passage', 'query']);
    const hybrid = await runEvaluation({ dataset, mode: 'hybrid', embedder });
    assert.equal(hybrid.mode, 'hybrid');
    assert.ok(hybrid['recall@10'] >= 0.75, 'every document is a dense candidate, so recall cannot drop');
    await assert.rejects(runEvaluation({ dataset, mode: 'dense' }), /needs an embedder/);
  });

  it('searches each variant over one ingestion, and reranking reorders and is timed only where asked', async () => {
    // Reverses the first stage's order: in hybrid mode every passage is a candidate, so the right one falls to the end.
    const reranker: Reranker = { name: 'reverse', score: (_query, texts) => Promise.resolve(texts.map((_text, position) => position)) };
    const [plain, reranked] = await runEvaluations({
      dataset,
      mode: 'hybrid',
      embedder: new LetterEmbedder(),
      reranker,
      variants: [
        { mode: 'hybrid', rerank: false },
        { mode: 'hybrid', rerank: true },
      ],
    });
    assert.equal(plain?.reranked, false);
    assert.equal(plain?.rerankP50Ms, undefined);
    assert.ok(plain !== undefined && plain['mrr@10'] >= 0.5);
    assert.equal(reranked?.reranked, true);
    assert.ok(reranked?.rerankP50Ms !== undefined && reranked.rerankP50Ms >= 0);
    assert.ok(reranked['mrr@10'] < plain['mrr@10'], `mrr@10 ${reranked['mrr@10']} reversed, ${plain['mrr@10']} in first-stage order`);
    assert.equal(reranked.chunks, plain?.chunks);
  });

  it("names each hybrid variant's fusion (the variant's, else the run's), and none for the other modes", async () => {
    const results = await runEvaluations({
      dataset,
      mode: 'hybrid',
      embedder: new LetterEmbedder(),
      fusion: 'rrf',
      variants: [
        { mode: 'lexical', rerank: false },
        { mode: 'hybrid', rerank: false },
        { mode: 'hybrid', rerank: false, fusion: 'dbsf' },
      ],
    });
    assert.deepEqual(
      results.map((result) => [result.mode, result.fusion]),
      [
        ['lexical', null],
        ['hybrid', 'rrf'],
        ['hybrid', 'dbsf'],
      ],
    );
    assert.ok(results.every((result) => result.chunks === results[0]?.chunks && result['recall@10'] > 0));
  });

  it('measures a variant: without titles the title-only query fails', async () => {
    const result = await runEvaluation({ dataset, mode: 'lexical', titles: false });
    assert.equal(result['ndcg@10'], 0.5);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(runEvaluation({ dataset, mode: 'lexical', signal: controller.signal }), AbortedError);
  });
});
