import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { estimateTokens, type ParsedPage } from '@passage/spec';
import { chunkPages, trailingMergeFactor, type ChunkDraft, type ChunkingOptions } from './chunk.js';
import { splitSentences } from '@passage/retrieval';
import { seededRandom } from '@passage/testing';

const englishWords = [
  'the',
  'retriever',
  'ranks',
  'passages',
  'by',
  'relevance',
  'and',
  'generation',
  'cites',
  'pages',
  'e.g.',
  'Fig.',
  '42',
  'state-of-the-art',
];
const chineseWords = ['检索', '增强', '生成', '模型', '引用', '页面', '段落', '𠀀', '的', '文档'];

/** Text of about `length` characters mixing English and Chinese sentences, line breaks and oddities. */
function generatedText(random: () => number, length: number): string {
  const parts: string[] = [];
  let size = 0;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  while (size < length) {
    const kind = random();
    let sentence: string;
    if (kind < 0.45) {
      const count = 1 + Math.floor(random() * 30);
      sentence = `${Array.from({ length: count }, () => pick(englishWords)).join(random() < 0.1 ? '\n' : ' ')}${pick(['.', '!', '?', '', ','])}`;
    } else if (kind < 0.85) {
      const count = 1 + Math.floor(random() * 40);
      sentence = `${Array.from({ length: count }, () => pick(chineseWords)).join(random() < 0.2 ? '，' : '')}${pick(['。', '！', '？', '；', '……', ''])}`;
    } else if (kind < 0.9) {
      sentence = 'x'.repeat(1 + Math.floor(random() * 2000)); // one long word
    } else if (kind < 0.95) {
      sentence = '中'.repeat(1 + Math.floor(random() * 600)); // CJK without punctuation
    } else {
      sentence = pick(['\n\n', '\r\n', '\f', '   ', '\t\u3000', '- ', '1. ']);
    }
    parts.push(sentence);
    parts.push(pick([' ', ' ', '', '\n', '\n\n']));
    size += sentence.length + 1;
  }
  return parts.join('');
}

/** The invariants every chunking must satisfy. */
function assertValidChunks(pages: ParsedPage[], chunks: ChunkDraft[], options: Required<ChunkingOptions>): void {
  const hardLimit = trailingMergeFactor * options.targetTokens;
  chunks.forEach((chunk, position) => {
    const page = pages.find((candidate) => candidate.number === chunk.page);
    assert.ok(page !== undefined);
    assert.equal(chunk.ordinal, position);
    assert.equal(chunk.text, page.text.slice(chunk.start, chunk.end));
    assert.equal(chunk.tokens, estimateTokens(chunk.text));
    assert.ok(chunk.tokens <= hardLimit, `chunk ${position} has ${chunk.tokens} tokens`);
    assert.ok(chunk.text.trim() === chunk.text && chunk.text.length > 0);
    const next = chunks[position + 1];
    if (next !== undefined && next.page === chunk.page) {
      // Only a page's last chunk may exceed the target: it may hold the merged tail.
      assert.ok(chunk.tokens <= options.targetTokens, `chunk ${position} has ${chunk.tokens} tokens`);
      assert.ok(next.start > chunk.start && next.end > chunk.end, 'each chunk moves on');
      if (next.start < chunk.end) {
        assert.ok(estimateTokens(page.text.slice(next.start, chunk.end)) <= options.overlapTokens, 'overlap is bounded');
      }
    }
  });
  // Together the chunks of a page cover all of its text but whitespace.
  for (const page of pages) {
    const covered = new Uint8Array(page.text.length);
    for (const chunk of chunks.filter((candidate) => candidate.page === page.number)) covered.fill(1, chunk.start, chunk.end);
    for (let offset = 0; offset < page.text.length; offset += 1) {
      if (covered[offset] === 0) assert.match(page.text[offset] as string, /\s/u, `page ${page.number} offset ${offset} is not covered`);
    }
  }
}

function sentenceBoundaries(text: string): { starts: Set<number>; ends: Set<number> } {
  const spans = splitSentences(text);
  return { starts: new Set(spans.map((span) => span.start)), ends: new Set(spans.map((span) => span.end)) };
}

describe('chunkPages', () => {
  it('packs whole English sentences up to the target', () => {
    const text = Array.from({ length: 60 }, (_, number) => `Sentence ${number} explains how retrieval ranks the passages.`).join(' ');
    const pages = [{ number: 1, text }];
    const options = { targetTokens: 64, overlapTokens: 16 };
    const chunks = chunkPages(pages, options);
    assert.ok(chunks.length > 5);
    assertValidChunks(pages, chunks, options);
    const { starts, ends } = sentenceBoundaries(text);
    for (const chunk of chunks) {
      assert.ok(starts.has(chunk.start) && ends.has(chunk.end), 'chunks start and end at sentence boundaries');
    }
    assert.ok(
      chunks.slice(0, -1).every((chunk) => chunk.tokens > 64 - 12),
      'greedy packing fills chunks',
    );
  });

  it('packs a Chinese paragraph at 。！？；', () => {
    const sentences = ['检索增强生成把检索和生成结合起来。', '它能引用原文吗？', '能！', '第一步检索段落；', '第二步生成答案。'];
    const text = Array.from({ length: 30 }, (_, number) => sentences[number % sentences.length]).join('');
    const pages = [{ number: 1, text }];
    const options = { targetTokens: 48, overlapTokens: 12 };
    const chunks = chunkPages(pages, options);
    assertValidChunks(pages, chunks, options);
    const { starts, ends } = sentenceBoundaries(text);
    for (const chunk of chunks) assert.ok(starts.has(chunk.start) && ends.has(chunk.end));
    assert.match(chunks[0]?.text ?? '', /^检索增强生成/u);
  });

  it('chunks mixed English and Chinese text', () => {
    const text = Array.from({ length: 20 }, (_, number) => `We use BM25 检索第${number}段。It works well. 效果很好！`).join(' ');
    const pages = [{ number: 1, text }];
    const options = { targetTokens: 40, overlapTokens: 10 };
    const chunks = chunkPages(pages, options);
    assert.ok(chunks.length > 3);
    assertValidChunks(pages, chunks, options);
  });

  it('repeats trailing sentences of the previous chunk, within the overlap budget', () => {
    const text = Array.from({ length: 40 }, (_, number) => `Short sentence number ${number}.`).join(' ');
    const pages = [{ number: 1, text }];
    const options = { targetTokens: 50, overlapTokens: 15 };
    const chunks = chunkPages(pages, options);
    assertValidChunks(pages, chunks, options);
    for (let position = 1; position < chunks.length; position += 1) {
      const previous = chunks[position - 1] as ChunkDraft;
      const current = chunks[position] as ChunkDraft;
      assert.ok(current.start < previous.end, `chunk ${position} overlaps the one before`);
      const overlap = estimateTokens(text.slice(current.start, previous.end));
      assert.ok(overlap > 0 && overlap <= 15);
    }
    const noOverlap = chunkPages(pages, { targetTokens: 50, overlapTokens: 0 });
    for (let position = 1; position < noOverlap.length; position += 1) {
      assert.ok((noOverlap[position] as ChunkDraft).start > (noOverlap[position - 1] as ChunkDraft).end);
    }
  });

  it('cuts a sentence longer than the target at word boundaries or between CJK characters', () => {
    const english = Array.from({ length: 300 }, (_, number) => `word${number % 10}`).join(' ');
    const chinese = '检'.repeat(500);
    const longWord = 'y'.repeat(5000);
    const pages = [
      { number: 1, text: english },
      { number: 2, text: chinese },
      { number: 3, text: longWord },
    ];
    const options = { targetTokens: 32, overlapTokens: 8 };
    const chunks = chunkPages(pages, options);
    assertValidChunks(pages, chunks, options);
    for (const chunk of chunks.filter((candidate) => candidate.page === 1)) {
      assert.match(chunk.text, /^word\d .* word\d$/u, 'English pieces end at word boundaries');
    }
    assert.ok(chunks.filter((chunk) => chunk.page === 2).every((chunk) => chunk.tokens <= 32 * trailingMergeFactor));
    // 1250 tokens: 39 pieces of 32, the last 2 tokens merged into the 39th.
    const wordPieces = chunks.filter((chunk) => chunk.page === 3);
    assert.equal(wordPieces.length, 39);
    assert.equal(wordPieces[38]?.tokens, 34);
  });

  it('prefers to cut an overlong sentence after punctuation', () => {
    const clause = '检索增强生成结合了检索与生成';
    const text = Array.from({ length: 12 }, () => clause).join('，');
    const pages = [{ number: 1, text }];
    const chunks = chunkPages(pages, { targetTokens: 40, overlapTokens: 0 });
    for (const chunk of chunks.slice(0, -1)) assert.match(chunk.text, /，$/u);
  });

  it('keeps page numbers, never crosses a page and skips blank pages', () => {
    const pages = [
      { number: 1, text: 'First page text. It has two sentences.' },
      { number: 2, text: '   \n\n\t ' },
      { number: 3, text: '' },
      { number: 4, text: '第四页的内容。' },
    ];
    const chunks = chunkPages(pages);
    assert.deepEqual(
      chunks.map((chunk) => [chunk.ordinal, chunk.page, chunk.text]),
      [
        [0, 1, 'First page text. It has two sentences.'],
        [1, 4, '第四页的内容。'],
      ],
    );
    assert.deepEqual(chunkPages([{ number: 1, text: ' \n ' }]), []);
    assert.deepEqual(chunkPages([]), []);
  });

  it('merges a small tail into the previous chunk of the page', () => {
    const text = `${Array.from({ length: 6 }, (_, number) => `Sentence ${number} has some words in it.`).join(' ')} Tail.`;
    const pages = [{ number: 1, text }];
    const plainTokens = estimateTokens(text);
    const chunks = chunkPages(pages, { targetTokens: plainTokens - 1, overlapTokens: 0 });
    assert.equal(chunks.length, 1);
    assert.equal(chunks[0]?.text, text);
    // Too big to merge: two chunks.
    const split = chunkPages(pages, { targetTokens: Math.floor(plainTokens / 1.5), overlapTokens: 0 });
    assert.ok(split.length >= 2);
  });

  it('holds every invariant on generated multi-page documents', () => {
    const random = seededRandom(2024);
    for (let round = 0; round < 40; round += 1) {
      const pages = Array.from({ length: 1 + Math.floor(random() * 4) }, (_, number) => ({
        number: number + 1,
        text: generatedText(random, Math.floor(random() * 3000)),
      }));
      const targetTokens = 8 + Math.floor(random() * 120);
      const options = { targetTokens, overlapTokens: Math.floor(random() * targetTokens * 0.5) };
      assertValidChunks(pages, chunkPages(pages, options), options);
    }
  });

  it('rejects invalid options', () => {
    const pages = [{ number: 1, text: 'Text.' }];
    assert.throws(() => chunkPages(pages, { targetTokens: 0 }), RangeError);
    assert.throws(() => chunkPages(pages, { targetTokens: 10, overlapTokens: 10 }), RangeError);
    assert.throws(() => chunkPages(pages, { overlapTokens: -1 }), RangeError);
  });

  it('does work linear in the input size (100k characters)', () => {
    // Work is counted as characters copied by String.prototype.slice (plus one per call): every
    // pass over the text in the chunker and the splitter slices what it reads, so a quadratic
    // pass would show as a quadratic count, independent of the machine's speed.
    const countWork = (pages: ParsedPage[]): { work: number; chunks: ChunkDraft[] } => {
      // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with .call and put back
      const original = String.prototype.slice;
      let work = 0;
      String.prototype.slice = function (this: string, start?: number, end?: number): string {
        const result = original.call(this, start, end);
        work += result.length + 1;
        return result;
      };
      try {
        return { chunks: chunkPages(pages), work };
      } finally {
        String.prototype.slice = original;
      }
    };
    const inputs: Array<(length: number) => string> = [
      (length) => generatedText(seededRandom(length), length),
      (length) => 'lorem ipsum '.repeat(Math.ceil(length / 12)).slice(0, length), // no sentence end at all
      (length) => '检索增强生成'.repeat(Math.ceil(length / 6)).slice(0, length),
      (length) => 'Tiny. '.repeat(Math.ceil(length / 6)).slice(0, length),
    ];
    for (const input of inputs) {
      const small = input(25_000);
      const large = input(100_000);
      const smallRun = countWork([{ number: 1, text: small }]);
      const largeRun = countWork([{ number: 1, text: large }]);
      assertValidChunks([{ number: 1, text: large }], largeRun.chunks, { targetTokens: 256, overlapTokens: 32 });
      const ratio = largeRun.work / smallRun.work;
      assert.ok(ratio > 3 && ratio < 5, `4× the input took ${ratio.toFixed(2)}× the work`);
      assert.ok(largeRun.work < 20 * large.length, `work ${largeRun.work} for ${large.length} characters`);
    }
  });
});
