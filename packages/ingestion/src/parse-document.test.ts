import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DocumentError } from '@passage/spec';
import { parseDocument } from './parse-document.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

async function parseError(text: string, fileName: string): Promise<DocumentError> {
  try {
    await parseDocument(utf8(text), { fileName });
  } catch (error) {
    assert.ok(error instanceof DocumentError, String(error));
    return error;
  }
  assert.fail(`expected ${fileName} to fail`);
}

describe('parseDocument', () => {
  test('keeps plain text as one page, line endings normalized', async () => {
    const document = await parseDocument(utf8('\uFEFFFirst line\r\nSecond line\r\n'), { fileName: 'notes.txt' });
    assert.deepEqual(document, { type: 'text', pages: [{ number: 1, text: 'First line\nSecond line\n' }] });
  });

  test('keeps Markdown as written and takes its first level-one heading as the title', async () => {
    const markdown = '```sh\n# not a heading\n```\n\n## Section\n\n# Tide tables #\n\n机器学习 *emphasis*\n';
    const document = await parseDocument(utf8(markdown), { fileName: 'tides.md' });
    assert.equal(document.type, 'markdown');
    assert.equal(document.title, 'Tide tables');
    assert.deepEqual(document.pages, [{ number: 1, text: markdown }]);
    assert.equal((await parseDocument(utf8('no heading'), { fileName: 'a.md' })).title, undefined);
  });

  test('dispatches HTML by content or media type', async () => {
    const document = await parseDocument(utf8('<p>Hello <b>world</b></p>'), { fileName: 'upload', mediaType: 'text/html' });
    assert.deepEqual(document.pages, [{ number: 1, text: 'Hello world' }]);
    assert.equal(document.type, 'html');
  });

  test('fails with empty_document when no text is left', async () => {
    const error = await parseError('<html><head><title>t</title></head><body><script>x()</script><img src="a.png"></body></html>', 'empty.html');
    assert.equal(error.code, 'empty_document');
    assert.equal(error.message, 'No text could be extracted from empty.html');
  });

  test('passes detection failures on', async () => {
    assert.equal((await parseError('not a pdf', 'report.pdf')).code, 'pdf_corrupt');
  });
});
