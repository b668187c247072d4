import type { ServerResponse } from 'node:http';
import type { AnswerServiceEvent } from '@passage/answering';
import { abortOnDisconnect } from './abort-on-disconnect.js';
import { answerStreams } from './answer-streams.js';

/**
 * The answer event to render next, boxed so that a renderer can take it out: the first event (the
 * sources, with their text) is then not held while the next one is awaited.
 */
export interface AnswerHead {
  current: IteratorResult<AnswerServiceEvent>;
}

/** What `head.current` holds once its event was taken. */
export const taken: IteratorResult<AnswerServiceEvent> = Object.freeze({ done: true, value: undefined });

/**
 * One answer over HTTP, for every rendering: starts the answer with a signal that fires when the
 * client goes away, waits for its first event (failures before it are thrown, for the caller to
 * answer with a status), hands it and the rest to `respond`, and on every path stops the work and
 * releases the answer's resources.
 */
export async function respondToAnswer(
  response: ServerResponse,
  start: (signal: AbortSignal) => AsyncIterable<AnswerServiceEvent>,
  respond: (head: AnswerHead, events: AsyncIterator<AnswerServiceEvent>) => Promise<void>,
): Promise<void> {
  const controller = abortOnDisconnect(response);
  const tracked = answerStreams.track(start(controller.signal)[Symbol.asyncIterator](), controller);
  const events = tracked.events;
  try {
    const head: AnswerHead = { current: taken };
    try {
      head.current = await events.next();
    } catch (error) {
      if (controller.signal.aborted) return; // the client is gone: nobody to answer
      throw error;
    }
    await respond(head, events);
  } finally {
    // A response that ended normally has nothing left to stop; an abort costs a DOMException.
    if (!response.writableEnded) controller.abort();
    try {
      await events.return?.();
    } finally {
      tracked.close();
    }
  }
}
