/**
 * OCR of the shared scans and of images, through BoundedParser. Needs the tesseract binary with
 * the eng and chi_sim languages and poppler's pdftoppm: `.ci/run` installs them, and without
 * them these tests fail (they do not skip).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import type { ParsedDocument } from '@passage/spec';
import { characterErrorRate, documentErrorOf, sharedPath } from '@passage/testing';
import { BoundedParser } from './bounded-parser.js';
import type { DocumentMetadata } from './parse-document.js';
import { normalizeOcrText } from './parse-image.js';

/** The eight-page Chinese scan takes minutes on a loaded two-core machine: the limit is generous. */
const parser = new BoundedParser({ timeoutMs: 900_000 });
const english = { mode: 'on', languages: 'eng' } as const;

async function parseFile(relativePath: string, metadata: Omit<DocumentMetadata, 'fileName'>): Promise<ParsedDocument> {
  return parser.parse(await readFile(sharedPath('pdfs', relativePath)), { fileName: relativePath.split('/').at(-1)!, ...metadata });
}

function collapse(text: string): string {
  return text.replace(/\s+/gu, ' ').trim();
}

/** A page of the English scan rendered as an image, as a phone or scanner would deliver it. */
function renderedPage(format: 'png' | 'jpeg'): Buffer {
  return execFileSync('pdftoppm', ['-f', '1', '-l', '1', '-r', '200', `-${format}`, sharedPath('pdfs', 'scanned/scan_en_docling_ocr_test.pdf')]);
}

describe('OCR of scans and images', () => {
  test('the English scan comes out as text within a 5% character error rate of its expected text', async () => {
    const document = await parseFile('scanned/scan_en_docling_ocr_test.pdf', { ocr: english });
    assert.equal(document.type, 'pdf');
    assert.equal(document.pages.length, 1);
    const expected = collapse(await readFile(sharedPath('pdfs', 'expected/scan_en_docling_ocr_test.md'), 'utf8'));
    const errorRate = characterErrorRate(expected, collapse(document.pages[0]!.text));
    assert.ok(errorRate <= 0.05, `character error rate ${errorRate.toFixed(3)}: ${document.pages[0]!.text}`);
  });

  test('the second English scan yields the text its source project asserts', async () => {
    const document = await parseFile('scanned/scan_en_rapidocr_image.pdf', { ocr: english });
    const text = document.pages[0]!.text;
    assert.ok(text.startsWith('Kurbas'), text.slice(0, 40));
    assert.ok(text.length >= 3400, `${text.length} characters`);
    assert.match(collapse(text), /glycoprotein expression in the pri- ?mary tumour/);
  });

  test('the Chinese scan comes out with its eight pages, words found, and no space between two Chinese characters', async () => {
    const document = await parseFile('scanned/scan_zh_mineru_small_ocr_8p.pdf', { ocr: { mode: 'on', languages: 'eng+chi_sim' } });
    assert.equal(document.pages.length, 8);
    const text = document.pages.map((page) => page.text).join('\n');
    for (const word of ['商品', '交换价值', '使用价值', '劳动']) assert.ok(text.includes(word), `lacks ${word}`);
    assert.equal(/\p{Script=Han} +\p{Script=Han}/u.exec(text), null);
  });

  test('PNG and JPEG images are read with OCR as one page', async () => {
    for (const format of ['png', 'jpeg'] as const) {
      const document = await parser.parse(renderedPage(format), { fileName: `scan.${format}`, ocr: english });
      assert.equal(document.type, 'image');
      assert.deepEqual(
        document.pages.map((page) => page.number),
        [1],
      );
      assert.match(collapse(document.pages[0]!.text), /Docling bundles PDF document conversion to JSON and Markdown/);
    }
  });

  test('with OCR off a scan fails pdf_no_text_layer and an image ocr_unavailable', async () => {
    const scan = await documentErrorOf(parseFile('scanned/scan_en_docling_ocr_test.pdf', { ocr: { mode: 'off' } }));
    assert.equal(scan.code, 'pdf_no_text_layer');
    assert.match(scan.message, /OCR is turned off/);
    const image = await documentErrorOf(parser.parse(renderedPage('png'), { fileName: 'scan.png', ocr: { mode: 'off' } }));
    assert.equal(image.code, 'ocr_unavailable');
  });

  test('required OCR with a language that is not installed fails ocr_unavailable, naming it', async () => {
    const error = await documentErrorOf(parseFile('scanned/scan_en_docling_ocr_test.pdf', { ocr: { mode: 'on', languages: 'eng+xyz' } }));
    assert.equal(error.code, 'ocr_unavailable');
    assert.match(error.message, /not installed: xyz/);
  });

  test('an image tesseract cannot decode fails ocr_failed', async () => {
    const truncatedPng = renderedPage('png').subarray(0, 200);
    const error = await documentErrorOf(parser.parse(truncatedPng, { fileName: 'broken.png', ocr: english }));
    assert.equal(error.code, 'ocr_failed', error.message);
  });

  test('a page with a text layer keeps it: the invisible OCR layer is used, not read again', async () => {
    const document = await parseFile('scanned/docling_invisible_text_layer.pdf', { ocr: english });
    assert.match(collapse(document.pages[0]!.text), /Visible heading line/);
    assert.match(collapse(document.pages[0]!.text), /Invisible OCR text layer/);
  });

  test('an encrypted scan is rendered with its password (its one page is a picture without text)', async () => {
    const error = await documentErrorOf(parseFile('encrypted/enc_pdfjs_pr6531_1.pdf', { password: 'asdfasdf', ocr: english }));
    assert.equal(error.code, 'pdf_no_text_layer');
    assert.match(error.message, /OCR \(eng\) found no text either/);
  });

  test('OCR text loses the spaces tesseract puts between CJK characters and its form feeds', () => {
    assert.equal(normalizeOcrText('中 的 事情 。 为 有 用\fnext page  \n\n\n\nend'), '中的事情。为有用\nnext page\n\nend');
    assert.equal(normalizeOcrText('Chapter 3 商品 and 货币'), 'Chapter 3 商品 and 货币');
  });
});
