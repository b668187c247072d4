import { createRequire } from 'node:module';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AbortedError, DocumentError, errorCodes, throwIfAborted, type DocumentParser, type ErrorCode, type ParsedDocument } from '@passage/spec';
import type { DocumentMetadata } from './parse-document.js';
import type { OcrPageStart } from './ocr.js';
import type { BatchAcknowledgement, ParseFailure, PreparationSettings, ThreadReply, ThreadRequest } from './parse-worker.js';
import type { ParsedSummary, PreparedChunk } from './prepare-document.js';

/** A document parsed, chunked and analyzed by {@link BoundedParser.prepare}. */
export interface PreparedDocument extends ParsedSummary {
  chunks: PreparedChunk[];
  /** The thread that did the work (never the caller's). */
  threadId: number;
}

export type { PreparationSettings } from './parse-worker.js';
export type { ParsedSummary, PreparedChunk } from './prepare-document.js';

export interface BoundedParserOptions {
  /**
   * Wall-clock limit per parse, in milliseconds, thread start included. A page read by OCR moves
   * it to at least twice that page's own limit (OCR_PAGE_TIMEOUT_MS) after the page starts.
   * Default: 120000.
   */
  timeoutMs?: number;
  /**
   * Heap limit of the parsing thread (V8 old generation), in MiB; the young generation adds an
   * eighth of it, at most 64 MiB. Memory outside the heap, which V8 does not limit (pdf.js keeps
   * decoded streams in ArrayBuffers), is bounded too: the parse is stopped when the process's
   * resident memory has grown, since the parse started, by more than 256 MiB plus twice this
   * limit for each parse in flight, plus what the calling thread's own heap grew by meanwhile.
   * Default: 512.
   */
  memoryMb?: number;
  /** The module the thread runs. Default: parse-worker. Tests give one whose parse never ends. */
  threadEntry?: URL;
}

const defaultTimeoutMs = 120_000;
const defaultMemoryMb = 512;
const stackSizeMb = 8;
/** Resident memory of a thread besides its heap: the isolate, pdf.js's code, the document's copies. */
const threadOverheadMb = 256;
const memoryCheckIntervalMs = 100;
const mebibyte = 1024 * 1024;
/** Built into dist/ (`npm run build`) this module is JavaScript, and so is the thread's entry. */
const compiled = import.meta.url.endsWith('.js');
const workerUrl = new URL(compiled ? './parse-worker.js' : './parse-worker.ts', import.meta.url);

/**
 * Worker threads do not get the tsx hooks that `--import tsx` installs in this process (tsx
 * issue #354 on Node 20: the thread fails with "Unknown file extension .ts"), so the thread
 * registers tsx itself before it loads parse-worker.ts. pdf.js (3 MB of JavaScript, resolved from
 * pdf-parse like parse-pdf.ts does) is loaded natively first: through tsx's loader it costs about
 * a second per thread instead of 0.1 s, and later imports of it hit the module cache.
 */
const pdfParseRequire = createRequire(createRequire(import.meta.url).resolve('pdf-parse'));
const nativelyLoadedModules = ['pdfjs-dist/legacy/build/pdf.mjs', 'pdfjs-dist/legacy/build/pdf.worker.mjs'].map(
  (specifier) => pathToFileURL(pdfParseRequire.resolve(specifier)).href,
);
function threadBootstrap(entry: URL): string {
  if (compiled) return `import(${JSON.stringify(entry.href)});`;
  return `
Promise.all(${JSON.stringify(nativelyLoadedModules)}.map((url) => import(url)))
  .then(() => import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}))
  .then((tsx) => {
    tsx.register();
    return import(${JSON.stringify(entry.href)});
  });
`;
}
const workerBootstrap = threadBootstrap(workerUrl);

/** Parses running in this process, across BoundedParser instances: they share its memory. */
let parsesInFlight = 0;

/**
 * Parses (and prepares) each document in a thread of its own, bounded in time and memory, so
 * that a hostile file costs one thread and never the process. The calling thread never parses,
 * chunks or analyzes.
 */
export class BoundedParser implements DocumentParser {
  readonly #timeoutMs: number;
  readonly #memoryMb: number;
  readonly #bootstrap: string;

  constructor(options: BoundedParserOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    this.#memoryMb = options.memoryMb ?? defaultMemoryMb;
    this.#bootstrap = options.threadEntry === undefined ? workerBootstrap : threadBootstrap(options.threadEntry);
    if (!(Number.isFinite(this.#timeoutMs) && this.#timeoutMs > 0)) {
      throw new RangeError(`timeoutMs must be a positive number of milliseconds, got ${this.#timeoutMs}`);
    }
    if (!(Number.isFinite(this.#memoryMb) && this.#memoryMb > 0)) {
      throw new RangeError(`memoryMb must be a positive number of MiB, got ${this.#memoryMb}`);
    }
  }

  /**
   * Rejects with DocumentError (the document's own failure, or parse_timeout,
   * parse_resource_limit, parse_failed) or AbortedError. The caller's bytes are copied, not
   * detached.
   */
  async parse(bytes: Uint8Array, metadata: DocumentMetadata, signal?: AbortSignal): Promise<ParsedDocument> {
    let document: ParsedDocument | undefined;
    await this.#run({ kind: 'parse', bytes: copyBytes(bytes), metadata: threadMetadata(metadata) }, signal, (reply) => {
      if (reply.kind !== 'parsed-document') return false;
      document = reply.document;
      return true;
    });
    return document!;
  }

  /**
   * Parses, chunks and analyzes a document in one thread, bounded like {@link parse} (the time
   * limit covers the parse; chunking and analysis take time in proportion to the text, which the
   * upload limit bounds). The chunks arrive in batches, each a message of bounded size, so the
   * calling thread never handles the whole document in one step. `onParsed` runs once the
   * document is parsed; its promise is awaited before this resolves. `onOcrPage` hears of each
   * page whose OCR starts (its promise is not awaited: progress only).
   */
  async prepare(
    bytes: Uint8Array,
    metadata: DocumentMetadata,
    preparation: PreparationSettings,
    signal?: AbortSignal,
    onParsed?: (summary: ParsedSummary) => unknown,
    onOcrPage?: (page: OcrPageStart) => unknown,
  ): Promise<PreparedDocument> {
    let summary: ParsedSummary | undefined;
    let parsedHandled: unknown;
    const chunks: PreparedChunk[] = [];
    let threadId = -1;
    const request: ThreadRequest = { kind: 'prepare', bytes: await copyBytesInSlices(bytes, signal), metadata: threadMetadata(metadata), preparation };
    await this.#run(request, signal, (reply, parseDone, acknowledge) => {
      if (reply.kind === 'ocr-page') {
        void Promise.resolve(onOcrPage?.(reply)).catch(() => undefined);
        return false;
      }
      if (reply.kind === 'parsed') {
        summary = { type: reply.type, pages: reply.pages, ...(reply.title === undefined ? {} : { title: reply.title }) };
        parseDone();
        parsedHandled = onParsed?.(summary);
        return false;
      }
      // A loop rather than a spread: a spread of a big batch goes through the stack.
      if (reply.kind === 'chunks') {
        for (const chunk of reply.chunks) chunks.push(chunk);
        acknowledge();
      }
      if (reply.kind !== 'prepared') return false;
      threadId = reply.threadId;
      if (reply.chunks !== chunks.length) throw new DocumentError('parse_failed', `The thread announced ${reply.chunks} chunks but sent ${chunks.length}`);
      return true;
    });
    await parsedHandled;
    if (summary === undefined) throw new DocumentError('parse_failed', 'The thread prepared a document it did not report as parsed');
    return { ...summary, chunks, threadId };
  }

  /**
   * Runs one request in a new thread until `onReply` returns true for one of its replies (or
   * throws); a `failed` reply rejects. `parseDone` stops the time limit; `acknowledge` tells the
   * thread that a batch of chunks was taken in, so it sends the next.
   */
  async #run(
    request: ThreadRequest,
    signal: AbortSignal | undefined,
    onReply: (reply: Exclude<ThreadReply, { kind: 'failed' }>, parseDone: () => void, acknowledge: () => void) => boolean,
  ): Promise<void> {
    throwIfAborted(signal);
    let settle: { resolve: () => void; reject: (error: Error) => void } | undefined;
    const outcome = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // The executor above ran synchronously.
    const { resolve, reject } = settle!;
    const memoryLimitError = (cause?: unknown) =>
      new DocumentError(
        'parse_resource_limit',
        `Parsing needed more than ${this.#memoryMb} MiB of memory and was stopped`,
        cause === undefined ? {} : { cause },
      );

    let timer: NodeJS.Timeout | undefined = undefined;
    const started = performance.now();
    let deadline = started + this.#timeoutMs;
    const timeLimitError = () => new DocumentError('parse_timeout', `Parsing took longer than ${Math.round(deadline - started) / 1000} s and was stopped`);
    const parseDone = () => clearTimeout(timer);
    const onMessage = (reply: ThreadReply) => {
      if (reply.kind === 'failed') {
        reject(toDocumentError(reply.error));
        return;
      }
      if (reply.kind === 'ocr-page') {
        // Each OCR page has a limit of its own for rendering and for reading (the tools are
        // killed past it): the parse's limit makes room for both, so a long scan is not cut short.
        deadline = Math.max(deadline, performance.now() + 2 * reply.pageTimeoutMs);
        clearTimeout(timer);
        timer = setTimeout(() => reject(timeLimitError()), deadline - performance.now());
      }
      try {
        if (onReply(reply, parseDone, acknowledge)) resolve();
      } catch (error) {
        reject(error as Error);
      }
    };
    const onMessageError = (error: Error) => {
      reject(new DocumentError('parse_failed', `The parsing thread's answer could not be read: ${error.message}`, { cause: error }));
    };
    const onError = (error: Error) => {
      if ('code' in error && error.code === 'ERR_WORKER_OUT_OF_MEMORY') reject(memoryLimitError(error));
      else reject(new DocumentError('parse_failed', `The parsing thread failed: ${error.message}`, { cause: error }));
    };
    const onExit = (exitCode: number) => {
      reject(new DocumentError('parse_failed', `The parsing thread stopped (exit code ${exitCode}) without an answer`));
    };
    const onAbort = () => reject(new AbortedError());
    const acknowledgement: BatchAcknowledgement = { kind: 'next-batch' };
    const acknowledge = () => worker.postMessage(acknowledgement);

    const worker = new Worker(this.#bootstrap, {
      eval: true,
      resourceLimits: {
        maxOldGenerationSizeMb: this.#memoryMb,
        maxYoungGenerationSizeMb: Math.min(64, Math.ceil(this.#memoryMb / 8)),
        stackSizeMb,
      },
    });
    parsesInFlight += 1;
    const atStart = process.memoryUsage();
    const memoryWatch = setInterval(() => {
      // Resident memory is the whole process's: what this thread's own heap took in meanwhile (the
      // chunks it collects, say) is not the parse's, so it is allowed on top.
      const now = process.memoryUsage();
      const callerGrowth = Math.max(0, now.heapTotal + now.external - atStart.heapTotal - atStart.external);
      const allowedGrowth = parsesInFlight * (threadOverheadMb + 2 * this.#memoryMb) * mebibyte + callerGrowth;
      if (now.rss - atStart.rss > allowedGrowth) reject(memoryLimitError());
    }, memoryCheckIntervalMs);
    timer = setTimeout(() => reject(timeLimitError()), this.#timeoutMs);

    worker.on('message', onMessage);
    worker.on('messageerror', onMessageError);
    worker.on('error', onError);
    worker.on('exit', onExit);
    signal?.addEventListener('abort', onAbort, { once: true });

    try {
      try {
        worker.postMessage(request, [request.bytes]);
      } catch (error) {
        reject(new DocumentError('parse_failed', 'The document could not be handed to the parsing thread', { cause: error }));
      }
      await outcome;
    } finally {
      clearTimeout(timer);
      clearInterval(memoryWatch);
      signal?.removeEventListener('abort', onAbort);
      // The first event decides; later ones (the exit this terminate causes, an error racing the
      // answer) settle nothing. The listeners stay until the thread is gone because an 'error'
      // event without a listener would crash this process.
      await worker.terminate();
      parsesInFlight -= 1;
      worker.off('message', onMessage);
      worker.off('messageerror', onMessageError);
      worker.off('error', onError);
      worker.off('exit', onExit);
    }
  }
}

/** A copy in a buffer of its own: transferring detaches it, and `Buffer#slice` would share memory. */
function copyBytes(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

/** Bytes copied between two turns of the event loop by {@link copyBytesInSlices}. */
const copySliceBytes = 4 * mebibyte;

/** {@link copyBytes} for a document of any size: in slices, the event loop free between them. */
async function copyBytesInSlices(bytes: Uint8Array, signal: AbortSignal | undefined): Promise<ArrayBuffer> {
  if (bytes.byteLength <= copySliceBytes) return copyBytes(bytes);
  const copy = new Uint8Array(bytes.byteLength);
  for (let offset = 0; offset < bytes.byteLength; offset += copySliceBytes) {
    copy.set(bytes.subarray(offset, offset + copySliceBytes), offset);
    await yieldToEventLoop();
    throwIfAborted(signal);
  }
  return copy.buffer;
}

function threadMetadata(metadata: DocumentMetadata): DocumentMetadata {
  return {
    fileName: metadata.fileName,
    mediaType: metadata.mediaType ?? null,
    ...(metadata.password === undefined ? {} : { password: metadata.password }),
    ...(metadata.ocr === undefined ? {} : { ocr: metadata.ocr }),
  };
}

function isErrorCode(code: string): code is ErrorCode {
  return (errorCodes as readonly string[]).includes(code);
}

/** Rebuilds the error the thread reported; one without a known code is a parse_failed. */
function toDocumentError(failure: ParseFailure): DocumentError {
  if (failure.code !== undefined && isErrorCode(failure.code)) {
    return new DocumentError(failure.code, failure.message, failure.details === undefined ? {} : { details: failure.details });
  }
  return new DocumentError('parse_failed', `Parsing failed: ${failure.name}: ${failure.message}`);
}
