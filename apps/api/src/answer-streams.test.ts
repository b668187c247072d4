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
  // A busy machine may leave some to a later collection (pending jobs, a register of the loop); a tracker that
  // holds closed answers keeps all fifty alive through every round.
  let alive = references.length;
  for (let round = 0; round < 20 && alive > 1; round += 1) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    collectGarbage();
    alive = references.filter((reference) => reference.deref() !== undefined).length;
  }
  assert.ok(alive <= 1, `${alive} of ${references.length} closed answers are still reachable`);
  assert.equal(streams.open, 0);
});
