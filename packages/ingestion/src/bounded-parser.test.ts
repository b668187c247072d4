import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { AbortedError, DocumentError } from '@passage/spec';
import { BoundedParser } from './bounded-parser.js';

const repositoryRoot = path.resolve(import.meta.dirname, '../../..');
const pdfDirectory = path.join(process.env.SHARED_DIR ?? path.resolve(repositoryRoot, '../shared'), 'pdfs');
/** 352 pages, 2.6 MB: about 1.3 s of parsing and 30–48 MiB of heap. */
const bookBytes = await readFile(path.join(pdfDirectory, 'huge_pages/pdfjs_freeculture_352p.pdf'));
const bookMetadata = { fileName: 'freeculture.pdf', mediaType: 'application/pdf' };

/** The parse's thread and timer are gone once its promise has settled. */
function assertNothingLeftRunning(): void {
  const resources = process.getActiveResourcesInfo();
  assert.ok(!resources.includes('MessagePort'), `a parsing thread is still attached: ${resources.join(', ')}`);
  assert.ok(!resources.includes('Timeout'), `a timer is still pending: ${resources.join(', ')}`);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the parse to fail');
}

describe('BoundedParser', () => {
  test('parses a document and leaves the caller’s bytes intact', async () => {
    const bytes = Buffer.from('# Field notes\n\nThe river rose two metres.\n');
    const document = await new BoundedParser().parse(bytes, { fileName: 'notes.md' });
    assert.deepEqual(document, {
      type: 'markdown',
      title: 'Field notes',
      pages: [{ number: 1, text: '# Field notes\n\nThe river rose two metres.\n' }],
    });
    assert.equal(bytes.toString('utf8'), '# Field notes\n\nThe river rose two metres.\n');
    assertNothingLeftRunning();
  });

  test('rebuilds the DocumentError the thread reported', async () => {
    const error = await rejection(new BoundedParser().parse(Buffer.from(' \n\t '), { fileName: 'blank.txt' }));
    assert.ok(error instanceof DocumentError);
    assert.equal(error.code, 'empty_document');
    assert.equal(error.retryable, false);
    assert.match(error.message, /blank\.txt/);
  });

  test('stops a parse that runs out of time', async () => {
    for (const timeoutMs of [1, 600]) {
      const started = performance.now();
      const error = await rejection(new BoundedParser({ timeoutMs }).parse(bookBytes, bookMetadata));
      assert.ok(error instanceof DocumentError, String(error));
      assert.equal(error.code, 'parse_timeout');
      assert.equal(error.message, `Parsing took longer than ${timeoutMs / 1000} s and was stopped`);
      assert.ok(performance.now() - started < timeoutMs + 1000, 'the thread is stopped, not awaited');
      assertNothingLeftRunning();
    }
  });

  test('stops a parse that needs more memory than allowed, and the next parse still works', async () => {
    // 24 MiB is enough to start the thread and load pdf.js but not to parse the whole book.
    const error = await rejection(new BoundedParser({ memoryMb: 24 }).parse(bookBytes, bookMetadata));
    assert.ok(error instanceof DocumentError, String(error));
    assert.equal(error.code, 'parse_resource_limit');
    assert.equal(error.message, 'Parsing needed more than 24 MiB of memory and was stopped');
    assertNothingLeftRunning();

    const document = await new BoundedParser({ memoryMb: 128 }).parse(bookBytes, bookMetadata);
    assert.equal(document.pages.length, 352);
  });

  test('stops a parse when its signal aborts', async () => {
    const controller = new AbortController();
    const parse = new BoundedParser().parse(bookBytes, bookMetadata, controller.signal);
    // After the thread has started (about 0.4 s) and while pdf.js is still reading the book.
    setTimeout(() => controller.abort(), 700);
    const error = await rejection(parse);
    assert.ok(error instanceof AbortedError, String(error));
    assertNothingLeftRunning();
  });

  test('does not start a thread for a signal that has already aborted', async () => {
    const error = await rejection(new BoundedParser().parse(bookBytes, bookMetadata, AbortSignal.abort()));
    assert.ok(error instanceof AbortedError, String(error));
    assertNothingLeftRunning();
  });

  test('rejects limits that are not positive', () => {
    assert.throws(() => new BoundedParser({ timeoutMs: 0 }), RangeError);
    assert.throws(() => new BoundedParser({ memoryMb: Number.NaN }), RangeError);
  });
});
