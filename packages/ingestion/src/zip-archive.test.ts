import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { constants, deflateRawSync } from 'node:zlib';
import { documentErrorOf } from '@passage/testing';
import { BoundedParser } from './bounded-parser.js';
import { readZipEntries } from './zip-archive.js';

interface ZipEntryInput {
  name: string;
  /** Raw deflate data (method 8). */
  data: Buffer;
  /** What the headers claim the entry inflates to. */
  declaredSize: number;
}

/** A zip archive written by hand, so that its headers can claim what a hostile file claims. */
function zipArchive(entries: ZipEntryInput[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(0, 14); // CRC-32: yauzl does not check it
    local.writeUInt32LE(entry.data.length, 18);
    local.writeUInt32LE(entry.declaredSize, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, entry.data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(entry.data.length, 20);
    central.writeUInt32LE(entry.declaredSize, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + entry.data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/**
 * Raw deflate data that inflates to `mebibytes` MiB of zeros from about a thousandth of that: one
 * flushed block of 1 MiB of zeros repeated (no block is final), then an empty final block.
 */
function zeroBomb(mebibytes: number): Buffer {
  const block = deflateRawSync(Buffer.alloc(1024 * 1024), { finishFlush: constants.Z_FULL_FLUSH });
  return Buffer.concat([...Array.from({ length: mebibytes }, () => block), Buffer.from([0x03, 0x00])]);
}

const contentTypes = Buffer.from(
  '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
);
const contentTypesEntry = { name: '[Content_Types].xml', data: deflateRawSync(contentTypes), declaredSize: contentTypes.length };

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
    const bomb = zipArchive([contentTypesEntry, { name: 'word/document.xml', data: zeroBomb(300), declaredSize: 300 * 1024 * 1024 }]);
    const error = await documentErrorOf(parser.parse(bomb, { fileName: 'report.docx' }));
    assert.equal(error.code, 'parse_resource_limit', error.message);
  });

  test('fails with document_corrupt when it lies about its size', async () => {
    const bomb = zipArchive([contentTypesEntry, { name: 'word/document.xml', data: zeroBomb(300), declaredSize: 4096 }]);
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
