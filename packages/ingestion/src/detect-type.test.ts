import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DocumentError } from '@passage/spec';
import { detectDocumentType } from './detect-type.js';

const utf8 = (text: string) => new TextEncoder().encode(text);
/** The 8-byte PNG signature followed by the start of an IHDR chunk. */
const pngHeader = Uint8Array.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
  0x00, 0x00, 0x00,
]);

async function detectionError(bytes: Uint8Array, fileName: string, mediaType?: string): Promise<DocumentError> {
  try {
    await detectDocumentType(bytes, fileName, mediaType);
  } catch (error) {
    assert.ok(error instanceof DocumentError, String(error));
    return error;
  }
  assert.fail(`expected ${fileName} to be rejected`);
}

describe('detectDocumentType', () => {
  test('finds a PDF by its signature, whatever the name says', async () => {
    assert.equal(await detectDocumentType(utf8('%PDF-1.7\n1 0 obj'), 'scan.bin'), 'pdf');
    const binaryPrefix = Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0x0a]);
    assert.equal(await detectDocumentType(new Uint8Array([...binaryPrefix, ...utf8('%PDF-1.4\n')]), 'report'), 'pdf');
    assert.equal(await detectDocumentType(utf8(`${'junk '.repeat(100)}%PDF-1.4\n`), 'report.pdf'), 'pdf');
  });

  test('does not take a text that quotes the PDF signature for a PDF', async () => {
    assert.equal(await detectDocumentType(utf8('# PDF internals\n\nEvery file starts with `%PDF-1.7`.'), 'notes.md'), 'markdown');
  });

  test('rejects a binary format it does not read, naming it', async () => {
    const gzip = Uint8Array.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x4b, 0x4c, 0x4a, 0x06, 0x00]);
    const error = await detectionError(gzip, 'backup.txt');
    assert.equal(error.code, 'unsupported_type');
    assert.match(error.message, /^Unsupported file type application\/gzip \(backup\.txt\); supported: PDF, Word \(\.docx\), PowerPoint/);
  });

  test('reads an image as an image, whatever its name says', async () => {
    assert.equal(await detectDocumentType(pngHeader, 'holiday.png', 'image/png'), 'image');
    assert.equal(await detectDocumentType(pngHeader, 'invoice.pdf'), 'image');
    const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]);
    assert.equal(await detectDocumentType(jpeg, 'photo'), 'image');
  });

  test('reads an HTML page named .pdf as HTML, and refuses other text named .pdf', async () => {
    assert.equal(await detectDocumentType(utf8('<!DOCTYPE html><html><body>Not found</body></html>'), 'invoice.pdf'), 'html');
    assert.equal(await detectDocumentType(utf8('<html></html>'), 'download', 'application/pdf'), 'html');

    const text = await detectionError(utf8('Dear customer, ...'), 'invoice.pdf');
    assert.equal(text.code, 'pdf_corrupt');
    assert.match(text.message, /does not start like a PDF/);
  });

  test('finds CSV by its name or declared type, and e-mail by its headers', async () => {
    assert.equal(await detectDocumentType(utf8('a,b\n1,2\n'), 'table.csv'), 'csv');
    assert.equal(await detectDocumentType(utf8('a\tb\n1\t2\n'), 'table.tsv'), 'csv');
    assert.equal(await detectDocumentType(utf8('a,b\n1,2\n'), 'upload', 'text/csv'), 'csv');
    const mail = 'From: Alice <a@example.com>\r\nTo: Bob <b@example.com>\r\nSubject: Hi\r\n\r\nHello';
    assert.equal(await detectDocumentType(utf8(mail), 'message'), 'email');
    assert.equal(await detectDocumentType(utf8('Subject: my notes\n\nThings to do'), 'notes.txt'), 'text');
    // An e-mail with an 8-bit body in ISO-8859-1 is not UTF-8, and still an e-mail by its name.
    const latin1Mail = Uint8Array.from([...utf8('Subject: caf'), 0xe9, ...utf8('\n\nbody')]);
    assert.equal(await detectDocumentType(latin1Mail, 'menu.eml'), 'email');
  });

  test('rejects bytes that are not UTF-8 text', async () => {
    const latin1 = Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x0a]); // "café" in ISO-8859-1
    assert.equal((await detectionError(latin1, 'menu.txt')).code, 'unsupported_type');
    assert.equal((await detectionError(utf8('text\u0000with NUL'), 'dump.txt')).code, 'unsupported_type');
    const utf16 = Uint8Array.from([0xff, 0xfe, 0x68, 0x00, 0x69, 0x00]);
    assert.equal((await detectionError(utf16, 'hi.txt')).code, 'unsupported_type');
  });

  test('rejects an empty or blank file as empty_document', async () => {
    assert.equal((await detectionError(new Uint8Array(0), 'empty.txt')).code, 'empty_document');
    assert.equal((await detectionError(utf8(' \n\t\r\n '), 'blank.md')).code, 'empty_document');
    assert.equal((await detectionError(utf8('\uFEFF  \n'), 'bom.txt')).code, 'empty_document');
  });

  test('accepts UTF-8 text in any script, with or without BOM', async () => {
    assert.equal(await detectDocumentType(utf8('机器学习是人工智能的一个分支。'), 'notes.txt'), 'text');
    assert.equal(await detectDocumentType(utf8('\uFEFFこんにちは'), 'greeting'), 'text');
  });

  test('does not mistake text for a binary format with a two-byte signature', async () => {
    // "BM" starts a bitmap and "MZ" an executable for file-type.
    assert.equal(await detectDocumentType(utf8('BMW annual report 2024'), 'bmw.txt'), 'text');
    assert.equal(await detectDocumentType(utf8('MZ-80 user manual'), 'manual.md'), 'markdown');
  });

  test('rejects RTF, which is text but not prose', async () => {
    assert.equal((await detectionError(utf8('{\\rtf1\\ansi Hello}'), 'letter.txt')).code, 'unsupported_type');
  });

  test('tells HTML, Markdown and plain text apart', async () => {
    assert.equal(await detectDocumentType(utf8('<p>hi</p>'), 'page.htm'), 'html');
    assert.equal(await detectDocumentType(utf8('<p>hi</p>'), 'page', 'text/html; charset=utf-8'), 'html');
    assert.equal(await detectDocumentType(utf8('\uFEFF\n  <!DOCTYPE html><html></html>'), 'page.txt'), 'html');
    assert.equal(await detectDocumentType(utf8('<HTML lang="en"><body>x</body></HTML>'), 'upload'), 'html');
    assert.equal(await detectDocumentType(utf8('<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"></html>'), 'page.xhtml'), 'html');
    assert.equal(await detectDocumentType(utf8('# Title'), 'README.md'), 'markdown');
    assert.equal(await detectDocumentType(utf8('# Title'), 'notes.markdown'), 'markdown');
    assert.equal(await detectDocumentType(utf8('# Title'), 'notes', 'text/markdown'), 'markdown');
    assert.equal(await detectDocumentType(utf8('<b>not html</b> here'), 'notes.txt'), 'text');
    assert.equal(await detectDocumentType(utf8('plain words'), 'notes'), 'text');
  });
});
