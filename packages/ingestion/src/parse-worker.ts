/**
 * Entry point of the thread BoundedParser starts for one parse: receives one request, answers
 * once. Importing this file anywhere else is a mistake.
 */
import { parentPort } from 'node:worker_threads';
import { AppError, type ParsedDocument } from '@passage/spec';
import { parseDocument, type DocumentMetadata } from './parse-document.js';

export interface ParseRequest {
  /** The document's bytes, transferred to the thread. */
  bytes: ArrayBuffer;
  metadata: DocumentMetadata;
}

export interface ParseFailure {
  name: string;
  /** The AppError code, when the error had one. */
  code?: string;
  message: string;
  details?: Record<string, unknown>;
}

export type ParseReply = { ok: true; document: ParsedDocument } | { ok: false; error: ParseFailure };

const port = parentPort;
if (port === null) throw new Error('parse-worker.ts runs only as a worker thread (see BoundedParser)');

port.once('message', (request: ParseRequest) => {
  // answer() catches every parse failure; a failure to post the reply itself becomes an unhandled
  // rejection, which ends the thread with an 'error' event that BoundedParser reports.
  void answer(request);
});

async function answer(request: ParseRequest): Promise<void> {
  let reply: ParseReply;
  try {
    reply = { ok: true, document: await parseDocument(new Uint8Array(request.bytes), request.metadata) };
  } catch (error) {
    reply = { ok: false, error: describeFailure(error) };
  }
  port?.postMessage(reply);
}

function describeFailure(error: unknown): ParseFailure {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  if (!(error instanceof AppError)) return { name: error.name, message: error.message };
  return {
    name: error.name,
    code: error.code,
    message: error.message,
    ...(error.details === undefined ? {} : { details: error.details }),
  };
}
