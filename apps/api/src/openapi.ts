import { z } from 'zod';
import { apiRoutes, type ApiRoute } from './api-routes.js';
import { errorResponseSchema, openAiErrorResponseSchema } from './response-schemas.js';

/** The description's JSON Schema of a zod schema: zod's own converter (draft 2020-12, OpenAPI 3.1's dialect), as the input it accepts. */
function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  return rest;
}

const errorDescriptions: Record<number, string> = {
  400: 'A field is missing or wrong, or the body is malformed',
  401: 'No API key, or not a valid one',
  403: 'The key lacks the scope, the origin is not allowed, or (without keys) the Host is not a loopback name',
  404: 'No such knowledge base, document or key (or one the key may not see)',
  413: 'The body is over its limit',
  415: 'The body is not of the media type the route takes',
  429: 'Rate limit reached, or too many answers in progress for the key; see Retry-After',
  502: 'The model or embedding server failed',
  503: 'A dependency is unavailable, or the server is shutting down',
  504: 'The model server took too long',
};

function errorStatuses(route: ApiRoute): number[] {
  const statuses = new Set<number>([403, 429]);
  if (route.access !== 'public') statuses.add(401);
  if (route.path.includes(':') || route.path.startsWith('/v1/api-keys')) statuses.add(404);
  if (route.body !== undefined || route.query !== undefined || route.path.includes(':')) statuses.add(400);
  if (route.body !== undefined) {
    statuses.add(400).add(413).add(415);
  }
  if (route.answerStream === true || route.operationId === 'search') statuses.add(404).add(502).add(503).add(504);
  if (route.operationId === 'uploadDocuments') statuses.add(503);
  return [...statuses].sort((first, second) => first - second);
}

function operationOf(route: ApiRoute, routes: ApiRoute[]): Record<string, unknown> {
  const parameters: Array<Record<string, unknown>> = [];
  for (const match of route.path.matchAll(/:(\w+)/g)) {
    parameters.push({ name: match[1], in: 'path', required: true, schema: { type: 'string' } });
  }
  for (const [name, query] of Object.entries(route.query ?? {}))
    parameters.push({ name, in: 'query', required: false, description: query.description, schema: query.schema });
  const errorSchema = jsonSchemaOf(route.errorShape === 'openai' ? openAiErrorResponseSchema : errorResponseSchema);
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(route.responses)) {
    const content: Record<string, unknown> = {};
    if (response.text === true) content[response.mediaType ?? 'text/plain'] = { schema: { type: 'string' } };
    else if (response.schema !== undefined) content['application/json'] = { schema: jsonSchemaOf(response.schema) };
    if (response.alternative !== undefined) {
      // Before OpenAPI 3.2's itemSchema, the schema of an event stream describes one event.
      const { events } = response.alternative;
      content[response.alternative.mediaType] = {
        schema: {
          type: 'object',
          properties: { ...(events === null ? {} : { event: { type: 'string', enum: events } }), data: { type: 'string' } },
          required: events === null ? ['data'] : ['event', 'data'],
        },
      };
    }
    const links = Number(status) < 300 ? linksOf(route, routes) : undefined;
    responses[status] = {
      description: response.description,
      ...(Object.keys(content).length === 0 ? {} : { content }),
      ...(links === undefined ? {} : { links }),
    };
  }
  for (const status of errorStatuses(route)) {
    if (responses[String(status)] !== undefined) continue;
    responses[String(status)] = { description: errorDescriptions[status] ?? 'Error', content: { 'application/json': { schema: errorSchema } } };
  }
  const body = route.body;
  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    ...(route.access === 'public' ? { security: [] } : {}),
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(body === undefined
      ? {}
      : {
          requestBody: {
            required: true,
            content: { [body.mediaType]: { schema: body.mediaType === 'application/json' ? jsonSchemaOf(body.schema) : body.jsonSchema } },
          },
        }),
    responses,
  };
}

/**
 * OpenAPI links from the answers that make ids to the operations that take them: a knowledge base
 * made by createKnowledgeBase, a document made by uploadDocuments. Clients (and Schemathesis's
 * stateful phase) follow them.
 */
function linksOf(route: ApiRoute, routes: ApiRoute[]): Record<string, unknown> | undefined {
  const links: Record<string, unknown> = {};
  for (const target of routes) {
    const parameters = [...target.path.matchAll(/:(\w+)/g)].map((match) => match[1]!);
    if (route.operationId === 'createKnowledgeBase' && parameters.length === 1 && parameters[0] === 'knowledgeBaseId') {
      links[target.operationId] = { operationId: target.operationId, parameters: { knowledgeBaseId: '$response.body#/id' } };
    }
    if (route.operationId === 'uploadDocuments' && parameters.includes('documentId')) {
      links[target.operationId] = {
        operationId: target.operationId,
        parameters: { knowledgeBaseId: '$request.path.knowledgeBaseId', documentId: '$response.body#/data/0/id' },
      };
    }
  }
  return Object.keys(links).length === 0 ? undefined : links;
}

/** OpenAPI's `{name}` for Express's `:name`. */
export function openApiPath(path: string): string {
  return path.replace(/:(\w+)/g, '{$1}');
}

/**
 * The OpenAPI 3.1 description of the HTTP API, made from the route table (api-routes.ts) and the
 * zod schemas that validate the requests: what is served and what is described cannot drift.
 */
export function openApiDescription(routes: ApiRoute[] = apiRoutes): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = (paths[openApiPath(route.path)] ??= {});
    path[route.method.toLowerCase()] = operationOf(route, routes);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Passage',
      version: '0.1.0',
      description:
        'Question answering over your documents, with streamed answers cited to page and passage. Errors are `{error:{code,message}}` (OpenAI’s shape on /v1/chat/completions and /v1/models).',
    },
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (ADMIN_API_KEY, or one made with POST /v1/api-keys)' } },
    },
    security: [{ apiKey: [] }],
    paths,
  };
}
