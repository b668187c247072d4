import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BeirDataset } from './beir-dataset.js';
import { sampleDataset } from './sample-dataset.js';

const dataset: BeirDataset = {
  name: 'set',
  corpus: Array.from({ length: 20 }, (_, index) => ({ id: `d${index}`, title: '', text: `text ${index}` })),
  queries: Array.from({ length: 6 }, (_, index) => ({ id: `q${index}`, text: `query ${index}` })),
  judgements: new Map(Array.from({ length: 5 }, (_, index) => [`q${index}`, new Map([[`d${index * 3}`, 1]])])),
  answers: null,
};

describe('sampleDataset', () => {
  it('keeps every document judged relevant to a kept query and fills up to the size with others', () => {
    const sample = sampleDataset(dataset, { documents: 8, seed: 3 });
    const ids = new Set(sample.corpus.map((record) => record.id));
    assert.equal(ids.size, 8);
    for (const index of [0, 1, 2, 3, 4]) assert.ok(ids.has(`d${index * 3}`));
    assert.deepEqual(
      sample.queries.map((query) => query.id),
      ['q0', 'q1', 'q2', 'q3', 'q4'],
    );
  });

  it('samples queries among those with judgements, in their original order, with their judgements only', () => {
    const sample = sampleDataset(dataset, { queries: 2, documents: 2, seed: 5 });
    assert.equal(sample.queries.length, 2);
    assert.ok(sample.queries.every((query) => sample.judgements.has(query.id)));
    assert.equal(sample.judgements.size, 2);
    const [first, second] = sample.queries.map((query) => Number(query.id.slice(1)));
    assert.ok(first! < second!);
    assert.equal(sample.corpus.length, 2);
  });

  it('gives the same sample for the same seed and another for another seed', () => {
    const ids = (seed: number) => sampleDataset(dataset, { documents: 10, seed }).corpus.map((record) => record.id);
    assert.deepEqual(ids(1), ids(1));
    assert.notDeepEqual(ids(1), ids(2));
  });
});
