import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { AnswerServiceEvent } from '@passage/answering';
import type { Runtime } from '@passage/runtime';
import { abortOnDisconnect } from '../abort-on-disconnect.js';
import { collectAnswer, endAbandoned } from '../collect-answer.js';
import { errorFromEvent } from '../error-from-event.js';
import { sendError } from '../http-errors.js';
import { parseRequest } from '../request-validation.js';
import { sendJson } from '../send-json.js';
import { SseWriter } from '../sse-writer.js';

export const retrievalModeSchema = z.enum(['lexical', 'dense', 'hybrid']).optional();

const askSchema = z.object({
  question: z.string().trim().min(1).max(8000),
  history: z
    .array(z.object({ role: z.enum(['user', 'assistant']), content: z.string().max(32_000) }))
    .max(100)
    .optional(),
  stream: z.boolean().optional(),
  topK: z.number().int().min(1).max(50).optional(),
  mode: retrievalModeSchema,
});

/**
 * `POST /v1/knowledge-bases/:knowledgeBaseId/ask`: the answer events as Server-Sent Events
 * (`stream: true`) or as one JSON object. Failures before the first event are plain HTTP errors.
 */
export function askHandler(runtime: Runtime) {
  return async (knowledgeBaseId: string, requestBody: unknown, _request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const body = parseRequest(askSchema, requestBody);
    const controller = abortOnDisconnect(response);
    const events = runtime.answers
      .answer({
        knowledgeBaseId,
        question: body.question,
        history: body.history ?? [],
        signal: controller.signal,
        ...(body.topK === undefined ? {} : { topK: body.topK }),
        ...(body.mode === undefined ? {} : { mode: body.mode }),
      })
      [Symbol.asyncIterator]();
    try {
      // Boxed, so that the first event (the sources, with their text) is not held once it is sent.
      const head: { current: IteratorResult<AnswerServiceEvent> } = { current: { done: true, value: undefined } };
      try {
        head.current = await events.next();
      } catch (error) {
        if (controller.signal.aborted) return; // the client is gone: nobody to answer
        throw error;
      }
      if (body.stream === true) await streamEvents(response, head, events, runtime.config.SSE_HEARTBEAT_MS);
      else await respondWithJson(response, head, events);
    } finally {
      // A response that ended normally has nothing left to stop; an abort costs a DOMException.
      if (!response.writableEnded) controller.abort();
      await events.return?.();
    }
  };
}

/** One rendered SSE block per event; text deltas, the most frequent, without a payload object. */
function renderEvent(event: AnswerServiceEvent): string {
  switch (event.type) {
    case 'text-delta':
      return `event: text-delta\ndata: {"delta":${JSON.stringify(event.delta)}}\n\n`;
    case 'sources':
      return `event: sources\ndata: ${JSON.stringify({ sources: event.sources })}\n\n`;
    case 'end':
      return `event: end\ndata: ${JSON.stringify({
        answer: event.answer,
        citations: event.citations,
        invalidCitations: event.invalidCitations,
        mode: event.mode,
        timings: event.timings,
      })}\n\n`;
    case 'error':
      return `event: error\ndata: ${JSON.stringify({
        code: event.code,
        message: event.message,
        ...(event.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: event.retryAfterSeconds }),
      })}\n\n`;
  }
}

async function streamEvents(
  response: ServerResponse,
  head: { current: IteratorResult<AnswerServiceEvent> },
  events: AsyncIterator<AnswerServiceEvent>,
  heartbeatMs: number,
): Promise<void> {
  const writer = new SseWriter(response, { heartbeatMs });
  try {
    while (!head.current.done && !writer.closed) {
      // Rendered and written in a call of its own, and taken out of `head`, so that nothing holds
      // the event while the next one is awaited (after the sources, that is the model's first token).
      const event = head.current.value;
      head.current = { done: true, value: undefined };
      await writer.write(renderEvent(event));
      head.current = await events.next();
    }
  } finally {
    writer.end();
  }
}

async function respondWithJson(
  response: ServerResponse,
  head: { current: IteratorResult<AnswerServiceEvent> },
  events: AsyncIterator<AnswerServiceEvent>,
): Promise<void> {
  const collected = await collectAnswer(head, events);
  if (collected === null) endAbandoned(response);
  else if (collected.kind === 'error') sendError(response, errorFromEvent(collected.error));
  else {
    const { sources, end } = collected;
    sendJson(response, 200, {
      sources,
      answer: end.answer,
      citations: end.citations,
      invalidCitations: end.invalidCitations,
      mode: end.mode,
      timings: end.timings,
    });
  }
}
