import type { ServerResponse } from 'node:http';
import type { AnswerServiceEvent } from '@passage/answering';
import type { Source } from '@passage/spec';
import type { AnswerHead } from './answer-session.js';

type EndEvent = Extract<AnswerServiceEvent, { type: 'end' }>;
type ErrorEvent = Extract<AnswerServiceEvent, { type: 'error' }>;

/** How a non-streamed answer ended: complete, failed, or abandoned by the client (null). */
export type CollectedAnswer = { kind: 'end'; sources: Source[]; end: EndEvent } | { kind: 'error'; error: ErrorEvent } | null;

/**
 * Reads the answer events to their end for the non-streamed renderings (`/ask` JSON and
 * `chat.completion`), keeping the sources for the final object.
 */
export async function collectAnswer(head: AnswerHead, events: AsyncIterator<AnswerServiceEvent>): Promise<CollectedAnswer> {
  let sources: Source[] = [];
  while (!head.current.done) {
    const event = head.current.value;
    if (event.type === 'sources') sources = event.sources;
    if (event.type === 'error') return { kind: 'error', error: event };
    if (event.type === 'end') return { kind: 'end', sources, end: event };
    head.current = await events.next();
  }
  return null;
}

/** The client went away before the answer was complete: nothing to send but a closing status. */
export function endAbandoned(response: ServerResponse): void {
  if (!response.headersSent && !response.destroyed) {
    response.statusCode = 499;
    response.end();
  }
}
