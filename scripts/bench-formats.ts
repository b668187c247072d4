/**
 * npm run bench:formats [-- --runs N] [-- --no-ocr]: parse speed of every document of the shared
 * office corpus (SHARED_DIR/docs), pages per second by format, and OCR of the shared scans (time
 * per page, and the English scan's character error rate against its expected text), with the
 * languages OCR_LANGUAGES names (default eng+chi_sim), and the spaces between Chinese characters
 * before and after the PDF text is cleaned (shared Chinese PDFs and the Chinese scan). Parses run
 * in this thread, one at a time, with parseDocument (no worker thread start in the figures).
 * Prints figures; asserts nothing.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { joinCjkLineWraps } from '../packages/ingestion/src/clean-pdf-text.js';
import { parseDocument } from '../packages/ingestion/src/parse-document.js';
import { parsePdf } from '../packages/ingestion/src/parse-pdf.js';
import { characterErrorRate, sharedPath } from '../packages/testing/src/index.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, 'no-ocr': { type: 'boolean', default: false } } });
const runs = Number(values.runs);
const languages = process.env.OCR_LANGUAGES ?? 'eng+chi_sim';

interface DocsManifestEntry {
  file: string;
  format: string;
}

const collapse = (text: string) => text.replace(/\s+/gu, ' ').trim();

console.log(
  `node ${process.version}, ${os.cpus().length} cores, load average ${os
    .loadavg()
    .map((load) => load.toFixed(1))
    .join(' ')}; ${runs} runs per file`,
);
const manifest = JSON.parse(await readFile(sharedPath('docs', 'manifest.json'), 'utf8')) as DocsManifestEntry[];
const byFormat = new Map<string, { files: number; pages: number; bytes: number; milliseconds: number }>();
for (const entry of manifest) {
  const bytes = await readFile(sharedPath('docs', entry.file));
  await parseDocument(bytes, { fileName: path.basename(entry.file) }); // warm-up: module loading is not parsing
  const started = performance.now();
  let pages = 0;
  for (let run = 0; run < runs; run += 1) pages += (await parseDocument(bytes, { fileName: path.basename(entry.file) })).pages.length;
  const totals = byFormat.get(entry.format) ?? { files: 0, pages: 0, bytes: 0, milliseconds: 0 };
  totals.files += 1;
  totals.pages += pages;
  totals.bytes += bytes.length * runs;
  totals.milliseconds += performance.now() - started;
  byFormat.set(entry.format, totals);
}
console.log('\nformat | files | pages per parse | ms per file | pages/s | MB/s');
for (const [format, totals] of byFormat) {
  const perFile = totals.milliseconds / (totals.files * runs);
  console.log(
    `${format} | ${totals.files} | ${(totals.pages / (totals.files * runs)).toFixed(1)} | ${perFile.toFixed(1)} | ${((totals.pages / totals.milliseconds) * 1000).toFixed(1)} | ${(totals.bytes / 1048576 / (totals.milliseconds / 1000)).toFixed(2)}`,
  );
}

/**
 * Han characters followed by whitespace before another Han character, as a passage shows them
 * (whitespace collapsed: a line break reads as a space), of all Han characters followed by one.
 */
function spacedHan(text: string): { spaced: number; pairs: number } {
  const shown = collapse(text);
  return { spaced: shown.match(/\p{Script=Han}(?= \p{Script=Han})/gu)?.length ?? 0, pairs: shown.match(/\p{Script=Han}(?= ?\p{Script=Han})/gu)?.length ?? 0 };
}
const share = ({ spaced, pairs }: { spaced: number; pairs: number }) => `${spaced} of ${pairs} (${((spaced / Math.max(pairs, 1)) * 100).toFixed(1)} %)`;

console.log('\nChinese PDFs (text layer) | Han characters followed by a space, before cleaning | after');
const chineseTotals = { before: { spaced: 0, pairs: 0 }, after: { spaced: 0, pairs: 0 } };
const chinesePdfs = (JSON.parse(await readFile(sharedPath('pdfs', 'manifest.json'), 'utf8')) as Array<{ file: string }>)
  .map((entry) => entry.file)
  .filter((file) => file.startsWith('cjk/zh_'));
for (const file of chinesePdfs) {
  const bytes = await readFile(sharedPath('pdfs', file));
  const textOf = async (cleanText: boolean) => (await parsePdf(bytes, { ocr: { mode: 'off' }, cleanText })).pages.map((page) => page.text).join('\n');
  const before = spacedHan(await textOf(false));
  const after = spacedHan(await textOf(true));
  for (const [key, counts] of [
    ['before', before],
    ['after', after],
  ] as const) {
    chineseTotals[key].spaced += counts.spaced;
    chineseTotals[key].pairs += counts.pairs;
  }
  console.log(`${file} | ${share(before)} | ${share(after)}`);
}
console.log(`all ${chinesePdfs.length} | ${share(chineseTotals.before)} | ${share(chineseTotals.after)}`);

if (!values['no-ocr']) {
  console.log(`\nOCR (tesseract, ${languages}; one run each) | pages | s per page | characters`);
  for (const file of ['scanned/scan_en_docling_ocr_test.pdf', 'scanned/scan_en_rapidocr_image.pdf', 'scanned/scan_zh_mineru_small_ocr_8p.pdf']) {
    const started = performance.now();
    const bytes = await readFile(sharedPath('pdfs', file));
    const chinese = file.includes('_zh_');
    // The Chinese scan is read uncleaned, and cleaned below as parsePdf does: one OCR run gives both figures.
    const document = chinese
      ? await parsePdf(bytes, { ocr: { mode: 'on', languages }, cleanText: false })
      : await parseDocument(bytes, { fileName: path.basename(file), ocr: { mode: 'on', languages } });
    const seconds = (performance.now() - started) / 1000;
    const text = document.pages.map((page) => (chinese ? joinCjkLineWraps(page.text) : page.text)).join('\n');
    console.log(`${file} | ${document.pages.length} | ${(seconds / document.pages.length).toFixed(1)} | ${Array.from(text).length}`);
    if (file.endsWith('scan_en_docling_ocr_test.pdf')) {
      const expected = collapse(await readFile(sharedPath('pdfs', 'expected/scan_en_docling_ocr_test.md'), 'utf8'));
      console.log(`  character error rate against expected/scan_en_docling_ocr_test.md: ${(characterErrorRate(expected, collapse(text)) * 100).toFixed(1)}%`);
    }
    if (chinese) {
      const hanPairs = text.match(/\p{Script=Han}(?=\s*\p{Script=Han})/gu)?.length ?? 0;
      const spaced = text.match(/\p{Script=Han}(?=[ \t]+\p{Script=Han})/gu)?.length ?? 0;
      console.log(`  Han characters followed by a space before another: ${spaced} of ${hanPairs}`);
      const uncleaned = document.pages.map((page) => page.text).join('\n');
      console.log(
        `  counting line breaks as a passage shows them: tesseract's spaces removed ${share(spacedHan(uncleaned))}, wrapped lines joined too ${share(spacedHan(text))}`,
      );
    }
  }
}
