import { storedApiKey } from './api-key.js';
import type { AcceptedDocument, ErrorBody } from './api-types.js';

/** An error answered by the API (`{"error":{code,message}}`), or a request that never got an answer. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A path of the API, relative to the page, so the page works wherever the API serves it. */
export function apiUrl(path: string): string {
  return new URL(path.replace(/^\//, ''), document.baseURI).href;
}

/** The headers every request carries: the API key as a Bearer header when one is set, never in a URL. */
export function authorizationHeaders(): Record<string, string> {
  const key = storedApiKey();
  return key === null ? {} : { authorization: `Bearer ${key}` };
}

/** The error of a response that is not ok, read from its body. */
export async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text();
  return errorFromBody(response.status, text);
}

function errorFromBody(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { error?: Partial<ErrorBody> };
    if (body.error?.code !== undefined && body.error.message !== undefined) return new ApiError(status, body.error.code, body.error.message);
  } catch {
    // Not JSON (a proxy's page, say): the status and the start of the text say what happened.
  }
  return new ApiError(status, `http_${status}`, `HTTP ${status}${text === '' ? '' : `: ${text.slice(0, 200)}`}`);
}

/** A JSON request; resolves to the parsed body (undefined for 204), rejects with an ApiError. */
export async function requestJson<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authorizationHeaders() };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(apiUrl(path), { method, headers, body: body === undefined ? null : JSON.stringify(body), signal: signal ?? null });
  } catch (error) {
    if (signal?.aborted === true) throw error;
    throw new ApiError(0, 'network_error', `The server could not be reached (${String(error)})`);
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/**
 * Uploads one file into a knowledge base. XMLHttpRequest rather than fetch: only it reports the
 * progress of a request body. `onProgress` gets the fraction sent, 0 to 1.
 */
export function uploadFile(knowledgeBaseId: string, file: File, onProgress: (fraction: number) => void, signal: AbortSignal): Promise<AcceptedDocument> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', apiUrl(`v1/knowledge-bases/${encodeURIComponent(knowledgeBaseId)}/documents`));
    for (const [name, value] of Object.entries(authorizationHeaders())) request.setRequestHeader(name, value);
    request.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    request.addEventListener('load', () => {
      if (request.status >= 200 && request.status < 300) {
        const body = JSON.parse(request.responseText) as { data: AcceptedDocument[] };
        const accepted = body.data[0];
        if (accepted === undefined) reject(new ApiError(request.status, 'invalid_response', 'The server accepted the upload but named no document'));
        else resolve(accepted);
      } else {
        reject(errorFromBody(request.status, request.responseText));
      }
    });
    request.addEventListener('error', () => reject(new ApiError(0, 'network_error', 'The upload was cut off: the server could not be reached')));
    request.addEventListener('abort', () => reject(new DOMException('The upload was cancelled', 'AbortError')));
    signal.addEventListener('abort', () => request.abort(), { once: true });
    const form = new FormData();
    form.append('files', file, file.name);
    request.send(form);
  });
}
