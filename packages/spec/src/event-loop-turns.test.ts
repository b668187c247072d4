import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventLoopTurns } from './event-loop-turns.js';

function busyFor(milliseconds: number): void {
  const until = performance.now() + milliseconds;
  while (performance.now() < until);
}

test('EventLoopTurns lets waiting callers through in order, one per iteration of the event loop, with due timers running between them', async () => {
  const turns = new EventLoopTurns();
  const log: string[] = [];
  // Due after 1 ms: every step below takes 2 ms, so the timer is due at each next iteration.
  const ticker = setInterval(() => log.push('timer'), 0);
  await Promise.all(
    Array.from({ length: 20 }, async (_, caller) => {
      await turns.turn();
      log.push(`step ${caller}`);
      busyFor(2);
    }),
  );
  clearInterval(ticker);
  const steps = log.filter((entry) => entry.startsWith('step'));
  assert.deepEqual(
    steps,
    Array.from({ length: 20 }, (_, caller) => `step ${caller}`),
  );
  for (let caller = 1; caller < 20; caller += 1) {
    const between = log.slice(log.indexOf(`step ${caller - 1}`) + 1, log.indexOf(`step ${caller}`));
    assert.ok(between.includes('timer'), `no timer ran between step ${caller - 1} and step ${caller}: ${log.join(', ')}`);
  }
  assert.equal(turns.waiting, 0);
});

test('EventLoopTurns: a caller whose signal aborts while it waits leaves the line at once, and the others keep their turns', async () => {
  const turns = new EventLoopTurns();
  const order: string[] = [];
  const leaving = new AbortController();
  const first = turns.turn().then(() => order.push('first'));
  const second = turns.turn(leaving.signal).then(() => order.push(`second (aborted: ${leaving.signal.aborted})`));
  const third = turns.turn().then(() => order.push('third'));
  leaving.abort();
  await Promise.all([first, second, third]);
  assert.deepEqual(order, ['second (aborted: true)', 'first', 'third']);
  assert.equal(turns.waiting, 0);
});
