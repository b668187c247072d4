import { DocumentError, type ParsedDocument } from '@passage/spec';
import { CsvError, parse } from 'csv-parse/sync';
import { tableToText } from './table-text.js';
import { decodeUtf8Text } from './parse-text.js';

const candidateDelimiters = [',', ';', '\t', '|'];

/**
 * A CSV (or TSV) file as one page: rows as `cell | cell` lines under the header row (the first
 * row), repeated every few rows (see tableToLines). Parsed by csv-parse, which handles quoted
 * fields with delimiters, quotes and line breaks inside; rows of uneven length are kept. The
 * delimiter is the one of `, ; tab |` that splits the first lines into the most, equal, columns.
 */
export function parseCsv(bytes: Uint8Array, fileName: string): ParsedDocument {
  const text = decodeUtf8Text(bytes);
  const delimiter = fileName.toLowerCase().endsWith('.tsv') ? '\t' : guessDelimiter(text);
  let rows: string[][];
  try {
    rows = parse(text, { delimiter, bom: true, relax_column_count: true, relax_quotes: true, skip_empty_lines: true, trim: true });
  } catch (error) {
    if (error instanceof CsvError) throw new DocumentError('document_corrupt', `The CSV file cannot be read: ${error.message}`, { cause: error });
    throw error;
  }
  return { type: 'csv', pages: [{ number: 1, text: tableToText(rows.map((row) => row.map((cell) => ({ text: cell })))) }] };
}

function guessDelimiter(text: string): string {
  const lines = text.split(/\r?\n/, 20).filter((line) => line.trim() !== '');
  let best = ',';
  let bestScore = 0;
  for (const delimiter of candidateDelimiters) {
    // Quoted parts are left out so that a comma inside quotes does not count.
    const counts = lines.map((line) => line.replace(/"[^"]*"/g, '').split(delimiter).length - 1);
    const first = counts[0] ?? 0;
    const consistent = counts.filter((count) => count === first).length;
    const score = first === 0 ? 0 : first * consistent;
    if (score > bestScore) {
      best = delimiter;
      bestScore = score;
    }
  }
  return best;
}
