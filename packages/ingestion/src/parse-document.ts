import { DocumentError, type ParsedDocument } from '@passage/spec';
import { detectDocumentType } from './detect-type.js';
import { parseHtml } from './parse-html.js';
import { parsePdf } from './parse-pdf.js';
import { parseText } from './parse-text.js';

/** What is known about a document besides its bytes. */
export interface DocumentMetadata {
  /** The name the file was uploaded with; its extension helps tell Markdown from plain text. */
  fileName: string;
  /** The media type the client declared, if any. The bytes decide; this only breaks ties. */
  mediaType?: string | null;
  /** Password of an encrypted PDF. */
  password?: string;
}

/**
 * Turns a document into pages of text: detects the type from the bytes and dispatches. Runs
 * unbounded in the calling thread: production code calls it through BoundedParser.
 */
export async function parseDocument(bytes: Uint8Array, metadata: DocumentMetadata): Promise<ParsedDocument> {
  const type = await detectDocumentType(bytes, metadata.fileName, metadata.mediaType);
  const document =
    type === 'pdf'
      ? await parsePdf(bytes, metadata.password === undefined ? {} : { password: metadata.password })
      : type === 'html'
        ? parseHtml(bytes)
        : parseText(bytes, type);
  // A PDF without text fails in parsePdf with a more precise reason (pdf_no_text_layer).
  if (document.pages.every((page) => page.text.trim() === '')) {
    throw new DocumentError('empty_document', `No text could be extracted from ${metadata.fileName}`);
  }
  return document;
}
