import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IncomingHeaders } from './incoming-headers.js';

describe('IncomingHeaders', () => {
  const headers = new IncomingHeaders({ 'content-type': 'text/event-stream', 'x-request-id': 'req-7', 'set-cookie': ['a=1', 'b=2'], absent: undefined });

  it('reads a header whatever the case of the name asked for, and null for one not sent', () => {
    assert.equal(headers.get('X-Request-ID'), 'req-7');
    assert.equal(headers.get('retry-after'), null);
    assert.equal(headers.has('Content-Type'), true);
    assert.equal(headers.has('absent'), false);
  });

  it('joins a repeated header with ", " as fetch does', () => {
    assert.equal(headers.get('set-cookie'), 'a=1, b=2');
  });

  it('iterates the headers that have a value, as name and value pairs', () => {
    assert.deepEqual(
      [...headers],
      [
        ['content-type', 'text/event-stream'],
        ['x-request-id', 'req-7'],
        ['set-cookie', 'a=1, b=2'],
      ],
    );
    assert.deepEqual([...headers.keys()], ['content-type', 'x-request-id', 'set-cookie']);
    const seen: string[] = [];
    headers.forEach((value, name) => seen.push(`${name}=${value}`));
    assert.equal(seen.length, 3);
  });
});
