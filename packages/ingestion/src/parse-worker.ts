/**
 * Entry point of the thread BoundedParser starts for one document: receives one request, answers
 * it (a parse: one reply; a preparation: the parse summary, the chunks in batches, then the end),
 * and is terminated. Importing this file anywhere else is a mistake.
 */
import { parentPort, threadId } from 'node:worker_threads';
import type { AnalyzerOptions } from '@passage/retrieval';
import { AppError, type ParsedDocument } from '@passage/spec';
import type { ChunkingOptions } from './chunk.js';
import { parseDocument, type DocumentMetadata } from './parse-document.js';
import { prepareParsedDocument, type PreparedChunk } from './prepare-document.js';

/** How a preparation chunks and analyzes; plain data, as it crosses to the thread. */
export interface PreparationSettings {
  chunking?: ChunkingOptions;
  /** The thread builds its analyzer with these. */
  analyzer: AnalyzerOptions;
}

export type ThreadRequest =
  | {
      kind: 'parse';
      /** The document's bytes, transferred to the thread. */
      bytes: ArrayBuffer;
      metadata: DocumentMetadata;
    }
  | { kind: 'prepare'; bytes: ArrayBuffer; metadata: DocumentMetadata; preparation: PreparationSettings };

export interface ParseFailure {
  name: string;
  /** The AppError code, when the error had one. */
  code?: string;
  message: string;
  details?: Record<string, unknown>;
}

export type ThreadReply =
  | { kind: 'parsed-document'; document: ParsedDocument }
  | { kind: 'parsed'; type: ParsedDocument['type']; pages: number; title?: string }
  | { kind: 'chunks'; chunks: PreparedChunk[] }
  /** The last reply of a preparation; `threadId` shows where the work ran. */
  | { kind: 'prepared'; chunks: number; threadId: number }
  | { kind: 'failed'; error: ParseFailure };

const port = parentPort;
if (port === null) throw new Error('parse-worker.ts runs only as a worker thread (see BoundedParser)');

port.once('message', (request: ThreadRequest) => {
  // answer() catches every failure of the work; a failure to post a reply itself becomes an
  // unhandled rejection, which ends the thread with an 'error' event that BoundedParser reports.
  void answer(request);
});

function reply(message: ThreadReply): void {
  port?.postMessage(message);
}

async function answer(request: ThreadRequest): Promise<void> {
  try {
    const document = await parseDocument(new Uint8Array(request.bytes), request.metadata);
    if (request.kind === 'parse') {
      reply({ kind: 'parsed-document', document });
      return;
    }
    reply({ kind: 'parsed', type: document.type, pages: document.pages.length, ...(document.title === undefined ? {} : { title: document.title }) });
    const { createAnalyzer } = await import('@passage/retrieval');
    const analyzer = createAnalyzer(request.preparation.analyzer);
    const chunks = prepareParsedDocument(document, analyzer, (batch) => reply({ kind: 'chunks', chunks: batch }), {
      ...(request.preparation.chunking === undefined ? {} : { chunking: request.preparation.chunking }),
    });
    reply({ kind: 'prepared', chunks, threadId });
  } catch (error) {
    reply({ kind: 'failed', error: describeFailure(error) });
  }
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
