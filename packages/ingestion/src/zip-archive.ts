import { DocumentError } from '@passage/spec';
import yauzl from 'yauzl';

/** Limits on what an archive (a .docx, .pptx or .xlsx) may unpack to. */
export interface ZipLimits {
  /** Most entries the central directory may list. Default: 10000. */
  maxEntries?: number;
  /** Most bytes all entries may unpack to together, as declared and as inflated. Default: 256 MiB. */
  maxTotalBytes?: number;
  /** Most bytes one entry may unpack to. Default: 64 MiB. */
  maxEntryBytes?: number;
}

const defaultLimits: Required<ZipLimits> = { maxEntries: 10_000, maxTotalBytes: 256 * 1024 * 1024, maxEntryBytes: 64 * 1024 * 1024 };

/** The entries of an archive, unpacked, by path (forward slashes, as stored). */
export type ZipEntries = Map<string, Buffer>;

/**
 * Unpacks the entries `wanted` selects (every entry by default), after checking the central
 * directory against the limits: the entry count and every declared size are checked before a
 * byte is inflated, and yauzl checks each entry's inflated bytes against its declared size as it
 * reads (a lying header fails), so a zip bomb stops before it costs memory. Errors: parse_resource_limit
 * (over a limit), document_corrupt (not a readable zip).
 */
export async function readZipEntries(
  bytes: Uint8Array,
  fileKind: string,
  limits: ZipLimits = {},
  wanted: (name: string) => boolean = () => true,
): Promise<ZipEntries> {
  const { maxEntries, maxTotalBytes, maxEntryBytes } = { ...defaultLimits, ...limits };
  const zip = await openZip(bytes, fileKind);
  try {
    if (zip.entryCount > maxEntries) {
      throw new DocumentError('parse_resource_limit', `The ${fileKind} archive has ${zip.entryCount} entries, over the limit of ${maxEntries}`);
    }
    const entries = await listEntries(zip, fileKind);
    let declaredTotal = 0;
    for (const entry of entries) {
      if (entry.uncompressedSize > maxEntryBytes) {
        throw new DocumentError(
          'parse_resource_limit',
          `The ${fileKind} archive's entry ${entry.fileName} unpacks to ${entry.uncompressedSize} bytes, over the limit of ${maxEntryBytes} per entry`,
        );
      }
      declaredTotal += entry.uncompressedSize;
    }
    if (declaredTotal > maxTotalBytes) {
      throw new DocumentError('parse_resource_limit', `The ${fileKind} archive unpacks to ${declaredTotal} bytes, over the limit of ${maxTotalBytes}`);
    }
    const unpacked: ZipEntries = new Map();
    for (const entry of entries) {
      if (entry.fileName.endsWith('/') || !wanted(entry.fileName)) continue;
      unpacked.set(entry.fileName, await readEntry(zip, entry, fileKind));
    }
    return unpacked;
  } finally {
    zip.close();
  }
}

function openZip(bytes: Uint8Array, fileKind: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    // lazyEntries: entries are listed one at a time; validateEntrySizes (the default) makes every
    // read fail when an entry inflates to more or fewer bytes than its header says.
    yauzl.fromBuffer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { lazyEntries: true, validateEntrySizes: true }, (error, zip) => {
      if (error !== null) reject(corrupt(fileKind, error));
      else resolve(zip);
    });
  });
}

function listEntries(zip: yauzl.ZipFile, fileKind: string): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on('entry', (entry: yauzl.Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.once('end', () => resolve(entries));
    zip.once('error', (error: Error) => reject(corrupt(fileKind, error)));
    zip.readEntry();
  });
}

function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, fileKind: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (error, stream) => {
      if (error !== null) {
        reject(corrupt(fileKind, error));
        return;
      }
      const pieces: Buffer[] = [];
      stream.on('data', (piece: Buffer) => pieces.push(piece));
      stream.once('end', () => resolve(Buffer.concat(pieces)));
      stream.once('error', (streamError: Error) => reject(corrupt(fileKind, streamError)));
    });
  });
}

function corrupt(fileKind: string, cause: Error): DocumentError {
  return new DocumentError('document_corrupt', `The ${fileKind} file is damaged and cannot be read: ${cause.message}`, { cause });
}

/** An entry's text, UTF-8 (the encoding of every Office Open XML part). */
export function entryText(entries: ZipEntries, name: string): string | undefined {
  return entries.get(name)?.toString('utf8');
}

/**
 * Resolves a relationship target against the part that names it: `slides/slide1.xml` from
 * `ppt/presentation.xml` is `ppt/slides/slide1.xml`; an absolute target starts at the root.
 */
export function resolvePartPath(sourcePart: string, target: string): string {
  if (target.startsWith('/')) return target.slice(1);
  const parts = sourcePart.split('/').slice(0, -1);
  for (const piece of target.split('/')) {
    if (piece === '..') parts.pop();
    else if (piece !== '.' && piece !== '') parts.push(piece);
  }
  return parts.join('/');
}
