/**
 * Cuts parsed pages into chunks: whole sentences packed greedily up to a token target, each chunk
 * on one page (a citation names one page), consecutive chunks of a page overlapping by a few
 * trailing sentences.
 */
import { estimateTokens, isCjkCharacter, type Chunk, type ParsedPage } from '@passage/spec';
import { splitSentences } from '@passage/retrieval';

export interface ChunkingOptions {
  /** Target size of a chunk in approximate tokens (estimateTokens). Default 256. */
  targetTokens?: number;
  /** Tokens of trailing sentences repeated at the start of the next chunk. Default 32. */
  overlapTokens?: number;
}

/** A chunk before it has ids: position, page, offsets into the page's text, text and token count. */
export type ChunkDraft = Pick<Chunk, 'ordinal' | 'page' | 'start' | 'end' | 'text' | 'tokens'>;

/**
 * A page's last chunk is merged into the one before it when the two together stay within this
 * multiple of the target: a short tail is a poor passage on its own, and most of it would repeat
 * the previous chunk through the overlap anyway.
 */
export const trailingMergeFactor = 1.25;

/** A sentence, or a piece of an overlong one; `tokens` bounds estimateTokens of the span from above. */
interface Unit {
  start: number;
  end: number;
  tokens: number;
}

/**
 * Chunks every page. A chunk holds at most `targetTokens`, except a page's merged tail (at most
 * 1.25 × target); a sentence longer than the target is cut at word boundaries (between any two
 * CJK characters), preferring a cut after punctuation or at a line break.
 */
export function chunkPages(pages: ParsedPage[], options: ChunkingOptions = {}): ChunkDraft[] {
  const target = options.targetTokens ?? 256;
  const overlap = options.overlapTokens ?? 32;
  if (!(target >= 1) || !Number.isFinite(target)) throw new RangeError(`targetTokens must be at least 1, got ${target}`);
  if (!(overlap >= 0 && overlap < target)) {
    throw new RangeError(`overlapTokens must be at least 0 and below targetTokens (${target}), got ${overlap}`);
  }

  const drafts: ChunkDraft[] = [];
  for (const page of pages) {
    const units: Unit[] = [];
    for (const sentence of splitSentences(page.text)) {
      const tokens = estimateTokens(page.text.slice(sentence.start, sentence.end));
      if (tokens <= target) units.push({ start: sentence.start, end: sentence.end, tokens });
      else units.push(...splitLongSentence(page.text, sentence.start, sentence.end, target));
    }
    const spans = packUnits(units, target, overlap);

    const last = spans[spans.length - 1];
    const beforeLast = spans[spans.length - 2];
    if (last !== undefined && beforeLast !== undefined) {
      const merged = estimateTokens(page.text.slice(beforeLast.start, last.end));
      if (merged <= trailingMergeFactor * target) {
        spans.pop();
        beforeLast.end = last.end;
      }
    }

    for (const span of spans) {
      const text = page.text.slice(span.start, span.end);
      drafts.push({ ordinal: drafts.length, page: page.number, start: span.start, end: span.end, text, tokens: estimateTokens(text) });
    }
  }
  return drafts;
}

/** Greedy packing with overlap; each unit holds at most `target` tokens. */
function packUnits(units: Unit[], target: number, overlap: number): Array<{ start: number; end: number }> {
  const spans: Array<{ start: number; end: number }> = [];
  let first = 0;
  while (first < units.length) {
    let last = first;
    let tokens = (units[first] as Unit).tokens;
    while (last + 1 < units.length && tokens + (units[last + 1] as Unit).tokens <= target) {
      last += 1;
      tokens += (units[last] as Unit).tokens;
    }
    spans.push({ start: (units[first] as Unit).start, end: (units[last] as Unit).end });
    if (last === units.length - 1) break;

    // Trailing sentences to repeat, never the chunk's first one, so that every chunk moves on.
    let overlapFirst = last + 1;
    let overlapTokens = 0;
    while (overlapFirst - 1 > first && overlapTokens + (units[overlapFirst - 1] as Unit).tokens <= overlap) {
      overlapFirst -= 1;
      overlapTokens += (units[overlapFirst] as Unit).tokens;
    }
    // The next chunk must fit at least one new unit besides the overlap.
    const nextTokens = (units[last + 1] as Unit).tokens;
    while (overlapFirst <= last && overlapTokens + nextTokens > target) {
      overlapTokens -= (units[overlapFirst] as Unit).tokens;
      overlapFirst += 1;
    }
    first = overlapFirst;
  }
  return spans;
}

/** A word or a single CJK character, as estimateTokens counts them. */
interface Atom {
  start: number;
  end: number;
  tokens: number;
  /** Whether cutting right after this atom reads well: it ends in punctuation or a line follows. */
  goodCut: boolean;
}

const whitespacePattern = /\s/u;
const cutAfterPattern = /[,;:.!?，、；：。！？)）」』”]$/u;

/**
 * Cuts text[start, end) into units of at most `target` tokens. It walks the text the way
 * estimateTokens does (one token per CJK character, one per four characters of any other word),
 * so the units' counts add up to no less than the estimate of the whole.
 */
function splitLongSentence(text: string, start: number, end: number, target: number): Unit[] {
  // A word longer than this many characters is cut into pieces of this length (≤ target tokens).
  const maxWordLength = 4 * Math.floor(target);
  const atoms: Atom[] = [];
  let wordStart = -1;
  let wordLength = 0;
  const endWord = (at: number): void => {
    if (wordStart < 0) return;
    atoms.push({ start: wordStart, end: at, tokens: Math.ceil(wordLength / 4), goodCut: cutAfterPattern.test(text.slice(at - 1, at)) });
    wordStart = -1;
    wordLength = 0;
  };
  let offset = start;
  while (offset < end) {
    const codePoint = text.codePointAt(offset) as number;
    const character = String.fromCodePoint(codePoint);
    const next = offset + character.length;
    if (isCjkCharacter(character)) {
      endWord(offset);
      atoms.push({ start: offset, end: next, tokens: 1, goodCut: false });
    } else if (whitespacePattern.test(character)) {
      endWord(offset);
      const previous = atoms[atoms.length - 1];
      if (character === '\n' && previous !== undefined) previous.goodCut = true;
    } else {
      if (wordStart < 0) wordStart = offset;
      wordLength += 1;
      if (wordLength === maxWordLength) endWord(next);
    }
    offset = next;
  }
  endWord(end);

  const units: Unit[] = [];
  let pieceFirst = 0;
  let pieceTokens = 0;
  let lastGoodCut = -1;
  let tokensThroughGoodCut = 0;
  for (let index = 0; index < atoms.length; index += 1) {
    const atom = atoms[index] as Atom;
    while (pieceTokens + atom.tokens > target && pieceFirst < index) {
      // Cut after the last good place if that keeps at least half a piece, else right here.
      const cutAfter = lastGoodCut >= pieceFirst && tokensThroughGoodCut * 2 >= target ? lastGoodCut : index - 1;
      const cutTokens = cutAfter === index - 1 ? pieceTokens : tokensThroughGoodCut;
      units.push({ start: (atoms[pieceFirst] as Atom).start, end: (atoms[cutAfter] as Atom).end, tokens: cutTokens });
      pieceFirst = cutAfter + 1;
      pieceTokens -= cutTokens;
      lastGoodCut = -1;
    }
    pieceTokens += atom.tokens;
    if (atom.goodCut) {
      lastGoodCut = index;
      tokensThroughGoodCut = pieceTokens;
    }
  }
  if (pieceFirst < atoms.length) {
    units.push({ start: (atoms[pieceFirst] as Atom).start, end: (atoms[atoms.length - 1] as Atom).end, tokens: pieceTokens });
  }
  return units;
}
