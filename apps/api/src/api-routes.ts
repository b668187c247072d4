import { z } from 'zod';
import type { ApiKeyScope } from '@passage/spec';
import type { ErrorShape } from './http-errors.js';
import {
  apiKeyResponseSchema,
  askResponseSchema,
  chatCompletionResponseSchema,
  createdApiKeyResponseSchema,
  documentResponseSchema,
  eventLoopStatsResponseSchema,
  healthResponseSchema,
  knowledgeBaseResponseSchema,
  modelListResponseSchema,
  modelResponseSchema,
  readinessResponseSchema,
  searchResponseSchema,
  uploadResponseSchema,
} from './response-schemas.js';
import { askSchema } from './routes/ask-route.js';
import { createApiKeySchema } from './routes/api-key-routes.js';
import { chatCompletionSchema } from './routes/chat-completions-routes.js';
import { createKnowledgeBaseSchema } from './routes/knowledge-base-routes.js';
import { searchSchema } from './routes/search-routes.js';

/**
 * Who may call a route: a key with this scope (`read` < `ingest` < `admin`); `public`: anyone,
 * even with keys configured; `metrics`: METRICS_TOKEN, or an admin key.
 */
export type RouteAccess = ApiKeyScope | 'public' | 'metrics';

/** One HTTP route of the API: what it takes and answers, who may call it. */
export interface ApiRoute {
  method: 'GET' | 'POST' | 'DELETE';
  /** Express's path syntax (`:name` parameters). */
  path: string;
  access: RouteAccess;
  /** The path parameter that names a knowledge base: a key limited to others gets 404 here. */
  knowledgeBaseParameter?: string;
  /** Only a key that is not limited to knowledge bases may call it (it acts across them). */
  unrestrictedKey?: boolean;
  /** Whether it holds the connection for an answer stream (counted against MAX_STREAMS_PER_KEY). */
  answerStream?: boolean;
  errorShape: ErrorShape;
  operationId: string;
  summary: string;
  tag: string;
  body?: { mediaType: 'application/json'; schema: z.ZodType } | { mediaType: 'multipart/form-data'; jsonSchema: Record<string, unknown> };
  query?: Record<string, { description: string; schema: Record<string, unknown> }>;
  /** Successful answers: status → description and body (JSON unless `mediaType` says otherwise). */
  responses: Record<
    number,
    { description: string; schema?: z.ZodType; mediaType?: string; text?: true; alternative?: { mediaType: 'text/event-stream'; events: string[] | null } }
  >;
}

const knowledgeBase = { knowledgeBaseParameter: 'knowledgeBaseId' } as const;

const uploadBody = {
  mediaType: 'multipart/form-data',
  jsonSchema: {
    type: 'object',
    properties: {
      files: { type: 'array', items: { type: 'string', contentMediaType: 'application/octet-stream' }, minItems: 1 },
      replace: { type: 'string' },
      password: {
        type: 'array',
        items: { type: 'string' },
        description: 'Password of an encrypted PDF: once for every file, or once per file in their order; kept in memory only',
      },
    },
    required: ['files'],
  },
} as const;

/** An answer route's 200: one JSON object, or Server-Sent Events named `events` (null: unnamed `data:` lines, as OpenAI's). */
const answerStreamOrJson = (schema: z.ZodType, events: string[] | null) => ({
  description: 'The answer: one JSON object, or Server-Sent Events with `stream: true`',
  schema,
  alternative: { mediaType: 'text/event-stream' as const, events },
});

/**
 * Every route of the HTTP API, in one table: app.ts serves them, http-gate.ts refuses anything
 * else under /v1 (404, or 405 for a known path) and applies the access rules, and openapi.ts
 * describes them from the same zod schemas that validate the requests.
 */
export const apiRoutes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/healthz',
    access: 'public',
    errorShape: 'passage',
    operationId: 'health',
    summary: 'Alive: the process answers',
    tag: 'operations',
    responses: { 200: { description: 'Alive', schema: healthResponseSchema } },
  },
  {
    method: 'GET',
    path: '/readyz',
    access: 'public',
    errorShape: 'passage',
    operationId: 'readiness',
    summary: 'Ready: catalog, index, queue and the model server (when configured) answer',
    tag: 'operations',
    responses: {
      200: { description: 'Every dependency is up', schema: readinessResponseSchema },
      503: { description: 'A dependency is down', schema: readinessResponseSchema },
    },
  },
  {
    method: 'GET',
    path: '/metrics',
    access: 'metrics',
    errorShape: 'passage',
    operationId: 'metrics',
    summary: 'Prometheus metrics (text exposition format)',
    tag: 'operations',
    responses: { 200: { description: 'Metrics', mediaType: 'text/plain', text: true } },
  },
  {
    method: 'GET',
    path: '/openapi.json',
    access: 'public',
    errorShape: 'passage',
    operationId: 'openApiDescription',
    summary: 'This description',
    tag: 'operations',
    responses: { 200: { description: 'OpenAPI 3.1', schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: 'GET',
    path: '/v1/stats/event-loop',
    access: 'admin',
    errorShape: 'passage',
    operationId: 'eventLoopStats',
    summary: 'Event-loop delay since the last reset (benchmarks)',
    tag: 'operations',
    responses: { 200: { description: 'Figures', schema: eventLoopStatsResponseSchema } },
  },
  {
    method: 'POST',
    path: '/v1/stats/event-loop/reset',
    access: 'admin',
    errorShape: 'passage',
    operationId: 'resetEventLoopStats',
    summary: 'Starts a new measuring period of the event-loop delay',
    tag: 'operations',
    responses: { 204: { description: 'Reset' } },
  },
  {
    method: 'POST',
    path: '/v1/api-keys',
    access: 'admin',
    unrestrictedKey: true,
    errorShape: 'passage',
    operationId: 'createApiKey',
    summary: 'Creates an API key; the answer is the only time the key is shown',
    tag: 'keys',
    body: { mediaType: 'application/json', schema: createApiKeySchema },
    responses: { 201: { description: 'The new key, with `key`', schema: createdApiKeyResponseSchema } },
  },
  {
    method: 'GET',
    path: '/v1/api-keys',
    access: 'admin',
    unrestrictedKey: true,
    errorShape: 'passage',
    operationId: 'listApiKeys',
    summary: 'Lists the API keys (never the keys themselves)',
    tag: 'keys',
    responses: { 200: { description: 'Keys', schema: z.object({ data: z.array(apiKeyResponseSchema) }) } },
  },
  {
    method: 'DELETE',
    path: '/v1/api-keys/:keyId',
    access: 'admin',
    unrestrictedKey: true,
    errorShape: 'passage',
    operationId: 'revokeApiKey',
    summary: 'Revokes an API key at once',
    tag: 'keys',
    responses: { 204: { description: 'Revoked' } },
  },
  {
    method: 'POST',
    path: '/v1/knowledge-bases',
    access: 'admin',
    unrestrictedKey: true,
    errorShape: 'passage',
    operationId: 'createKnowledgeBase',
    summary: 'Creates a knowledge base',
    tag: 'knowledge bases',
    body: { mediaType: 'application/json', schema: createKnowledgeBaseSchema },
    responses: { 201: { description: 'Created', schema: knowledgeBaseResponseSchema } },
  },
  {
    method: 'GET',
    path: '/v1/knowledge-bases',
    access: 'read',
    errorShape: 'passage',
    operationId: 'listKnowledgeBases',
    summary: 'Lists the knowledge bases the key may see',
    tag: 'knowledge bases',
    responses: { 200: { description: 'Knowledge bases', schema: z.object({ data: z.array(knowledgeBaseResponseSchema) }) } },
  },
  {
    method: 'GET',
    path: '/v1/knowledge-bases/:knowledgeBaseId',
    access: 'read',
    ...knowledgeBase,
    errorShape: 'passage',
    operationId: 'getKnowledgeBase',
    summary: 'A knowledge base, with a running reindex',
    tag: 'knowledge bases',
    responses: { 200: { description: 'The knowledge base', schema: knowledgeBaseResponseSchema } },
  },
  {
    method: 'DELETE',
    path: '/v1/knowledge-bases/:knowledgeBaseId',
    access: 'admin',
    ...knowledgeBase,
    errorShape: 'passage',
    operationId: 'deleteKnowledgeBase',
    summary: 'Deletes a knowledge base with its documents, index and originals',
    tag: 'knowledge bases',
    responses: { 204: { description: 'Deleted' } },
  },
  {
    method: 'POST',
    path: '/v1/knowledge-bases/:knowledgeBaseId/documents',
    access: 'ingest',
    ...knowledgeBase,
    errorShape: 'passage',
    operationId: 'uploadDocuments',
    summary: 'Uploads files (multipart field `files`, repeatable)',
    tag: 'documents',
    body: uploadBody,
    query: { replace: { description: 'A document id, or `true`: the newest document of the same name', schema: { type: 'string' } } },
    responses: {
      200: { description: 'Every file was a duplicate', schema: uploadResponseSchema },
      202: { description: 'Queued', schema: uploadResponseSchema },
    },
  },
  {
    method: 'GET',
    path: '/v1/knowledge-bases/:knowledgeBaseId/documents',
    access: 'read',
    ...knowledgeBase,
    errorShape: 'passage',
    operationId: 'listDocuments',
    summary: 'Lists the documents with their status',
    tag: 'documents',
    responses: { 200: { description: 'Documents', schema: z.object({ data: z.array(documentResponseSchema) }) } },
  },
  {
    method: 'GET',
    path: '/v1/knowledge-bases/:knowledgeBaseId/documents/:documentId',
    access: 'read',
    ...knowledgeBase,
    errorShape: 'passage',
    operationId: 'getDocument',
    summary: 'A document with its status and progress',
    tag: 'documents',
    responses: { 200: { description: 'The document', schema: documentResponseSchema } },
  },
  {
    method: 'DELETE',
    path: '/v1/knowledge-bases/:knowledgeBaseId/documents/:documentId',
    access: 'ingest',
    ...knowledgeBase,
    errorShape: 'passage',
    operationId: 'deleteDocument',
    summary: 'Deletes a document; its chunks leave every search before the answer',
    tag: 'documents',
    responses: { 204: { description: 'Deleted' } },
  },
  {
    method: 'POST',
    path: '/v1/knowledge-bases/:knowledgeBaseId/search',
    access: 'read',
    ...knowledgeBase,
    errorShape: 'passage',
    operationId: 'search',
    summary: 'Retrieves passages',
    tag: 'answers',
    body: { mediaType: 'application/json', schema: searchSchema },
    responses: { 200: { description: 'Passages, best first', schema: searchResponseSchema } },
  },
  {
    method: 'POST',
    path: '/v1/knowledge-bases/:knowledgeBaseId/ask',
    access: 'read',
    ...knowledgeBase,
    answerStream: true,
    errorShape: 'passage',
    operationId: 'ask',
    summary: 'Answers a question with cited passages',
    tag: 'answers',
    body: { mediaType: 'application/json', schema: askSchema },
    responses: { 200: answerStreamOrJson(askResponseSchema, ['sources', 'text-delta', 'end', 'error']) },
  },
  {
    method: 'POST',
    path: '/v1/chat/completions',
    access: 'read',
    answerStream: true,
    errorShape: 'openai',
    operationId: 'createChatCompletion',
    summary: 'OpenAI-compatible chat completion; `model` is a knowledge base id',
    tag: 'openai',
    body: { mediaType: 'application/json', schema: chatCompletionSchema },
    responses: { 200: answerStreamOrJson(chatCompletionResponseSchema, null) },
  },
  {
    method: 'GET',
    path: '/v1/models',
    access: 'read',
    errorShape: 'openai',
    operationId: 'listModels',
    summary: 'The knowledge bases the key may see, as OpenAI models',
    tag: 'openai',
    responses: { 200: { description: 'Models', schema: modelListResponseSchema } },
  },
  {
    method: 'GET',
    path: '/v1/models/:model',
    access: 'read',
    knowledgeBaseParameter: 'model',
    errorShape: 'openai',
    operationId: 'getModel',
    summary: 'A knowledge base as an OpenAI model',
    tag: 'openai',
    responses: { 200: { description: 'The model', schema: modelResponseSchema } },
  },
];
