import type { DocumentType, ParsedDocument } from '@passage/spec';

/**
 * Decodes UTF-8 bytes, dropping a byte order mark. Throws the decoder's TypeError on bytes that
 * are not valid UTF-8: detection has rejected those already, so reaching it here is a bug.
 */
export function decodeUtf8Text(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

/** Plain text and Markdown are one page each; Markdown is kept as written. */
export function parseText(bytes: Uint8Array, type: Extract<DocumentType, 'text' | 'markdown'>): ParsedDocument {
  const text = decodeUtf8Text(bytes).replace(/\r\n?/g, '\n');
  const title = type === 'markdown' ? findMarkdownTitle(text) : undefined;
  return { type, pages: [{ number: 1, text }], ...(title === undefined ? {} : { title }) };
}

/** The first level-one ATX heading (`# Title`) outside fenced code blocks. */
function findMarkdownTitle(text: string): string | undefined {
  let fence: string | undefined;
  for (const line of text.split('\n')) {
    const fenceMatch = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fenceMatch?.[1] !== undefined) {
      const marker = fenceMatch[1];
      if (fence === undefined) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      continue;
    }
    if (fence !== undefined) continue;
    const heading = /^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (heading?.[1] !== undefined) return heading[1];
  }
  return undefined;
}
