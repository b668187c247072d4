import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { answerFoundAtK, documentRanking, mean, ndcgAtK, recallAtK, reciprocalRankAtK } from './retrieval-metrics.js';

function assertClose(actual: number, expected: number): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `expected ${expected}, got ${actual}`);
}

// d1 (grade 1) at rank 2, d2 (grade 2) at rank 4; d4 (grade 1) never retrieved; d9 judged not relevant.
const judgements = new Map([
  ['d1', 1],
  ['d2', 2],
  ['d4', 1],
  ['d9', 0],
]);
const ranking = ['d3', 'd1', 'd9', 'd2', 'd5'];

describe('retrieval metrics', () => {
  it('computes nDCG@k with linear gains against the ideal ordering of every judged document', () => {
    const ideal = 2 / Math.log2(2) + 1 / Math.log2(3) + 1 / Math.log2(4); // 2, 1, 1
    assertClose(ndcgAtK(ranking, judgements, 10), (1 / Math.log2(3) + 2 / Math.log2(5)) / ideal);
    assertClose(ndcgAtK(ranking, judgements, 3), 1 / Math.log2(3) / ideal);
    // The ideal ranking is cut at k as well: at k = 1 only the grade-2 document counts.
    assertClose(ndcgAtK(['d2'], judgements, 1), 1);
    assertClose(ndcgAtK(['b', 'a'], new Map([['a', 1]]), 10), 1 / Math.log2(3));
    assert.equal(ndcgAtK(ranking, new Map([['d1', 0]]), 10), 0);
    assert.equal(ndcgAtK([], judgements, 10), 0);
  });

  it('computes recall@k over the relevant documents only', () => {
    assertClose(recallAtK(ranking, judgements, 10), 2 / 3);
    assertClose(recallAtK(ranking, judgements, 2), 1 / 3);
    assert.equal(recallAtK(ranking, judgements, 1), 0);
    assert.equal(recallAtK(['d1', 'd1'], new Map([['d1', 1]]), 10), 1, 'a repeated id counts once');
    assert.equal(recallAtK(ranking, new Map(), 10), 0);
  });

  it('computes the reciprocal rank of the first relevant document within k', () => {
    assert.equal(reciprocalRankAtK(ranking, judgements, 10), 1 / 2);
    assert.equal(reciprocalRankAtK(ranking, judgements, 1), 0);
    assert.equal(reciprocalRankAtK(['d9', 'd5', 'd4'], judgements, 10), 1 / 3, 'grade 0 is not relevant');
  });

  it('finds an answer inside one of the first k passages, ignoring case, width and line breaks', () => {
    const passages = ['The tide turns.', '潮汐由月球引起，\n周期约为 12 小时', 'ＡＢＣ Company'];
    assert.equal(answerFoundAtK(passages, ['月球引起'], 1), false);
    assert.equal(answerFoundAtK(passages, ['月球引起'], 2), true);
    assert.equal(answerFoundAtK(passages, ['引起， 周期'], 2), true);
    assert.equal(answerFoundAtK(passages, ['abc company'], 3), true);
    assert.equal(answerFoundAtK(passages, ['nowhere', 'TIDE turns'], 1), true);
    assert.equal(answerFoundAtK(passages, ['', '  '], 3), false, 'an empty answer is found nowhere');
    assert.equal(answerFoundAtK([], ['tide'], 10), false);
  });

  it('ranks documents by their best chunk, and averages', () => {
    assert.deepEqual(documentRanking(['b', 'a', 'b', 'c', 'a']), ['b', 'a', 'c']);
    assert.equal(mean([1, 0, 0.5]), 0.5);
    assert.equal(mean([]), 0);
  });
});
