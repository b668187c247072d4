import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitSentences } from './sentence-split.js';
import { seededRandom } from '@passage/testing';

function sentences(text: string): string[] {
  return splitSentences(text).map((span) => text.slice(span.start, span.end));
}

const pieces = [
  'The',
  'retriever',
  'ranks',
  'passages',
  'e.g.',
  'Fig.',
  '3',
  'Dr.',
  'Smith',
  'U.S.',
  'covid-19',
  'naïve',
  '检索',
  '增强',
  '生成',
  '模型',
  '中文',
  '𠀀',
  '。',
  '！',
  '？',
  '；',
  '……',
  '，',
  '.',
  '!',
  '?',
  ',',
  '"',
  '”',
  ' ',
  ' ',
  ' ',
  ' ',
  '\n',
  '\n\n',
  '\r\n',
  '\t',
  '\u3000',
  '\f',
  '- ',
  '1. ',
  '一、',
];

function randomText(random: () => number, length: number): string {
  let text = '';
  while (text.length < length) text += pieces[Math.floor(random() * pieces.length)] as string;
  return text;
}

describe('splitSentences', () => {
  it('splits an English paragraph into sentences', () => {
    assert.deepEqual(sentences('Retrieval finds passages. The model answers! Does it cite them? Yes.'), [
      'Retrieval finds passages.',
      'The model answers!',
      'Does it cite them?',
      'Yes.',
    ]);
  });

  it('does not split after common abbreviations and initials', () => {
    assert.deepEqual(sentences('See e.g. the table in Fig. 3 and Fig. 4. Then Dr. Smith left. J. R. R. Tolkien wrote it.'), [
      'See e.g. the table in Fig. 3 and Fig. 4.',
      'Then Dr. Smith left.',
      'J. R. R. Tolkien wrote it.',
    ]);
    assert.deepEqual(sentences('Pi is 3.14 exactly. Version 2.0.3 is out.'), ['Pi is 3.14 exactly.', 'Version 2.0.3 is out.']);
  });

  it('splits a Chinese paragraph after 。！？；and …', () => {
    assert.deepEqual(sentences('检索增强生成很有用。真的吗？是的！第一点；第二点。他说：“好。”然后走了……之后呢'), [
      '检索增强生成很有用。',
      '真的吗？',
      '是的！',
      '第一点；',
      '第二点。',
      '他说：“好。”',
      '然后走了……',
      '之后呢',
    ]);
  });

  it('splits mixed English and Chinese', () => {
    assert.deepEqual(sentences('We use BM25 检索。It works well. 效果很好！OK?'), ['We use BM25 检索。', 'It works well.', '效果很好！', 'OK?']);
  });

  it('joins wrapped lines and breaks at blank lines', () => {
    const text =
      'Retrieval-augmented generation combines a retriever with a\ngenerator so that answers can be grounded in the documents that\nthe user uploaded\n\nA second paragraph starts here and it goes on';
    assert.deepEqual(sentences(text), [
      'Retrieval-augmented generation combines a retriever with a\ngenerator so that answers can be grounded in the documents that\nthe user uploaded',
      'A second paragraph starts here and it goes on',
    ]);
  });

  it('breaks after a line ending in sentence punctuation, a heading, or before a list item', () => {
    const text = [
      'Introduction',
      'Retrieval-augmented generation combines a retriever with a generator so that',
      'answers can be grounded in documents. This sentence ends at the end of the line.',
      'Next sentence on a new line, ending with a colon:',
      'Features:',
      '- fast lexical search',
      '- cited answers',
      '1. first step',
      '2. second step',
    ].join('\n');
    assert.deepEqual(sentences(text), [
      'Introduction',
      'Retrieval-augmented generation combines a retriever with a generator so that\nanswers can be grounded in documents.',
      'This sentence ends at the end of the line.',
      'Next sentence on a new line, ending with a colon:',
      'Features:',
      '- fast lexical search',
      '- cited answers',
      '1. first step',
      '2. second step',
    ]);
  });

  it('keeps a short line going when the next line starts lowercase or the line ends with a comma', () => {
    assert.deepEqual(sentences('The results of the evaluation on the full test collection are in\ntable two\nwhich we discuss next.'), [
      'The results of the evaluation on the full test collection are in\ntable two\nwhich we discuss next.',
    ]);
    assert.deepEqual(sentences('A long first line of the paragraph that wraps at the page width,\nand,\nThen more.'), [
      'A long first line of the paragraph that wraps at the page width,\nand,\nThen more.',
    ]);
  });

  it('joins wrapped Chinese lines and keeps headings apart', () => {
    const text = '第一章 总则\n本规定适用于检索增强生成系统的设计、开发与运行，以及与之相关的全部\n数据处理活动。第二条规定了范围。\n\n第二章';
    assert.deepEqual(sentences(text), [
      '第一章 总则',
      '本规定适用于检索增强生成系统的设计、开发与运行，以及与之相关的全部\n数据处理活动。',
      '第二条规定了范围。',
      '第二章',
    ]);
  });

  it('returns exact offsets into the original text, without surrounding whitespace', () => {
    const text = '  \r\n  First one.  Second one.\r\n\r\n\t第三句。\f Fourth  ';
    const spans = splitSentences(text);
    assert.deepEqual(
      spans.map((span) => text.slice(span.start, span.end)),
      ['First one.', 'Second one.', '第三句。', 'Fourth'],
    );
    assert.deepEqual(spans[0], { start: 6, end: 16 });
  });

  it('returns nothing for empty or blank text', () => {
    assert.deepEqual(splitSentences(''), []);
    assert.deepEqual(splitSentences(' \n\n\t\u3000\r\n '), []);
  });

  it('covers every non-whitespace character exactly once, in order, on generated text', () => {
    const random = seededRandom(42);
    for (let round = 0; round < 200; round += 1) {
      const text = randomText(random, 1 + Math.floor(random() * 600));
      const spans = splitSentences(text);
      let previousEnd = 0;
      let covered = 0;
      for (const span of spans) {
        assert.ok(span.start >= previousEnd && span.end > span.start && span.end <= text.length, JSON.stringify({ text, span }));
        assert.ok(!/\s/u.test(text[span.start] as string) && !/\s/u.test(text[span.end - 1] as string));
        assert.ok(!/\S/u.test(text.slice(previousEnd, span.start)), 'a gap between spans holds only whitespace');
        covered += text.slice(span.start, span.end).replace(/\s/gu, '').length;
        previousEnd = span.end;
      }
      assert.ok(!/\S/u.test(text.slice(previousEnd)));
      assert.equal(covered, text.replace(/\s/gu, '').length);
    }
  });
});
