import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatMessage } from '@passage/spec';
import { buildCondenseMessages, cleanStandaloneQuestion } from './condense-question.js';

describe('buildCondenseMessages', () => {
  it('sends the newest turns that fit as a transcript, then the last question', () => {
    const history: ChatMessage[] = Array.from({ length: 12 }, (_, turn) => ({
      role: turn % 2 === 0 ? 'user' : 'assistant',
      content: `turn ${turn} ${'word '.repeat(30)}`,
    }));
    const messages = buildCondenseMessages('and then?', history, { historyTokens: 200 });
    assert.deepEqual(
      messages.map((message) => message.role),
      ['system', 'user'],
    );
    const text = messages[1]?.content ?? '';
    assert.match(text, /Assistant: turn 11 /);
    assert.doesNotMatch(text, /turn 0 /);
    assert.match(text, /^Conversation:\nUser: turn \d+ /, 'the transcript opens on a user turn');
    assert.ok(text.endsWith('Last question: and then?\n\nStandalone question:'));
  });
});

describe('cleanStandaloneQuestion', () => {
  it('strips labels, quotes and space that models add', () => {
    assert.equal(cleanStandaloneQuestion('  "When was the engine designed?"\n'), 'When was the engine designed?');
    assert.equal(cleanStandaloneQuestion('Standalone question: Who built it?'), 'Who built it?');
    assert.equal(cleanStandaloneQuestion('“灯塔是什么时候建成的？”'), '灯塔是什么时候建成的？');
    assert.equal(cleanStandaloneQuestion('   '), '');
  });
});
