/**
 * Cleaning of PDF text layers: units on made-up text, a generated multi-page PDF with a running
 * header and footer, and the shared PDFs (SHARED_DIR/pdfs) through parsePdf and chunkPages. The
 * Chinese PDFs are checked against poppler's pdftotext (installed with the OCR tools; without it
 * the test fails): where we separate two Han characters, poppler must not read them together.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import type { ParsedPage } from '@passage/spec';
import { sharedPath } from '@passage/testing';
import { chunkPages } from './chunk.js';
import { documentVocabulary, joinCjkLineWraps, joinHyphenatedWords, joinSpacedCjk, removeRunningLines } from './clean-pdf-text.js';
import { parsePdf } from './parse-pdf.js';

const collapse = (text: string) => text.replace(/\s+/gu, ' ').trim();

/** The Chinese PDFs of the shared corpus (the ones with a text layer: the scans are in scanned/). */
const chinesePdfs = (JSON.parse(await readFile(sharedPath('pdfs', 'manifest.json'), 'utf8')) as Array<{ file: string }>)
  .map((entry) => entry.file)
  .filter((file) => file.startsWith('cjk/zh_'));

/** A PDF of Helvetica lines, one array of lines per page, each line 14 points below the previous one. */
function pdfWithPages(pages: string[][]): Uint8Array {
  const objects: string[] = [];
  const pageIds = pages.map((_, index) => 4 + index * 2);
  objects[1] = '<< /Type /Catalog /Pages 2 0 R >>';
  objects[2] = `<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pages.length} >>`;
  objects[3] = '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>';
  pages.forEach((lines, index) => {
    const escape = (line: string) => line.replace(/[\\()]/g, (character) => `\\${character}`);
    const content = `BT /F1 11 Tf 14 TL 72 760 Td ${lines.map((line) => `(${escape(line)}) Tj T*`).join(' ')} ET`;
    objects[4 + index * 2] = `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${5 + index * 2} 0 R >>`;
    objects[5 + index * 2] = `<< /Length ${content.length} >>\nstream\n${content}\nendstream`;
  });
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  for (let id = 1; id < objects.length; id += 1) {
    offsets[id] = body.length;
    body += `${id} 0 obj\n${objects[id]}\nendobj\n`;
  }
  const xref = body.length;
  body += `xref\n0 ${objects.length}\n0000000000 65535 f \n`;
  for (let id = 1; id < objects.length; id += 1) body += `${String(offsets[id]).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(body);
}

describe('cleaning the text layer of a PDF', () => {
  test('letter-spaced Chinese loses its spaces; a space between two Chinese phrases stays', () => {
    // Only spaces between two CJK characters go: Latin letter spacing cannot be told from words.
    assert.equal(joinSpacedCjk('EM D 系 统 发 展 了'), 'EM D 系统发展了');
    assert.equal(joinSpacedCjk('坚持社会主义核心价值体系 增强文化自觉和文化自信'), '坚持社会主义核心价值体系 增强文化自觉和文化自信');
    assert.equal(joinSpacedCjk('한국어 문장은 띄어 쓴다'), '한국어 문장은 띄어 쓴다');
  });

  test('a wrapped Chinese line joins the next one; headings and sentence ends keep their breaks', () => {
    const text = [
      '标题',
      '这是一个很长的段落，它在页面的宽度处被折',
      '行了，而这一行也同样被折行到了下一行里面',
      '去了，最后一行比较短。',
      '第二个标题',
      '另一段文字的第一行也和上面的行一样很长。',
      '这一行在句号之后开始，不与上一行连接起来',
    ].join('\n');
    assert.equal(
      joinCjkLineWraps(text),
      [
        '标题',
        '这是一个很长的段落，它在页面的宽度处被折行了，而这一行也同样被折行到了下一行里面去了，最后一行比较短。',
        '第二个标题',
        '另一段文字的第一行也和上面的行一样很长。',
        '这一行在句号之后开始，不与上一行连接起来',
      ].join('\n'),
    );
  });

  test('a hyphenated line end is joined when the document uses the word, and kept in compounds', () => {
    const pages: ParsedPage[] = [
      { number: 1, text: 'Dynamic lan-\nguage implementors use a mixed-\nmode design that is state-of-the-\nart; implemen-\ntation is hard.' },
      { number: 2, text: 'Every language has a mode and art of its own.' },
    ];
    const vocabulary = documentVocabulary(pages);
    assert.ok(!vocabulary.has('lan'), 'the halves of a broken word are not counted as words');
    assert.equal(
      joinHyphenatedWords(pages[0]!.text, vocabulary),
      'Dynamic language implementors use a mixed-mode design that is state-of-the-art; implementation is hard.',
    );
    assert.equal(joinHyphenatedWords('cell one-\tcell\ntwo-\nthree\tcell', new Set()), 'cell one-\tcell\ntwo-\nthree\tcell', 'table lines are left alone');
  });

  test('lines at the top or bottom of most pages are dropped, the same line elsewhere is kept', () => {
    const bodies = ['Alpha begins.', 'Beta follows.', 'Gamma is third.', 'Delta ends it.'];
    const pages: ParsedPage[] = bodies.map((body, index) => ({
      number: index + 1,
      text: `ACME Annual Report 2024\n${body}\nThe ACME Annual Report 2024 is quoted here.\nMore about ${body}\nPage ${index + 1} of 4`,
    }));
    pages.push({ number: 5, text: 'Appendix\nOnly body here.\nNothing else' });
    removeRunningLines(pages);
    assert.equal(pages[1]!.text, 'Beta follows.\nThe ACME Annual Report 2024 is quoted here.\nMore about Beta follows.');
    assert.equal(pages[4]!.text, 'Appendix\nOnly body here.\nNothing else');
    const twoPages: ParsedPage[] = [1, 2].map((number) => ({ number, text: `Header\nBody ${number}` }));
    removeRunningLines(twoPages);
    assert.equal(twoPages[0]!.text, 'Header\nBody 1', 'two pages are too few to tell a running header');
  });

  test('a generated four-page PDF loses its running header and footer; page numbers and chunk offsets stay right', async () => {
    const pages = [1, 2, 3, 4].map((number) => [
      'Quarterly Report of the Example Company',
      `Section ${number} describes topic number ${number} in some detail.`,
      `It ends with the word marker${number}.`,
      `Page ${number} of 4`,
    ]);
    const document = await parsePdf(pdfWithPages(pages), { ocr: { mode: 'off' } });
    assert.deepEqual(
      document.pages.map((page) => page.number),
      [1, 2, 3, 4],
    );
    for (const page of document.pages) {
      assert.equal(
        collapse(page.text),
        `Section ${page.number} describes topic number ${page.number} in some detail. It ends with the word marker${page.number}.`,
      );
    }
    for (const chunk of chunkPages(document.pages)) {
      const page = document.pages.find((candidate) => candidate.number === chunk.page)!;
      assert.equal(page.text.slice(chunk.start, chunk.end), chunk.text);
      assert.ok(chunk.text.includes(`marker${chunk.page}`), `chunk of page ${chunk.page}: ${chunk.text}`);
    }
  });
});

describe('the shared PDFs, cleaned', () => {
  test('the tracemonkey paper has its line-end hyphenations joined and its compounds kept', async () => {
    const document = await parsePdf(await readFile(sharedPath('pdfs', 'normal_text/tracemonkey_14p.pdf')), { ocr: { mode: 'off' } });
    assert.equal(document.pages.length, 14);
    const text = collapse(document.pages.map((page) => page.text).join('\n'));
    for (const phrase of [
      'Dynamic language implementors',
      'more difficult to compile than',
      'Our system uses a mixed-mode',
      'TraceMonkey supports all the JavaScript features of SpiderMonkey',
    ]) {
      assert.ok(text.includes(phrase), `lacks ${phrase}`);
    }
    for (const broken of ['lan- guage', 'com- pile', 'Spi- derMonkey']) assert.ok(!text.includes(broken), `still has ${broken}`);
    const chunks = chunkPages(document.pages);
    assert.ok(chunks.some((chunk) => collapse(chunk.text).includes('Dynamic language implementors')));
  });

  test('the shared corpus lists its five Chinese PDFs with a text layer', () => {
    assert.equal(chinesePdfs.length, 5, chinesePdfs.join(', '));
  });

  for (const file of chinesePdfs) {
    test(`${file}: no passage separates two Chinese characters that poppler reads together`, async () => {
      const path = sharedPath('pdfs', file);
      const document = await parsePdf(await readFile(path), { ocr: { mode: 'off' } });
      // The reference for which characters follow each other without a gap.
      const popplerJoined = collapse(execFileSync('pdftotext', ['-enc', 'UTF-8', path, '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
      const chunks = chunkPages(document.pages);
      assert.ok(chunks.length > 0);
      for (const chunk of chunks) {
        // As the extractive answer and a whitespace-collapsing display show it.
        const shown = collapse(chunk.text);
        for (const match of shown.matchAll(/(\p{Script=Han}{1,3}) (?=(\p{Script=Han}{1,3}))/gu)) {
          const joined = `${match[1]}${match[2]}`;
          assert.ok(!popplerJoined.includes(joined), `${file}: "${match[1]} ${match[2]}" is one run in poppler's text`);
        }
      }
    });
  }

  test('the wrapped lines of the Chinese chemistry page are joined in its passages', async () => {
    const document = await parsePdf(await readFile(sharedPath('pdfs', 'cjk/zh_mineru_chem_intro.pdf')), { ocr: { mode: 'off' } });
    const shown = chunkPages(document.pages).map((chunk) => collapse(chunk.text));
    for (const sentence of [
      '是用化学式来描述各种物质之间的不同化学反应的式子（类似于数学公式，注意特殊符号表达）',
      '通常所有的氢原子及碳-氢键均省略不画，碳原子用相邻的线的交点表示',
    ]) {
      assert.ok(
        shown.some((text) => text.includes(sentence)),
        `no passage holds ${sentence}`,
      );
    }
  });
});
