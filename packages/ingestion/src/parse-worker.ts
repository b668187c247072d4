/**
 * Entry point of the thread BoundedParser starts for one document: receives one request, answers
 * it (a parse: one reply; a preparation: the parse summary, the chunks in batches, then the end),
 * and is terminated. Importing this file anywhere else is a mistake.
 */
import { parentPort, threadId } from 'node:worker_threads';
import type { AnalyzerOptions } from '@passage/retrieval';
import { AppError, lowerThisThreadsPriority, type ParsedDocument } from '@passage/spec';
import type { ChunkingOptions } from './chunk.js';
import { listenToOcrPages, type OcrPageStart } from './ocr.js';
import { parseDocument, type DocumentMetadata } from './parse-document.js';
import { preparedBatches, type PreparedChunk } from './prepare-document.js';

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

/**
 * Sent by the calling thread once it has taken in a batch of chunks: the thread then sends the
 * next one. Without it the batches would queue up, and Node delivers every queued message of a
 * port in one turn of the event loop, which would hold the caller for the whole document.
 */
export interface BatchAcknowledgement {
  kind: 'next-batch';
}

/** Batches a preparation sends before it waits for an acknowledgement. */
const batchesInFlight = 2;

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
  /** OCR of a page is starting: the time limit makes room for it. */
  | ({ kind: 'ocr-page' } & OcrPageStart)
  | { kind: 'chunks'; chunks: PreparedChunk[] }
  /** The last reply of a preparation; `threadId` shows where the work ran. */
  | { kind: 'prepared'; chunks: number; threadId: number }
  | { kind: 'failed'; error: ParseFailure };

const port = parentPort;
if (port === null) throw new Error('parse-worker.ts runs only as a worker thread (see BoundedParser)');
// Parsing, OCR and chunking yield the CPU to the event loop's thread of the process.
lowerThisThreadsPriority();

port.once('message', (request: ThreadRequest) => {
  // answer() catches every failure of the work; a failure to post a reply itself becomes an
  // unhandled rejection, which ends the thread with an 'error' event that BoundedParser reports.
  void answer(request);
});

/** Batches the calling thread has taken in, and the wait for the next of them. */
let acknowledged = 0;
let onAcknowledged: (() => void) | null = null;
port.on('message', (message: ThreadRequest | BatchAcknowledgement) => {
  if (message.kind !== 'next-batch') return;
  acknowledged += 1;
  onAcknowledged?.();
});

/** Resolves once fewer than {@link batchesInFlight} of the `sent` batches await an acknowledgement. */
async function roomForBatch(sent: number): Promise<void> {
  while (sent - acknowledged >= batchesInFlight) {
    await new Promise<void>((resolve) => {
      onAcknowledged = resolve;
    });
    onAcknowledged = null;
  }
}

function reply(message: ThreadReply): void {
  port?.postMessage(message);
}

async function answer(request: ThreadRequest): Promise<void> {
  try {
    listenToOcrPages((page) => reply({ kind: 'ocr-page', ...page }));
    const document = await parseDocument(new Uint8Array(request.bytes), request.metadata);
    if (request.kind === 'parse') {
      reply({ kind: 'parsed-document', document });
      return;
    }
    reply({ kind: 'parsed', type: document.type, pages: document.pages.length, ...(document.title === undefined ? {} : { title: document.title }) });
    const { createAnalyzer } = await import('@passage/retrieval');
    const analyzer = createAnalyzer(request.preparation.analyzer);
    const batches = preparedBatches(document, analyzer, {
      ...(request.preparation.chunking === undefined ? {} : { chunking: request.preparation.chunking }),
    });
    let sent = 0;
    for (let next = batches.next(); ; next = batches.next()) {
      if (next.done === true) {
        reply({ kind: 'prepared', chunks: next.value, threadId });
        return;
      }
      await roomForBatch(sent);
      reply({ kind: 'chunks', chunks: next.value });
      sent += 1;
    }
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
