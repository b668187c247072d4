import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** Default of the `sliceMs` of a {@link TimeSlice}. */
export const defaultSliceMs = 8;

/**
 * Cuts a long loop on the event loop's thread into slices: `yieldIfSpent()` lets other work
 * (requests, streams) run once the current slice has taken `sliceMs` milliseconds (default 8), so
 * no one step of the loop holds the thread longer than that plus one iteration.
 */
export class TimeSlice {
  readonly #sliceMs: number;
  #started = performance.now();

  constructor(sliceMs = defaultSliceMs) {
    this.#sliceMs = sliceMs;
  }

  /** Resolves at once while the slice lasts; after it, on a later turn of the event loop. */
  async yieldIfSpent(): Promise<void> {
    if (performance.now() - this.#started < this.#sliceMs) return;
    await yieldToEventLoop();
    this.#started = performance.now();
  }
}
