import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { threadId } from 'node:worker_threads';
import { createAnalyzer } from '@passage/retrieval';
import type { DocumentParser, TextAnalyzer } from '@passage/spec';
import { BoundedParser } from './bounded-parser.js';
import { prepareChunks } from './prepare-chunks.js';

/** The service's analyzer, counting the calls made to it in this thread. */
function countingAnalyzer(): TextAnalyzer & { options: object; calls: number } {
  const analyzer = createAnalyzer();
  const counting = {
    options: analyzer.options,
    calls: 0,
    analyze: (text: string) => {
      counting.calls += 1;
      return analyzer.analyze(text);
    },
    termFrequencies: (text: string) => {
      counting.calls += 1;
      return analyzer.termFrequencies(text);
    },
  };
  return counting;
}

const text = Array.from({ length: 300 }, (_, index) => `Gauge ${index} recorded a surge of ${index % 9} metres.`).join(' ');
const bytes = new TextEncoder().encode(text);

describe('prepareChunks', () => {
  test('with the bounded parser, chunks and analyzes only in the parsing thread: this thread’s analyzer is never called', async () => {
    const analyzer = countingAnalyzer();
    const parser = new BoundedParser();
    const prepared = await prepareChunks({
      parser,
      analyzer,
      chunking: { targetTokens: 32, overlapTokens: 4 },
      bytes,
      metadata: { fileName: 'gauges.txt' },
      signal: new AbortController().signal,
    });
    assert.ok(prepared.chunks.length > 5);
    assert.ok(
      prepared.chunks.every((chunk) => ((JSON.parse(chunk.termsJson) as Record<string, number>)['gaug'] ?? 0) >= 1),
      'every chunk has its terms',
    );
    assert.equal(analyzer.calls, 0);
    assert.ok('threadId' in prepared && prepared.threadId !== threadId);
  });

  test('with another parser, chunks and analyzes here, as tools that parse in memory need', async () => {
    const analyzer = countingAnalyzer();
    const parser: DocumentParser = { parse: async () => ({ type: 'text', pages: [{ number: 1, text }] }) };
    const prepared = await prepareChunks({ parser, analyzer, bytes, metadata: { fileName: 'gauges.txt' }, signal: new AbortController().signal });
    assert.ok(prepared.chunks.length >= 1);
    assert.equal(analyzer.calls, prepared.chunks.length);
  });
});
