import type { ServerResponse } from 'node:http';

export interface SseWriterOptions {
  /** Renders a (possibly coalesced) text delta as one complete event block. */
  renderDelta: (delta: string) => string;
  /** Interval of the keep-alive comment, ms. Default: 15000. */
  heartbeatMs?: number;
  /**
   * Characters of text deltas joined while the socket is behind before `writeDelta` waits for
   * `drain`. Default: 16384.
   */
  maxCoalescedCharacters?: number;
}

const written: Promise<void> = Promise.resolve();

/**
 * Server-Sent Events over a Node (or Express) response: headers that stop proxies from buffering, one
 * flushed write per event, a heartbeat comment, and backpressure. While the client keeps up, each
 * text delta is its own event. Once the socket's buffer is full, the deltas that follow are joined
 * into one event, written when the socket drains; past `maxCoalescedCharacters` the producer waits
 * for `drain`, so a slow reader slows the producer instead of growing memory.
 */
export class SseWriter {
  readonly #response: ServerResponse;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #renderDelta: (delta: string) => string;
  readonly #maxCoalesced: number;
  /** Deltas joined while the socket is behind; null when none wait. */
  #pending: string | null = null;
  #closed = false;

  constructor(response: ServerResponse, options: SseWriterOptions) {
    this.#response = response;
    this.#renderDelta = options.renderDelta;
    this.#maxCoalesced = options.maxCoalescedCharacters ?? 16_384;
    response.statusCode = 200;
    response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    response.setHeader('Cache-Control', 'no-cache, no-transform');
    response.setHeader('Connection', 'keep-alive');
    response.setHeader('X-Accel-Buffering', 'no');
    // No flushHeaders(): the headers leave with the first event, which the caller writes at once,
    // in one packet instead of two.
    response.socket?.setNoDelay(true);
    this.#heartbeat = setInterval(() => {
      if (!this.#closed && !response.writableNeedDrain) response.write(': heartbeat\n\n');
    }, options.heartbeatMs ?? 15_000);
    this.#heartbeat.unref();
    response.once('close', () => this.#stop());
  }

  get closed(): boolean {
    return this.#closed || this.#response.destroyed;
  }

  /**
   * Writes a text delta: as an event of its own while the socket keeps up, else joined with the
   * next ones. Resolves at once unless the joined text has reached its limit; then once the socket
   * drains (or the connection closes).
   */
  writeDelta(delta: string): Promise<void> {
    if (this.closed) return written;
    if (this.#pending === null) {
      if (!this.#response.writableNeedDrain) {
        // A false return leaves this event in Node's buffer and the next deltas to be joined.
        this.#response.write(this.#renderDelta(delta));
        return written;
      }
      this.#pending = delta;
      this.#response.once('drain', this.#flush);
    } else {
      this.#pending += delta;
    }
    return this.#pending.length < this.#maxCoalesced ? written : this.#drained();
  }

  /**
   * Writes one complete, already rendered event block (ending in a blank line) after any joined
   * deltas; resolves at once when the socket's buffer has room, else once it drains or the
   * connection closes.
   */
  write(block: string): Promise<void> {
    if (this.closed) return written;
    if (this.#pending !== null) {
      this.#response.off('drain', this.#flush);
      this.#flush();
    }
    return this.#response.write(block) ? written : this.#drained();
  }

  end(): void {
    this.#stop();
    if (!this.#response.writableEnded) this.#response.end();
  }

  readonly #flush = (): void => {
    const pending = this.#pending;
    this.#pending = null;
    if (pending !== null && !this.closed) this.#response.write(this.#renderDelta(pending));
  };

  #drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#response.off('drain', done);
        this.#response.off('close', done);
        resolve();
      };
      this.#response.on('drain', done);
      this.#response.on('close', done);
    });
  }

  #stop(): void {
    this.#closed = true;
    this.#pending = null;
    this.#response.off('drain', this.#flush);
    clearInterval(this.#heartbeat);
  }
}
