import type { IncomingMessage } from 'node:http';
import type { ApiRoute } from './api-routes.js';
import type { Principal } from './authenticate.js';

/** What the HTTP gate learnt about a request, for the handlers and the request log. */
export interface RequestContext {
  requestId: string;
  /** The described route it matched; null for a path outside the API (the web page, a 404). */
  route: ApiRoute | null;
  /** Who called; null before authentication or on a public route. */
  principal: Principal | null;
  /** The question of an answer route, for the request log when LOG_QUESTIONS is set. */
  question?: string;
}

const contexts = new WeakMap<IncomingMessage, RequestContext>();

export function setRequestContext(request: IncomingMessage, context: RequestContext): void {
  contexts.set(request, context);
}

export function requestContextOf(request: IncomingMessage): RequestContext | undefined {
  return contexts.get(request);
}

/** The caller of a request; without a gate in front (tests that build the app alone), anyone. */
export function principalOf(request: IncomingMessage): Principal | null {
  return contexts.get(request)?.principal ?? null;
}

/**
 * Whether the caller of `request` may see a knowledge base: a key limited to knowledge bases
 * sees only those; unlimited keys and an unauthenticated service see every one.
 */
export function maySeeKnowledgeBase(request: IncomingMessage, knowledgeBaseId: string): boolean {
  const limited = principalOf(request)?.knowledgeBases;
  return limited === null || limited === undefined || limited.has(knowledgeBaseId);
}

/** Notes the question of an answer request (logged only with LOG_QUESTIONS=true). */
export function noteQuestion(request: IncomingMessage, question: string): void {
  const context = contexts.get(request);
  if (context !== undefined) context.question = question;
}
