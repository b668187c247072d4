/**
 * Cleans what pdf.js leaves in the text layer of a PDF before it is chunked, so that the shown
 * passage, the extractive answer and the index all read the cleaned text and chunk offsets stay
 * offsets into it:
 * - running headers and footers (a line at the top or bottom of most pages, page numbers included);
 * - spaces pdf.js puts between letter-spaced CJK characters (`系 统 发 展`), and line breaks
 *   inside a CJK paragraph, which every whitespace-collapsing reader turns into a space;
 * - words hyphenated across a line end (`lan-` / `guage`), joined when the document itself says
 *   the joined form is a word; real compounds (`state-of-the-art`) keep their hyphen.
 */
import type { ParsedPage } from '@passage/spec';

/** Lines looked at for a running header (the first ones) and footer (the last ones) of a page. */
const edgeLines = 2;
/** A running header or footer repeats on at least this many pages, and on at least half of them. */
const minimumRunningPages = 3;
/** Narrowest wrapped CJK line, in half-width units (10 CJK characters): shorter lines are headings or labels. */
const minimumWrappedWidth = 20;

const cjkClass = '\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\u3000-\\u303F\\uFF00-\\uFFEF';
const cjkCharacter = new RegExp(`[${cjkClass}]`, 'u');
/** Maximal runs of CJK characters separated by spaces (Hangul is left out: Korean puts spaces between words). */
const spacedCjkRun = new RegExp(`[${cjkClass}]+(?: +[${cjkClass}]+)+`, 'gu');
/** A line ending that closes a sentence or a label: the break after it is kept. */
const closingPunctuation = /[。！？：；）」』】〉》.!?:;]$/u;
const hyphenBreak = /(\p{L}+)-\n[ ]*(\p{L}+)/gu;

/**
 * Cleans the pages in place (each page's text is replaced) and returns them. `pages` are the
 * text-layer pages of one document: headers and footers are found across them, and the words of
 * all of them decide which hyphenations to join.
 */
export function cleanPdfPages(pages: ParsedPage[]): ParsedPage[] {
  removeRunningLines(pages);
  for (const page of pages) page.text = joinCjkLineWraps(joinSpacedCjk(page.text));
  const vocabulary = documentVocabulary(pages);
  for (const page of pages) page.text = joinHyphenatedWords(page.text, vocabulary);
  return pages;
}

/** A line compared across pages: case, spacing and numbers (page numbers, dates) do not matter. */
function lineKey(line: string): string {
  return line.replace(/\s+/g, ' ').trim().toLowerCase().replace(/\d+/g, '#');
}

/** Indexes of the non-empty lines at the top and the bottom of a page; a short page keeps a line between them. */
function edgeLineIndexes(lines: string[]): number[] {
  const filled = lines.flatMap((line, index) => (line.trim() === '' ? [] : [index]));
  const count = Math.min(edgeLines, Math.floor((filled.length - 1) / 2));
  return count <= 0 ? [] : [...new Set([...filled.slice(0, count), ...filled.slice(-count)])];
}

/** Drops lines at the top or bottom of a page whose key recurs there on most pages. */
export function removeRunningLines(pages: ParsedPage[]): void {
  const withText = pages.filter((page) => page.text.trim() !== '');
  const needed = Math.max(minimumRunningPages, Math.ceil(withText.length / 2));
  if (withText.length < needed) return;
  const pagesByKey = new Map<string, Set<number>>();
  for (const page of withText) {
    const lines = page.text.split('\n');
    for (const index of edgeLineIndexes(lines)) {
      const key = lineKey(lines[index] as string);
      const seen = pagesByKey.get(key) ?? new Set<number>();
      seen.add(page.number);
      pagesByKey.set(key, seen);
    }
  }
  const running = new Set([...pagesByKey].filter(([, seen]) => seen.size >= needed).map(([key]) => key));
  if (running.size === 0) return;
  for (const page of withText) {
    const lines = page.text.split('\n');
    const dropped = new Set(edgeLineIndexes(lines).filter((index) => running.has(lineKey(lines[index] as string))));
    if (dropped.size === 0) continue;
    page.text = lines
      .filter((_, index) => !dropped.has(index))
      .join('\n')
      .replace(/^\n+|\n+$/g, '');
  }
}

/**
 * Removes the spaces of letter-spaced CJK text. A space between two CJK words of several
 * characters each (`核心价值体系 增强文化自信`) is the document's own and stays; a run in which a
 * lone character stands between spaces is letter spacing, and loses all its spaces.
 */
export function joinSpacedCjk(text: string): string {
  return text.replace(spacedCjkRun, (run) => {
    const parts = run.split(/ +/);
    return parts.some((part) => Array.from(part).length === 1) ? parts.join('') : run;
  });
}

/** Display width in half-width units: CJK and full-width characters count two. */
function lineWidth(line: string): number {
  let width = 0;
  for (const character of line) width += cjkCharacter.test(character) ? 2 : 1;
  return width;
}

/**
 * Joins a line to the next one when both meet at CJK characters and the line is wrapped: it is
 * as wide as at least two other lines of the page (the column's width, within 6 %), at least 10
 * CJK characters wide, not narrower than the next line, and does not end a sentence; a next line
 * shorter than that must end a sentence. A heading (before or after), a paragraph's last line, or
 * a line that holds several cells of a table keeps its break; so does a short unpunctuated line
 * ending a paragraph, which cannot be told from a heading without the layout.
 */
export function joinCjkLineWraps(text: string): string {
  const lines = text.split('\n');
  const widths = lines.map(lineWidth);
  const tolerance = (width: number) => Math.max(2, 0.06 * width);
  const sortedWidths = [...widths].sort((left, right) => left - right);
  // Binary searches: a hostile page may hold a great many lines.
  const isColumnWidth = (width: number) => firstAbove(sortedWidths, width + tolerance(width)) - firstAbove(sortedWidths, width - tolerance(width) - 1e-9) >= 3;
  const output: string[] = [];
  let current = lines[0] as string;
  for (let index = 1; index < lines.length; index += 1) {
    const previous = lines[index - 1] as string;
    const next = lines[index] as string;
    const width = widths[index - 1] as number;
    const wrapped =
      cjkCharacter.test(previous.at(-1) ?? '') &&
      cjkCharacter.test(next.at(0) ?? '') &&
      !closingPunctuation.test(previous) &&
      width >= minimumWrappedWidth &&
      (widths[index] as number) <= width + tolerance(width) &&
      // A short next line is a paragraph's end only when it ends like one; otherwise it is taken for a heading.
      ((widths[index] as number) >= minimumWrappedWidth || closingPunctuation.test(next)) &&
      isColumnWidth(width);
    if (wrapped) current = `${current}${next}`;
    else {
      output.push(current);
      current = next;
    }
  }
  output.push(current);
  return output.join('\n');
}

/** Index of the first value above `limit` in ascending `values` (their length when there is none). */
function firstAbove(values: number[], limit: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((values[middle] as number) <= limit) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Lowercased words of the document, with the hyphenated line ends left out (their halves are no evidence). */
export function documentVocabulary(pages: ParsedPage[]): Set<string> {
  const vocabulary = new Set<string>();
  for (const page of pages) {
    const text = page.text.replace(hyphenBreak, ' ');
    for (const word of text.toLowerCase().match(/\p{L}+(?:-\p{L}+)*/gu) ?? []) {
      vocabulary.add(word);
      if (word.includes('-')) for (const part of word.split('-')) vocabulary.add(part);
    }
  }
  return vocabulary;
}

/**
 * Joins `lan-\nguage` into `language` when the document uses the joined word elsewhere, or when
 * the part after the break is not a word of the document (`implemen-` / `tation`). When it is a
 * word and the joined form is not (`mixed-\nmode`, `state-of-the-\nart`), or the document writes
 * the hyphenated form, the hyphen stays and only the line break goes. Lines holding table cells
 * (tabs) are left alone: their line ends do not continue each other.
 */
export function joinHyphenatedWords(text: string, vocabulary: Set<string>): string {
  return text.replace(hyphenBreak, (match, left: string, right: string, offset: number) => {
    const lineStart = text.lastIndexOf('\n', offset) + 1;
    const nextLineEnd = text.indexOf('\n', offset + match.length);
    if (text.slice(lineStart, nextLineEnd === -1 ? text.length : nextLineEnd).includes('\t')) return match;
    const joined = `${left}${right}`.toLowerCase();
    const hyphenated = `${left}-${right}`.toLowerCase();
    if (vocabulary.has(joined)) return `${left}${right}`;
    if (vocabulary.has(hyphenated)) return `${left}-${right}`;
    // What follows the hyphen is a word of its own: a compound (`mixed-mode`, `non-negligible`). The left
    // half is no evidence: short documents lack many words, and prefixes (`non`, `re`) are words here too.
    // A capital after the break starts a name (`Trace-` / `Monkey` is caught above when the document writes it whole).
    if (vocabulary.has(right.toLowerCase()) || /^\p{Lu}/u.test(right)) return `${left}-${right}`;
    return `${left}${right}`;
  });
}
