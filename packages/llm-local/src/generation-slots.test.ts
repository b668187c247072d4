import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbortedError, AppError } from '@passage/spec';
import { GenerationSlots } from './generation-slots.js';

const never = new AbortController().signal;

describe('GenerationSlots', () => {
  it('hands out free slots at once and makes the next request wait until one is released', async () => {
    const slots = new GenerationSlots(2);
    const first = await slots.acquire(never);
    const second = await slots.acquire(never);
    assert.deepEqual([first.index, second.index].sort(), [0, 1]);
    let third: number | null = null;
    const waiting = slots.acquire(never).then((slot) => (third = slot.index));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(third, null);
    assert.equal(slots.waiting, 1);
    second.release();
    await waiting;
    assert.equal(third, second.index);
    assert.equal(slots.waiting, 0);
    assert.equal(slots.busy, 2);
  });

  it('serves waiting requests first come, first served', async () => {
    const slots = new GenerationSlots(1);
    const holder = await slots.acquire(never);
    const order: string[] = [];
    const a = slots.acquire(never).then((slot) => {
      order.push('a');
      slot.release();
    });
    const b = slots.acquire(never).then((slot) => {
      order.push('b');
      slot.release();
    });
    holder.release();
    await Promise.all([a, b]);
    assert.deepEqual(order, ['a', 'b']);
    assert.equal(slots.busy, 0);
  });

  it('takes an aborted request out of the line: it never gets a slot and the next one does', async () => {
    const slots = new GenerationSlots(1);
    const holder = await slots.acquire(never);
    const controller = new AbortController();
    let abortedGotSlot = false;
    const aborted = slots.acquire(controller.signal).then(() => (abortedGotSlot = true));
    const next = slots.acquire(never);
    controller.abort();
    await assert.rejects(aborted, AbortedError);
    assert.equal(slots.waiting, 1);
    holder.release();
    const slot = await next;
    assert.equal(slot.index, holder.index);
    assert.equal(abortedGotSlot, false);
  });

  it('refuses at once a request whose signal is already aborted', async () => {
    const slots = new GenerationSlots(1);
    await assert.rejects(slots.acquire(AbortSignal.abort()), AbortedError);
    assert.equal(slots.busy, 0);
  });

  it('counts a release once however often it is called', async () => {
    const slots = new GenerationSlots(1);
    const slot = await slots.acquire(never);
    slot.release();
    slot.release();
    assert.equal(slots.busy, 0);
    await slots.acquire(never);
    assert.equal(slots.busy, 1);
  });

  it('fails every waiting request when told to (the model is closing)', async () => {
    const slots = new GenerationSlots(1);
    await slots.acquire(never);
    const waiting = slots.acquire(never);
    slots.rejectWaiting(new AppError('llm_unavailable', 'closing'));
    await assert.rejects(waiting, (error: unknown) => error instanceof AppError && error.code === 'llm_unavailable');
    assert.equal(slots.waiting, 0);
  });

  it('rejects a slot count that is not a positive integer', () => {
    assert.throws(() => new GenerationSlots(0), RangeError);
    assert.throws(() => new GenerationSlots(1.5), RangeError);
  });
});
