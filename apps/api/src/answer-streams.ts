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
  readonly #deadline = new AbortController();
  readonly #waiters = new Set<() => void>();
  #open = 0;

  get open(): number {
    return this.#open;
  }

  /**
   * Follows one answer: the returned iterator passes the events on (counting them for the
   * metrics) until the shutdown deadline, then yields `shuttingDownEvent`, aborts `work` and
   * ends. `close` must be called once the answer is over.
   */
  track(events: AsyncIterator<AnswerServiceEvent>, work: AbortController): { events: AsyncIterator<AnswerServiceEvent>; close: () => void } {
    this.#open += 1;
    openAnswerStreams.inc();
    const deadline = this.#deadline.signal;
    const deadlinePassed = new Promise<typeof deadlineReached>((resolve) => {
      if (deadline.aborted) resolve(deadlineReached);
      else deadline.addEventListener('abort', () => resolve(deadlineReached), { once: true });
    });
    let cut = false;
    let closed = false;
    const tracked: AsyncIterator<AnswerServiceEvent> = {
      next: async () => {
        if (cut) return { done: true, value: undefined };
        const next = events.next();
        const result = await Promise.race([next, deadlinePassed]);
        if (result === deadlineReached) {
          cut = true;
          // The pending step ends with the abort below; its outcome no longer concerns anyone.
          next.catch(() => undefined);
          work.abort();
          return { done: false, value: shuttingDownEvent };
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
    this.#deadline.abort();
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
