import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deflatedEntry, documentErrorOf, zipArchive } from '@passage/testing';
import { parseXlsx } from './parse-xlsx.js';
import { headerRepeatRows } from './table-text.js';

const relationshipTypes = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';

/** A workbook of two sheets made for the test: shared and inline strings, a date, a boolean, a formula, a gap between two tables. */
function workbook(extraRows = 0): Buffer {
  const rows = Array.from(
    { length: extraRows },
    (_, index) => `<row r="${index + 10}"><c r="A${index + 10}"><v>${index}</v></c><c r="B${index + 10}" t="inlineStr"><is><t>item ${index}</t></is></c></row>`,
  ).join('');
  return zipArchive([
    deflatedEntry(
      'xl/workbook.xml',
      `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="${relationshipTypes}"><sheets>` +
        '<sheet name="Ducks" sheetId="1" r:id="rId1"/><sheet name="Long list" sheetId="2" r:id="rId2"/></sheets></workbook>',
    ),
    deflatedEntry(
      'xl/_rels/workbook.xml.rels',
      '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
        `<Relationship Id="rId1" Type="${relationshipTypes}/worksheet" Target="worksheets/sheet1.xml"/>` +
        `<Relationship Id="rId2" Type="${relationshipTypes}/worksheet" Target="/xl/worksheets/sheet2.xml"/>` +
        `<Relationship Id="rId3" Type="${relationshipTypes}/sharedStrings" Target="sharedStrings.xml"/>` +
        `<Relationship Id="rId4" Type="${relationshipTypes}/styles" Target="styles.xml"/></Relationships>`,
    ),
    deflatedEntry(
      'xl/sharedStrings.xml',
      '<sst><si><t>Date</t></si><si><t>Seen</t></si><si><r><t xml:space="preserve">Mallard </t></r><r><t>duck</t></r><rPh><t>ignored</t></rPh></si><si><t>Notes</t></si></sst>',
    ),
    deflatedEntry(
      'xl/styles.xml',
      '<styleSheet><numFmts><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd"/></numFmts>' +
        '<cellXfs><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="14"/></cellXfs></styleSheet>',
    ),
    deflatedEntry(
      'xl/worksheets/sheet1.xml',
      '<worksheet><sheetData>' +
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>' +
        '<row r="2"><c r="A2" s="1"><v>45292</v></c><c r="B2" t="b"><v>1</v></c><c r="C2"><f>1+1</f><v>2</v></c></row>' +
        '<row r="3"><c r="A3" s="2"><v>45293.5</v></c><c r="B3" t="b"><v>0</v></c></row>' +
        '<row r="6"><c r="B6" t="s"><v>3</v></c></row><row r="7"><c r="B7" t="inlineStr"><is><t>Line one\nline two</t></is></c></row>' +
        '</sheetData></worksheet>',
    ),
    deflatedEntry(
      'xl/worksheets/sheet2.xml',
      `<worksheet><sheetData><row r="9"><c r="A9" t="inlineStr"><is><t>Number</t></is></c><c r="B9" t="inlineStr"><is><t>Item</t></is></c></row>${rows}</sheetData></worksheet>`,
    ),
  ]);
}

describe('parseXlsx', () => {
  test('gives one page per sheet, cut into tables at empty rows, with dates, booleans and cached formula values', async () => {
    const document = await parseXlsx(workbook());
    assert.equal(document.type, 'xlsx');
    assert.deepEqual(document.pages[0], {
      number: 1,
      text: ['Sheet: Ducks', 'Date | Seen | Mallard duck\n\n2024-01-01 | TRUE | 2\n\n2024-01-02 12:00:00 | FALSE', 'Notes\n\nLine one line two'].join('\n\n'),
    });
    assert.equal(document.pages[1]!.text, 'Sheet: Long list\n\nNumber | Item');
  });

  test("repeats a long table's header line with the sheet's name", async () => {
    const document = await parseXlsx(workbook(headerRepeatRows + 5));
    const lines = document.pages[1]!.text.split('\n\n');
    assert.equal(lines[1], 'Number | Item');
    assert.equal(lines[headerRepeatRows + 2], 'Long list: Number | Item');
  });

  test('a zip without a workbook part is a damaged Excel file', async () => {
    const error = await documentErrorOf(parseXlsx(zipArchive([deflatedEntry('xl/other.xml', '<x/>')])));
    assert.equal(error.code, 'document_corrupt');
    assert.match(error.message, /no xl\/workbook\.xml part/);
  });
});
