import type { IncomingMessage, ServerResponse } from 'node:http';
import { AbortedError, AppError } from '@passage/spec';

/** Largest JSON request body, in bytes: 1 MiB, for the Express routes and the answer endpoints alike. */
export const JSON_BODY_LIMIT_BYTES = 1024 * 1024;

/** The 413 answer to a body over its limit. */
export function payloadTooLarge(message = 'The request body is too large'): AppError {
  return new AppError('payload_too_large', message);
}

/** The body length the request declares in `Content-Length`, or undefined when it declares none (chunked). */
export function declaredLength(request: IncomingMessage): number | undefined {
  const header = request.headers['content-length'];
  if (header === undefined) return undefined;
  const length = Number(header);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

/** Whether the request carries a body: a `Content-Length` above zero, or a chunked body. */
export function hasBody(request: IncomingMessage): boolean {
  const length = declaredLength(request);
  return length === undefined ? request.headers['transfer-encoding'] !== undefined : length > 0;
}

/**
 * Gives up on the rest of a request body that will not be read to the end (refused, malformed or
 * failed mid-body): reading stops where it is, and the response is sent with `Connection: close`,
 * after which Node ends the socket once the response is flushed. The client stops sending, and
 * nothing reads (drains) the rest of the body. Without `response` (a caller that cannot pass it),
 * reading stops and the connection stays idle until the server's keep-alive timeout closes it.
 */
export function stopReadingBody(request: IncomingMessage, response: ServerResponse | undefined): void {
  request.pause();
  if (response !== undefined && !response.headersSent) response.setHeader('Connection', 'close');
}

/**
 * Reads and throws away the rest of a request body that was refused for a reason other than its
 * size (a malformed upload, a file in the wrong field), so that the connection can serve the next
 * request and clients that send the whole body before reading the answer still get it. More than
 * `limitBytes` discarded: the connection is destroyed instead.
 */
export function discardBody(request: IncomingMessage, limitBytes: number): void {
  let discarded = 0;
  const onData = (piece: Buffer) => {
    discarded += piece.length;
    if (discarded > limitBytes) {
      request.off('data', onData);
      request.destroy();
    }
  };
  request.on('data', onData);
  request.resume();
}

/**
 * Reads a whole request body of at most `limitBytes`, refusing it as the bytes arrive: a
 * `Content-Length` over the limit is refused before any byte is read, a chunked body at the first
 * byte over the limit; either way the connection is closed after the 413 (stopReadingBody). A
 * client that closes the connection mid-body rejects with `aborted`.
 */
export function readLimitedBody(request: IncomingMessage, limitBytes: number, response?: ServerResponse): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = declaredLength(request);
    if (declared !== undefined && declared > limitBytes) {
      stopReadingBody(request, response);
      reject(payloadTooLarge());
      return;
    }
    const pieces: Buffer[] = [];
    let length = 0;
    const detach = () => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    };
    const onData = (piece: Buffer) => {
      length += piece.length;
      if (length > limitBytes) {
        detach();
        stopReadingBody(request, response);
        reject(payloadTooLarge());
        return;
      }
      pieces.push(piece);
    };
    const onEnd = () => {
      detach();
      resolve(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, length));
    };
    const onError = (error: Error) => {
      detach();
      reject(new AbortedError(`The request body could not be read: ${error.message}`));
    };
    const onClose = () => {
      detach();
      reject(new AbortedError('The client closed the connection before the request body arrived'));
    };
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('error', onError);
    request.once('close', onClose);
  });
}
