import { DocumentError, type ParsedDocument } from '@passage/spec';
import { compile, type FormatCallback } from 'html-to-text';
import mammoth from 'mammoth';
import { readCoreTitle } from './office-xml.js';
import { tableToText, type TableCell } from './table-text.js';
import { readZipEntries, type ZipLimits } from './zip-archive.js';

const headingOptions = { uppercase: false, leadingLineBreaks: 2, trailingLineBreaks: 1 } as const;

/**
 * A table as `cell | cell` lines (see tableToLines) instead of html-to-text's grid: every row is
 * one line whatever its width, which keeps a row's cells together for search and citation.
 */
const formatPipeTable: FormatCallback = (element, walk, builder) => {
  builder.openTable();
  const walkRows = (node: typeof element) => {
    if (node.type !== 'tag') return;
    if (node.name === 'thead' || node.name === 'tbody' || node.name === 'tfoot') {
      for (const child of node.children ?? []) walkRows(child);
      return;
    }
    if (node.name !== 'tr') return;
    builder.openTableRow();
    for (const cell of node.children ?? []) {
      if (cell.type !== 'tag' || (cell.name !== 'td' && cell.name !== 'th')) continue;
      builder.openTableCell({ maxColumnWidth: Number.MAX_SAFE_INTEGER });
      walk(cell.children ?? [], builder);
      const attributes = (cell as { attribs?: Record<string, string | undefined> }).attribs;
      builder.closeTableCell({ colspan: Number(attributes?.colspan) || 1, rowspan: Number(attributes?.rowspan) || 1 });
    }
    builder.closeTableRow();
  };
  for (const child of element.children ?? []) walkRows(child);
  builder.closeTable({
    tableToString: (rows) =>
      tableToText(rows.map((row) => row.map((cell): TableCell => ({ text: cell.text, columnSpan: cell.colspan, rowSpan: cell.rowspan })))),
    leadingLineBreaks: 2,
    trailingLineBreaks: 2,
  });
};

/** Mammoth's HTML as text: headings and paragraphs as blocks, lists with their markers, tables as `cell | cell` lines. */
const convertToText = compile({
  wordwrap: false,
  limits: { maxInputLength: Number.MAX_SAFE_INTEGER },
  formatters: { pipeTable: formatPipeTable },
  selectors: [
    { selector: 'img', format: 'skip' },
    { selector: 'a', options: { ignoreHref: true, linkBrackets: false } },
    { selector: 'table', format: 'pipeTable' },
    ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: headingOptions })),
    { selector: 'p', options: { leadingLineBreaks: 1, trailingLineBreaks: 1 } },
  ],
});

/**
 * A Word document (.docx) as one page of text, through mammoth (the maintained reader of
 * .docx's paragraphs, runs, lists, tables, text boxes and footnotes; it joins the runs of a
 * paragraph and reads each text box once). Word has no stored page breaks, so the document is
 * one page. The archive is unpacked once under the zip limits first: mammoth's own zip reader
 * trusts the archive, so it only gets one that has been checked in full.
 */
export async function parseDocx(bytes: Uint8Array, limits?: ZipLimits): Promise<ParsedDocument> {
  const entries = await readZipEntries(bytes, 'Word', limits);
  if (!entries.has('word/document.xml')) throw new DocumentError('document_corrupt', 'The Word file has no word/document.xml part');
  let html: string;
  try {
    const result = await mammoth.convertToHtml(
      { buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) },
      // Images are skipped without being decoded; linked files are never opened.
      { convertImage: mammoth.images.imgElement(() => Promise.resolve({ src: '' })), externalFileAccess: false },
    );
    html = result.value;
  } catch (error) {
    throw new DocumentError('document_corrupt', `The Word file is damaged and cannot be read: ${(error as Error).message}`, { cause: error });
  }
  const text = convertToText(html)
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  const title = readCoreTitle(entries);
  return { type: 'docx', pages: [{ number: 1, text }], ...(title === undefined ? {} : { title }) };
}
