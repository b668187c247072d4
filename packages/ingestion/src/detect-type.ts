import path from 'node:path';
import { DocumentError, type DocumentType } from '@passage/spec';
import { fileTypeFromBuffer } from 'file-type';
import { decodeUtf8Text } from './parse-text.js';

const supportedTypes =
  'supported: PDF, Word (.docx), PowerPoint (.pptx), Excel (.xlsx), CSV, e-mail (.eml), images (PNG, JPEG, TIFF, WebP, BMP, GIF), plain text, Markdown, HTML';

/** Binary formats recognised by `file-type` from their bytes (Office Open XML by the parts of the zip). */
const typeByMediaType = new Map<string, DocumentType>([
  ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'docx'],
  ['application/vnd.openxmlformats-officedocument.presentationml.presentation', 'pptx'],
  ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'xlsx'],
  ['image/png', 'image'],
  ['image/jpeg', 'image'],
  ['image/tiff', 'image'],
  ['image/webp', 'image'],
  ['image/bmp', 'image'],
  ['image/gif', 'image'],
]);
const pdfSignature = '%PDF-';
/** PDF readers accept the signature anywhere in the first 1024 bytes (junk before it is common). */
const pdfSignatureWindow = 1024;

/**
 * Formats that are valid UTF-8 text but not prose: `file-type` recognises them by their first
 * bytes. Its other matches on text are false positives of two-byte signatures (a text starting
 * with "BM" is not a bitmap), so text is only rejected for these.
 */
const textBasedUnsupportedMediaTypes = new Set(['application/rtf', 'application/postscript', 'application/eps']);

/**
 * Finds the type of a document from its bytes. The file name and the declared media type only
 * choose between the text formats (and name the file in messages): an upload named `x.pdf` that
 * holds a PNG is rejected as a PNG.
 */
export async function detectDocumentType(bytes: Uint8Array, fileName: string, declaredMediaType?: string | null): Promise<DocumentType> {
  if (bytes.length === 0) throw new DocumentError('empty_document', `${fileName} is empty`);
  const signatureOffset = findPdfSignature(bytes);
  if (signatureOffset === 0) return 'pdf';

  const extension = path.extname(fileName).toLowerCase();
  const mediaType = normalizeMediaType(declaredMediaType);
  const claimsPdf = extension === '.pdf' || mediaType === 'application/pdf';
  const text = decodeText(bytes);
  // Past the first byte the signature counts only in a file that is not text or says it is a
  // PDF: a note about PDF files may well quote "%PDF-1.7" near its start.
  if (signatureOffset !== undefined && (text === undefined || claimsPdf)) return 'pdf';
  const detected = await fileTypeFromBuffer(bytes);
  const binaryType = detected === undefined || text !== undefined ? undefined : typeByMediaType.get(detected.mime);
  if (binaryType !== undefined) return binaryType;
  // Mail is 7-bit text by its standard, but an 8-bit body in a legacy charset is not UTF-8.
  const claimsEmail = extension === '.eml' || mediaType === 'message/rfc822';
  if (detected === undefined && !claimsPdf && (claimsEmail || (text !== undefined && looksLikeEmail(text)))) return 'email';

  if (detected !== undefined && (text === undefined || textBasedUnsupportedMediaTypes.has(detected.mime))) {
    throw new DocumentError(
      'unsupported_type',
      claimsPdf
        ? `${fileName} is not a PDF: its content is ${detected.mime}; ${supportedTypes}`
        : `Unsupported file type ${detected.mime} (${fileName}); ${supportedTypes}`,
    );
  }
  // An HTML page saved under a .pdf name (a download that was an error page) is read as what it is.
  if (claimsPdf && text !== undefined && looksLikeHtml(text)) return 'html';
  if (claimsPdf) {
    throw new DocumentError('pdf_corrupt', `${fileName} does not start like a PDF (no ${pdfSignature} header in its first ${pdfSignatureWindow} bytes)`);
  }
  if (text === undefined) {
    throw new DocumentError('unsupported_type', `Unsupported file type (${fileName}): the content is neither a PDF nor UTF-8 text; ${supportedTypes}`);
  }
  if (text.trim() === '') throw new DocumentError('empty_document', `${fileName} contains only whitespace`);

  if (extension === '.html' || extension === '.htm' || mediaType === 'text/html' || looksLikeHtml(text)) {
    return 'html';
  }
  if (extension === '.csv' || extension === '.tsv' || mediaType === 'text/csv' || mediaType === 'text/tab-separated-values') return 'csv';
  if (extension === '.md' || extension === '.markdown' || mediaType === 'text/markdown') return 'markdown';
  return 'text';
}

function findPdfSignature(bytes: Uint8Array): number | undefined {
  const window = bytes.subarray(0, pdfSignatureWindow);
  const offset = Buffer.from(window.buffer, window.byteOffset, window.byteLength).indexOf(pdfSignature, 0, 'latin1');
  return offset === -1 ? undefined : offset;
}

function normalizeMediaType(mediaType: string | null | undefined): string | undefined {
  const essence = mediaType?.split(';')[0]?.trim().toLowerCase();
  return essence === '' ? undefined : essence;
}

/** The text, or undefined when the bytes are not UTF-8 text. */
function decodeText(bytes: Uint8Array): string | undefined {
  // NUL never occurs in text files and marks binary data (or UTF-16, which is not supported).
  if (bytes.includes(0)) return undefined;
  try {
    return decodeUtf8Text(bytes);
  } catch (error) {
    if (error instanceof TypeError) return undefined; // the decoder's report of invalid UTF-8
    throw error;
  }
}

/** Starts (after a BOM, whitespace, an XML declaration or comments) with a doctype or `<html`. */
function looksLikeHtml(text: string): boolean {
  return /^\s*(?:<\?xml[^>]*>\s*)?(?:<!--[\s\S]*?-->\s*)*<(?:!doctype\s+html|html)[\s>]/i.test(text);
}

/** Header names of which an e-mail's header block holds at least two. */
const emailHeaderNames = new Set(['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'received', 'return-path', 'delivered-to', 'cc', 'reply-to']);

/**
 * Starts with an RFC 822 header block: `Name: value` lines (and folded continuations) up to the
 * first empty line, with at least two of the usual header names. A note that opens with one
 * `Subject:` line is still text.
 */
function looksLikeEmail(text: string): boolean {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/, 200);
  const known = new Set<string>();
  for (const [index, line] of lines.entries()) {
    if (line === '') return index > 0 && known.size >= 2;
    if (/^[ \t]/.test(line) && index > 0) continue;
    const header = /^([!-9;-~]+):/.exec(line);
    if (header?.[1] === undefined) return false;
    const name = header[1].toLowerCase();
    if (emailHeaderNames.has(name)) known.add(name);
  }
  return false;
}
