import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { AnswerServiceEvent } from '@passage/answering';
import { AnswerStreams, shuttingDownEvent } from './answer-streams.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** An answer that yields `events`, then waits for ever (or until its `return`). */
function answerOf(events: AnswerServiceEvent[]): AsyncIterator<AnswerServiceEvent> {
  let position = 0;
  return {
    next: () => (position < events.length ? Promise.resolve({ done: false, value: events[position++]! }) : new Promise(() => undefined)),
    return: () => Promise.resolve({ done: true, value: undefined }),
  };
}

test('AnswerStreams: an answer still open after the grace period gets shutting_down, its work is aborted, and it then ends', async () => {
  const streams = new AnswerStreams();
  const work = new AbortController();
  const tracked = streams.track(answerOf([{ type: 'text-delta', delta: 'first' }]), work);
  assert.deepEqual(await tracked.events.next(), { done: false, value: { type: 'text-delta', delta: 'first' } });
  const waiting = tracked.events.next();
  const drained = streams.drain(10, 1000);
  assert.deepEqual(await waiting, { done: false, value: shuttingDownEvent });
  assert.equal(work.signal.aborted, true);
  assert.deepEqual(await tracked.events.next(), { done: true, value: undefined });
  tracked.close();
  assert.deepEqual(await drained, { finished: 0, cut: 1 });
  assert.equal(streams.open, 0);
});

test('AnswerStreams: an answer that closes within the grace period is not cut', async () => {
  const streams = new AnswerStreams();
  const work = new AbortController();
  const tracked = streams.track(answerOf([]), work);
  const drained = streams.drain(5000);
  tracked.close();
  assert.deepEqual(await drained, { finished: 1, cut: 0 });
  assert.equal(work.signal.aborted, false);
});

test('AnswerStreams: closed answers are forgotten: their events do not stay reachable from the tracker', async () => {
  const streams = new AnswerStreams();
  const references: Array<WeakRef<object>> = [];
  for (let answer = 0; answer < 50; answer += 1) {
    const events = Array.from({ length: 20 }, (_, index): AnswerServiceEvent => ({ type: 'text-delta', delta: `token ${index}` }));
    references.push(new WeakRef(events[19]!));
    const tracked = streams.track(answerOf(events), new AbortController());
    for (let index = 0; index < 20; index += 1) await tracked.events.next();
    tracked.close();
  }
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  // The last one may survive in a register of the loop; all fifty stay alive when the tracker holds them.
  assert.ok(references.filter((reference) => reference.deref() !== undefined).length <= 1);
  assert.equal(streams.open, 0);
});
