import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCitations } from './citations.js';

describe('checkCitations', () => {
  it('collects valid markers once, ascending', () => {
    assert.deepEqual(checkCitations('A [2]. B [1][2]. C [1, 3].', 3), { citations: [1, 2, 3], invalidCitations: [] });
  });
  it('flags markers that name no source', () => {
    assert.deepEqual(checkCitations('A [4]. B [0]. C [2].', 3), { citations: [2], invalidCitations: [0, 4] });
  });
  it('ignores brackets that are not citations', () => {
    assert.deepEqual(checkCitations('array[i] and [note] and [1a]', 3), { citations: [], invalidCitations: [] });
  });
  it('reads full-width commas in Chinese answers', () => {
    assert.deepEqual(checkCitations('答案[1，2]。', 2), { citations: [1, 2], invalidCitations: [] });
  });
});
