/**
 * Every document of the shared office corpus (SHARED_DIR/docs/manifest.json: Word, PowerPoint,
 * Excel, CSV, HTML, Markdown, e-mail) goes through BoundedParser, one thread per parse, and must
 * yield every `contains` phrase of its manifest, compared as the corpus README says: whitespace
 * runs collapsed to one space, NFC, case-sensitive.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { ParsedDocument } from '@passage/spec';
import { createAnalyzer } from '@passage/retrieval';
import { sharedPath } from '@passage/testing';
import { BoundedParser } from './bounded-parser.js';

interface DocsManifestEntry {
  file: string;
  format: string;
  contains: string[];
}

const docsDirectory = sharedPath('docs');
const manifest = JSON.parse(await readFile(path.join(docsDirectory, 'manifest.json'), 'utf8')) as DocsManifestEntry[];
const parser = new BoundedParser({ timeoutMs: 60_000 });

const typeByFormat: Record<string, ParsedDocument['type']> = {
  docx: 'docx',
  pptx: 'pptx',
  xlsx: 'xlsx',
  csv: 'csv',
  html: 'html',
  md: 'markdown',
  eml: 'email',
};

function normalized(text: string): string {
  return text.normalize('NFC').replace(/\s+/gu, ' ').trim();
}

async function parseShared(file: string): Promise<ParsedDocument> {
  return parser.parse(await readFile(path.join(docsDirectory, file)), { fileName: path.basename(file) });
}

describe('every document of the shared office corpus, through BoundedParser', () => {
  for (const entry of manifest) {
    test(`${entry.file} is read as ${entry.format} and yields every phrase of its manifest`, async () => {
      const document = await parseShared(entry.file);
      assert.equal(document.type, typeByFormat[entry.format]);
      assert.deepEqual(
        document.pages.map((page) => page.number),
        document.pages.map((_, index) => index + 1),
        'pages are numbered from 1 without gaps',
      );
      const text = normalized(document.pages.map((page) => page.text).join('\n'));
      for (const phrase of entry.contains) assert.ok(text.includes(normalized(phrase)), `${entry.file} lacks ${JSON.stringify(phrase)}`);
    });
  }

  test('the corpus covers every new format', () => {
    const formats = new Set(manifest.map((entry) => entry.format));
    for (const format of ['docx', 'pptx', 'xlsx', 'csv', 'eml']) assert.ok(formats.has(format), format);
  });

  test('a presentation has one page per slide, each opening with its number, with its speaker notes', async () => {
    const document = await parseShared('pptx/powerpoint_sample.pptx');
    assert.equal(document.pages.length, 3);
    for (const page of document.pages) assert.ok(page.text.startsWith(`Slide ${page.number}\n`), page.text.slice(0, 40));
    const second = document.pages[1]!.text;
    assert.match(second, /Second slide title/);
    assert.match(second, /Notes: Some notes on the second slide\./);
    // A table of the first slide keeps its rows, cells separated by " | ".
    assert.match(document.pages[0]!.text, /^R1 \| True \| False/m);
  });

  test('a workbook has one page per sheet, each opening with the sheet name', async () => {
    const document = await parseShared('xlsx/xlsx_06_edge_cases_.xlsx');
    assert.equal(document.pages.length, 3);
    for (const page of document.pages) assert.match(page.text, /^Sheet: \S/);
    const names = document.pages.map((page) => /^Sheet: (.+)$/m.exec(page.text)?.[1]);
    assert.equal(new Set(names).size, 3, `sheet names ${names.join(', ')}`);
  });

  test('a Word table becomes its header line and one "cell | cell" line per row, rows apart', async () => {
    const document = await parseShared('docx/word_sample.docx');
    const lines = document.pages[0]!.text.split('\n\n');
    const header = lines.findIndex((line) => line.includes('Food | Calories per portion'));
    assert.ok(header >= 0, 'header line');
    assert.equal(lines[header + 1], 'Leaves | Ash, Elm, Maple | 50');
    assert.equal(lines[header + 2], 'Berries | Blueberry, Strawberry, Cranberry | 150');
  });

  test('chunks of a table never end inside a row: every row of the CSV is whole in a chunk', async () => {
    const bytes = await readFile(path.join(docsDirectory, 'csv/csv-comma.csv'));
    const document = await parser.parse(bytes, { fileName: 'csv-comma.csv' });
    const prepared = await parser.prepare(
      bytes,
      { fileName: 'csv-comma.csv' },
      { analyzer: createAnalyzer().options, chunking: { targetTokens: 64, overlapTokens: 8 } },
    );
    assert.ok(prepared.chunks.length > 1, 'the table is cut into several chunks');
    for (const row of document.pages[0]!.text.split('\n\n')) {
      assert.ok(
        prepared.chunks.some((chunk) => chunk.text.includes(row)),
        `no chunk holds the whole row ${row.slice(0, 60)}`,
      );
    }
  });

  test('text boxes stored twice (Choice and Fallback) come out once', async () => {
    const document = await parseShared('docx/textbox.docx');
    const occurrences = document.pages[0]!.text.split('Whether the epidemic has eased.').length - 1;
    assert.equal(occurrences, 1);
  });

  test('an e-mail gives its headers and body on page 1 and its text attachment as page 2', async () => {
    const document = await parseShared('eml/eml_with_attachment.eml');
    assert.equal(document.title, 'Email with Attachment');
    assert.equal(document.pages.length, 2);
    assert.match(document.pages[0]!.text, /^Subject: Email with Attachment\nFrom: "Alice Example" <alice@example\.com>\nTo: /);
    assert.match(document.pages[0]!.text, /Attachments:\ntest\.txt \(text\/plain, 64 bytes\)/);
    assert.match(document.pages[1]!.text, /^Attachment: test\.txt\n\nThis is a test attachment file\./);
  });
});
