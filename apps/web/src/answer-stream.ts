import { EventSourceParserStream } from 'eventsource-parser/stream';
import { ApiError, apiUrl, authorizationHeaders, errorOf } from './api-client.js';
import type { AnswerEnd, ChatMessage, ErrorBody, Source } from './api-types.js';

/** The events of a streamed answer (`POST …/ask` with `stream: true`), in the order the server sends them. */
export type AnswerEvent =
  { type: 'sources'; sources: Source[] } | { type: 'text-delta'; delta: string } | { type: 'end'; end: AnswerEnd } | { type: 'error'; error: ErrorBody };

/**
 * Asks a knowledge base and yields the answer's events as they arrive. Aborting `signal` closes
 * the connection, which makes the server stop the model. Errors before the stream starts (an
 * unknown knowledge base, a bad request) reject with an ApiError; a stream cut before its `end`
 * or `error` event does too.
 */
export async function* askStreaming(knowledgeBaseId: string, question: string, history: ChatMessage[], signal: AbortSignal): AsyncGenerator<AnswerEvent> {
  let response: Response;
  try {
    response = await fetch(apiUrl(`v1/knowledge-bases/${encodeURIComponent(knowledgeBaseId)}/ask`), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...authorizationHeaders() },
      body: JSON.stringify({ question, history, stream: true }),
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new ApiError(0, 'network_error', `The server could not be reached (${String(error)})`);
  }
  if (!response.ok) throw await errorOf(response);
  if (response.body === null) throw new ApiError(response.status, 'invalid_response', 'The server answered without a body');
  const reader = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const data = JSON.parse(value.data) as unknown;
      switch (value.event) {
        case 'sources':
          yield { type: 'sources', sources: (data as { sources: Source[] }).sources };
          break;
        case 'text-delta':
          yield { type: 'text-delta', delta: (data as { delta: string }).delta };
          break;
        case 'end':
          yield { type: 'end', end: data as AnswerEnd };
          return;
        case 'error':
          yield { type: 'error', error: data as ErrorBody };
          return;
        default:
          // An event this page does not know (a newer server): skipped, as SSE clients do.
          break;
      }
    }
  } finally {
    // Closes the connection when the loop ends early; after an abort or a cut the stream is already
    // errored and cancel() rejects with that same error, which the caller has got from read().
    await reader.cancel().catch(() => undefined);
  }
  if (signal.aborted) throw signal.reason;
  throw new ApiError(0, 'stream_cut', 'The connection closed before the answer was complete');
}
