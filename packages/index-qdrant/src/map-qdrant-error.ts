import { AbortedError, AppError } from '@passage/spec';

/** What the REST client throws for an HTTP error answer (openapi-typescript-fetch's ApiError). */
interface HttpErrorShape {
  status: number;
  headers?: Headers;
  data?: { status?: { error?: string } };
}

export function httpStatusOf(error: unknown): number | undefined {
  const status = (error as Partial<HttpErrorShape> | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/**
 * Maps a failed Qdrant request to an AppError: the caller's abort stays an abort; a timeout, a
 * connection failure, 408/409/429 and 5xx are retryable service_unavailable (honouring
 * Retry-After); any other 4xx is a request Qdrant refused, which retrying will not fix.
 */
export function mapQdrantError(error: unknown, what: string, context: { signal?: AbortSignal; timedOut?: boolean; timeoutMs?: number }): AppError {
  if (error instanceof AppError) return error;
  if (context.signal?.aborted) return new AbortedError();
  if (context.timedOut) {
    return new AppError('service_unavailable', `Qdrant did not answer ${what} within ${context.timeoutMs} ms`, { retryable: true, cause: error });
  }
  const status = httpStatusOf(error);
  if (status === undefined) {
    const detail = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    return new AppError('service_unavailable', `Qdrant cannot be reached (${what}): ${detail}`, { retryable: true, cause: error });
  }
  const shape = error as HttpErrorShape;
  const detail = shape.data?.status?.error ?? (error instanceof Error ? error.message : 'no detail');
  const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
  const retryAfter = Number(shape.headers?.get('retry-after') ?? Number.NaN);
  return new AppError(retryable ? 'service_unavailable' : 'internal_error', `Qdrant refused ${what} (HTTP ${status}): ${detail}`, {
    retryable,
    cause: error,
    ...(retryable && Number.isFinite(retryAfter) ? { retryAfterSeconds: Math.max(0, retryAfter) } : {}),
  });
}
