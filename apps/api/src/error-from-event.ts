import type { AnswerServiceEvent } from '@passage/answering';
import { AppError, type ErrorCode } from '@passage/spec';

/** The AppError an `error` answer event stands for, to answer a request that was not streamed. */
export function errorFromEvent(event: Extract<AnswerServiceEvent, { type: 'error' }>): AppError {
  return new AppError(event.code as ErrorCode, event.message, event.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: event.retryAfterSeconds });
}
