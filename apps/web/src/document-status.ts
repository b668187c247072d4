import type { DocumentView } from './api-types.js';

/** What each document error code means, in words; the server's message follows with the details. */
const reasonByCode: Record<string, string> = {
  unsupported_type: 'This kind of file is not supported.',
  empty_document: 'The file holds no text.',
  pdf_encrypted: 'The PDF is encrypted: remove its password and upload it again.',
  pdf_corrupt: 'The PDF is damaged and cannot be read.',
  pdf_no_text_layer: 'The PDF is a scan without a text layer; text recognition (OCR) is not available yet.',
  parse_timeout: 'Reading the file took too long.',
  parse_resource_limit: 'The file needs more memory to read than a parse may take.',
  parse_failed: 'The file could not be read.',
  file_missing: 'The stored file went missing before it was read.',
};

/** The reason a document failed, in words: the code's meaning, then the server's own message. */
export function failureReason(error: { code: string; message: string }): string {
  const meaning = reasonByCode[error.code];
  if (meaning === undefined || error.message.startsWith(meaning.slice(0, -1))) return error.message;
  return `${meaning} ${error.message}`;
}

const stageWords: Record<string, string> = {
  queued: 'waiting',
  parsing: 'reading',
  chunking: 'splitting into passages',
  embedding: 'embedding',
  indexing: 'indexing',
  done: 'finishing',
};

/** One line on what is happening to a document, e.g. "Processing: reading, 3 of 14". */
export function statusLine(document: DocumentView): string {
  switch (document.status) {
    case 'queued':
      return 'Queued';
    case 'processing': {
      const stage = stageWords[document.progress.stage] ?? document.progress.stage;
      const counted = document.progress.total > 0 ? `, ${document.progress.done} of ${document.progress.total}` : '';
      return `Processing: ${stage}${counted}`;
    }
    case 'ready':
      return `Ready: ${plural(document.pages ?? 0, 'page')}, ${plural(document.chunks ?? 0, 'passage')}`;
    case 'failed':
      return 'Failed';
  }
}

export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** Sizes as people read them: 980 bytes, 12.4 KB, 1.0 MB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} bytes`;
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(1)} KB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}
