import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { estimateTokens, type ChatMessage, type Source } from '@passage/spec';
import { buildPrompt, defaultSystemPrompt } from './prompt.js';

const source = (index: number, text: string, page = index): Source => ({
  index,
  documentId: `doc_${index}`,
  documentName: `file-${index}.pdf`,
  page,
  chunkId: `chunk-${index}`,
  score: 10 - index,
  text,
});

describe('buildPrompt', () => {
  it('orders system, history, then context with the question, numbering passages [n]', () => {
    const history: ChatMessage[] = [
      { role: 'user', content: 'What is BM25?' },
      { role: 'assistant', content: 'A ranking function [1].' },
    ];
    const built = buildPrompt({
      question: 'Who made it?',
      history,
      sources: [source(1, 'Robertson and Spärck Jones.', 4), source(2, 'Okapi at City University.')],
    });
    assert.deepEqual(
      built.messages.map((message) => message.role),
      ['system', 'user', 'assistant', 'user'],
    );
    assert.equal(built.messages[0]?.content, defaultSystemPrompt);
    assert.match(defaultSystemPrompt, /\[1\]/);
    assert.match(defaultSystemPrompt, /do not answer/);
    const last = built.messages.at(-1)?.content ?? '';
    assert.ok(last.includes('[1] file-1.pdf, page 4\nRobertson and Spärck Jones.'));
    assert.ok(last.includes('[2] file-2.pdf, page 2\nOkapi at City University.'));
    assert.ok(last.endsWith('Question: Who made it?'));
    assert.equal(built.droppedHistoryMessages, 0);
    assert.deepEqual(
      built.sources.map((entry) => entry.index),
      [1, 2],
    );
  });

  it('drops the oldest history first and never the question', () => {
    const history: ChatMessage[] = Array.from({ length: 20 }, (_, turn) => ({
      role: turn % 2 === 0 ? 'user' : 'assistant',
      content: `turn ${turn} ${'word '.repeat(40)}`,
    }));
    const built = buildPrompt({ question: 'newest question', history, sources: [source(1, 'context')] }, { budgetTokens: 400, historyShare: 0.5 });
    const kept = built.messages.slice(1, -1);
    assert.ok(kept.length > 0 && kept.length < 20);
    assert.equal(built.droppedHistoryMessages, 20 - kept.length);
    assert.equal(kept.at(-1)?.content, history.at(-1)?.content, 'the newest turn is kept');
    assert.equal(kept[0]?.role, 'user', 'kept history starts on a user turn');
    const historyTokens = kept.reduce((sum, message) => sum + estimateTokens(message.content) + 4, 0);
    assert.ok(historyTokens <= 200);
    assert.ok(built.messages.at(-1)?.content.endsWith('Question: newest question'));
  });

  it('keeps context plus history inside the budget and the best passages first', () => {
    const sources = Array.from({ length: 10 }, (_, position) => source(position + 1, 'passage text '.repeat(60)));
    const built = buildPrompt({ question: 'q', history: [], sources }, { budgetTokens: 600 });
    assert.ok(built.sources.length >= 1 && built.sources.length < 10);
    assert.deepEqual(
      built.sources.map((entry) => entry.documentId),
      sources.slice(0, built.sources.length).map((entry) => entry.documentId),
    );
    const context = built.messages.at(-1)?.content ?? '';
    assert.ok(estimateTokens(context) <= 600 + estimateTokens('Context:\n\n\nQuestion: q') + 10);
  });

  it('truncates a first passage that alone exceeds the budget instead of dropping it', () => {
    const built = buildPrompt({ question: 'q', history: [], sources: [source(1, 'long '.repeat(2000))] }, { budgetTokens: 300 });
    assert.equal(built.sources.length, 1);
    const context = built.messages.at(-1)?.content ?? '';
    assert.ok(context.includes('…'));
    assert.ok(estimateTokens(context) < 400);
  });

  it('says when there are no passages', () => {
    const built = buildPrompt({ question: 'q', history: [], sources: [] });
    assert.match(built.messages.at(-1)?.content ?? '', /no passages were found/);
  });
});
