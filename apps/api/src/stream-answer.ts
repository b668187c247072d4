import type { ServerResponse } from 'node:http';
import type { AnswerEndEvent, AnswerErrorEvent, AnswerServiceEvent } from '@passage/answering';
import type { Source } from '@passage/spec';
import { taken, type AnswerHead } from './answer-session.js';
import { SseWriter } from './sse-writer.js';

/** One typed serialiser per answer event, each giving complete SSE blocks. */
export interface AnswerEventRenderers {
  sources(sources: Source[]): string;
  /** Also renders the deltas joined while the client's socket is behind. */
  textDelta: (delta: string) => string;
  end(event: AnswerEndEvent): string;
  error(event: AnswerErrorEvent): string;
}

/**
 * Streams the answer events as Server-Sent Events, each written as it comes, with backpressure:
 * the next event is asked for only once the socket can take it (see SseWriter).
 */
export async function streamAnswer(
  response: ServerResponse,
  head: AnswerHead,
  events: AsyncIterator<AnswerServiceEvent>,
  renderers: AnswerEventRenderers,
  heartbeatMs: number,
): Promise<void> {
  const writer = new SseWriter(response, { heartbeatMs, renderDelta: renderers.textDelta });
  try {
    while (!head.current.done && !writer.closed) {
      const type = head.current.value.type;
      await writeNext(writer, renderers, head);
      if (type === 'end' || type === 'error') return;
      head.current = await events.next();
    }
  } finally {
    writer.end();
  }
}

/** Takes the event out of `head` and writes it; a function of its own so that no frame holds the event afterwards. */
function writeNext(writer: SseWriter, renderers: AnswerEventRenderers, head: AnswerHead): Promise<void> {
  const result = head.current;
  head.current = taken;
  if (result.done) return Promise.resolve();
  const event = result.value;
  switch (event.type) {
    case 'text-delta':
      return writer.writeDelta(event.delta);
    case 'sources':
      return writer.write(renderers.sources(event.sources));
    case 'end':
      return writer.write(renderers.end(event));
    case 'error':
      return writer.write(renderers.error(event));
  }
}
