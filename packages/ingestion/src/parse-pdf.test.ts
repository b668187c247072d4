/**
 * Every PDF of the shared hostile corpus (SHARED_DIR/pdfs/manifest.json) goes through
 * BoundedParser, one thread per parse, and is held to the expectations its source project states.
 *
 * Text comparisons collapse every run of whitespace to one space on both sides: pdf-parse joins
 * cells with tabs and breaks lines where other extractors put spaces (and pdf.js v1, which wrote
 * the `contains` of pdfparse_04, doubled spaces).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { DocumentError, type ParsedDocument } from '@passage/spec';
import { BoundedParser } from './bounded-parser.js';

interface ManifestEntry {
  file: string;
  category: string;
  expect: {
    pages?: number;
    contains?: string[];
    contains_hint?: string;
    page1_text_equals?: string;
    text_strip_equals?: string;
    text_contains?: string;
    poppler_text?: string;
    pdfminer_text_equals?: string;
    pdfminer_text_startswith?: string;
    expected_text_file?: string;
    field_value_contains?: string;
    user_password?: string;
    owner_password?: string;
    wrong_password?: string;
    must_fail?: boolean;
    text_layer?: boolean;
    empty_text?: boolean;
  };
}

const repositoryRoot = path.resolve(import.meta.dirname, '../../..');
const pdfDirectory = path.join(process.env.SHARED_DIR ?? path.resolve(repositoryRoot, '../shared'), 'pdfs');
const manifest = JSON.parse(await readFile(path.join(pdfDirectory, 'manifest.json'), 'utf8')) as ManifestEntry[];

/**
 * Expectations pdf-parse 2.4.5 (pdf.js 5.4.296) does not meet. They are not faked: each entry
 * asserts what the parser does produce instead, so an upstream fix shows up as a failure here.
 */
const UNMET_EXPECTATIONS: Record<string, { reason: string; assertInstead(document: ParsedDocument): void }> = {
  'cjk/ja_pdfjs_90ms_rksj.pdf': {
    reason:
      'page1_text_equals "Hello ASCII\\n日本語テスト": the Japanese line comes out as "œ{ŒeXg". Its font is a ' +
      'CIDFontType2 without FontDescriptor over the predefined 90ms-RKSJ-H CMap, and pdf.js reads the ' +
      'Shift-JIS bytes as single-byte WinAnsi codes.',
    assertInstead(document) {
      const text = pageText(document, 1);
      assert.ok(text.startsWith('Hello ASCII'), text);
      assert.ok(!text.includes('日本語テスト'), 'pdf.js now decodes 90ms-RKSJ-H: move this file back to the checked ones');
    },
  },
  'cjk/ja_pdfminer_simple3.pdf': {
    reason:
      'pdfminer_text_equals (Hello, あいうえお twice, World): pdf.js drops the kana, which are drawn with a ' +
      'non-embedded Type0 font, and yields only "HelloHelloWorldWorld".',
    assertInstead(document) {
      const text = pageText(document, 1);
      assert.match(text, /Hello/);
      assert.match(text, /World/);
      assert.ok(!/[あいうえお]/.test(text), 'pdf.js now extracts the kana: move this file back to the checked ones');
    },
  },
  'corrupt/bad_pdfminer_zen_corrupted_zlib.pdf': {
    reason:
      'pdfminer_text_startswith "Mai 30, 18 13:27\\n\\nzen_of_python.txt": pdf.js recovers the whole page ' +
      'from the damaged stream but emits the printed header after the body, so the text does not start with it.',
    assertInstead(document) {
      const text = collapse(pageText(document, 1));
      assert.ok(text.startsWith('Beautiful is better than ugly.'), text.slice(0, 80));
      assert.ok(text.includes('Mai 30, 18 13:27'));
      assert.ok(text.includes('zen_of_python.txt'));
      assert.ok(text.includes('Namespaces are one honking great idea −− let’s do more of those!'));
    },
  },
};

/**
 * Files the manifest does not mark as textless whose pages nevertheless carry no text, so the
 * parser rejects them as pdf_no_text_layer (the page count is still checked, through `details`).
 */
const PAGES_WITHOUT_TEXT: Record<string, string> = {
  'corrupt/bad_pdfjs_poppler85140_pagecount.pdf': 'its one page has an empty content stream',
  'encrypted/enc_pdfjs_pr6531_1.pdf': 'once decrypted, its one page is a single image',
};

const knownCodes = new Set(['pdf_corrupt', 'pdf_password_required', 'pdf_password_wrong', 'pdf_no_text_layer', 'unsupported_type', 'empty_document']);
const parser = new BoundedParser({ timeoutMs: 60_000 });

type Outcome = { document: ParsedDocument; error?: undefined } | { document?: undefined; error: DocumentError };

/** Parses one corpus file; any failure other than a DocumentError with a known code fails the test. */
async function parseCorpusFile(file: string, password?: string): Promise<Outcome> {
  const bytes = await readFile(path.join(pdfDirectory, file));
  try {
    return {
      // OCR off: this corpus checks the text layers (ocr.test.ts reads the scans).
      document: await parser.parse(bytes, { fileName: path.basename(file), ocr: { mode: 'off' }, ...(password === undefined ? {} : { password }) }),
    };
  } catch (error) {
    assert.ok(error instanceof DocumentError, `${file}: expected a DocumentError, got ${String(error)}`);
    assert.ok(knownCodes.has(error.code), `${file}: unexpected code ${error.code}: ${error.message}`);
    return { error };
  }
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function pageText(document: ParsedDocument, number: number): string {
  const page = document.pages.find((candidate) => candidate.number === number);
  assert.ok(page, `page ${number} is missing`);
  return page.text;
}

function fullText(document: ParsedDocument): string {
  return document.pages.map((page) => page.text).join('\n');
}

function assertDocument(file: string, outcome: Outcome): ParsedDocument {
  assert.equal(outcome.error, undefined, `${file}: ${outcome.error?.code}: ${outcome.error?.message}`);
  assert.ok(outcome.document);
  return outcome.document;
}

function assertFailure(file: string, outcome: Outcome, code: string, pages?: number): DocumentError {
  assert.ok(outcome.error, `${file}: expected ${code}, but it parsed into ${outcome.document?.pages.length} pages`);
  assert.equal(outcome.error.code, code, outcome.error.message);
  if (pages !== undefined) assert.deepEqual(outcome.error.details, { pages });
  return outcome.error;
}

/** Share of the words of a ground-truth file that occur in the extracted text. */
function wordCoverage(expected: string, actual: string): { coverage: number; missing: string[] } {
  const words = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const present = new Set(words(actual));
  const expectedWords = words(expected);
  const missing = expectedWords.filter((word) => !present.has(word));
  return { coverage: 1 - missing.length / expectedWords.length, missing };
}

/** The visible text of the LaTeX source that expected/pypdf_multicolumn_3p.tex is. */
function visibleLatexText(source: string): string {
  return source
    .replace(/%.*$/gm, '')
    .replace(/\\(?:documentclass|usepackage|begin|end|lipsum|date)(?:\[[^\]]*\]|\{[^}]*\})*/g, '')
    .replace(/\\[a-zA-Z]+/g, '')
    .replace(/[{}]/g, '');
}

/** Checks a successfully parsed document against everything its manifest entry states. */
async function assertExpectations(entry: ManifestEntry, document: ParsedDocument): Promise<void> {
  const { expect: expectation, file } = entry;
  assert.equal(document.type, 'pdf');
  assert.ok(document.pages.length > 0, 'a parsed PDF has pages');
  assert.deepEqual(
    document.pages.map((page) => page.number),
    document.pages.map((_, index) => index + 1),
    'pages are numbered from 1 without gaps',
  );
  if (expectation.pages !== undefined) assert.equal(document.pages.length, expectation.pages, 'page count');

  const unmet = UNMET_EXPECTATIONS[file];
  if (unmet !== undefined) {
    unmet.assertInstead(document);
    return;
  }
  const text = collapse(fullText(document));
  for (const expected of [
    ...(expectation.contains ?? []),
    ...(expectation.contains_hint === undefined ? [] : [expectation.contains_hint]),
    ...(expectation.text_contains === undefined ? [] : [expectation.text_contains]),
    ...(expectation.field_value_contains === undefined ? [] : [expectation.field_value_contains]),
    // poppler_text lists the page's lines separated by " / ".
    ...(expectation.poppler_text?.split(' / ') ?? []),
  ]) {
    assert.ok(text.includes(collapse(expected)), `${file} lacks ${JSON.stringify(expected)}`);
  }
  if (expectation.page1_text_equals !== undefined) {
    assert.equal(collapse(pageText(document, 1)), collapse(expectation.page1_text_equals));
  }
  if (expectation.text_strip_equals !== undefined) {
    assert.equal(collapse(fullText(document)), collapse(expectation.text_strip_equals));
  }
  if (expectation.expected_text_file !== undefined) {
    const source = await readFile(path.join(pdfDirectory, expectation.expected_text_file), 'utf8');
    const expected = expectation.expected_text_file.endsWith('.tex') ? visibleLatexText(source) : source.replace(/<!--[\s\S]*?-->/g, ''); // docling's "<!-- image -->" placeholders
    const { coverage, missing } = wordCoverage(expected, fullText(document));
    assert.ok(coverage >= 0.98, `${file}: ${(coverage * 100).toFixed(1)}% of the ground-truth words; missing ${missing.slice(0, 20).join(' ')}`);
  }
}

describe('every PDF of the shared corpus, through BoundedParser', () => {
  for (const entry of manifest) {
    const { expect: expectation, file } = entry;
    test(file, async () => {
      const encrypted = expectation.user_password !== undefined;
      const outcome = await parseCorpusFile(file);

      if (expectation.must_fail === true) {
        assertFailure(file, outcome, 'pdf_corrupt');
      } else if (expectation.text_layer === false || expectation.empty_text === true || PAGES_WITHOUT_TEXT[file] !== undefined) {
        // pr6531_1 needs its password before its lack of text can show.
        if (!(encrypted && expectation.user_password !== '')) {
          const error = assertFailure(file, outcome, 'pdf_no_text_layer', expectation.pages ?? 1);
          assert.match(error.message, /no text layer/);
        }
      } else if (!encrypted || expectation.user_password === '') {
        await assertExpectations(entry, assertDocument(file, outcome));
      }

      if (!encrypted) return;
      if (expectation.user_password === '') {
        assert.ok(outcome.document, 'an empty user password opens without one');
        return;
      }
      const locked = assertFailure(file, outcome, 'pdf_password_required');
      assert.equal(locked.message, 'The PDF is encrypted: send its password in the "password" field of the upload');

      const unlocked = await parseCorpusFile(file, expectation.user_password);
      if (PAGES_WITHOUT_TEXT[file] !== undefined) assertFailure(file, unlocked, 'pdf_no_text_layer', 1);
      else await assertExpectations(entry, assertDocument(file, unlocked));

      if (expectation.owner_password !== undefined) {
        await assertExpectations(entry, assertDocument(file, await parseCorpusFile(file, expectation.owner_password)));
      }
      if (expectation.wrong_password !== undefined) {
        const wrong = assertFailure(file, await parseCorpusFile(file, expectation.wrong_password), 'pdf_password_wrong');
        assert.equal(wrong.message, 'The password given for the PDF is wrong');
      }
    });
  }

  test('the known limitations name files of the manifest', () => {
    const files = new Set(manifest.map((entry) => entry.file));
    for (const file of [...Object.keys(UNMET_EXPECTATIONS), ...Object.keys(PAGES_WITHOUT_TEXT)]) {
      assert.ok(files.has(file), file);
    }
  });
});
