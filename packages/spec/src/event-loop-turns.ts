import { AbortedError } from './errors.js';
import { defaultSliceMs } from './time-slice.js';

/** Options of {@link EventLoopTurns}. */
export interface EventLoopTurnsOptions {
  /** Steps run back to back in one iteration of the event loop until they have taken this long, ms. Default: 8. */
  sliceMs?: number;
}

interface Waiting {
  /** Runs the caller's work until it is done (true) or the slice that began at `started` is spent (false: more next time). */
  run: (started: number) => boolean;
  leave: () => void;
}

/**
 * Takes turns on the event loop's thread. Callers that each have a synchronous step to run (the
 * ranking of a search over an in-memory index, say) hand it to `run`; steps run in the order they
 * came, as many per iteration of the event loop as fit in `sliceMs`, and the rest wait for the
 * next iteration. When a hundred questions arrive in one poll of the loop, their steps then run
 * with timers and other I/O (a health check, the next token of every open stream) between them,
 * instead of back to back while everything else waits: that burst held the API's loop for
 * 300-600 ms in `bench:ingest`'s responsiveness run. With many streams open the loop's own work
 * grows, and a slice still runs as many steps as fit, so answers do not queue behind one step per
 * iteration.
 */
export class EventLoopTurns {
  readonly #sliceMs: number;
  readonly #waiting: Waiting[] = [];
  #scheduled = false;

  constructor(options: EventLoopTurnsOptions = {}) {
    this.#sliceMs = options.sliceMs ?? defaultSliceMs;
  }

  /** Steps waiting for their turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Runs `step` on its turn and resolves with what it returns (rejects with what it throws).
   * Aborting `signal` while the step waits gives up its place and rejects with AbortedError.
   */
  run<Result>(step: () => Result, signal?: AbortSignal): Promise<Result> {
    // One step: a generator that is done at its first resumption.
    // eslint-disable-next-line require-yield
    return this.runSteps(function* (): Generator<void, Result, undefined> {
      return step();
    }, signal);
  }

  /**
   * Runs a long piece of work that yields between its steps (a search over a million chunks, say)
   * on its turn: `start` is called when the turn comes, and the generator it returns is resumed
   * for as long as the slice lasts, then again at the next iteration of the event loop, keeping the
   * turn (the steps of later callers wait) until it returns. Resolves with what it returns, rejects
   * with what it throws. Aborting `signal` before it is done gives up its place (the generator is
   * closed, so its `finally` blocks run) and rejects with AbortedError.
   */
  runSteps<Result>(start: () => Generator<void, Result, undefined>, signal?: AbortSignal): Promise<Result> {
    if (signal?.aborted === true) return Promise.reject(new AbortedError());
    return new Promise<Result>((resolve, reject) => {
      let steps: Generator<void, Result, undefined> | null = null;
      const fail = (error: unknown) => {
        signal?.removeEventListener('abort', entry.leave);
        reject(error instanceof Error ? error : new Error(String(error)));
      };
      const entry: Waiting = {
        run: (started) => {
          try {
            steps ??= start();
            for (;;) {
              const next = steps.next();
              if (next.done === true) {
                signal?.removeEventListener('abort', entry.leave);
                resolve(next.value);
                return true;
              }
              if (performance.now() - started >= this.#sliceMs) return false;
            }
          } catch (error) {
            fail(error);
            return true;
          }
        },
        leave: () => {
          const position = this.#waiting.indexOf(entry);
          if (position >= 0) this.#waiting.splice(position, 1);
          try {
            steps?.return(undefined as never);
          } catch (error) {
            // Its cleanup failed: the caller hears of that rather than of the abort it asked for.
            reject(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          reject(new AbortedError());
        },
      };
      signal?.addEventListener('abort', entry.leave, { once: true });
      this.#waiting.push(entry);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // An immediate set while immediates run waits for the loop's next iteration.
    setImmediate(() => {
      this.#scheduled = false;
      const started = performance.now();
      do {
        const head = this.#waiting[0];
        if (head === undefined) break;
        // Work left when the slice ran out keeps its place at the head of the line.
        if (head.run(started) && this.#waiting[0] === head) this.#waiting.shift();
      } while (this.#waiting.length > 0 && performance.now() - started < this.#sliceMs);
      if (this.#waiting.length > 0) this.#schedule();
    });
  }
}
