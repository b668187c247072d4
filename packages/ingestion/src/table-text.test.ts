import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { headerRepeatRows, tableToLines } from './table-text.js';

const cells = (...texts: string[]) => texts.map((text) => ({ text }));

describe('tableToLines', () => {
  test('writes one "cell | cell" line per row, empty rows left out, line breaks in a cell as spaces', () => {
    assert.deepEqual(tableToLines([cells('Name', 'Town'), cells('', ''), cells('Ada', 'London\nUK')]), ['Name | Town', 'Ada | London UK']);
  });

  test('keeps columns aligned under merged cells', () => {
    const rows = [
      [{ text: 'Group', columnSpan: 2 }, { text: 'Total' }],
      [{ text: 'A', rowSpan: 2 }, { text: 'x' }, { text: '1' }],
      [{ text: 'y' }, { text: '2' }],
    ];
    assert.deepEqual(tableToLines(rows), ['Group |  | Total', 'A | x | 1', ' | y | 2']);
  });

  test('repeats the header line, labelled, in a long table', () => {
    const rows = [cells('Year', 'Ducks'), ...Array.from({ length: headerRepeatRows * 2 + 1 }, (_, index) => cells(String(2000 + index), String(index)))];
    const lines = tableToLines(rows, 'Counts');
    assert.equal(lines[0], 'Year | Ducks');
    assert.equal(lines[headerRepeatRows + 1], 'Counts: Year | Ducks');
    assert.equal(lines[headerRepeatRows + 2], `${2000 + headerRepeatRows} | ${headerRepeatRows}`);
    assert.equal(lines.filter((line) => line.endsWith('Year | Ducks')).length, 3);
  });
});
