import type { IncomingMessage } from 'node:http';
import { createParser } from 'eventsource-parser';
import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';

/**
 * The text deltas of a streamed chat completion, read from the Node stream the answer arrives on,
 * as the SDK's own `Stream` reads them: each event's data is a `chat.completion.chunk`, `[DONE]`
 * ends the answer (anything after it is ignored), and an event carrying `error` fails with the
 * SDK's `APIError`. The stream is read only as fast as the deltas are taken, so a consumer that
 * stops asking holds the model server back through TCP. The stream is read to its end, which
 * leaves a kept-alive connection reusable.
 */
export async function* chatCompletionDeltas(stream: IncomingMessage, headers: Headers): AsyncGenerator<string, void, undefined> {
  // Deltas decoded from the current piece of the stream; most pieces hold one event.
  const decoded: string[] = [];
  // Raised once the deltas decoded before it are handed over.
  let failure: Error | null = null;
  let done = false;
  const take = (data: string) => {
    if (done || failure !== null) return;
    if (data.startsWith('[DONE]')) {
      done = true;
      return;
    }
    let chunk: Partial<ChatCompletionChunk> & { error?: unknown };
    try {
      chunk = JSON.parse(data) as typeof chunk;
    } catch (error) {
      failure = error as Error;
      return;
    }
    if (chunk.error !== undefined && chunk.error !== null) {
      failure = new OpenAI.APIError(undefined, chunk.error as object, undefined, headers);
      return;
    }
    const delta = chunk.choices?.[0]?.delta?.content;
    if (typeof delta === 'string' && delta.length > 0) decoded.push(delta);
  };
  const decoder = createParser({ onEvent: (event) => take(event.data) });
  stream.setEncoding('utf8');
  for await (const piece of stream as AsyncIterable<string>) {
    decoder.feed(piece);
    if (decoded.length === 1) {
      const delta = decoded[0]!;
      decoded.length = 0;
      yield delta;
    } else if (decoded.length > 1) {
      for (const delta of decoded.splice(0)) yield delta;
    }
    if (failure !== null) throw failure;
  }
}
