import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { docxZipBomb, documentErrorOf, zeroBomb, zipArchive } from '@passage/testing';
import { BoundedParser } from './bounded-parser.js';
import { readZipEntries } from './zip-archive.js';

describe('readZipEntries', () => {
  test('unpacks the entries of an archive', async () => {
    const text = Buffer.from('hello archive');
    const entries = await readZipEntries(zipArchive([{ name: 'a/b.xml', data: deflateRawSync(text), declaredSize: text.length }]), 'test');
    assert.equal(entries.get('a/b.xml')?.toString(), 'hello archive');
  });

  test('refuses an archive whose declared sizes pass the limit before inflating anything', async () => {
    // 1 GiB declared over 4 MiB of real data: refused from the central directory alone.
    const archive = zipArchive([{ name: 'word/document.xml', data: zeroBomb(4), declaredSize: 1024 * 1024 * 1024 }]);
    const error = await documentErrorOf(readZipEntries(archive, 'Word'));
    assert.equal(error.code, 'parse_resource_limit');
    assert.match(error.message, /word\/document\.xml unpacks to 1073741824 bytes, over the limit/);
  });

  test('refuses an archive with more entries than the limit', async () => {
    const tiny = { data: deflateRawSync(Buffer.from('x')), declaredSize: 1 };
    const archive = zipArchive(Array.from({ length: 11 }, (_, index) => ({ name: `part${index}.xml`, ...tiny })));
    const error = await documentErrorOf(readZipEntries(archive, 'PowerPoint', { maxEntries: 10 }));
    assert.equal(error.code, 'parse_resource_limit');
    assert.match(error.message, /11 entries, over the limit of 10/);
  });

  test('stops an entry that inflates to more than its header says', async () => {
    const archive = zipArchive([{ name: 'xl/workbook.xml', data: zeroBomb(8), declaredSize: 1000 }]);
    const error = await documentErrorOf(readZipEntries(archive, 'Excel'));
    assert.equal(error.code, 'document_corrupt');
    assert.match(error.message, /too many bytes/);
  });

  test('reports bytes that are not a zip as a damaged file', async () => {
    const error = await documentErrorOf(readZipEntries(Buffer.from('PK\u0003\u0004 but nothing else'), 'Word'));
    assert.equal(error.code, 'document_corrupt');
  });
});

describe('a zip bomb disguised as a .docx, through BoundedParser', () => {
  const parser = new BoundedParser({ timeoutMs: 60_000, memoryMb: 256 });

  test('fails with parse_resource_limit when it declares its size', async () => {
    const bomb = docxZipBomb(300, 300 * 1024 * 1024);
    const error = await documentErrorOf(parser.parse(bomb, { fileName: 'report.docx' }));
    assert.equal(error.code, 'parse_resource_limit', error.message);
  });

  test('fails with document_corrupt when it lies about its size', async () => {
    const bomb = docxZipBomb(300, 4096);
    const error = await documentErrorOf(parser.parse(bomb, { fileName: 'report.docx' }));
    assert.equal(error.code, 'document_corrupt', error.message);
  });

  test('a zip that is no Office document is refused as such', async () => {
    const archive = zipArchive([{ name: 'notes.txt', data: deflateRawSync(Buffer.from('hello')), declaredSize: 5 }]);
    const error = await documentErrorOf(parser.parse(archive, { fileName: 'notes.docx' }));
    assert.equal(error.code, 'unsupported_type');
    assert.match(error.message, /application\/zip/);
  });
});
