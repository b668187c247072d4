import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAnalyzer } from '@passage/retrieval';
import { chunkPages } from './chunk.js';
import { prepareParsedDocument, preparedBatches, type PreparedChunk } from './prepare-document.js';

describe('prepareParsedDocument', () => {
  const analyzer = createAnalyzer();
  const pages = [1, 2, 3].map((number) => ({
    number,
    text: Array.from({ length: 120 }, (_, index) => `Page ${number} sentence ${index} about tidal gauges and storm surges.`).join(' '),
  }));
  const chunking = { targetTokens: 48, overlapTokens: 8 };

  test('hands every chunk on once, in order, in batches no larger than asked', () => {
    const batches: PreparedChunk[][] = [];
    const count = prepareParsedDocument({ type: 'text', pages }, analyzer, (batch) => batches.push(batch), { chunking, batch: { maxChunks: 7 } });
    const drafts = chunkPages(pages, chunking);
    assert.equal(count, drafts.length);
    assert.ok(batches.length > 3);
    assert.ok(batches.every((batch) => batch.length >= 1 && batch.length <= 7));
    assert.deepEqual(
      batches.flat().map((chunk) => chunk.ordinal),
      drafts.map((draft) => draft.ordinal),
    );
  });

  test('cuts a batch once its text reaches the character bound', () => {
    const batches: PreparedChunk[][] = [];
    prepareParsedDocument({ type: 'text', pages }, analyzer, (batch) => batches.push(batch), { chunking, batch: { maxCharacters: 500 } });
    for (const batch of batches) {
      const characters = batch.reduce((sum, chunk) => sum + chunk.text.length, 0);
      // Each batch ends with the chunk that reached the bound: without it, it was below.
      assert.ok(characters - batch[batch.length - 1]!.text.length < 500);
    }
  });

  test('indexes the title with every chunk', () => {
    const batches: PreparedChunk[][] = [];
    prepareParsedDocument({ type: 'markdown', title: ' Harbour log ', pages }, analyzer, (batch) => batches.push(batch), { chunking });
    const chunks = batches.flat();
    assert.ok(chunks.every((chunk) => ((JSON.parse(chunk.termsJson) as Record<string, number>)['harbour'] ?? 0) >= 1));
    assert.deepEqual(JSON.parse(chunks[0]!.termsJson), analyzer.termFrequencies(`Harbour log\n${chunks[0]!.text}`));
  });

  test('analyzes a batch only when it is asked for, so the thread never holds every chunk’s terms at once', () => {
    let calls = 0;
    const counting = { ...analyzer, termFrequencies: (text: string) => ((calls += 1), analyzer.termFrequencies(text)) };
    const batches = preparedBatches({ type: 'text', pages }, counting, { chunking, batch: { maxChunks: 5 } });
    const first = batches.next();
    assert.equal(first.done, false);
    assert.equal(calls, 5);
    let total = 5;
    for (let next = batches.next(); next.done !== true; next = batches.next()) total += next.value.length;
    assert.equal(calls, total);
    assert.ok(total > 10);
  });
});
