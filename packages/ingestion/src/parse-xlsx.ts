import { DocumentError, type ParsedDocument, type ParsedPage } from '@passage/spec';
import { childElements, findElements, firstChild, parseXml, readCoreTitle, readRelationships, textContent, type XmlElement } from './office-xml.js';
import { tableToText } from './table-text.js';
import { entryText, readZipEntries, type ZipEntries, type ZipLimits } from './zip-archive.js';

const workbookPart = 'xl/workbook.xml';

/**
 * An Excel workbook (.xlsx): one page per sheet, in the workbook's order, so a citation's page
 * is the sheet's position; each page starts with `Sheet: <name>` and long tables repeat their
 * header line with the sheet's name (see tableToLines). A sheet's cells are cut into blocks at
 * empty rows; each block is a table whose first row is its header. Cells show their value as
 * stored (the cached result of a formula), dates as ISO dates, booleans as TRUE/FALSE. Read with
 * yauzl (bounded unpacking) and fast-xml-parser: SheetJS is no longer published to npm, and
 * ExcelJS unpacks the whole archive with its own unbounded zip reader.
 */
export async function parseXlsx(bytes: Uint8Array, limits?: ZipLimits): Promise<ParsedDocument> {
  const entries = await readZipEntries(bytes, 'Excel', limits, (name) => name.endsWith('.xml') || name.endsWith('.rels'));
  const workbookText = entryText(entries, workbookPart);
  if (workbookText === undefined) throw new DocumentError('document_corrupt', `The Excel file has no ${workbookPart} part`);
  const workbook = parseXml(workbookText);
  const relationships = readRelationships(entries, workbookPart);
  const sharedStrings = readSharedStrings(entries, relationships);
  const dates = readDateStyles(entries, relationships, isDate1904(workbook));

  const pages: ParsedPage[] = [];
  for (const sheet of findElements(workbook, 'sheet')) {
    const name = sheet.attributes.name ?? `Sheet ${pages.length + 1}`;
    const path = relationships.get(sheet.attributes['r:id'] ?? '')?.target;
    const sheetText = path === undefined ? undefined : entryText(entries, path);
    if (sheetText === undefined) continue; // a chart sheet or a dangling reference
    const blocks = sheetBlocks(parseXml(sheetText), sharedStrings, dates).map((rows) =>
      tableToText(
        rows.map((row) => row.map((text) => ({ text }))),
        name,
      ),
    );
    pages.push({ number: pages.length + 1, text: [`Sheet: ${name}`, ...blocks].join('\n\n') });
  }
  const title = readCoreTitle(entries);
  return { type: 'xlsx', pages, ...(title === undefined ? {} : { title }) };
}

type Relationships = ReturnType<typeof readRelationships>;

function partOfType(relationships: Relationships, type: string): string | undefined {
  for (const relationship of relationships.values()) if (relationship.type === type) return relationship.target;
  return undefined;
}

/** The shared strings table; a rich string's runs are joined, its phonetic guides (rPh) left out. */
function readSharedStrings(entries: ZipEntries, relationships: Relationships): string[] {
  const text = entryText(entries, partOfType(relationships, 'sharedStrings') ?? 'xl/sharedStrings.xml');
  if (text === undefined) return [];
  return findElements(parseXml(text), 'si').map(stringItemText);
}

function stringItemText(item: XmlElement): string {
  return childElements(item)
    .map((child) => (child.name === 't' ? textContent(child) : child.name === 'r' ? textContent(firstChild(child, 't') ?? child) : ''))
    .join('');
}

function isDate1904(workbook: XmlElement): boolean {
  const value = findElements(workbook, 'workbookPr')[0]?.attributes.date1904;
  return value === '1' || value === 'true';
}

/** Built-in number formats that show a date or time (ECMA-376 18.8.30). */
const builtInDateFormats = new Set([14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47]);

/** For each cell style index that formats a date: how to turn a serial number into text. */
function readDateStyles(entries: ZipEntries, relationships: Relationships, date1904: boolean): Map<number, (serial: number) => string> {
  const dateStyles = new Map<number, (serial: number) => string>();
  const text = entryText(entries, partOfType(relationships, 'styles') ?? 'xl/styles.xml');
  if (text === undefined) return dateStyles;
  const styles = parseXml(text);
  const customDate = new Set<number>();
  for (const format of findElements(styles, 'numFmt')) {
    // A date format has d, m or y outside quoted text, escapes and [colour]/[condition] brackets.
    const code = (format.attributes.formatCode ?? '').replace(/"[^"]*"|\\.|\[[^\]]*\]/g, '');
    if (/[dy]/i.test(code) || /m/i.test(code.replace(/[hs]+:?m+|m+:?s+/gi, ''))) customDate.add(Number(format.attributes.numFmtId));
  }
  const cellFormats = findElements(styles, 'cellXfs')[0];
  if (cellFormats === undefined) return dateStyles;
  childElements(cellFormats, 'xf').forEach((format, index) => {
    const id = Number(format.attributes.numFmtId);
    if (!builtInDateFormats.has(id) && !customDate.has(id)) return;
    dateStyles.set(index, (serial) => serialToIsoDate(serial, date1904));
  });
  return dateStyles;
}

/** Excel's day serial as an ISO date (with the time when it has one). */
function serialToIsoDate(serial: number, date1904: boolean): string {
  // Day 0 is 1899-12-30 in the 1900 system (which counts a 29 Feb 1900 that never was) and 1904-01-01 in the other.
  const epoch = date1904 ? Date.UTC(1904, 0, 1) : Date.UTC(1899, 11, 30);
  const date = new Date(epoch + Math.round(serial * 86_400_000));
  if (Number.isNaN(date.getTime())) return String(serial);
  const iso = date.toISOString();
  return serial % 1 === 0 ? iso.slice(0, 10) : iso.slice(0, 19).replace('T', ' ');
}

/** Column letters (A, Z, AA) to a number from 0. */
function columnIndex(reference: string): number {
  let index = 0;
  for (const letter of reference.replace(/\d+$/, '').toUpperCase()) index = index * 26 + (letter.charCodeAt(0) - 64);
  return index - 1;
}

function cellValue(cell: XmlElement, sharedStrings: string[], dates: Map<number, (serial: number) => string>): string {
  const type = cell.attributes.t ?? 'n';
  if (type === 'inlineStr') {
    const inline = firstChild(cell, 'is');
    return inline === undefined ? '' : stringItemText(inline);
  }
  const valueElement = firstChild(cell, 'v');
  const value = valueElement === undefined ? '' : textContent(valueElement);
  if (value === '') return '';
  if (type === 's') return sharedStrings[Number(value)] ?? '';
  if (type === 'b') return value === '1' ? 'TRUE' : 'FALSE';
  if (type === 'n') {
    const toDate = dates.get(Number(cell.attributes.s ?? 0));
    const serial = Number(value);
    if (toDate !== undefined && Number.isFinite(serial)) return toDate(serial);
  }
  return value; // str (a formula's text), e (an error such as #N/A), d (an ISO date), n
}

/** The sheet's non-empty cells as blocks of rows (cut at empty rows), each row spanning its block's columns. */
function sheetBlocks(sheet: XmlElement, sharedStrings: string[], dates: Map<number, (serial: number) => string>): string[][][] {
  const rows = new Map<number, Map<number, string>>();
  const sheetData = findElements(sheet, 'sheetData')[0];
  let implicitRow = 0;
  for (const row of sheetData === undefined ? [] : childElements(sheetData, 'row')) {
    const rowNumber = Number(row.attributes.r) || implicitRow + 1;
    implicitRow = rowNumber;
    let implicitColumn = -1;
    for (const cell of childElements(row, 'c')) {
      const reference = cell.attributes.r;
      const column = reference === undefined ? implicitColumn + 1 : columnIndex(reference);
      implicitColumn = column;
      const text = cellValue(cell, sharedStrings, dates).replace(/\s+/g, ' ').trim();
      if (text === '') continue;
      let cells = rows.get(rowNumber);
      if (cells === undefined) rows.set(rowNumber, (cells = new Map<number, string>()));
      cells.set(column, text);
    }
  }
  const rowNumbers = [...rows.keys()].sort((a, b) => a - b);
  const blocks: number[][] = [];
  for (const rowNumber of rowNumbers) {
    const current = blocks.at(-1);
    if (current !== undefined && current.at(-1) === rowNumber - 1) current.push(rowNumber);
    else blocks.push([rowNumber]);
  }
  return blocks.map((block) => {
    // A loop, not Math.min(...columns): a spread of a large sheet's columns goes through the stack.
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (const rowNumber of block) {
      for (const column of rows.get(rowNumber)!.keys()) {
        first = Math.min(first, column);
        last = Math.max(last, column);
      }
    }
    return block.map((rowNumber) => {
      const cells = rows.get(rowNumber)!;
      return Array.from({ length: last - first + 1 }, (_, offset) => cells.get(first + offset) ?? '');
    });
  });
}
