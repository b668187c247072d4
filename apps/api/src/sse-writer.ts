import type { ServerResponse } from 'node:http';

export interface SseWriterOptions {
  /** Interval of the keep-alive comment, ms. Default: 15000. */
  heartbeatMs?: number;
}

/**
 * Server-Sent Events over a Node (or Express) response: headers that stop proxies from buffering, one
 * flushed write per event, a heartbeat comment, and backpressure: `send` waits for `drain` when
 * the socket's buffer is full, so a slow reader slows the producer instead of growing memory.
 */
export class SseWriter {
  readonly #response: ServerResponse;
  readonly #heartbeat: NodeJS.Timeout;
  #closed = false;

  constructor(response: ServerResponse, options: SseWriterOptions = {}) {
    this.#response = response;
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

  /** Writes one named event with JSON data; resolves once the socket can take more. */
  send(event: string, data: unknown): Promise<void> {
    return this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /**
   * Writes one complete, already rendered event block (ending in a blank line); resolves at once
   * when the socket's buffer has room, else once it drains or the connection closes.
   */
  write(block: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.#response.write(block) ? Promise.resolve() : this.#drained();
  }

  end(): void {
    this.#stop();
    if (!this.#response.writableEnded) this.#response.end();
  }

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
    clearInterval(this.#heartbeat);
  }
}
