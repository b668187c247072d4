import OpenAI from 'openai';
import { AbortedError, AppError, type ErrorCode } from '@passage/spec';

/** Maps the openai SDK's errors to the service's codes, saying which are worth retrying and after how long. */
export function mapOpenAiError(error: unknown, what: 'llm' | 'embedding'): AppError {
  if (error instanceof AppError) return error;
  const failed: ErrorCode = what === 'llm' ? 'llm_failed' : 'embedding_failed';
  const label = what === 'llm' ? 'The language model' : 'The embedding model';
  if (error instanceof OpenAI.APIUserAbortError) return new AbortedError();
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new AppError(what === 'llm' ? 'llm_timeout' : failed, `${label} did not answer in time`, { retryable: true, cause: error });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new AppError(what === 'llm' ? 'llm_unavailable' : failed, `${label} server cannot be reached: ${error.message}`, {
      retryable: true,
      cause: error,
    });
  }
  if (error instanceof OpenAI.APIError) {
    // instanceof narrows to APIError<any, any, any>: the fields are typed as the SDK declares them.
    const status = error.status as number | undefined;
    const headers = error.headers as Headers | undefined;
    const detail = error.message;
    if (status === 401 || status === 403) {
      return new AppError(what === 'llm' ? 'llm_authentication_failed' : failed, `${label} rejected the credentials (HTTP ${status}): ${detail}`, {
        cause: error,
      });
    }
    if (status === 429) {
      const retryAfter = retryAfterSeconds(headers);
      return new AppError(what === 'llm' ? 'llm_rate_limited' : failed, `${label} is rate limited (HTTP 429): ${detail}`, {
        retryable: true,
        cause: error,
        ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
      });
    }
    const retryable = status === undefined || status === 408 || status === 409 || status >= 500;
    const retryAfter = retryable ? retryAfterSeconds(headers) : undefined;
    return new AppError(failed, `${label} failed${status === undefined ? '' : ` (HTTP ${status})`}: ${detail}`, {
      retryable,
      cause: error,
      ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
    });
  }
  if (error instanceof Error && error.name === 'AbortError') return new AbortedError();
  const message = error instanceof Error ? error.message : String(error);
  return new AppError(failed, `${label} failed: ${message}`, { retryable: false, cause: error });
}

function retryAfterSeconds(headers: Headers | undefined): number | undefined {
  // `retry-after-ms` is not standard, but OpenAI and some gateways send it.
  const milliseconds = Number(headers?.get('retry-after-ms') ?? Number.NaN);
  if (Number.isFinite(milliseconds)) return Math.max(0, milliseconds / 1000);
  const value = headers?.get('retry-after');
  if (value === null || value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}
