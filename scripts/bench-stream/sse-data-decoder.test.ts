import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseDataDecoder } from './sse-data-decoder.js';

function decode(pieces: string[]): string[] {
  const data: string[] = [];
  const decoder = new SseDataDecoder((value) => data.push(value));
  for (const piece of pieces) decoder.push(piece);
  return data;
}

describe('SseDataDecoder', () => {
  it('hands over the data of each event, with one optional space after the colon removed', () => {
    assert.deepEqual(decode(['data: {"a":1}\n\ndata:{"b":2}\n\ndata:  two spaces\n\n']), ['{"a":1}', '{"b":2}', ' two spaces']);
  });

  it('joins an event split anywhere across pieces, one character at a time included', () => {
    const text = 'data: first\n\n: a comment\nevent: message\nid: 7\ndata: second\n\n';
    assert.deepEqual(decode(Array.from(text)), ['first', 'second']);
    assert.deepEqual(decode([text.slice(0, 9), text.slice(9, 30), text.slice(30)]), ['first', 'second']);
  });

  it('joins several data lines of one event with newlines and dispatches nothing for an event without data', () => {
    assert.deepEqual(decode(['data: one\ndata: two\ndata\n\nevent: ping\n\n']), ['one\ntwo\n']);
  });

  it('accepts CRLF and CR line ends, also when CR and LF arrive in different pieces', () => {
    assert.deepEqual(decode(['data: a\r\n\r\ndata: b\r\rdata: c\r', '\n\r', '\n']), ['a', 'b', 'c']);
  });

  it('keeps an unfinished event until its blank line arrives', () => {
    assert.deepEqual(decode(['data: pending\n']), []);
  });
});
