import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Source } from '@passage/spec';
import { SourcesJson } from './sources-json.js';

const source = (chunkId: string, text: string, score = 1.25): Source => ({
  index: 1,
  documentId: 'doc_1',
  documentName: 'naïve "notes".txt',
  page: 3,
  chunkId,
  score,
  text,
});

describe('SourcesJson', () => {
  it('writes what JSON.stringify writes, escapes and non-Latin-1 text included', () => {
    const sources = [
      source('chk_a', 'Line one\nα-synuclein “quoted” \\ \u2028 end'),
      { ...source('chk_b', 'plain', 0.1 + 0.2), index: 2 },
      source('chk_c', '', Number.NaN),
    ];
    const renderer = new SourcesJson();
    assert.equal(renderer.render(sources), JSON.stringify(sources));
    assert.equal(renderer.render(sources), JSON.stringify(sources), 'the second time, from the remembered text');
    assert.equal(renderer.render([]), '[]');
  });

  it('writes the new text of a chunk id whose text changed', () => {
    const renderer = new SourcesJson();
    renderer.render([source('chk_a', 'old text')]);
    assert.equal(renderer.render([source('chk_a', 'new text')]), JSON.stringify([source('chk_a', 'new text')]));
  });

  it('stays correct past its capacity, dropping the least recently used text', () => {
    const renderer = new SourcesJson(2);
    for (const id of ['a', 'b', 'c', 'a', 'd', 'b']) {
      const sources = [source(id, `text of ${id}`)];
      assert.equal(renderer.render(sources), JSON.stringify(sources));
    }
  });
});
