import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunkId, newDocumentId, newKnowledgeBaseId } from './ids.js';
import { estimateTokens } from './token-estimate.js';

describe('ids', () => {
  it('derives the same UUIDv5 chunk id from the same document, generation and ordinal', () => {
    const id = chunkId('doc_1', 1, 0);
    assert.equal(chunkId('doc_1', 1, 0), id);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(chunkId('doc_1', 2, 0), id);
    assert.notEqual(chunkId('doc_1', 1, 1), id);
    assert.notEqual(chunkId('doc_2', 1, 0), id);
  });

  it('gives random, prefixed ids to knowledge bases and documents', () => {
    assert.match(newKnowledgeBaseId(), /^kb_[0-9a-f]{20}$/);
    assert.match(newDocumentId(), /^doc_[0-9a-f]{20}$/);
    assert.notEqual(newDocumentId(), newDocumentId());
  });
});

describe('estimateTokens', () => {
  it('counts a CJK character as one token and other words by four characters', () => {
    assert.equal(estimateTokens(''), 0);
    assert.equal(estimateTokens('中文检索'), 4);
    assert.equal(estimateTokens('word'), 1);
    assert.equal(estimateTokens('words'), 2);
    assert.equal(estimateTokens('BM25检索 works'), 1 + 2 + 2);
  });
});
