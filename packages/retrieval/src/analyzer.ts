/**
 * The lexical analyzer: text in, terms out. The same function feeds the in-memory BM25 index and
 * the sparse vectors stored in Qdrant, for documents and queries alike, so its output must depend on
 * nothing but the text and the options (no locale, no clock, no global state beyond the read-only
 * dictionaries).
 *
 * Pipeline: Unicode NFKC, lowercase, then the text is cut into runs of CJK script (Han, kana,
 * hangul) and runs of anything else.
 *
 * - Other scripts: words are maximal runs of letters, marks and digits. Hyphens and underscores
 *   split a word into parts ("covid-19" gives "covid" and "19") and the joined parts are kept too
 *   ("covid19", so a query written either way matches). Apostrophes join ("don't" gives "dont",
 *   possessive "'s" is dropped), a dot between digits joins ("3.14", "2.0.3") and a comma before
 *   exactly three digits is a thousands separator ("1,000" gives "1000"). A part that mixes letters
 *   and digits also gives its letter and digit pieces ("tet2" gives "tet", "2" and "tet2"), so
 *   "TET2" matches "TET" and "PGE2" matches "PGE-2", as hyphenated parts do. A Greek letter standing
 *   alone (not inside a Greek word) is spelt out, as science writes either form: "IFN-γ" is
 *   "IFN-gamma", "NF-κB" is "NF-kappaB". English stop words are dropped, Latin letters lose their
 *   diacritics ("naïve" is "naive") and purely a-z words are stemmed with Porter's algorithm
 *   ("running" and "runs" are both "run").
 * - Han: words from jieba's search mode (whole words and the dictionary words inside them:
 *   "北京大学" gives "北京", "大学", "北京大学"), plus, by default, every character and every pair of
 *   adjacent characters of the run. Jieba alone misses whenever the query and the passage are
 *   segmented differently (names, terms outside the dictionary, a word split differently in another
 *   context); character 1- and 2-grams match regardless and are what the strong baseline uses, and
 *   the words on top add the specific multi-character terms (a three- or four-character word is a
 *   rarer, higher-IDF term than any of its bigrams). A two-character dictionary word is also a
 *   bigram, so it is counted twice: words weigh a little more than accidental bigrams across word
 *   boundaries, in documents and queries alike.
 * - Kana and hangul: character 1- and 2-grams only (jieba knows no Japanese or Korean).
 *
 * Terms come out in text order; inside one CJK run the jieba words come first, then the n-grams
 * by position.
 */
import { createRequire } from 'node:module';
import type { Jieba } from '@node-rs/jieba';
import type { TextAnalyzer } from '@passage/spec';
import { stemmer } from 'stemmer';

/** An analyzer that can be rebuilt elsewhere (in another thread) from its options. */
export interface Analyzer extends TextAnalyzer {
  /** The options it was created with: plain data. */
  readonly options: AnalyzerOptions;
}

/**
 * Chinese stop words: function words and pronouns frequent enough to match nearly every passage,
 * and question words, which fill queries but say nothing about the answer. Applied to jieba words
 * and to character n-grams alike. Deliberately short: a word missing here costs little, as BM25
 * gives very frequent terms a tiny IDF anyway.
 */
export const chineseStopWords: readonly string[] = [
  '的',
  '地',
  '得',
  '了',
  '着',
  '过',
  '是',
  '在',
  '和',
  '与',
  '及',
  '或',
  '而',
  '也',
  '就',
  '都',
  '又',
  '还',
  '把',
  '被',
  '之',
  '其',
  '这',
  '那',
  '这个',
  '那个',
  '一个',
  '没有',
  '我们',
  '你们',
  '他们',
  '她们',
  '它们',
  '吗',
  '呢',
  '吧',
  '啊',
  '么',
  '什么',
  '怎么',
  '怎样',
  '如何',
  '为什么',
  '哪',
  '哪个',
  '哪些',
  '哪里',
  '谁',
  '多少',
];

/**
 * English function words missing from the `stopword` package's list, which the default list adds:
 * NLTK's English stop words that list lacks ("not", "no", "when", "does", "will"…), and the
 * contractions as this analyzer writes them ("doesnt"; NLTK's list has their fragments, "doesn" and
 * "t", which are kept as well because splitting letters from digits makes single letters).
 */
export const additionalEnglishStopWords: readonly string[] = [
  'myself',
  'ours',
  'ourselves',
  'yours',
  'yourself',
  'yourselves',
  'she',
  'hers',
  'herself',
  'its',
  'itself',
  'theirs',
  'themselves',
  'whom',
  'having',
  'does',
  'doing',
  'until',
  'against',
  'during',
  'above',
  'below',
  'down',
  'off',
  'again',
  'further',
  'once',
  'when',
  'why',
  'few',
  'no',
  'nor',
  'not',
  'own',
  'so',
  'will',
  'just',
  's',
  't',
  'd',
  'll',
  'm',
  'o',
  're',
  've',
  'y',
  'don',
  'ain',
  'aren',
  'couldn',
  'didn',
  'doesn',
  'hadn',
  'hasn',
  'haven',
  'isn',
  'mightn',
  'mustn',
  'needn',
  'shan',
  'shouldn',
  'wasn',
  'weren',
  'wouldn',
  'dont',
  'aint',
  'arent',
  'couldnt',
  'didnt',
  'doesnt',
  'hadnt',
  'hasnt',
  'havent',
  'isnt',
  'mightnt',
  'mustnt',
  'neednt',
  'shant',
  'shouldnt',
  'wasnt',
  'werent',
  'wont',
  'wouldnt',
  'cant',
];

/** Names of the Greek letters, as a lone letter is spelt out. */
const greekLetterNames: Readonly<Record<string, string>> = {
  α: 'alpha',
  β: 'beta',
  γ: 'gamma',
  δ: 'delta',
  ε: 'epsilon',
  ζ: 'zeta',
  η: 'eta',
  θ: 'theta',
  ι: 'iota',
  κ: 'kappa',
  λ: 'lambda',
  μ: 'mu',
  ν: 'nu',
  ξ: 'xi',
  ο: 'omicron',
  π: 'pi',
  ρ: 'rho',
  σ: 'sigma',
  ς: 'sigma',
  τ: 'tau',
  υ: 'upsilon',
  φ: 'phi',
  χ: 'chi',
  ψ: 'psi',
  ω: 'omega',
};

export interface AnalyzerOptions {
  /** Reduce a-z words to their Porter stem. Default true. */
  stem?: boolean;
  /**
   * Dropped words of non-CJK text, lowercase. Default: the English list of the `stopword` package
   * plus {@link additionalEnglishStopWords}.
   */
  englishStopWords?: readonly string[];
  /** Also emit the letter and digit pieces of a part that mixes them ("tet2": "tet", "2"). Default true. */
  splitLettersFromDigits?: boolean;
  /** Spell out a Greek letter that stands alone ("IFN-γ" as "IFN-gamma"). Default true. */
  spellGreekLetters?: boolean;
  /** Dropped CJK words and n-grams. Default: {@link chineseStopWords}. */
  chineseStopWords?: readonly string[];
  /** Emit each CJK character as a term. Default true. */
  cjkCharacterUnigrams?: boolean;
  /** Emit each pair of adjacent CJK characters as a term. Default true. */
  cjkCharacterBigrams?: boolean;
  /** Strip diacritics from words in Latin script ("café" matches "cafe"). Default true. */
  foldDiacritics?: boolean;
  /** Terms longer than this, in UTF-16 code units, are dropped (encoded blobs, not words). Default 64. */
  maxTermLength?: number;
}

const require = createRequire(import.meta.url);

let jiebaInstance: Jieba | undefined;

/** Jieba with its default dictionary, built on first use (about 0.2 s) and shared by all analyzers. */
function jieba(): Jieba {
  if (jiebaInstance === undefined) {
    // Loaded with require: the packages are CommonJS, and the dictionary subpath has no ESM entry.
    const { Jieba: JiebaClass } = require('@node-rs/jieba') as typeof import('@node-rs/jieba');
    const { dict } = require('@node-rs/jieba/dict.js') as typeof import('@node-rs/jieba/dict.js');
    jiebaInstance = JiebaClass.withDict(dict);
  }
  return jiebaInstance;
}

let defaultEnglishStopWords: readonly string[] | undefined;

function englishStopWordList(): readonly string[] {
  // `stopword` ships no type declarations, hence require and the cast.
  defaultEnglishStopWords ??= [...(require('stopword') as { eng: string[] }).eng, ...additionalEnglishStopWords];
  return defaultEnglishStopWords;
}

const cjkRunPattern = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30fc]+/gu;
const hanRunPattern = /\p{Script=Han}+/gu;
const nonHanRunPattern = /\P{Script=Han}+/gu;

// A word part: letters, marks and digits, joined by apostrophes, by a dot between digits and by a
// thousands comma. Parts joined by hyphens or underscores make one word.
const part = String.raw`[\p{L}\p{M}\p{N}]+(?:(?:['’]|(?<=\p{N})\.(?=\p{N})|(?<=\p{N}),(?=\p{N}{3}(?!\p{N})))[\p{L}\p{M}\p{N}]+)*`;
const wordPattern = new RegExp(String.raw`${part}(?:[\-‐‑_]${part})*`, 'gu');
const partSeparatorPattern = /[-‐‑_]/u;
const latinPattern = /^[\p{Script=Latin}\p{M}\p{N}]+$/u;
const lettersAndDigitsPattern = /\p{L}.*\p{N}|\p{N}.*\p{L}/u;
const letterDigitBoundaryPattern = /(?<=\p{L})(?=\p{N})|(?<=\p{N})(?=\p{L})/u;
const greekPattern = /\p{Script=Greek}/u;
const loneGreekLetterPattern = /(?<!\p{Script=Greek})\p{Script=Greek}(?!\p{Script=Greek})/gu;
const asciiLettersPattern = /^[a-z]+$/;
/** Words whose terms an analyzer remembers at most (a few MB); past it, it starts afresh. */
const maxRememberedWords = 50_000;

export function createAnalyzer(options: AnalyzerOptions = {}): Analyzer {
  const stem = options.stem ?? true;
  const englishStop = new Set(options.englishStopWords ?? englishStopWordList());
  const chineseStop = new Set(options.chineseStopWords ?? chineseStopWords);
  const unigrams = options.cjkCharacterUnigrams ?? true;
  const bigrams = options.cjkCharacterBigrams ?? true;
  const fold = options.foldDiacritics ?? true;
  const splitDigits = options.splitLettersFromDigits ?? true;
  const spellGreek = options.spellGreekLetters ?? true;
  const maxTermLength = options.maxTermLength ?? 64;

  function emit(terms: string[], term: string): void {
    if (term.length > 0 && term.length <= maxTermLength) terms.push(term);
  }

  function normalizePart(value: string): string {
    let result = value;
    if (/['’]/u.test(result)) result = result.replace(/['’]s$/u, '').replace(/['’]/gu, '');
    if (result.includes(',')) result = result.replace(/,/gu, '');
    // eslint-disable-next-line no-control-regex -- the range is all of ASCII: anything outside it needs folding
    if (fold && /[^\x00-\x7f]/u.test(result) && latinPattern.test(result)) {
      result = result.normalize('NFD').replace(/\p{M}/gu, '').normalize('NFC');
    }
    return result;
  }

  function stemmed(value: string): string {
    return stem && asciiLettersPattern.test(value) ? stemmer(value) : value;
  }

  function emitWord(terms: string[], value: string): void {
    if (!englishStop.has(value)) emit(terms, stemmed(value));
  }

  // A word's terms depend on nothing but the word, and text repeats its words (Zipf): remembering
  // them saves the regular expressions and the stemmer, most of the analyzer's time.
  const termsOfWord = new Map<string, readonly string[]>();

  function analyzeWords(segment: string, terms: string[]): void {
    for (const match of segment.matchAll(wordPattern)) {
      const word = match[0];
      let wordTerms = termsOfWord.get(word);
      if (wordTerms === undefined) {
        wordTerms = analyzeWord(word);
        if (termsOfWord.size >= maxRememberedWords) termsOfWord.clear();
        termsOfWord.set(word, wordTerms);
      }
      for (const term of wordTerms) terms.push(term);
    }
  }

  function analyzeWord(original: string): string[] {
    const terms: string[] = [];
    let word = original;
    if (spellGreek && greekPattern.test(word)) {
      word = word.replace(loneGreekLetterPattern, (letter) => greekLetterNames[letter] ?? letter);
    }
    const parts = word
      .split(partSeparatorPattern)
      .map(normalizePart)
      .filter((value) => value.length > 0);
    for (const value of parts) {
      if (splitDigits && lettersAndDigitsPattern.test(value)) {
        for (const piece of value.split(letterDigitBoundaryPattern)) emitWord(terms, piece);
      }
      emitWord(terms, value);
    }
    if (parts.length > 1) emit(terms, stemmed(parts.join('')));
    return terms;
  }

  function analyzeCjk(run: string, terms: string[]): void {
    for (const match of run.matchAll(hanRunPattern)) {
      for (const word of jieba().cutForSearch(match[0], true)) {
        if (!chineseStop.has(word)) emit(terms, word);
      }
    }
    if (!unigrams && !bigrams) {
      // Without n-grams, kana and hangul (which jieba does not segment) are kept as whole runs.
      for (const match of run.matchAll(nonHanRunPattern)) emit(terms, match[0]);
      return;
    }
    const characters = Array.from(run);
    for (let index = 0; index < characters.length; index += 1) {
      const character = characters[index] as string;
      if (unigrams && !chineseStop.has(character)) terms.push(character);
      const next = characters[index + 1];
      if (bigrams && next !== undefined) {
        const pair = character + next;
        if (!chineseStop.has(pair)) terms.push(pair);
      }
    }
  }

  function analyze(text: string): string[] {
    const normalized = text.normalize('NFKC').toLowerCase();
    const terms: string[] = [];
    let position = 0;
    for (const match of normalized.matchAll(cjkRunPattern)) {
      if (match.index > position) analyzeWords(normalized.slice(position, match.index), terms);
      analyzeCjk(match[0], terms);
      position = match.index + match[0].length;
    }
    if (position < normalized.length) analyzeWords(normalized.slice(position), terms);
    return terms;
  }

  function termFrequencies(text: string): Record<string, number> {
    const counts = new Map<string, number>();
    for (const term of analyze(text)) counts.set(term, (counts.get(term) ?? 0) + 1);
    return Object.fromEntries(counts);
  }

  return { analyze, termFrequencies, options: structuredClone(options) };
}
