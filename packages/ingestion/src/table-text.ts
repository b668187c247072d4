/** A table cell as read from a document: merged cells span columns or rows. */
export interface TableCell {
  text: string;
  /** Columns the cell covers. Default: 1. */
  columnSpan?: number;
  /** Rows the cell covers. Default: 1. */
  rowSpan?: number;
}

/** Data rows after which the header line is written again, so that a chunk of a long table has it near. */
export const headerRepeatRows = 20;

/**
 * Writes a table as lines `cell | cell | cell`, one per row, the first row taken as the header;
 * in a table longer than {@link headerRepeatRows} rows the header line comes again before every
 * further {@link headerRepeatRows} rows, prefixed with `label` when given (a sheet's name). A
 * merged cell's text appears once, at its top-left; the columns it covers stay empty so the
 * columns line up with the header. Line breaks inside a cell become spaces; `|` inside a cell
 * stays (it is rare and readable).
 */
export function tableToLines(rows: TableCell[][], label?: string): string[] {
  const grid = placeCells(rows);
  const lines = grid.map((row) => trimTrailingEmpty(row).join(' | ')).filter((line) => line.replace(/[\s|]/g, '') !== '');
  if (lines.length <= headerRepeatRows + 1) return lines;
  const [header, ...body] = lines;
  const output = [header!];
  body.forEach((line, index) => {
    if (index > 0 && index % headerRepeatRows === 0) output.push(label === undefined ? header! : `${label}: ${header!}`);
    output.push(line);
  });
  return output;
}

/**
 * {@link tableToLines} joined with a blank line between rows: the sentence splitter reads a blank
 * line as a paragraph break, so every row is a unit of its own and a chunk never ends inside a
 * row (a table has no sentence punctuation; without it a long table is one "sentence" that the
 * chunker cuts wherever its token budget ends, through the middle of a cell).
 */
export function tableToText(rows: TableCell[][], label?: string): string {
  return tableToLines(rows, label).join('\n\n');
}

/** Places every cell in a grid of plain strings, honouring row and column spans. */
function placeCells(rows: TableCell[][]): string[][] {
  const grid: string[][] = [];
  const covered = new Set<string>();
  rows.forEach((row, rowIndex) => {
    const line: string[] = (grid[rowIndex] ??= []);
    let column = 0;
    for (const cell of row) {
      while (covered.has(`${rowIndex}:${column}`)) {
        line[column] ??= '';
        column += 1;
      }
      const columnSpan = Math.max(1, cell.columnSpan ?? 1);
      const rowSpan = Math.max(1, cell.rowSpan ?? 1);
      line[column] = cleanCellText(cell.text);
      for (let extraRow = 0; extraRow < rowSpan; extraRow += 1) {
        for (let extraColumn = 0; extraColumn < columnSpan; extraColumn += 1) {
          if (extraRow === 0 && extraColumn === 0) continue;
          covered.add(`${rowIndex + extraRow}:${column + extraColumn}`);
          if (extraRow === 0) line[column + extraColumn] = '';
        }
      }
      column += columnSpan;
    }
  });
  return grid.map((line) => Array.from(line, (cell) => cell ?? ''));
}

function cleanCellText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function trimTrailingEmpty(row: string[]): string[] {
  let end = row.length;
  while (end > 0 && row[end - 1] === '') end -= 1;
  return row.slice(0, end);
}
