import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServerSentEventParser } from './server-sent-events.js';

describe('ServerSentEventParser', () => {
  it('returns the data of each event as it completes, across arbitrary splits', () => {
    const stream = 'data: {"a":1}\n\n: keep-alive comment\n\nevent: ignored\ndata: {"b":2}\n\ndata: [DONE]\n\n';
    for (let split = 1; split < stream.length; split += 7) {
      const parser = new ServerSentEventParser();
      const events = [...parser.push(stream.slice(0, split)), ...parser.push(stream.slice(split))];
      assert.deepEqual(events, ['{"a":1}', '{"b":2}', '[DONE]'], `split at ${split}`);
    }
  });

  it('reads CRLF line ends, data without a space and multi-line data', () => {
    const parser = new ServerSentEventParser();
    assert.deepEqual(parser.push('data:one\r\ndata: two\r\n\r\ndata: x'), ['one\ntwo']);
    assert.deepEqual(parser.end(), ['x'], 'an event the stream ends in still counts');
    assert.deepEqual(parser.end(), []);
  });
});
