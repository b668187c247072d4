import type { IncomingMessage } from 'node:http';

/**
 * The text pieces of a response body as an async iterable, fed by 'data' events. Lighter than the
 * Readable's own async iterator, which goes through the 'readable' machinery for every piece; the
 * body is paused while more than a few pieces wait, so a slow consumer still holds the producer
 * back. Fails when the connection closes before the body is complete; `return()` destroys it.
 */
export function responseChunks(response: IncomingMessage): AsyncIterableIterator<string> {
  const queued: string[] = [];
  let failure: Error | null = null;
  let ended = false;
  let waiting: { resolve: (result: IteratorResult<string>) => void; reject: (error: Error) => void } | null = null;
  const settle = () => {
    if (waiting === null) return;
    const { resolve, reject } = waiting;
    if (queued.length > 0) {
      waiting = null;
      resolve({ value: queued.shift()!, done: false });
    } else if (failure !== null) {
      waiting = null;
      reject(failure);
    } else if (ended) {
      waiting = null;
      resolve({ value: undefined, done: true });
    }
  };
  response.setEncoding('utf8');
  response.on('data', (piece: string) => {
    queued.push(piece);
    if (queued.length > 8) response.pause();
    settle();
  });
  response.once('end', () => {
    ended = true;
    settle();
  });
  response.once('error', (error) => {
    failure ??= error;
    settle();
  });
  response.once('close', () => {
    if (!response.complete) failure ??= new Error('The connection closed before the response was complete');
    ended = true;
    settle();
  });
  const iterator: AsyncIterableIterator<string> = {
    next() {
      if (queued.length > 0) {
        const value = queued.shift()!;
        if (queued.length <= 2 && response.isPaused()) response.resume();
        return Promise.resolve({ value, done: false });
      }
      if (failure !== null) return Promise.reject(failure);
      if (ended) return Promise.resolve({ value: undefined, done: true });
      if (response.isPaused()) response.resume();
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
      });
    },
    return() {
      if (!ended) response.destroy();
      ended = true;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
