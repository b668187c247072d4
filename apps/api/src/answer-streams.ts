import type { AnswerServiceEvent } from '@passage/answering';
import { observeAnswerEvent, openAnswerStreams } from './metrics.js';

const deadlineReached = Symbol('deadline');

/** The event that ends an answer cut by a shutdown, in place of `end`. */
export const shuttingDownEvent: AnswerServiceEvent = Object.freeze({
  type: 'error',
  code: 'shutting_down',
  message: 'The server is shutting down; ask again (another replica, or this one once it is back)',
});

/**
 * The answers in progress in this process, for a graceful shutdown: `drain` waits for them to
 * finish up to a grace period, then ends every one with an `error` event `shutting_down` (and
 * stops its work). Also counts them for the metrics.
 */
export class AnswerStreams {
  /** Set once the grace period is over: every answer still open is cut. */
  #cutting = false;
  /** One callback per open answer; a Set, so that adding and removing stay O(1) with thousands open. */
  readonly #cutters = new Set<() => void>();
  readonly #waiters = new Set<() => void>();
  #open = 0;

  get open(): number {
    return this.#open;
  }

  /**
   * Follows one answer: the returned iterator passes the events on (counting them for the
   * metrics) until the shutdown deadline, then yields `shuttingDownEvent`, aborts `work` and
   * ends. `close` must be called once the answer is over: it forgets the answer, so a closed one
   * holds nothing.
   */
  track(events: AsyncIterator<AnswerServiceEvent>, work: AbortController): { events: AsyncIterator<AnswerServiceEvent>; close: () => void } {
    this.#open += 1;
    openAnswerStreams.inc();
    // The step in progress, woken by the deadline. Racing each step against one long-lived
    // promise instead would leave a reaction on it per event for the answer's whole life.
    let wakeStep: ((value: typeof deadlineReached) => void) | null = null;
    const cutter = () => wakeStep?.(deadlineReached);
    this.#cutters.add(cutter);
    let cut = false;
    let closed = false;
    const shutDown = (): IteratorResult<AnswerServiceEvent> => {
      cut = true;
      work.abort();
      return { done: false, value: shuttingDownEvent };
    };
    const tracked: AsyncIterator<AnswerServiceEvent> = {
      next: async () => {
        if (cut) return { done: true, value: undefined };
        if (this.#cutting) return shutDown();
        const next = events.next();
        const result = await new Promise<IteratorResult<AnswerServiceEvent> | typeof deadlineReached>((resolve, reject) => {
          wakeStep = resolve;
          next.then(resolve, reject);
        }).finally(() => {
          wakeStep = null;
        });
        if (result === deadlineReached) {
          // The pending step ends with the abort below; its outcome no longer concerns anyone.
          next.catch(() => undefined);
          return shutDown();
        }
        if (!result.done) observeAnswerEvent(result.value);
        return result;
      },
      return: async () => (await events.return?.()) ?? { done: true, value: undefined },
    };
    return {
      events: tracked,
      close: () => {
        if (closed) return;
        closed = true;
        this.#cutters.delete(cutter);
        this.#open -= 1;
        openAnswerStreams.dec();
        if (this.#open === 0) for (const wake of this.#waiters) wake();
      },
    };
  }

  /** Waits up to `graceMs` for the open answers to finish, then cuts the rest and waits up to `cutWaitMs` for them to close. */
  async drain(graceMs: number, cutWaitMs = 5000): Promise<{ finished: number; cut: number }> {
    const openAtStart = this.#open;
    await this.#idleOrTimeout(graceMs);
    const cut = this.#open;
    this.#cutting = true;
    for (const cutter of this.#cutters) cutter();
    await this.#idleOrTimeout(cutWaitMs);
    return { finished: openAtStart - cut, cut };
  }

  #idleOrTimeout(ms: number): Promise<void> {
    if (this.#open === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }
}

/** The answers of this process (one server per process). */
export const answerStreams = new AnswerStreams();
