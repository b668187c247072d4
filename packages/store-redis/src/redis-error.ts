import { AppError } from '@passage/spec';

/**
 * Turns a Redis failure into an AppError. An error reply from the server (a script or command
 * refused) is a bug on our side: internal_error. Anything else (refused or lost connection,
 * retries per request exhausted) is an outage: service_unavailable, retryable.
 */
export function toRedisError(error: unknown, what: string): AppError {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error && error.name === 'ReplyError') {
    return new AppError('internal_error', `Redis refused a ${what} command: ${message}`, { cause: error });
  }
  return new AppError('service_unavailable', `Redis (${what}) is unavailable: ${message}`, { retryable: true, cause: error });
}
