/**
 * Takes turns on the event loop's thread. Callers that each have a synchronous step to run (a search
 * over an in-memory index, say) are let through one per iteration of the event loop, in the order
 * they asked. When a hundred questions arrive in one poll of the loop, their steps then run in a
 * hundred iterations with timers and other I/O (a health check, the next token of every open
 * stream) between them, instead of back to back in one iteration while everything else waits: that
 * burst held the API's loop for 300-600 ms in `bench:ingest`'s responsiveness run.
 *
 * A caller's step is what runs from its turn to its next wait for I/O; keep it bounded, and cut
 * longer work with a {@link TimeSlice} or move it off the thread.
 */
export class EventLoopTurns {
  readonly #waiting: Array<() => void> = [];
  #scheduled = false;

  /** Callers waiting for their turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Resolves on the caller's turn, an iteration of the event loop after the previous caller's.
   * Aborting `signal` while waiting resolves at once and gives up the place; the caller checks the
   * signal after the wait, as after any other.
   */
  turn(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const grant = () => {
        signal?.removeEventListener('abort', leave);
        resolve();
      };
      const leave = () => {
        const position = this.#waiting.indexOf(grant);
        if (position >= 0) this.#waiting.splice(position, 1);
        resolve();
      };
      signal?.addEventListener('abort', leave, { once: true });
      this.#waiting.push(grant);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // An immediate set while immediates run waits for the loop's next iteration: one turn each.
    setImmediate(() => {
      this.#scheduled = false;
      const next = this.#waiting.shift();
      if (this.#waiting.length > 0) this.#schedule();
      next?.();
    });
  }
}
