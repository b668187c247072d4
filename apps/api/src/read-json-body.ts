import type { IncomingMessage } from 'node:http';
import { AppError, InvalidRequestError } from '@passage/spec';

/**
 * Reads a JSON request body as `express.json()` does for the routes served without Express: only
 * for a JSON content type (anything else reads as no body), at most `limitBytes`, an object or an
 * array. An empty body is `{}`.
 */
export async function readJsonBody(request: IncomingMessage, limitBytes: number): Promise<unknown> {
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    request.resume();
    return undefined;
  }
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge();
  const pieces: Buffer[] = [];
  let length = 0;
  for await (const piece of request as AsyncIterable<Buffer>) {
    length += piece.length;
    if (length > limitBytes) throw tooLarge();
    pieces.push(piece);
  }
  if (length === 0) return {};
  const text = (pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, length)).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidRequestError('The request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null) throw new InvalidRequestError('The request body is not valid JSON');
  return value;
}

function tooLarge(): AppError {
  return new AppError('payload_too_large', 'The request body is too large');
}
