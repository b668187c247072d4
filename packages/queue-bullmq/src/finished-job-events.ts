import { QueueEvents, type Queue } from 'bullmq';
import { Redis, type Cluster } from 'ioredis';
import { AbortedError, type Logger } from '@passage/spec';
import type { RedisConnect } from './redis-connect.js';

/** How a followed job ended, as its queue's event stream told. */
export type FinishedJob = { jobId: string; completed: true; returnValue: unknown } | { jobId: string; completed: false; failedReason: string };

/**
 * Follows the jobs of a queue to their end through BullMQ's event stream (QueueEvents). Reading
 * starts at the stream's last entry at the moment of opening, so every job added afterwards is
 * seen finishing even if it finishes before the first blocking read. Only ids accepted by `wanted`
 * are kept; `next` hands them out in the order they finished. Close it on every path.
 */
export class FinishedJobEvents {
  readonly #events: QueueEvents;
  /** The connection handed to QueueEvents when the caller makes connections (BullMQ leaves it open). */
  readonly #connection: Redis | Cluster | null;
  readonly #finished: FinishedJob[] = [];
  #wake: (() => void) | null = null;

  private constructor(events: QueueEvents, connection: Redis | Cluster | null, wanted: (jobId: string) => boolean) {
    this.#events = events;
    this.#connection = connection;
    const keep = (entry: FinishedJob) => {
      if (!wanted(entry.jobId)) return;
      this.#finished.push(entry);
      this.#wake?.();
    };
    events.on('completed', ({ jobId, returnvalue }) => keep({ jobId, completed: true, returnValue: returnvalue }));
    events.on('failed', ({ jobId, failedReason }) => keep({ jobId, completed: false, failedReason }));
  }

  /** `connect`: makes the connections (a Redis Cluster's, say); default: connections to `url`. */
  static async open(
    queue: Queue,
    options: { url: string; connect?: RedisConnect; prefix: string; wanted: (jobId: string) => boolean; logger: Logger },
  ): Promise<FinishedJobEvents> {
    // BullMQ's client interface has no XREVRANGE: a short-lived connection of our own reads the position.
    const client =
      options.connect?.({ connectionName: 'passage-rebuild', maxRetriesPerRequest: 2 }) ??
      new Redis(options.url, { connectionName: 'passage-rebuild', maxRetriesPerRequest: 2 });
    client.on('error', () => {}); // failures reach us through the command below
    let last: [string, string[]] | undefined;
    try {
      [last] = await client.xrevrange(queue.keys.events!, '+', '-', 'COUNT', 1);
    } finally {
      client.disconnect();
    }
    const connection = options.connect?.({ connectionName: 'passage-rebuild-events', maxRetriesPerRequest: null }) ?? null;
    connection?.on('error', (error: Error) => options.logger.warn({ err: error }, 'Redis connection problem (queue events)'));
    const events = new QueueEvents(queue.name, {
      connection: connection ?? { url: options.url },
      prefix: options.prefix,
      // An empty stream: everything it will ever hold is new.
      lastEventId: last?.[0] ?? '0',
    });
    // The reader reconnects by itself; a lasting outage shows here and in the caller's lease.
    events.on('error', (error) => options.logger.error({ err: error }, 'following queue events failed'));
    const follower = new FinishedJobEvents(events, connection, options.wanted);
    try {
      await events.waitUntilReady();
    } catch (error) {
      await follower.close();
      throw error;
    }
    return follower;
  }

  /** The next job that finished; rejects with AbortedError when the signal fires first. */
  async next(signal: AbortSignal): Promise<FinishedJob> {
    while (this.#finished.length === 0) {
      if (signal.aborted) throw new AbortedError();
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        signal.addEventListener('abort', onAbort, { once: true });
        this.#wake = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
      });
      this.#wake = null;
    }
    return this.#finished.shift()!;
  }

  async close(): Promise<void> {
    try {
      await this.#events.close();
    } finally {
      await this.#connection?.quit().catch(() => this.#connection?.disconnect());
    }
  }
}
