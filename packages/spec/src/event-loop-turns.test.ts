import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortedError } from './errors.js';
import { EventLoopTurns } from './event-loop-turns.js';

function busyFor(milliseconds: number): void {
  const until = performance.now() + milliseconds;
  while (performance.now() < until);
}

test('EventLoopTurns runs the steps in order, no more per iteration of the event loop than fit in the slice, with due timers between', async () => {
  const turns = new EventLoopTurns({ sliceMs: 5 });
  const log: string[] = [];
  // Due after 1 ms: every step takes 3 ms, so the timer is due at each next iteration.
  const ticker = setInterval(() => log.push('timer'), 0);
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, caller) =>
      turns.run(() => {
        log.push(`step ${caller}`);
        busyFor(3);
        return caller * 10;
      }),
    ),
  );
  clearInterval(ticker);
  assert.deepEqual(
    results,
    Array.from({ length: 20 }, (_, caller) => caller * 10),
  );
  assert.deepEqual(
    log.filter((entry) => entry.startsWith('step')),
    Array.from({ length: 20 }, (_, caller) => `step ${caller}`),
  );
  // A slice of 5 ms holds two 3 ms steps (the second starts before it is spent), never three.
  let inARow = 0;
  for (const entry of log) {
    inARow = entry === 'timer' ? 0 : inARow + 1;
    assert.ok(inARow <= 2, `three steps ran without a timer between them: ${log.join(', ')}`);
  }
  assert.equal(turns.waiting, 0);
});

test('EventLoopTurns runs short steps together in one iteration', async () => {
  const turns = new EventLoopTurns({ sliceMs: 50 });
  const iterations = new Set<number>();
  let iteration = 0;
  const counter = setInterval(() => (iteration += 1), 0);
  await Promise.all(Array.from({ length: 50 }, () => turns.run(() => iterations.add(iteration))));
  clearInterval(counter);
  assert.equal(iterations.size, 1);
});

test('EventLoopTurns: a step that throws rejects its caller only; a caller whose signal aborts while it waits leaves the line with AbortedError', async () => {
  const turns = new EventLoopTurns();
  const order: string[] = [];
  const leaving = new AbortController();
  const first = turns.run(() => order.push('first'));
  const failing = turns.run(() => {
    throw new Error('step failed');
  });
  const second = turns.run(() => order.push('second'), leaving.signal);
  const third = turns.run(() => order.push('third'));
  leaving.abort();
  await assert.rejects(second, AbortedError);
  await assert.rejects(failing, /step failed/);
  await Promise.all([first, third]);
  assert.deepEqual(order, ['first', 'third']);
  assert.equal(turns.waiting, 0);
  await assert.rejects(
    turns.run(() => 1, leaving.signal),
    AbortedError,
  );
});

test('EventLoopTurns.runSteps keeps the turn across iterations of the event loop, with due timers between its slices, and later steps wait for it', async () => {
  const turns = new EventLoopTurns({ sliceMs: 5 });
  const log: string[] = [];
  const ticker = setInterval(() => log.push('timer'), 0);
  const long = turns.runSteps(function* () {
    for (let step = 0; step < 10; step += 1) {
      log.push(`long ${step}`);
      busyFor(2);
      yield;
    }
    return 'long done';
  });
  const short = turns.run(() => {
    log.push('short');
    return 'short done';
  });
  assert.deepEqual(await Promise.all([long, short]), ['long done', 'short done']);
  clearInterval(ticker);
  const work = log.filter((entry) => entry !== 'timer');
  assert.deepEqual(work, [...Array.from({ length: 10 }, (_, step) => `long ${step}`), 'short']);
  // 2 ms steps in 5 ms slices: at most three in a row, and timers ran between the slices.
  let inARow = 0;
  for (const entry of log) {
    inARow = entry === 'timer' ? 0 : inARow + 1;
    assert.ok(inARow <= 3, `four steps ran without a timer between them: ${log.join(', ')}`);
  }
  assert.ok(log.indexOf('timer') < log.indexOf('long 9'), `no timer ran before the last step: ${log.join(', ')}`);
});

test('EventLoopTurns.runSteps: aborting between slices closes the generator (its finally runs) and rejects with AbortedError; a throwing step rejects', async () => {
  const turns = new EventLoopTurns({ sliceMs: 1 });
  const leaving = new AbortController();
  let closed = false;
  let steps = 0;
  const aborted = turns.runSteps(function* () {
    try {
      for (;;) {
        steps += 1;
        busyFor(2);
        if (steps === 3) setImmediate(() => leaving.abort());
        yield;
      }
    } finally {
      closed = true;
    }
  }, leaving.signal);
  await assert.rejects(aborted, AbortedError);
  assert.equal(closed, true);
  assert.ok(steps >= 3 && steps < 10, `ran ${steps} steps`);
  assert.equal(turns.waiting, 0);
  await assert.rejects(
    turns.runSteps(function* () {
      yield;
      throw new Error('step failed');
    }),
    /step failed/,
  );
  assert.equal(await turns.run(() => 'after'), 'after');
});
