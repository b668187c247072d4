import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reciprocalRankFusion } from './reciprocal-rank-fusion.js';

const list = (...ids: string[]) => ids.map((id) => ({ id }));

describe('reciprocalRankFusion', () => {
  it('adds 1 / (k + position) from every list an item is in, positions from 0 as in Qdrant', () => {
    const fused = reciprocalRankFusion([list('a', 'b', 'c'), list('c', 'd', 'a')], { k: 60 });
    assert.deepEqual(fused, [
      { id: 'a', score: 1 / 60 + 1 / 62 },
      { id: 'c', score: 1 / 62 + 1 / 60 },
      { id: 'b', score: 1 / 61 },
      { id: 'd', score: 1 / 61 },
    ]);
  });

  it('defaults k to 60 and applies the limit after fusing', () => {
    const fused = reciprocalRankFusion([list('x', 'y'), list('y', 'z')], { limit: 2 });
    assert.deepEqual(fused, [
      { id: 'y', score: 1 / 61 + 1 / 60 },
      { id: 'x', score: 1 / 60 },
    ]);
  });

  it('lets a small k favour the top of each list', () => {
    // With k = 1, first place in one list (1/1) beats third place in both (1/3 + 1/3); equal scores go by id.
    const fused = reciprocalRankFusion([list('solo', 'p', 'both'), list('q', 'r', 'both')], { k: 1 });
    assert.deepEqual(
      fused.map((hit) => hit.id),
      ['q', 'solo', 'both', 'p', 'r'],
    );
    assert.equal(fused.find((hit) => hit.id === 'both')?.score, 1 / 3 + 1 / 3);
  });

  it('returns nothing for no lists or empty lists, and rejects a k below 1', () => {
    assert.deepEqual(reciprocalRankFusion([]), []);
    assert.deepEqual(reciprocalRankFusion([[], []]), []);
    assert.deepEqual(reciprocalRankFusion([list('a')], { limit: 0 }), []);
    assert.throws(() => reciprocalRankFusion([list('a')], { k: 0 }), RangeError);
  });
});
