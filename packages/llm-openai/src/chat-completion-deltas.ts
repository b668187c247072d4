import type { IncomingMessage } from 'node:http';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';

/** Deltas decoded ahead of the consumer before the stream is paused. */
const maxQueuedDeltas = 32;

/**
 * The text deltas of a streamed chat completion, read from the Node stream the answer arrives on,
 * as the SDK's own `Stream` reads them: each event's data is a `chat.completion.chunk`, `[DONE]`
 * ends the answer (anything after it is ignored), and an event carrying `error` fails with the
 * SDK's `APIError`, after the deltas before it. The stream flows ('data' events, no async
 * iterator of its own and no tick per piece) and is paused while the consumer is more than a few
 * deltas behind, so a consumer that stops asking holds the model server back through TCP. It is
 * read to its end, which leaves a kept-alive connection reusable; `return()` before the end (the
 * consumer stopped) destroys it.
 */
export function chatCompletionDeltas(stream: IncomingMessage, headers: Headers): AsyncIterableIterator<string> {
  return new ChatCompletionDeltas(stream, headers);
}

class ChatCompletionDeltas implements AsyncIterableIterator<string> {
  readonly #stream: IncomingMessage;
  readonly #headers: Headers;
  readonly #parser: EventSourceParser;
  readonly #queue: string[] = [];
  /** Position of the next delta to hand over in `#queue`. */
  #head = 0;
  #waiting: { resolve: (result: IteratorResult<string>) => void; reject: (error: unknown) => void } | null = null;
  /** Raised once the deltas before it are handed over. */
  #failure: unknown = null;
  #ended = false;
  #done = false;

  constructor(stream: IncomingMessage, headers: Headers) {
    this.#stream = stream;
    this.#headers = headers;
    this.#parser = createParser({ onEvent: (event) => this.#take(event.data) });
    stream.setEncoding('utf8');
    stream.on('data', this.#onData);
    stream.once('end', this.#onEnd);
    stream.once('error', this.#onError);
    // 'close' without 'end' is a cut connection that reported no error.
    stream.once('close', this.#onClose);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<string> {
    return this;
  }

  next(): Promise<IteratorResult<string>> {
    if (this.#head < this.#queue.length) return Promise.resolve({ value: this.#shift(), done: false });
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the failure as it was caught (`!== null` narrows unknown to {})
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    if (this.#stream.isPaused()) this.#stream.resume();
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<string>> {
    if (!this.#ended) this.#stream.destroy();
    this.#ended = true;
    this.#queue.length = 0;
    this.#head = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  #shift(): string {
    const delta = this.#queue[this.#head]!;
    this.#head += 1;
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    }
    return delta;
  }

  readonly #onData = (piece: string): void => {
    this.#parser.feed(piece);
    const waiting = this.#waiting;
    if (waiting !== null) {
      if (this.#head < this.#queue.length) {
        this.#waiting = null;
        waiting.resolve({ value: this.#shift(), done: false });
      } else if (this.#failure !== null) {
        this.#waiting = null;
        waiting.reject(this.#failure);
      }
    }
    if (this.#queue.length - this.#head >= maxQueuedDeltas || this.#failure !== null) this.#stream.pause();
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#settle();
  };

  readonly #onError = (error: Error): void => {
    this.#failure ??= error;
    this.#ended = true;
    this.#settle();
  };

  readonly #onClose = (): void => {
    if (this.#ended) return;
    this.#failure ??= new OpenAI.APIConnectionError({ message: 'The connection closed before the answer ended' });
    this.#ended = true;
    this.#settle();
  };

  /** Answers a waiting consumer once nothing more will come. */
  #settle(): void {
    const waiting = this.#waiting;
    if (waiting === null) return;
    this.#waiting = null;
    if (this.#head < this.#queue.length) waiting.resolve({ value: this.#shift(), done: false });
    else if (this.#failure !== null) waiting.reject(this.#failure);
    else waiting.resolve({ value: undefined, done: true });
  }

  #take(data: string): void {
    if (this.#done || this.#failure !== null) return;
    if (data.startsWith('[DONE]')) {
      this.#done = true;
      return;
    }
    let chunk: Partial<ChatCompletionChunk> & { error?: unknown };
    try {
      chunk = JSON.parse(data) as typeof chunk;
    } catch (error) {
      this.#failure = error;
      return;
    }
    if (chunk.error !== undefined && chunk.error !== null) {
      this.#failure = new OpenAI.APIError(undefined, chunk.error, undefined, this.#headers);
      return;
    }
    const delta = chunk.choices?.[0]?.delta?.content;
    if (typeof delta === 'string' && delta.length > 0) this.#queue.push(delta);
  }
}
