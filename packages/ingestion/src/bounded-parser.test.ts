import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { createDeflate } from 'node:zlib';
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { createAnalyzer } from '@passage/retrieval';
import { AbortedError, DocumentError } from '@passage/spec';
import { BoundedParser, type ParsedSummary } from './bounded-parser.js';
import { chunkPages } from './chunk.js';

const repositoryRoot = path.resolve(import.meta.dirname, '../../..');
const pdfDirectory = path.join(process.env.SHARED_DIR ?? path.resolve(repositoryRoot, '../shared'), 'pdfs');
/** 352 pages, 2.6 MB: about 1.3 s of parsing and 30–48 MiB of heap. */
const bookBytes = await readFile(path.join(pdfDirectory, 'huge_pages/pdfjs_freeculture_352p.pdf'));
const bookMetadata = { fileName: 'freeculture.pdf', mediaType: 'application/pdf' };

/**
 * A 0.5 MB PDF whose one content stream inflates to 512 MiB of spaces: no text, almost no heap,
 * and pdf.js holds the inflated bytes in an ArrayBuffer, which V8's heap limit does not cover.
 */
async function deflateBombPdf(): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const compressed: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => compressed.push(chunk));
  const finished = new Promise((resolve, reject) => deflate.on('end', resolve).on('error', reject));
  const spaces = Buffer.alloc(1024 * 1024, 0x20);
  for (let mebibytes = 0; mebibytes < 512; mebibytes += 1) deflate.write(spaces);
  deflate.end();
  await finished;
  const stream = Buffer.concat(compressed);
  const objects = [
    Buffer.from('<< /Type /Catalog /Pages 2 0 R >>'),
    Buffer.from('<< /Type /Pages /Kids [3 0 R] /Count 1 >>'),
    Buffer.from('<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>'),
    Buffer.concat([Buffer.from(`<< /Length ${stream.length} /Filter /FlateDecode >>\nstream\n`), stream, Buffer.from('\nendstream')]),
  ];
  const parts = [Buffer.from('%PDF-1.4\n')];
  const offsets: number[] = [];
  let length = parts[0]!.length;
  objects.forEach((object, index) => {
    offsets.push(length);
    const part = Buffer.concat([Buffer.from(`${index + 1} 0 obj\n`), object, Buffer.from('\nendobj\n')]);
    parts.push(part);
    length += part.length;
  });
  const entries = offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n \n`).join('');
  parts.push(
    Buffer.from(
      `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${entries}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${length}\n%%EOF\n`,
    ),
  );
  return Buffer.concat(parts);
}

/** The parse's thread and timer are gone once its promise has settled. */
function assertNothingLeftRunning(): void {
  const resources = process.getActiveResourcesInfo();
  assert.ok(!resources.includes('MessagePort'), `a parsing thread is still attached: ${resources.join(', ')}`);
  assert.ok(!resources.includes('Timeout'), `a timer is still pending: ${resources.join(', ')}`);
}

/** A thread that starts and then never answers: its parse certainly outlasts any limit. */
const neverAnswering = new URL('../test-fixtures/never-answering-parse-thread.mjs', import.meta.url);

/** Resolves when a never-answering parsing thread has started. */
function neverAnsweringThreadRunning(): Promise<void> {
  const channel = new BroadcastChannel('never-answering-parse-thread');
  return new Promise((resolve) => {
    channel.onmessage = () => {
      channel.close();
      resolve();
    };
  });
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

  test('stops a parse that runs out of time, whether the thread is starting or running', async () => {
    // A parse that never ends can only be stopped: awaiting the thread would never settle.
    for (const timeoutMs of [1, 300]) {
      const error = await rejection(new BoundedParser({ timeoutMs, threadEntry: neverAnswering }).parse(bookBytes, bookMetadata));
      assert.ok(error instanceof DocumentError, String(error));
      assert.equal(error.code, 'parse_timeout');
      assert.equal(error.message, `Parsing took longer than ${timeoutMs / 1000} s and was stopped`);
      assertNothingLeftRunning();
    }
  });

  test('an OCR page moves the time limit to twice the page’s own limit, and a preparation hears of the page', async () => {
    const ocrPage = new URL('../test-fixtures/ocr-page-parse-thread.mjs', import.meta.url);
    const parser = new BoundedParser({ timeoutMs: 4_000, threadEntry: ocrPage });
    const parsed = await parser.parse(bookBytes, bookMetadata);
    assert.deepEqual(parsed.pages, [{ number: 1, text: 'Read by OCR' }], 'finished after 5 s: past the 4 s limit, within 2 × 10 s of the page');
    const pages: unknown[] = [];
    const prepared = await parser.prepare(bookBytes, bookMetadata, { analyzer: {} }, undefined, undefined, (page) => pages.push(page));
    assert.equal(prepared.pages, 1);
    assert.deepEqual(pages, [{ kind: 'ocr-page', index: 1, total: 1, pageTimeoutMs: 10_000 }]);
    assertNothingLeftRunning();
  });

  test('stops a parse that needs more memory than allowed, and the next parse still works', async () => {
    // 24 MiB is enough to start the thread and load pdf.js but not to parse the whole book.
    const error = await rejection(new BoundedParser({ memoryMb: 24 }).parse(bookBytes, bookMetadata));
    assert.ok(error instanceof DocumentError, String(error));
    assert.equal(error.code, 'parse_resource_limit');
    assert.equal(error.message, 'Parsing needed more than 24 MiB of memory and was stopped');
    assert.equal((error.cause as { code?: unknown } | undefined)?.code, 'ERR_WORKER_OUT_OF_MEMORY', 'stopped by V8');
    assertNothingLeftRunning();

    const document = await new BoundedParser({ memoryMb: 128 }).parse(bookBytes, bookMetadata);
    assert.equal(document.pages.length, 352);
  });

  test('stops a parse whose memory outside the heap grows past the limit', async () => {
    const bomb = await deflateBombPdf();
    const error = await rejection(new BoundedParser({ memoryMb: 48 }).parse(bomb, { fileName: 'bomb.pdf' }));
    assert.ok(error instanceof DocumentError, String(error));
    assert.equal(error.code, 'parse_resource_limit');
    assert.equal(error.cause, undefined, 'stopped by the resident-memory watch, not by V8');
    assertNothingLeftRunning();
  });

  test('stops a running parse when its signal aborts', async () => {
    const controller = new AbortController();
    const running = neverAnsweringThreadRunning();
    const parse = new BoundedParser({ threadEntry: neverAnswering }).parse(bookBytes, bookMetadata, controller.signal);
    await running;
    controller.abort();
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

  describe('prepare', () => {
    const analyzer = createAnalyzer();
    const chunking = { targetTokens: 64, overlapTokens: 8 };
    const text = Array.from({ length: 400 }, (_, index) => `Sentence ${index} says the river rose ${index % 7} metres overnight.`).join(' ');

    test('parses, chunks and analyzes in another thread, exactly as this thread would', async () => {
      const summaries: ParsedSummary[] = [];
      const prepared = await new BoundedParser().prepare(
        Buffer.from(`# Flood report\n\n${text}\n`),
        { fileName: 'report.md' },
        { chunking, analyzer: analyzer.options },
        undefined,
        (summary) => {
          summaries.push(summary);
        },
      );
      assert.deepEqual(summaries, [{ type: 'markdown', pages: 1, title: 'Flood report' }]);
      assert.notEqual(prepared.threadId, threadId, 'the work ran in a thread of its own');
      const page = { number: 1, text: `# Flood report\n\n${text}\n` };
      const expected = chunkPages([page], chunking).map((draft) => ({
        ...draft,
        termsJson: JSON.stringify(analyzer.termFrequencies(`Flood report\n${draft.text}`)),
      }));
      assert.ok(expected.length > 10, 'several chunks, so that several batches crossed');
      assert.deepEqual(prepared.chunks, expected);
      assertNothingLeftRunning();
    });

    test('ends a preparation of a blank document with empty_document', async () => {
      const error = await rejection(new BoundedParser().prepare(Buffer.from(' \n '), { fileName: 'blank.txt' }, { analyzer: analyzer.options }));
      assert.ok(error instanceof DocumentError, String(error));
      assert.equal(error.code, 'empty_document');
      assertNothingLeftRunning();
    });

    test('stops a preparation when its signal aborts once the document is parsed, and releases the thread', async () => {
      const controller = new AbortController();
      const error = await rejection(
        new BoundedParser().prepare(bookBytes, bookMetadata, { analyzer: analyzer.options }, controller.signal, () => controller.abort()),
      );
      assert.ok(error instanceof AbortedError, String(error));
      assertNothingLeftRunning();
    });
  });
});
