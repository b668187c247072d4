import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Runtime } from '@passage/runtime';
import { respondToAnswer } from '../answer-session.js';
import { askEndData, endEvent, errorEvent, sourcesEvent, textDeltaEvent } from '../ask-events.js';
import { collectAnswer, endAbandoned } from '../collect-answer.js';
import { errorFromEvent } from '../error-from-event.js';
import { sendError } from '../http-errors.js';
import { noteQuestion } from '../request-context.js';
import { parseRequest } from '../request-validation.js';
import { sendJson } from '../send-json.js';
import { streamAnswer, type AnswerEventRenderers } from '../stream-answer.js';

export const retrievalModeSchema = z.enum(['lexical', 'dense', 'hybrid']).optional();

export const askSchema = z.object({
  question: z.string().trim().min(1).max(8000),
  history: z
    .array(z.object({ role: z.enum(['user', 'assistant']), content: z.string().max(32_000) }))
    .max(100)
    .optional(),
  stream: z.boolean().optional(),
  topK: z.number().int().min(1).max(50).optional(),
  mode: retrievalModeSchema,
});

const askRenderers: AnswerEventRenderers = { sources: sourcesEvent, textDelta: textDeltaEvent, end: endEvent, error: errorEvent };

/**
 * `POST /v1/knowledge-bases/:knowledgeBaseId/ask`: the answer events as Server-Sent Events
 * (`stream: true`) or as one JSON object. Failures before the first event are plain HTTP errors.
 */
export function askHandler(runtime: Runtime) {
  return async (parameters: Record<string, string>, requestBody: unknown, request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const body = parseRequest(askSchema, requestBody);
    noteQuestion(request, body.question);
    const knowledgeBaseId = parameters['knowledgeBaseId'] ?? '';
    await respondToAnswer(
      response,
      (signal) =>
        runtime.answers.answer({
          knowledgeBaseId,
          question: body.question,
          history: body.history ?? [],
          signal,
          ...(body.topK === undefined ? {} : { topK: body.topK }),
          ...(body.mode === undefined ? {} : { mode: body.mode }),
        }),
      async (head, events) => {
        if (body.stream === true) {
          await streamAnswer(response, head, events, askRenderers, runtime.config.SSE_HEARTBEAT_MS);
          return;
        }
        const collected = await collectAnswer(head, events);
        if (collected === null) endAbandoned(response);
        else if (collected.kind === 'error') sendError(response, errorFromEvent(collected.error));
        else sendJson(response, 200, { sources: collected.sources, ...askEndData(collected.end) });
      },
    );
  };
}
