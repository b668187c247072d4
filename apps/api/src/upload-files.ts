import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import type { RequestHandler } from 'express';
import { AbortedError, AppError, InvalidRequestError, toAppError } from '@passage/spec';
import { declaredLength, discardBody, hasBody, payloadTooLarge, stopReadingBody } from './body-limit.js';

/** Text fields one upload may carry besides its files. */
const maxFields = 20;
/** Largest text field value, in bytes. */
const maxFieldBytes = 16 * 1024;
/**
 * Bytes a multipart request may carry besides its files' contents: boundaries, part headers
 * (busboy allows 16 KiB each) and the text fields. 2 MiB covers the largest valid request.
 */
export const MULTIPART_ALLOWANCE_BYTES = 2 * 1024 * 1024;

export interface UploadLimits {
  /** Largest file, in bytes (MAX_UPLOAD_BYTES); a file one byte larger is refused with 413. */
  maxFileBytes: number;
  /** Most files in one request (MAX_FILES_PER_UPLOAD); one more is refused with `too_many_files`. */
  maxFiles: number;
}

export interface UploadOptions extends UploadLimits {
  /** Folder the files are written to while the request runs (created by the caller). */
  directory: string;
  /** The multipart field that carries the files; a file in any other field is refused. */
  field: string;
}

/** A file received in full, with the names multer used (the upload handler reads `request.files`). */
export interface UploadedFile {
  fieldname: string;
  originalname: string;
  encoding: string;
  mimetype: string;
  /** Bytes written. */
  size: number;
  /** SHA-256 of the bytes written, hex, computed as they arrived (duplicate uploads are found by it). */
  sha256: string;
  destination: string;
  filename: string;
  /** Where the file is, in `directory`; the handler moves or removes it. */
  path: string;
}

/**
 * Largest request a valid upload can be: every file at the limit plus MULTIPART_ALLOWANCE_BYTES.
 * A `Content-Length` above it is refused before any of the body is read.
 */
export function largestUploadBytes(limits: UploadLimits): number {
  return limits.maxFiles * limits.maxFileBytes + MULTIPART_ALLOWANCE_BYTES;
}

interface FileInFlight {
  source: Readable;
  output: WriteStream;
  /** Settles when the file is written or its write failed; not when both streams are destroyed. */
  written: Promise<void>;
}

/** Destroys both streams of a write and resolves once the file is closed, so that it can be removed. */
function abandon(file: FileInFlight): Promise<void> {
  if (file.output.closed) return Promise.resolve();
  // Not the pipeline's promise: it never settles for a source destroyed after its last push.
  const closed = new Promise<void>((resolve) => file.output.once('close', () => resolve()));
  file.source.destroy();
  file.output.destroy();
  return closed;
}

/**
 * Express middleware that streams a multipart upload to `directory`, enforcing its limits as the
 * bytes arrive. Too large: a `Content-Length` over largestUploadBytes is refused before any byte
 * is read; a file that passes `maxFileBytes`, a field that passes 16 KiB or a body that passes
 * largestUploadBytes stops the reading at once, and the 413 closes the connection
 * (stopReadingBody). Refused for another reason (a file too many, a file in another field, a
 * malformed body): answered at once, while the rest of the body is read and thrown away within
 * largestUploadBytes (discardBody), so that clients that send the whole body before reading get
 * the answer. On every failure the partial file and the files already written by this request
 * are removed before the error reaches the error handler. On success, `request.files` lists the
 * files (UploadedFile) and `request.body` the text fields (a repeated name gives an array). A
 * request that is not multipart passes through, its body thrown away within the same limit.
 */
export function uploadFiles(options: UploadOptions): RequestHandler {
  const largestRequest = largestUploadBytes(options);
  return (request, response, next) => {
    if (!request.is('multipart')) {
      // Nobody reads this body (the handler answers that no file came): within the upload limit.
      if (hasBody(request) && !request.complete) discardBody(request, largestRequest);
      next();
      return;
    }
    const declared = declaredLength(request);
    if (declared !== undefined && declared > largestRequest) {
      stopReadingBody(request, response);
      next(
        payloadTooLarge(
          `The upload is ${declared} bytes, over the largest possible upload of ${largestRequest} bytes (${options.maxFiles} files of ${options.maxFileBytes} bytes)`,
        ),
      );
      return;
    }
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: request.headers,
        defParamCharset: 'utf8',
        // busboy reports a limit when it is reached; one more lets exactly the limit through.
        limits: { fileSize: options.maxFileBytes + 1, files: options.maxFiles, fields: maxFields, fieldSize: maxFieldBytes + 1 },
      });
    } catch (error) {
      discardBody(request, largestRequest);
      next(new InvalidRequestError(`Malformed multipart request: ${(error as Error).message}`));
      return;
    }

    const files: UploadedFile[] = [];
    /** Every file this request created, complete or not: all of them go when it fails. */
    const created: string[] = [];
    const inFlight = new Set<FileInFlight>();
    const fields: Record<string, string | string[]> = {};
    let received = 0;
    let settled = false;

    const removeFiles = async () => {
      await Promise.all([...inFlight].map(abandon));
      parser.destroy();
      await Promise.all(created.map((file) => rm(file, { force: true })));
    };

    const fail = (error: AppError) => {
      if (settled) return;
      settled = true;
      request.unpipe(parser);
      request.off('data', countBytes);
      if (error.code === 'payload_too_large') stopReadingBody(request, response);
      else discardBody(request, largestRequest - received);
      removeFiles().then(
        () => next(error),
        (removeError: unknown) => next(removeError),
      );
    };

    const succeed = () => {
      if (settled) return;
      settled = true;
      request.off('data', countBytes);
      Object.assign(request, { files, body: fields });
      next();
    };

    const countBytes = (piece: Buffer) => {
      received += piece.length;
      if (received > largestRequest) fail(payloadTooLarge(`The upload is over the largest possible upload of ${largestRequest} bytes`));
    };

    parser.on('file', (name, source, info) => {
      // A file stream fails when the body is malformed, which the parser reports itself, or when
      // a failure destroys the parser (parser.destroy in removeFiles), whose cause is reported.
      source.on('error', (error) => {
        if (!settled) fail(new InvalidRequestError(`Malformed multipart body: ${error.message}`));
      });
      if (settled) {
        source.resume();
        return;
      }
      if (name !== options.field) {
        source.resume();
        fail(new InvalidRequestError(`Unexpected file field "${name}"; send files in the field "${options.field}"`));
        return;
      }
      const filename = randomBytes(16).toString('hex');
      const file: UploadedFile = {
        fieldname: name,
        originalname: info.filename ?? '',
        encoding: info.encoding,
        mimetype: info.mimeType,
        size: 0,
        sha256: '',
        destination: options.directory,
        filename,
        path: path.join(options.directory, filename),
      };
      created.push(file.path);
      // Listed in the order of the form, whichever write ends first.
      files.push(file);
      const output = createWriteStream(file.path);
      const hash = createHash('sha256');
      source.on('data', (piece: Buffer) => hash.update(piece));
      source.once('limit', () => {
        fail(payloadTooLarge(`"${file.originalname}" is over the limit of ${options.maxFileBytes} bytes per file (MAX_UPLOAD_BYTES)`));
      });
      const inFlightFile: FileInFlight = {
        source,
        output,
        written: pipeline(source, output).then(
          () => {
            inFlight.delete(inFlightFile);
            file.size = output.bytesWritten;
            file.sha256 = hash.digest('hex');
          },
          (error: unknown) => {
            inFlight.delete(inFlightFile);
            // After a failure, every write is cut on purpose: the failure is already reported.
            if (!settled) fail(toAppError(error));
          },
        ),
      };
      inFlight.add(inFlightFile);
    });
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) {
        fail(payloadTooLarge(`The field "${name}" is over the limit of ${maxFieldBytes} bytes`));
        return;
      }
      const previous = fields[name];
      fields[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
    });
    parser.on('filesLimit', () => fail(new AppError('too_many_files', `More than ${options.maxFiles} files in one upload (MAX_FILES_PER_UPLOAD)`)));
    parser.on('fieldsLimit', () => fail(new InvalidRequestError(`More than ${maxFields} text fields in one upload`)));
    parser.on('error', (error: Error) => fail(new InvalidRequestError(`Malformed multipart body: ${error.message}`)));
    parser.on('close', () => {
      Promise.allSettled([...inFlight].map((file) => file.written)).then(succeed, succeed);
    });
    request.once('close', () => {
      if (!request.complete) fail(new AbortedError('The client closed the connection during the upload'));
    });
    request.on('data', countBytes);
    request.pipe(parser);
  };
}
