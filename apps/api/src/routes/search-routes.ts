import { Router, type Response } from 'express';
import { z } from 'zod';
import { AppError, type AnswerEvent, type Source } from '@passage/spec';
import type { Runtime } from '@passage/runtime';
import { sendError } from '../http-errors.js';
import { parseRequest } from '../request-validation.js';
import { SseWriter } from '../sse-writer.js';

const modeSchema = z.enum(['lexical', 'dense', 'hybrid']).optional();

const searchSchema = z.object({
  query: z.string().trim().min(1).max(4000),
  topK: z.number().int().min(1).max(100).optional(),
  mode: modeSchema,
});

const askSchema = z.object({
  question: z.string().trim().min(1).max(8000),
  history: z
    .array(z.object({ role: z.enum(['user', 'assistant']), content: z.string().max(32_000) }))
    .max(100)
    .optional(),
  stream: z.boolean().optional(),
  topK: z.number().int().min(1).max(50).optional(),
  mode: modeSchema,
});

/** An AbortController that fires when the client goes away before the response is complete. */
export function abortOnDisconnect(response: Response): AbortController {
  const controller = new AbortController();
  // The request's own 'close' fires once its body is read; the response's fires when the
  // connection goes away or the response is complete, which `writableFinished` tells apart.
  response.once('close', () => {
    if (!response.writableFinished) controller.abort();
  });
  return controller;
}

export function questionRoutes(runtime: Runtime): Router {
  const router = Router({ mergeParams: true });

  router.post('/search', async (request, response) => {
    const knowledgeBaseId = (request.params as { knowledgeBaseId: string }).knowledgeBaseId;
    const body = parseRequest(searchSchema, request.body);
    const controller = abortOnDisconnect(response);
    const hits = await runtime.retriever.search({
      knowledgeBaseId,
      query: body.query,
      topK: body.topK ?? runtime.config.TOP_K,
      signal: controller.signal,
      ...(body.mode === undefined ? {} : { mode: body.mode }),
    });
    response.json({
      data: hits.map((hit) => ({
        chunkId: hit.chunk.id,
        documentId: hit.chunk.documentId,
        documentName: hit.chunk.documentName,
        page: hit.chunk.page,
        start: hit.chunk.start,
        end: hit.chunk.end,
        score: hit.score,
        text: hit.chunk.text,
      })),
    });
  });

  router.post('/ask', async (request, response) => {
    const knowledgeBaseId = (request.params as { knowledgeBaseId: string }).knowledgeBaseId;
    const body = parseRequest(askSchema, request.body);
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
      // Failures before the first event (unknown knowledge base, bad mode) are plain HTTP errors.
      const first = await events.next();
      if (body.stream === true) await streamEvents(response, first, events);
      else await respondWithJson(response, first, events);
    } finally {
      controller.abort();
      await events.return?.();
    }
  });

  return router;
}

function eventPayload(event: AnswerEvent): [string, unknown] {
  switch (event.type) {
    case 'sources':
      return ['sources', { sources: event.sources }];
    case 'text-delta':
      return ['text-delta', { delta: event.delta }];
    case 'end':
      return [
        'end',
        {
          answer: event.answer,
          citations: event.citations,
          invalidCitations: event.invalidCitations,
          mode: event.mode,
          timings: event.timings,
        },
      ];
    case 'error':
      return ['error', { code: event.code, message: event.message }];
  }
}

async function streamEvents(
  response: Response,
  first: IteratorResult<AnswerEvent>,
  events: AsyncIterator<AnswerEvent>,
): Promise<void> {
  const writer = new SseWriter(response);
  try {
    let current = first;
    while (!current.done && !writer.closed) {
      const [name, data] = eventPayload(current.value);
      await writer.send(name, data);
      current = await events.next();
    }
  } finally {
    writer.end();
  }
}

async function respondWithJson(
  response: Response,
  first: IteratorResult<AnswerEvent>,
  events: AsyncIterator<AnswerEvent>,
): Promise<void> {
  let sources: Source[] = [];
  let current = first;
  while (!current.done) {
    const event = current.value;
    if (event.type === 'sources') sources = event.sources;
    if (event.type === 'error') {
      sendError(response, new AppError(event.code as never, event.message));
      return;
    }
    if (event.type === 'end') {
      response.json({
        sources,
        answer: event.answer,
        citations: event.citations,
        invalidCitations: event.invalidCitations,
        mode: event.mode,
        timings: event.timings,
      });
      return;
    }
    current = await events.next();
  }
  // The client went away: nothing to send.
  if (!response.headersSent && !response.destroyed) response.status(499).end();
}
