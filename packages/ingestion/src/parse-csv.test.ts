import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DocumentError } from '@passage/spec';
import { parseCsv } from './parse-csv.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('parseCsv', () => {
  test('keeps quoted fields with delimiters, quotes and line breaks in one cell', () => {
    const document = parseCsv(utf8('Company,City\n"Martin, Lang and Andrade","West ""Priscilla""\nUK"\n'), 'c.csv');
    assert.equal(document.type, 'csv');
    assert.deepEqual(document.pages, [{ number: 1, text: 'Company | City\n\nMartin, Lang and Andrade | West "Priscilla" UK' }]);
  });

  test('finds a semicolon or tab delimiter, and reads rows of uneven length', () => {
    assert.equal(parseCsv(utf8('\uFEFFa;b;c\n1;2,5;3\n4;5\n'), 'x.csv').pages[0]!.text, 'a | b | c\n\n1 | 2,5 | 3\n\n4 | 5');
    assert.equal(parseCsv(utf8('a\tb\n1\t2\n'), 'x.tsv').pages[0]!.text, 'a | b\n\n1 | 2');
  });

  test('fails with document_corrupt on a quote that never closes', () => {
    assert.throws(
      () => parseCsv(utf8('a,b\n"open,2\n'), 'broken.csv'),
      (error: unknown) => error instanceof DocumentError && error.code === 'document_corrupt',
    );
  });
});
