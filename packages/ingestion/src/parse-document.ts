import { DocumentError, type ParsedDocument } from '@passage/spec';
import { detectDocumentType } from './detect-type.js';
import type { OcrSettings } from './ocr.js';
import { parseCsv } from './parse-csv.js';
import { parseDocx } from './parse-docx.js';
import { parseEmail, type AttachmentReader } from './parse-email.js';
import { parseHtml } from './parse-html.js';
import { parseImage } from './parse-image.js';
import { parsePdf } from './parse-pdf.js';
import { parsePptx } from './parse-pptx.js';
import { parseText } from './parse-text.js';
import { parseXlsx } from './parse-xlsx.js';

/** What is known about a document besides its bytes. */
export interface DocumentMetadata {
  /** The name the file was uploaded with; its extension helps tell Markdown from plain text. */
  fileName: string;
  /** The media type the client declared, if any. The bytes decide; this only breaks ties. */
  mediaType?: string | null;
  /** Password of an encrypted PDF. Never stored or logged. */
  password?: string;
  /** OCR of scans and images. Default: `auto` with `eng+chi_sim` (see OcrSettings). */
  ocr?: OcrSettings;
}

/**
 * Turns a document into pages of text: detects the type from the bytes and dispatches. Runs
 * unbounded in the calling thread: production code calls it through BoundedParser.
 */
export async function parseDocument(bytes: Uint8Array, metadata: DocumentMetadata): Promise<ParsedDocument> {
  return parseAtDepth(bytes, metadata, 0);
}

/** Attachments of an e-mail are read as documents; those of an attached e-mail are only listed. */
const maxAttachmentDepth = 1;

async function parseAtDepth(bytes: Uint8Array, metadata: DocumentMetadata, depth: number): Promise<ParsedDocument> {
  const type = await detectDocumentType(bytes, metadata.fileName, metadata.mediaType);
  const readAttachment: AttachmentReader | undefined =
    depth >= maxAttachmentDepth
      ? undefined
      : (attachment, fileName, mediaType) =>
          parseAtDepth(attachment, { fileName, mediaType, ...(metadata.ocr === undefined ? {} : { ocr: metadata.ocr }) }, depth + 1);
  const document = await parseByType(type, bytes, metadata, readAttachment);
  // A PDF without text fails in parsePdf with a more precise reason (pdf_no_text_layer).
  if (document.pages.every((page) => page.text.trim() === '')) {
    throw new DocumentError('empty_document', `No text could be extracted from ${metadata.fileName}`);
  }
  return document;
}

function parseByType(
  type: ParsedDocument['type'],
  bytes: Uint8Array,
  metadata: DocumentMetadata,
  readAttachment: AttachmentReader | undefined,
): ParsedDocument | Promise<ParsedDocument> {
  switch (type) {
    case 'pdf':
      return parsePdf(bytes, {
        ...(metadata.password === undefined ? {} : { password: metadata.password }),
        ...(metadata.ocr === undefined ? {} : { ocr: metadata.ocr }),
      });
    case 'docx':
      return parseDocx(bytes);
    case 'pptx':
      return parsePptx(bytes);
    case 'xlsx':
      return parseXlsx(bytes);
    case 'csv':
      return parseCsv(bytes, metadata.fileName);
    case 'email':
      return parseEmail(bytes, readAttachment);
    case 'image':
      return parseImage(bytes, metadata.ocr);
    case 'html':
      return parseHtml(bytes);
    case 'text':
    case 'markdown':
      return parseText(bytes, type);
  }
}
