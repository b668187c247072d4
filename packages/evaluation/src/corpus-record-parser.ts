import { DocumentError, throwIfAborted, type DocumentParser, type ParsedDocument } from '@passage/spec';

/** The bytes a corpus record is stored as, for {@link CorpusRecordParser}. */
export function encodeCorpusRecord(record: { title: string; text: string }): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ title: record.title, text: record.text }));
}

/**
 * Stands in for the file parser during an evaluation: a stored record (JSON `{title, text}`)
 * becomes one page of text with its title, so that chunking, analysis and indexing run as they do
 * for an uploaded file, without writing thousands of files.
 */
export class CorpusRecordParser implements DocumentParser {
  async parse(bytes: Uint8Array, meta: { fileName: string }, signal?: AbortSignal): Promise<ParsedDocument> {
    throwIfAborted(signal);
    let record: { title?: unknown; text?: unknown };
    try {
      record = JSON.parse(new TextDecoder().decode(bytes)) as { title?: unknown; text?: unknown };
    } catch (error) {
      throw new DocumentError('parse_failed', `Record ${meta.fileName} is not JSON`, { cause: error });
    }
    const text = typeof record.text === 'string' ? record.text : '';
    const title = typeof record.title === 'string' ? record.title.trim() : '';
    return { type: 'text', pages: [{ number: 1, text }], ...(title === '' ? {} : { title }) };
  }
}
