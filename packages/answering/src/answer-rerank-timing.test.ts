import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAnalyzer } from '@passage/retrieval';
import type { SearchHit } from '@passage/spec';
import { AnswerService, type AnswerServiceEvent, type PassageSearch } from './answer-service.js';

const hit: SearchHit = {
  score: 1,
  chunk: {
    id: 'c1',
    knowledgeBaseId: 'kb',
    documentId: 'd1',
    documentName: 'tides.pdf',
    generation: 1,
    ordinal: 0,
    page: 1,
    start: 0,
    end: 40,
    tokens: 10,
    text: 'The moon pulls the sea, and the tides follow it.',
  },
};

/** A search that reports a rerank of `rerankMs`, or none. */
const search = (rerankMs: number | null): PassageSearch => ({
  search(request) {
    if (rerankMs !== null) request.onRerank?.({ rerankMs, candidates: 1 });
    return Promise.resolve([hit]);
  },
});

async function endTimings(service: AnswerService) {
  const events: AnswerServiceEvent[] = [];
  for await (const event of service.answer({ knowledgeBaseId: 'kb', question: 'What pulls the sea?', signal: new AbortController().signal }))
    events.push(event);
  const end = events.at(-1);
  assert.equal(end?.type, 'end');
  return end.type === 'end' ? end.timings : null;
}

describe('AnswerService timings', () => {
  it('report the time the reranker took as rerankMs', async () => {
    const timings = await endTimings(new AnswerService({ retriever: search(12.34), analyzer: createAnalyzer() }));
    assert.equal(timings?.rerankMs, 12.3);
  });

  it('report rerankMs null when no reranker ran', async () => {
    const timings = await endTimings(new AnswerService({ retriever: search(null), analyzer: createAnalyzer() }));
    assert.equal(timings?.rerankMs, null);
  });
});
