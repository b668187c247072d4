import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router } from 'express';
import { z } from 'zod';
import { AppError, InvalidRequestError, NotFoundError, type ChatMessage, type KnowledgeBase } from '@passage/spec';
import type { Runtime } from '@passage/runtime';
import { respondToAnswer } from '../answer-session.js';
import { chatCompletion, ChatCompletionChunks, type CompletionIdentity } from '../chat-completion-chunks.js';
import { collectAnswer, endAbandoned } from '../collect-answer.js';
import { errorFromEvent } from '../error-from-event.js';
import { openAiErrorBody, sendOpenAiError } from '../http-errors.js';
import { maySeeKnowledgeBase, noteQuestion } from '../request-context.js';
import { sendJson } from '../send-json.js';
import { streamAnswer, type AnswerEventRenderers } from '../stream-answer.js';

const textPart = z.object({ type: z.string(), text: z.string().optional() });

const messageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(textPart), z.null()]).optional(),
});

export const chatCompletionSchema = z.object({
  model: z.string().trim().min(1).max(200),
  messages: z.array(messageSchema).min(1).max(1000),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  n: z.literal(1).nullish(),
});

/** Same limits as `/ask`. */
const maxQuestionCharacters = 8000;
const maxHistoryCharacters = 32_000;
const maxHistoryTurns = 100;

/**
 * The OpenAI-compatible face of answering: `POST /v1/chat/completions`, where `model` names a
 * knowledge base by id, and `GET /v1/models`, which lists knowledge bases. Any OpenAI client can
 * ask questions; the passages come in an extra `sources` field (first chunk, or the completion),
 * the checked citations in `citations` and `invalid_citations` (last chunk, or the completion).
 *
 * `GET /v1/models[/:model]` are Express routes; `POST /v1/chat/completions` is served before
 * Express (app.ts, answer-endpoints.ts) by `chatCompletionHandler`.
 */
export function modelRoutes(runtime: Runtime): Router {
  const router = Router();

  router.get('/models', async (request, response) => {
    const knowledgeBases = await runtime.catalog.listKnowledgeBases();
    response.json({ object: 'list', data: knowledgeBases.filter((knowledgeBase) => maySeeKnowledgeBase(request, knowledgeBase.id)).map(modelOf) });
  });

  router.get('/models/:model', async (request, response) => {
    const knowledgeBase = await runtime.catalog.getKnowledgeBase(request.params.model);
    if (knowledgeBase === null) throw modelNotFound(request.params.model);
    response.json(modelOf(knowledgeBase));
  });

  return router;
}

export function chatCompletionHandler(runtime: Runtime) {
  return async (_parameters: Record<string, string>, requestBody: unknown, request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const body = parseChatCompletion(requestBody);
    // A key limited to other knowledge bases is told what it would be told of one that does not exist.
    if (!maySeeKnowledgeBase(request, body.model)) throw modelNotFound(body.model);
    const { question, history } = conversationOf(body.messages);
    noteQuestion(request, question);
    const includeUsage = body.stream === true && body.stream_options?.include_usage === true;
    try {
      await respondToAnswer(
        response,
        (signal) => runtime.answers.answer({ knowledgeBaseId: body.model, question, history, signal }),
        async (head, events) => {
          const completion: CompletionIdentity = { id: `chatcmpl-${randomUUID()}`, created: Math.floor(Date.now() / 1000), model: body.model };
          if (body.stream === true) {
            await streamAnswer(
              response,
              head,
              events,
              chunkRenderers(new ChatCompletionChunks(completion, includeUsage), includeUsage),
              runtime.config.SSE_HEARTBEAT_MS,
            );
            return;
          }
          const collected = await collectAnswer(head, events);
          if (collected === null) endAbandoned(response);
          else if (collected.kind === 'error') sendOpenAiError(response, errorFromEvent(collected.error));
          else sendJson(response, 200, chatCompletion(completion, collected.sources, collected.end));
        },
      );
    } catch (error) {
      if (error instanceof AppError && error.code === 'knowledge_base_not_found' && !response.headersSent) {
        throw modelNotFound(body.model);
      }
      throw error;
    }
  };
}

/** The answer events as `chat.completion.chunk`s: the stop chunk is followed by the usage chunk (when asked for) and `[DONE]`. */
function chunkRenderers(chunks: ChatCompletionChunks, includeUsage: boolean): AnswerEventRenderers {
  return {
    sources: (sources) => chunks.first(sources),
    textDelta: (delta) => chunks.delta(delta),
    end: (event) => `${chunks.stop(event.citations, event.invalidCitations)}${includeUsage ? chunks.usage(event.usage) : ''}${ChatCompletionChunks.done}`,
    error: (event) => ChatCompletionChunks.error(openAiErrorBody(errorFromEvent(event))),
  };
}

function modelNotFound(model: string): NotFoundError {
  return new NotFoundError('knowledge_base_not_found', `The model \`${model.slice(0, 200)}\` does not exist: no knowledge base has that id`);
}

function modelOf(knowledgeBase: KnowledgeBase) {
  return {
    id: knowledgeBase.id,
    object: 'model',
    created: Math.floor(Date.parse(knowledgeBase.createdAt) / 1000),
    owned_by: 'passage',
    name: knowledgeBase.name,
  };
}

function parseChatCompletion(value: unknown): z.infer<typeof chatCompletionSchema> {
  const result = chatCompletionSchema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue?.path.map(String).join('.') ?? '';
  throw new InvalidRequestError(`${param === '' ? 'body' : param}: ${issue?.message ?? 'invalid value'}`, param === '' ? undefined : { param });
}

function textOf(content: z.infer<typeof messageSchema>['content'], param: string): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  return content
    .map((part, position) => {
      if (part.type !== 'text' || part.text === undefined) {
        throw new InvalidRequestError(`${param}.${position}: only text content parts are supported`, { param: `${param}.${position}` });
      }
      return part.text;
    })
    .join('');
}

/**
 * The last message is the question and must come from the user; earlier user and assistant turns
 * are the history (the newest 100). System, developer and tool messages are ignored: the service
 * writes its own instructions, which keep the answer to the cited passages.
 */
function conversationOf(messages: Array<z.infer<typeof messageSchema>>): { question: string; history: ChatMessage[] } {
  const lastPosition = messages.length - 1;
  const last = messages[lastPosition];
  if (last?.role !== 'user') {
    throw new InvalidRequestError('messages: the last message must have the role "user"; it is the question', { param: 'messages' });
  }
  const question = textOf(last.content, `messages.${lastPosition}.content`).trim();
  if (question.length === 0) throw new InvalidRequestError('messages: the last user message is empty', { param: `messages.${lastPosition}.content` });
  if (question.length > maxQuestionCharacters) {
    throw new InvalidRequestError(`messages: the question is longer than ${maxQuestionCharacters} characters`, { param: `messages.${lastPosition}.content` });
  }
  const history: ChatMessage[] = [];
  messages.slice(0, lastPosition).forEach((message, position) => {
    if (message.role !== 'user' && message.role !== 'assistant') return;
    const content = textOf(message.content, `messages.${position}.content`);
    if (content.length > maxHistoryCharacters) {
      throw new InvalidRequestError(`messages.${position}.content: longer than ${maxHistoryCharacters} characters`, { param: `messages.${position}.content` });
    }
    if (content.trim().length > 0) history.push({ role: message.role, content });
  });
  return { question, history: history.slice(-maxHistoryTurns) };
}
