import { splitSentences } from '@passage/retrieval';
import { estimateTokens, type Source, type TextAnalyzer } from '@passage/spec';

export interface ExtractiveOptions {
  /** Sentences in an answer. Default: 3. */
  maxSentences?: number;
  /** A longer sentence is cut at this many approximate tokens. Default: 80. */
  maxSentenceTokens?: number;
}

export interface SelectedSentence {
  text: string;
  /** The source's index, cited as [index]. */
  sourceIndex: number;
  score: number;
}

export const noPassageAnswer = 'No passage in this knowledge base matches the question.';
export const noAnswerInPassages = 'The retrieved passages do not contain an answer to this question.';

/**
 * Picks the sentences of the retrieved passages that best match the question: each question term
 * a sentence contains adds its inverse sentence frequency (rare terms count more), a little is
 * taken off for passages ranked lower, and ties go to the shorter sentence.
 */
export function selectSentences(question: string, sources: Source[], analyzer: TextAnalyzer, options: ExtractiveOptions = {}): SelectedSentence[] {
  const questionTerms = new Set(analyzer.analyze(question));
  if (questionTerms.size === 0) return [];
  const candidates: Array<{ text: string; sourceIndex: number; rank: number; terms: Set<string> }> = [];
  sources.forEach((source, rank) => {
    for (const span of splitSentences(source.text)) {
      const text = source.text.slice(span.start, span.end).replace(/\s+/g, ' ').trim();
      if (text.length === 0) continue;
      candidates.push({ text, sourceIndex: source.index, rank, terms: new Set(analyzer.analyze(text)) });
    }
  });
  const documentFrequency = new Map<string, number>();
  for (const candidate of candidates) {
    for (const term of questionTerms) {
      if (candidate.terms.has(term)) documentFrequency.set(term, (documentFrequency.get(term) ?? 0) + 1);
    }
  }
  const scored = candidates.map((candidate) => {
    let score = 0;
    for (const term of questionTerms) {
      if (!candidate.terms.has(term)) continue;
      score += Math.log(1 + candidates.length / (documentFrequency.get(term) ?? 1));
    }
    return { ...candidate, score: score / (1 + 0.1 * candidate.rank), length: candidate.text.length };
  });
  const maxTokens = options.maxSentenceTokens ?? 80;
  return scored
    .filter((candidate) => candidate.score > 0)
    .sort((left, right) => right.score - left.score || left.length - right.length)
    .slice(0, options.maxSentences ?? 3)
    .map((candidate) => ({ text: cutToTokens(candidate.text, maxTokens), sourceIndex: candidate.sourceIndex, score: candidate.score }));
}

/** The answer as text pieces to stream: each selected sentence followed by its citation. */
export function* extractiveDeltas(sentences: SelectedSentence[], hadSources: boolean): Generator<string> {
  if (sentences.length === 0) {
    yield hadSources ? noAnswerInPassages : noPassageAnswer;
    return;
  }
  for (const [position, sentence] of sentences.entries()) {
    const words = sentence.text.split(/(?<=\s)/);
    // Several words per delta: a streamed feel without an event per word.
    for (let offset = 0; offset < words.length; offset += 4) {
      const prefix = offset === 0 && position > 0 ? ' ' : '';
      yield prefix + words.slice(offset, offset + 4).join('');
    }
    yield ` [${sentence.sourceIndex}]`;
  }
}

function cutToTokens(text: string, maxTokens: number): string {
  if (estimateTokens(text) <= maxTokens) return text;
  let end = text.length;
  while (end > 0 && estimateTokens(text.slice(0, end)) > maxTokens) end = Math.floor(end * 0.9);
  return `${text.slice(0, end).trimEnd()}…`;
}
