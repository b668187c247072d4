import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DatasetError, loadBeirDataset } from './beir-dataset.js';

describe('loadBeirDataset', () => {
  let directory: string;
  const write = (file: string, text: string) => writeFile(path.join(directory, file), text);

  beforeEach(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'beir-'));
    await write('corpus.jsonl', '{"id": "1", "title": "T", "text": "first"}\n\n{"id": 2, "text": "second"}\n');
    await write('queries.jsonl', '{"id": "q1", "text": "what?"}\n');
    await write('qrels.tsv', 'query-id\tcorpus-id\tscore\nq1\t1\t2\nq1\t2\t0\n');
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('reads corpus, queries and judgements, with numeric ids as strings and answers optional', async () => {
    const dataset = await loadBeirDataset(directory);
    assert.equal(dataset.name, path.basename(directory));
    assert.deepEqual(dataset.corpus, [
      { id: '1', title: 'T', text: 'first' },
      { id: '2', title: '', text: 'second' },
    ]);
    assert.deepEqual(dataset.queries, [{ id: 'q1', text: 'what?' }]);
    assert.deepEqual(
      dataset.judgements,
      new Map([
        [
          'q1',
          new Map([
            ['1', 2],
            ['2', 0],
          ]),
        ],
      ]),
    );
    assert.equal(dataset.answers, null);
    await write('answers.jsonl', '{"id": "q1", "doc_id": "1", "answers": ["first", ""], "answer_starts": [0, -1]}\n');
    assert.deepEqual((await loadBeirDataset(directory)).answers, new Map([['q1', ['first']]]));
  });

  it('names the file and line of a malformed entry', async () => {
    await write('queries.jsonl', '{"id": "q1", "text": "ok"}\n{"id": "q2", "text": \n');
    await assert.rejects(loadBeirDataset(directory), (error: unknown) => error instanceof DatasetError && /queries\.jsonl line 2/.test(error.message));
    await write('queries.jsonl', '{"id": "q1"}\n');
    await assert.rejects(loadBeirDataset(directory), /queries\.jsonl line 1: "text"/);
    await write('queries.jsonl', '{"id": "q1", "text": "ok"}\n');
    await write('qrels.tsv', 'query-id\tcorpus-id\tscore\nq1\t1\n');
    await assert.rejects(loadBeirDataset(directory), /qrels\.tsv line 2/);
    await rm(path.join(directory, 'corpus.jsonl'));
    await assert.rejects(loadBeirDataset(directory), /corpus\.jsonl/);
  });
});
