/**
 * One error hierarchy for the whole service. Every error that can reach a user carries a stable
 * `code` (snake_case, part of the public API) and says whether retrying the same work can succeed.
 * The HTTP layer maps codes to statuses in one place; the queue layer maps `retryable: false` to a
 * job that fails at once.
 */

/** The codes with which a document ends `failed`. */
export const documentErrorCodes = [
  'unsupported_type',
  'empty_document',
  'pdf_password_required',
  'pdf_password_wrong',
  'pdf_corrupt',
  'pdf_no_text_layer',
  'document_corrupt',
  'ocr_unavailable',
  'ocr_failed',
  'ocr_timeout',
  'parse_timeout',
  'parse_resource_limit',
  'parse_failed',
  'file_missing',
] as const;

export const errorCodes = [
  // Request errors (4xx)
  'invalid_request',
  'not_found',
  'knowledge_base_not_found',
  'document_not_found',
  'payload_too_large',
  'too_many_files',
  'reindex_in_progress',
  'unauthorized',
  'forbidden',
  'method_not_allowed',
  'unsupported_media_type',
  'rate_limited',
  ...documentErrorCodes,
  // Upstream model errors
  'llm_unavailable',
  'llm_authentication_failed',
  'llm_rate_limited',
  'llm_timeout',
  'llm_failed',
  'embedding_failed',
  'rerank_failed',
  // Server side
  'generation_not_found',
  'service_unavailable',
  'shutting_down',
  'internal_error',
  'aborted',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

export interface AppErrorOptions {
  /** Whether doing the same work again may succeed. Default: false. */
  retryable?: boolean;
  /** Seconds after which a retry makes sense, when the cause said so (HTTP Retry-After). */
  retryAfterSeconds?: number;
  cause?: unknown;
  /** Extra machine-readable detail, safe to show to the client. */
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** A bad request from the client: never retryable. */
export class InvalidRequestError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid_request', message, details === undefined ? {} : { details });
    this.name = 'InvalidRequestError';
  }
}

export class NotFoundError extends AppError {
  constructor(code: 'not_found' | 'knowledge_base_not_found' | 'document_not_found', message: string) {
    super(code, message);
    this.name = 'NotFoundError';
  }
}

/** The request conflicts with work under way (a second reindex of one knowledge base). */
export class ConflictError extends AppError {
  constructor(code: 'reindex_in_progress', message: string, details?: Record<string, unknown>) {
    super(code, message, details === undefined ? {} : { details });
    this.name = 'ConflictError';
  }
}

/** The reindex lock of a knowledge base is held by another process whose lease still runs. */
export function reindexInProgressError(knowledgeBaseId: string, state: { targetGeneration: number; owner: string; leaseExpiresAt: string }): ConflictError {
  return new ConflictError(
    'reindex_in_progress',
    `Knowledge base ${knowledgeBaseId} is being reindexed into generation ${state.targetGeneration} by ${state.owner} ` +
      `(lease until ${state.leaseExpiresAt}); wait for it to finish, or run again after the lease expires to resume it`,
    { targetGeneration: state.targetGeneration, owner: state.owner, leaseExpiresAt: state.leaseExpiresAt },
  );
}

/**
 * An index write or search addressed a generation that does not exist (never created, or dropped
 * after a reindex switched away from it). Writers skip it; searches read the live generation again.
 */
export class GenerationNotFoundError extends AppError {
  constructor(knowledgeBaseId: string, generation: number) {
    super('generation_not_found', `Generation ${generation} of knowledge base ${knowledgeBaseId} does not exist in the index`);
    this.name = 'GenerationNotFoundError';
  }
}

/** The input document cannot be turned into text. Never retryable: the same bytes fail again. */
export class DocumentError extends AppError {
  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(code, message, { ...options, retryable: false });
    this.name = 'DocumentError';
  }
}

/** Configuration is invalid; names the variable. Raised at boot. */
export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

/** The work was cancelled through its AbortSignal. */
export class AbortedError extends AppError {
  constructor(message = 'The operation was aborted') {
    super('aborted', message);
    this.name = 'AbortedError';
  }
}

/** Turns anything thrown into an AppError without losing the original as `cause`. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof Error && error.name === 'AbortError') return new AbortedError();
  const message = error instanceof Error ? error.message : String(error);
  return new AppError('internal_error', message || 'Unexpected error', { cause: error });
}

/** Throws AbortedError when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError();
}
