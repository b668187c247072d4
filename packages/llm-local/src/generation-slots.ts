import { AbortedError } from '@passage/spec';

/** A slot held by one generation; `release` gives it to the next waiter (at most once). */
export interface GenerationSlot {
  /** Which of the slots, 0 … size − 1: the context sequence this generation uses. */
  readonly index: number;
  release(): void;
}

interface Waiter {
  grant: (slot: GenerationSlot) => void;
  fail: (error: unknown) => void;
}

/**
 * A fixed number of generation slots handed out first come, first served. A request that finds
 * every slot taken waits in line; its signal aborting takes it out of the line at once (it never
 * gets a slot, so it never starts generating).
 */
export class GenerationSlots {
  readonly size: number;
  readonly #free: number[];
  readonly #line: Waiter[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`slots must be a positive integer, not ${size}`);
    this.size = size;
    this.#free = Array.from({ length: size }, (_, index) => index);
  }

  /** Requests waiting for a slot. */
  get waiting(): number {
    return this.#line.length;
  }

  /** Slots in use. */
  get busy(): number {
    return this.size - this.#free.length;
  }

  /** Resolves with a slot when one is free; rejects with the signal's abort (AbortedError) while waiting. */
  acquire(signal: AbortSignal): Promise<GenerationSlot> {
    if (signal.aborted) return Promise.reject(new AbortedError());
    const index = this.#free.shift();
    if (index !== undefined) return Promise.resolve(this.#slot(index));
    return new Promise<GenerationSlot>((resolve, reject) => {
      const waiter: Waiter = {
        grant: (slot) => {
          signal.removeEventListener('abort', onAbort);
          resolve(slot);
        },
        fail: reject,
      };
      const onAbort = (): void => {
        const position = this.#line.indexOf(waiter);
        if (position >= 0) this.#line.splice(position, 1);
        reject(new AbortedError());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#line.push(waiter);
    });
  }

  #slot(index: number): GenerationSlot {
    let released = false;
    return {
      index,
      release: () => {
        if (released) return;
        released = true;
        const next = this.#line.shift();
        if (next === undefined) this.#free.push(index);
        else next.grant(this.#slot(index));
      },
    };
  }

  /** Fails every waiter (the model is closing). */
  rejectWaiting(error: unknown): void {
    for (const waiter of this.#line.splice(0)) waiter.fail(error);
  }
}
