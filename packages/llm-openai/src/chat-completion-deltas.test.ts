import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { chatCompletionDeltas } from './chat-completion-deltas.js';

const chunk = (content: string) => `data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}}}]}\n\n`;

function streamOf(): PassThrough & IncomingMessage {
  return new PassThrough() as unknown as PassThrough & IncomingMessage;
}

describe('chatCompletionDeltas', () => {
  it('hands over the deltas in order, ignores what follows [DONE] and reads the stream to its end', async () => {
    const stream = streamOf();
    const deltas = chatCompletionDeltas(stream, new Headers());
    stream.write(`${chunk('one')}${chunk('two')}`);
    stream.end(`${chunk('three')}data: [DONE]\n\n${chunk('late')}`);
    const received: string[] = [];
    for await (const delta of deltas) received.push(delta);
    assert.deepEqual(received, ['one', 'two', 'three']);
    assert.equal(stream.readableEnded, true);
  });

  it('pauses the stream while the consumer is behind, and resumes it when asked for more', async () => {
    const stream = streamOf();
    const deltas = chatCompletionDeltas(stream, new Headers());
    stream.write(Array.from({ length: 40 }, (_, position) => chunk(`t${position}`)).join(''));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stream.isPaused(), true);
    for (let position = 0; position < 40; position += 1) assert.deepEqual(await deltas.next(), { value: `t${position}`, done: false });
    const next = deltas.next();
    assert.equal(stream.isPaused(), false);
    stream.end(chunk('last'));
    assert.deepEqual(await next, { value: 'last', done: false });
    assert.deepEqual(await deltas.next(), { value: undefined, done: true });
  });

  it('fails with the error event after the deltas before it', async () => {
    const stream = streamOf();
    const deltas = chatCompletionDeltas(stream, new Headers());
    stream.end(`${chunk('kept')}data: {"error":{"message":"model failed","type":"server_error"}}\n\n`);
    assert.deepEqual(await deltas.next(), { value: 'kept', done: false });
    await assert.rejects(deltas.next(), /model failed/);
  });

  it('fails when the connection closes before the answer ends, and destroys the stream when the consumer stops', async () => {
    const cut = streamOf();
    const cutDeltas = chatCompletionDeltas(cut, new Headers());
    cut.write(chunk('partial'));
    assert.deepEqual(await cutDeltas.next(), { value: 'partial', done: false });
    cut.destroy();
    await assert.rejects(cutDeltas.next(), /closed before the answer ended/);

    const stopped = streamOf();
    const stoppedDeltas = chatCompletionDeltas(stopped, new Headers());
    stopped.write(chunk('first'));
    await stoppedDeltas.next();
    await stoppedDeltas.return?.();
    assert.equal(stopped.destroyed, true);
  });
});
