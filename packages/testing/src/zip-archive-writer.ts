import { constants, deflateRawSync } from 'node:zlib';

export interface ZipEntryInput {
  name: string;
  /** Raw deflate data (method 8). */
  data: Buffer;
  /** What the headers claim the entry inflates to. */
  declaredSize: number;
}

/**
 * A zip archive written by hand (deflate entries only), so that a test's headers can claim what a
 * hostile file claims, or hold a small Office document made for the test.
 */
export function zipArchive(entries: ZipEntryInput[]): Buffer {
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

/** An entry of `text`, deflated, declaring its true size. */
export function deflatedEntry(name: string, text: string): ZipEntryInput {
  const bytes = Buffer.from(text, 'utf8');
  return { name, data: deflateRawSync(bytes), declaredSize: bytes.length };
}

/**
 * Raw deflate data that inflates to `mebibytes` MiB of zeros from about a thousandth of that: one
 * flushed block of 1 MiB of zeros repeated (no block is final), then an empty final block.
 */
export function zeroBomb(mebibytes: number): Buffer {
  const block = deflateRawSync(Buffer.alloc(1024 * 1024), { finishFlush: constants.Z_FULL_FLUSH });
  return Buffer.concat([...Array.from({ length: mebibytes }, () => block), Buffer.from([0x03, 0x00])]);
}

const contentTypes = Buffer.from(
  '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
);

/**
 * A zip bomb dressed as a Word file (file-type finds Word's content types): its word/document.xml
 * inflates to `mebibytes` MiB of zeros and its headers declare `declaredSize` bytes.
 */
export function docxZipBomb(mebibytes: number, declaredSize: number): Buffer {
  const contentTypesEntry = { name: '[Content_Types].xml', data: deflateRawSync(contentTypes), declaredSize: contentTypes.length };
  return zipArchive([contentTypesEntry, { name: 'word/document.xml', data: zeroBomb(mebibytes), declaredSize }]);
}
