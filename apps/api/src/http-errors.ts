import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler } from 'express';
import multer from 'multer';
import { AppError, toAppError, type ErrorCode, type Logger } from '@passage/spec';
import { sendJson } from './send-json.js';

/** The one place where error codes become HTTP statuses. */
const statusByCode: Partial<Record<ErrorCode, number>> = {
  invalid_request: 400,
  too_many_files: 400,
  not_found: 404,
  knowledge_base_not_found: 404,
  document_not_found: 404,
  unauthorized: 401,
  forbidden: 403,
  method_not_allowed: 405,
  reindex_in_progress: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unsupported_type: 415,
  empty_document: 422,
  pdf_password_required: 422,
  pdf_password_wrong: 422,
  pdf_corrupt: 422,
  pdf_no_text_layer: 422,
  document_corrupt: 422,
  ocr_unavailable: 422,
  ocr_failed: 422,
  ocr_timeout: 422,
  parse_failed: 422,
  parse_timeout: 422,
  parse_resource_limit: 422,
  llm_authentication_failed: 502,
  llm_failed: 502,
  embedding_failed: 502,
  rerank_failed: 502,
  llm_rate_limited: 503,
  llm_unavailable: 503,
  service_unavailable: 503,
  shutting_down: 503,
  llm_timeout: 504,
  aborted: 499,
  internal_error: 500,
};

export function statusOf(code: string): number {
  return statusByCode[code as ErrorCode] ?? 500;
}

/** Longest error message sent, in characters: a message that quotes the request never sends a large input back. */
const maxMessageCharacters = 1000;

function messageOf(error: AppError): string {
  return error.message.length <= maxMessageCharacters ? error.message : `${error.message.slice(0, maxMessageCharacters)}…`;
}

export function sendError(response: ServerResponse, error: AppError): void {
  if (error.retryAfterSeconds !== undefined) response.setHeader('Retry-After', String(Math.ceil(error.retryAfterSeconds)));
  sendJson(response, statusOf(error.code), { error: { code: error.code, message: messageOf(error) } });
}

/** OpenAI's error body: `type` says the family, `code` names the error, `param` the field at fault. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

/**
 * An AppError in the shape of OpenAI's API, for the OpenAI-compatible routes: same status as
 * everywhere; `code` is the service's code, except an unknown knowledge base, which there is an
 * unknown model (`model_not_found`, param `model`).
 */
export function openAiErrorBody(error: AppError): OpenAiErrorBody {
  const status = statusOf(error.code);
  const modelNotFound = error.code === 'knowledge_base_not_found';
  const detailParam = error.details?.['param'];
  const param = modelNotFound ? 'model' : typeof detailParam === 'string' ? detailParam : null;
  return {
    error: {
      message: messageOf(error),
      type: status < 500 ? 'invalid_request_error' : 'server_error',
      param,
      code: modelNotFound ? 'model_not_found' : error.code,
    },
  };
}

export function sendOpenAiError(response: ServerResponse, error: AppError): void {
  if (error.retryAfterSeconds !== undefined) response.setHeader('Retry-After', String(Math.ceil(error.retryAfterSeconds)));
  sendJson(response, statusOf(error.code), openAiErrorBody(error));
}

/** Errors from Express's own parsers and multer, as AppErrors. */
export function fromFrameworkError(error: unknown): AppError {
  if (error instanceof multer.MulterError) {
    switch (error.code) {
      case 'LIMIT_FILE_SIZE':
        return new AppError('payload_too_large', `A file is larger than the limit (${error.field ?? 'files'})`);
      case 'LIMIT_FILE_COUNT':
        return new AppError('too_many_files', 'Too many files in one upload');
      case 'LIMIT_UNEXPECTED_FILE':
        return new AppError('invalid_request', `Unexpected file field "${error.field ?? ''}"; send files in the field "files"`);
      default:
        return new AppError('invalid_request', `Upload rejected: ${error.message}`);
    }
  }
  const candidate = error as { type?: string; status?: number; message?: string };
  if (candidate.type === 'entity.parse.failed') return new AppError('invalid_request', 'The request body is not valid JSON');
  if (candidate.type === 'entity.too.large') return new AppError('payload_too_large', 'The request body is too large');
  if (typeof candidate.status === 'number' && candidate.status >= 400 && candidate.status < 500) {
    return new AppError('invalid_request', candidate.message ?? 'Bad request');
  }
  if (candidate.message?.startsWith('Multipart:') || candidate.message === 'Unexpected end of form') {
    return new AppError('invalid_request', `Malformed multipart body: ${candidate.message}`);
  }
  return toAppError(error);
}

/** How a route's errors look: `{error:{code,message}}`, or OpenAI's shape. */
export type ErrorShape = 'passage' | 'openai';

/**
 * The error response of the whole HTTP stack (Express's error handler and the answer endpoints):
 * any error as an AppError with its status, in the route's shape; server errors are logged.
 * Returns false when the response had already started and could not carry it.
 */
export function respondWithError(logger: Logger, shape: ErrorShape, error: unknown, request: IncomingMessage, url: string, response: ServerResponse): boolean {
  const appError = fromFrameworkError(error);
  if (statusOf(appError.code) >= 500) logger.error({ err: error, method: request.method, url }, 'request failed');
  if (response.headersSent) return false;
  if (shape === 'openai') sendOpenAiError(response, appError);
  else sendError(response, appError);
  return true;
}

/** Express's error handler: respondWithError in the given shape. */
export function errorHandler(logger: Logger, shape: ErrorShape = 'passage'): ErrorRequestHandler {
  return (error, request, response, next) => {
    if (!respondWithError(logger, shape, error, request, request.originalUrl, response)) next(error);
  };
}
