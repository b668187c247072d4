import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { distributionBasedScoreFusion } from './distribution-based-score-fusion.js';

const list = (...entries: Array<[string, number]>) => entries.map(([id, score]) => ({ id, score }));

/** (score − (mean − 3σ)) / 6σ with the sample deviation, computed the plain way. */
function expected(scores: number[], score: number): number {
  const mean = scores.reduce((sum, value) => sum + value, 0) / scores.length;
  const deviation = Math.sqrt(scores.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (scores.length - 1));
  return (score - (mean - 3 * deviation)) / (6 * deviation);
}

describe('distributionBasedScoreFusion', () => {
  it("maps each list's scores between its mean ∓ 3 sample deviations and sums them per id, as Qdrant's dbsf", () => {
    const lexical = list(['a', 12], ['b', 4], ['c', 2]);
    const dense = list(['c', 0.9], ['d', 0.8], ['a', 0.1]);
    const fused = distributionBasedScoreFusion([lexical, dense]);
    const lexicalScores = [12, 4, 2];
    const denseScores = [0.9, 0.8, 0.1];
    const want = new Map([
      ['a', expected(lexicalScores, 12) + expected(denseScores, 0.1)],
      ['b', expected(lexicalScores, 4)],
      ['c', expected(lexicalScores, 2) + expected(denseScores, 0.9)],
      ['d', expected(denseScores, 0.8)],
    ]);
    assert.deepEqual(
      fused.map((hit) => hit.id),
      [...want].sort((left, right) => right[1] - left[1]).map(([id]) => id),
    );
    for (const hit of fused) assert.ok(Math.abs(hit.score - want.get(hit.id)!) < 1e-12, `${hit.id}: ${hit.score} against ${want.get(hit.id)}`);
  });

  it('gives credit by score, not by position: near-equal scores get near-equal credit, a far lead keeps its distance', () => {
    const [first, second, third] = distributionBasedScoreFusion([list(['a', 10], ['b', 9.999], ['c', 1], ['d', 0])]);
    assert.deepEqual([first?.id, second?.id, third?.id], ['a', 'b', 'c']);
    // Rank fusion would put the same gap (1/60 − 1/61) between first and second as between second and third.
    assert.ok(first!.score - second!.score < 1e-3);
    assert.ok(second!.score - third!.score > 0.25);
  });

  it('scores a list of one item, or of equal scores, 0.5 each, and breaks ties by id', () => {
    assert.deepEqual(distributionBasedScoreFusion([list(['z', 3])]), [{ id: 'z', score: 0.5 }]);
    assert.deepEqual(distributionBasedScoreFusion([list(['y', 2], ['x', 2])]), [
      { id: 'x', score: 0.5 },
      { id: 'y', score: 0.5 },
    ]);
  });

  it('applies the limit after fusing, and returns nothing for no lists or empty lists', () => {
    const fused = distributionBasedScoreFusion([list(['a', 3], ['b', 2], ['c', 1]), list(['c', 3], ['b', 2.5])], { limit: 2 });
    assert.equal(fused.length, 2);
    assert.deepEqual(distributionBasedScoreFusion([]), []);
    assert.deepEqual(distributionBasedScoreFusion([[], []]), []);
    assert.deepEqual(distributionBasedScoreFusion([list(['a', 1])], { limit: 0 }), []);
  });
});
