/**
 * Sentence boundaries for English, Chinese and mixed text, as spans into the original string.
 *
 * First the text is cut into blocks at line breaks that end something. Text extracted from PDFs
 * wraps lines at the page width, so a single line break is usually not a boundary; it is one when:
 *
 * - the next line is blank (a paragraph break), or the break is a form feed or U+2029;
 * - the line ends with sentence punctuation (. ! ? 。 ！ ？ ； …, closing quotes or brackets may
 *   follow), unless its last word is an abbreviation such as "e.g." or "Fig.", or with a colon
 *   (what follows is mostly a list or a block);
 * - the next line starts a list item ("- ", "• ", "1. ", "(a) ", "一、", "（一）");
 * - the line is short: less than half as wide as the longer of its neighbours in the block (a
 *   heading, or the last line of a paragraph), where a CJK character is two columns wide. Not when
 *   the line ends with a comma or a hyphen, nor when the next line starts with a lowercase letter:
 *   both say the sentence goes on.
 *
 * A line that ends in CJK text without punctuation is treated like any other: wrapped Chinese in a
 * PDF is the common case, and headings are caught by the width rule.
 *
 * Then each block is split with `Intl.Segmenter` (Unicode sentence rules, with soft line breaks
 * read as spaces), pieces that end in an abbreviation, an initial ("J.") or a lone list number
 * ("1.") are joined to the next one, and Chinese pieces are also split after ； and after … (which
 * the Unicode rules do not treat as sentence ends).
 */
import { isWhitespaceCode } from '@passage/spec';

export interface SentenceSpan {
  /** Offset of the first character, in UTF-16 code units. */
  start: number;
  /** Offset just past the last character; the span excludes surrounding whitespace. */
  end: number;
}

// A fixed locale keeps the result independent of the machine's; the rules are the same for all.
const segmenter = new Intl.Segmenter('en', { granularity: 'sentence' });

const lineBreakPattern = /\r\n|[\n\r\v\f\u0085\u2028\u2029]/gu;
const paragraphBreaks = new Set(['\f', '\u2029']);
const closers = `"'”’」』）)\\]】》〉`;
const lineEndPattern = new RegExp(`[.!?:。！？；：…⋯][${closers}]*$`, 'u');
const continuationEndPattern = /[,，、\-‐–]$/u;
const lowercaseStartPattern = /^\p{Ll}/u;
const listItemPattern =
  /^(?:[•·▪‣◦●○■□\-*–—]\s|\(?\d{1,3}[.)]\s|\(?[a-zA-Z][.)]\s|\d{1,3}[、．]|[一二三四五六七八九十]{1,3}[、．]|[（(][一二三四五六七八九十\d]{1,3}[）)])/u;
const lastWordPattern = /(?:^|[\s(（[“"'])([\p{L}][\p{L}.]*\.)$/u;
const initialsPattern = /^(?:\p{Script=Latin}\.)+$/u;
const loneListMarkerPattern = /^\(?(?:\p{N}{1,3}|[ivxlc]{1,6})[.)]$/iu;
const cjkSplitPattern = new RegExp(`(?:；|(?<=[\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}])[…⋯]+[。！？]?)[${closers}]*`, 'gu');
const softBreakPattern = /[\n\r\v\u0085\u2028]/gu;

/** Words ending in a dot that rarely end a sentence (compared lowercase). */
const abbreviations = new Set([
  'al.',
  'approx.',
  'art.',
  'ca.',
  'cf.',
  'ch.',
  'co.',
  'dr.',
  'eq.',
  'eqs.',
  'fig.',
  'figs.',
  'jr.',
  'mr.',
  'mrs.',
  'ms.',
  'no.',
  'nos.',
  'p.',
  'pp.',
  'prof.',
  'ref.',
  'refs.',
  'resp.',
  'sec.',
  'sr.',
  'st.',
  'tab.',
  'vol.',
  'vols.',
  'vs.',
]);

interface Line {
  /** Bounds of the line's non-whitespace content; equal for a blank line. */
  contentStart: number;
  contentEnd: number;
  /** Whether the break after this line is a paragraph break by itself. */
  paragraphBreakAfter: boolean;
}

export function splitSentences(text: string): SentenceSpan[] {
  const spans: SentenceSpan[] = [];
  const lines = readLines(text);
  let blockStart = -1;
  let previousWidth = 0;
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index] as Line;
    if (line.contentEnd === line.contentStart) continue;
    if (blockStart < 0) {
      blockStart = line.contentStart;
      previousWidth = 0;
    }
    const next = lines[index + 1];
    const content = text.slice(line.contentStart, line.contentEnd);
    const nextContent = next === undefined ? '' : text.slice(next.contentStart, next.contentEnd);
    const width = displayWidth(content);
    if (nextContent.length === 0 || line.paragraphBreakAfter || endsUnit(content, width, previousWidth, nextContent)) {
      splitBlock(text, blockStart, line.contentEnd, spans);
      blockStart = -1;
    }
    previousWidth = width;
  }
  return spans;
}

/** Whether a single line break after `content` ends a sentence (see the module comment). */
function endsUnit(content: string, width: number, previousWidth: number, nextContent: string): boolean {
  if (lineEndPattern.test(content) && !endsWithAbbreviation(content)) return true;
  if (listItemPattern.test(nextContent)) return true;
  if (continuationEndPattern.test(content) || lowercaseStartPattern.test(nextContent)) return false;
  return width * 2 < Math.max(previousWidth, displayWidth(nextContent));
}

function readLines(text: string): Line[] {
  const lines: Line[] = [];
  let lineStart = 0;
  const addLine = (end: number, breakText: string): void => {
    let contentStart = lineStart;
    let contentEnd = end;
    while (contentStart < contentEnd && isWhitespaceCode(text.charCodeAt(contentStart))) contentStart += 1;
    while (contentEnd > contentStart && isWhitespaceCode(text.charCodeAt(contentEnd - 1))) contentEnd -= 1;
    lines.push({ contentStart, contentEnd, paragraphBreakAfter: paragraphBreaks.has(breakText) });
  };
  for (const match of text.matchAll(lineBreakPattern)) {
    addLine(match.index, match[0]);
    lineStart = match.index + match[0].length;
  }
  addLine(text.length, '');
  return lines;
}

/** Splits text[start, end) into sentences and appends their spans. */
function splitBlock(text: string, start: number, end: number, spans: SentenceSpan[]): void {
  const block = text.slice(start, end).replace(softBreakPattern, ' ');
  const pieces: Array<[number, number]> = [];
  let pending: [number, number] | undefined;
  for (const { index, segment } of segmenter.segment(block)) {
    const piece: [number, number] = pending === undefined ? [index, index + segment.length] : [pending[0], index + segment.length];
    const trimmed = segment.trim();
    // Joined to the next piece: the segmenter broke after an abbreviation, an initial, or the
    // number that starts a list item.
    if (endsWithAbbreviation(trimmed) || (pending === undefined && loneListMarkerPattern.test(trimmed))) {
      pending = piece;
      continue;
    }
    pending = undefined;
    pieces.push(piece);
  }
  if (pending !== undefined) pieces.push(pending);

  for (const [pieceStart, pieceEnd] of pieces) {
    let from = pieceStart;
    const piece = block.slice(pieceStart, pieceEnd);
    for (const match of piece.matchAll(cjkSplitPattern)) {
      const cut = pieceStart + match.index + match[0].length;
      pushTrimmed(text, start + from, start + cut, spans);
      from = cut;
    }
    pushTrimmed(text, start + from, start + pieceEnd, spans);
  }
}

function pushTrimmed(text: string, start: number, end: number, spans: SentenceSpan[]): void {
  let from = start;
  let to = end;
  while (from < to && isWhitespaceCode(text.charCodeAt(from))) from += 1;
  while (to > from && isWhitespaceCode(text.charCodeAt(to - 1))) to -= 1;
  if (to > from) spans.push({ start: from, end: to });
}

function endsWithAbbreviation(content: string): boolean {
  const word = lastWordPattern.exec(content)?.[1];
  if (word === undefined) return false;
  return abbreviations.has(word.toLowerCase()) || initialsPattern.test(word);
}

/** Width in columns: CJK and full-width characters count two (an astral character is two code units). */
function displayWidth(content: string): number {
  let width = 0;
  for (let index = 0; index < content.length; index += 1) {
    const code = content.charCodeAt(index);
    width +=
      (code >= 0x1100 && code <= 0x115f) ||
      (code >= 0x2e80 && code <= 0xa4cf) ||
      (code >= 0xac00 && code <= 0xd7a3) ||
      (code >= 0xf900 && code <= 0xfaff) ||
      (code >= 0xfe30 && code <= 0xfe4f) ||
      (code >= 0xff00 && code <= 0xff60) ||
      (code >= 0xffe0 && code <= 0xffe6)
        ? 2
        : 1;
  }
  return width;
}
