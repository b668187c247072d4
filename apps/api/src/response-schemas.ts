import { z } from 'zod';
import { apiKeyScopes, documentStatuses, ingestionStages } from '@passage/spec';

/**
 * The bodies the API answers with, as zod schemas: the OpenAPI description (openapi.ts) is made
 * from them, and Schemathesis checks every answer against it.
 */
export const errorResponseSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

export const openAiErrorResponseSchema = z.object({
  error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string() }),
});

export const knowledgeBaseResponseSchema = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  generation: z.number().int(),
  embeddingModel: z.string().nullable(),
  reindex: z
    .object({
      targetGeneration: z.number().int(),
      embeddingModel: z.string().nullable(),
      startedAt: z.string(),
      running: z.boolean(),
      documentsTotal: z.number().int(),
      documentsDone: z.number().int(),
      documentsFailed: z.number().int(),
      chunks: z.number().int(),
    })
    .nullable(),
});

export const documentResponseSchema = z.object({
  id: z.string(),
  knowledgeBaseId: z.string(),
  name: z.string(),
  bytes: z.number().int(),
  type: z.string().nullable(),
  status: z.enum(documentStatuses),
  progress: z.object({ stage: z.enum(ingestionStages), done: z.number(), total: z.number() }),
  pages: z.number().int().nullable(),
  chunks: z.number().int().nullable(),
  replaces: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const uploadResponseSchema = z.object({
  data: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      bytes: z.number().int(),
      status: z.enum(documentStatuses),
      duplicate: z.boolean(),
      replaces: z.string().optional(),
    }),
  ),
});

export const searchResponseSchema = z.object({
  data: z.array(
    z.object({
      chunkId: z.string(),
      documentId: z.string(),
      documentName: z.string(),
      page: z.number().int(),
      start: z.number().int(),
      end: z.number().int(),
      score: z.number(),
      text: z.string(),
    }),
  ),
});

const sourceSchema = z.object({
  index: z.number().int(),
  documentId: z.string(),
  documentName: z.string(),
  page: z.number().int(),
  chunkId: z.string(),
  score: z.number(),
  text: z.string(),
});

export const askResponseSchema = z.object({
  sources: z.array(sourceSchema),
  answer: z.string(),
  citations: z.array(z.number().int()),
  invalidCitations: z.array(z.number().int()),
  mode: z.enum(['llm', 'extractive']),
  timings: z.object({ retrievalMs: z.number(), rerankMs: z.number().nullable(), firstTokenMs: z.number().nullable(), totalMs: z.number() }),
});

export const chatCompletionResponseSchema = z.object({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(z.object({ index: z.number().int(), message: z.object({ role: z.literal('assistant'), content: z.string() }), finish_reason: z.string() })),
  usage: z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() }),
  sources: z.array(sourceSchema),
  citations: z.array(z.number().int()),
  invalid_citations: z.array(z.number().int()),
});

export const modelResponseSchema = z.object({ id: z.string(), object: z.literal('model'), created: z.number().int(), owned_by: z.string(), name: z.string() });

export const modelListResponseSchema = z.object({ object: z.literal('list'), data: z.array(modelResponseSchema) });

export const apiKeyResponseSchema = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(apiKeyScopes)),
  knowledgeBases: z.array(z.string()).nullable(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
});

/** The one answer that carries the key itself. */
export const createdApiKeyResponseSchema = apiKeyResponseSchema.extend({ key: z.string() });

export const healthResponseSchema = z.object({ status: z.literal('ok'), mode: z.enum(['llm', 'extractive']) });

export const readinessResponseSchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.record(z.string(), z.object({ status: z.enum(['up', 'down', 'not_configured']), message: z.string().optional() })),
});

export const eventLoopStatsResponseSchema = z.object({
  p50Ms: z.number(),
  p99Ms: z.number(),
  maxMs: z.number(),
  meanMs: z.number(),
  samples: z.number().int(),
  sinceMs: z.number(),
  resolutionMs: z.number(),
});
