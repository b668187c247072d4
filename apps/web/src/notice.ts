import { ApiError } from './api-client.js';
import { byId } from './dom.js';

/**
 * The page's one place for errors that belong to no single item (a failed create or delete, an
 * unreachable server): an alert region, so screen readers announce it. A 401 also opens the API
 * key field.
 */
export function showError(error: unknown): void {
  const notice = byId('notice', HTMLDivElement);
  notice.textContent = describeError(error);
  notice.hidden = false;
  if (error instanceof ApiError && error.status === 401) byId('api-key-panel', HTMLDetailsElement).open = true;
}

export function clearError(): void {
  const notice = byId('notice', HTMLDivElement);
  notice.hidden = true;
  notice.textContent = '';
}

/** An error in words, with its code when the API gave one. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return `The server needs an API key (${error.message}): enter it under "API key".`;
    if (error.status === 403) return `The API key may not do this (${error.message}).`;
    return `${error.message} (${error.code})`;
  }
  return error instanceof Error ? error.message : String(error);
}
