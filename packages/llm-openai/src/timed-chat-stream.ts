import { AbortedError, AppError } from '@passage/spec';
import { mapOpenAiError } from './map-openai-error.js';

export interface TimedChatStreamOptions {
  /** Longest wait for the next delta (the first included), ms. */
  idleTimeoutMs: number;
  /** Longest time for the whole answer, ms. */
  totalTimeoutMs: number;
  /**
   * Sends the request and resolves with its deltas. `remainingMs` is the time left before a
   * timeout would stop the stream, for waits between retries.
   */
  open: (signal: AbortSignal, remainingMs: () => number) => Promise<AsyncIterator<string>>;
}

const finished: IteratorResult<string> = Object.freeze({ done: true, value: undefined });

/**
 * The deltas of one model answer, with its deadlines and its failures in the service's terms: an
 * idle or total timeout stops the request with `llm_timeout`, the caller's abort with
 * AbortedError, any other failure is mapped by `mapOpenAiError`. A plain iterator rather than an
 * async generator: a generator's yield costs several promises and ticks per delta, and this sits
 * on the path of every token. The request is sent at the first `next()`; `return()` (the
 * consumer stopped) or a failure ends it; on every path the timers and the caller's listener go.
 */
export class TimedChatStream implements AsyncIterableIterator<string> {
  readonly #callerSignal: AbortSignal;
  readonly #idleTimeoutMs: number;
  readonly #totalTimeoutMs: number;
  /** Dropped once called: the prompt it holds is not needed while the answer streams. */
  #open: TimedChatStreamOptions['open'] | null;
  #opening: Promise<IteratorResult<string>> | null = null;
  readonly #controller = new AbortController();
  readonly #started = performance.now();
  #lastActivity = this.#started;
  #state: 'new' | 'open' | 'closed' = 'new';
  #deltas: AsyncIterator<string> | null = null;
  #timedOut: 'idle' | 'total' | null = null;
  #idleTimer: NodeJS.Timeout | null = null;
  #totalTimer: NodeJS.Timeout | null = null;

  constructor(callerSignal: AbortSignal, options: TimedChatStreamOptions) {
    this.#callerSignal = callerSignal;
    this.#idleTimeoutMs = options.idleTimeoutMs;
    this.#totalTimeoutMs = options.totalTimeoutMs;
    this.#open = options.open;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<string> {
    return this;
  }

  next(): Promise<IteratorResult<string>> {
    if (this.#state === 'closed') return Promise.resolve(finished);
    if (this.#deltas === null) {
      // A second call while the request is sent waits for the first one's delta.
      if (this.#opening !== null) return this.#opening.then(() => this.next());
      this.#opening = this.#first();
      return this.#opening;
    }
    return this.#deltas.next().then(this.#onResult, this.#onFailure);
  }

  return(): Promise<IteratorResult<string>> {
    const deltas = this.#deltas;
    this.#close(false);
    // Destroys the connection at once rather than when the abort's reason reaches it.
    deltas?.return?.().catch(() => {});
    return Promise.resolve(finished);
  }

  async #first(): Promise<IteratorResult<string>> {
    this.#state = 'open';
    const open = this.#open;
    this.#open = null;
    if (open === null) throw new AppError('internal_error', 'A chat stream can be read once');
    if (this.#callerSignal.aborted) {
      this.#close(false);
      throw new AbortedError();
    }
    this.#callerSignal.addEventListener('abort', this.#abort, { once: true });
    const idleTimeoutMs = this.#idleTimeoutMs;
    const totalTimeoutMs = this.#totalTimeoutMs;
    this.#idleTimer = setTimeout(this.#checkIdle, idleTimeoutMs);
    this.#totalTimer = setTimeout(() => this.#expire('total'), totalTimeoutMs);
    try {
      this.#deltas = await open(
        this.#controller.signal,
        () => Math.min(this.#lastActivity + idleTimeoutMs, this.#started + totalTimeoutMs) - performance.now(),
      );
    } catch (error) {
      return this.#onFailure(error);
    }
    // Closed while the request was sent: the consumer stopped.
    if (this.#isClosed()) {
      this.#deltas.return?.().catch(() => {});
      return finished;
    }
    return this.#deltas.next().then(this.#onResult, this.#onFailure);
  }

  readonly #onResult = (result: IteratorResult<string>): IteratorResult<string> => {
    if (this.#state === 'closed') return finished;
    if (!result.done) {
      this.#lastActivity = performance.now();
      return result;
    }
    // A stream cut by the abort may end quietly; that is not a complete answer.
    if (this.#controller.signal.aborted) return this.#onFailure(new AbortedError());
    this.#close(true);
    return finished;
  };

  readonly #onFailure = (error: unknown): never => {
    this.#close(false);
    const idleTimeoutMs = this.#idleTimeoutMs;
    const totalTimeoutMs = this.#totalTimeoutMs;
    if (this.#timedOut === 'idle') {
      throw new AppError('llm_timeout', `The language model sent nothing for ${idleTimeoutMs} ms; the request was stopped`, { cause: error });
    }
    if (this.#timedOut === 'total') {
      throw new AppError('llm_timeout', `The language model did not finish within ${totalTimeoutMs} ms; the request was stopped`, { cause: error });
    }
    if (this.#callerSignal.aborted) throw new AbortedError();
    throw mapOpenAiError(error, 'llm');
  };

  readonly #abort = (): void => {
    this.#controller.abort();
  };

  // One timer that re-arms itself for what is left, instead of a new timer per token.
  readonly #checkIdle = (): void => {
    const idleFor = performance.now() - this.#lastActivity;
    if (idleFor >= this.#idleTimeoutMs) this.#expire('idle');
    else this.#idleTimer = setTimeout(this.#checkIdle, this.#idleTimeoutMs - idleFor);
  };

  #expire(kind: 'idle' | 'total'): void {
    this.#timedOut ??= kind;
    this.#controller.abort();
  }

  // A method, so that the type checker does not assume the state unchanged across an await.
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Releases the timers and the caller's listener; unless the answer ended, also ends the request. */
  #close(complete: boolean): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    if (this.#totalTimer !== null) clearTimeout(this.#totalTimer);
    this.#callerSignal.removeEventListener('abort', this.#abort);
    this.#deltas = null;
    if (!complete) this.#controller.abort();
  }
}
