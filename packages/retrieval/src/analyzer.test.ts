import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAnalyzer } from './analyzer.js';

const analyzer = createAnalyzer();
const wordsOnly = createAnalyzer({ cjkCharacterUnigrams: false, cjkCharacterBigrams: false });

describe('createAnalyzer', () => {
  it('stems English words so that inflections share a term', () => {
    const [running] = analyzer.analyze('running');
    const [runs] = analyzer.analyze('runs');
    assert.equal(running, 'run');
    assert.equal(runs, running);
    assert.deepEqual(analyzer.analyze('Retrieval retrieves'), ['retriev', 'retriev']);
  });

  it('drops English stop words', () => {
    assert.deepEqual(analyzer.analyze('The cat is on the mat and it was there'), ['cat', 'mat']);
    assert.deepEqual(analyzer.analyze('the of and'), []);
    // Function words the `stopword` list lacks, contractions included.
    assert.deepEqual(analyzer.analyze("It does not work when she isn't there, so don't"), ['work']);
    assert.deepEqual(createAnalyzer({ englishStopWords: ['cat'] }).analyze('the cat'), ['the']);
  });

  it('splits letters from digits inside a part, keeping the whole part', () => {
    assert.deepEqual(analyzer.analyze('TET2 PGE-2'), ['tet', '2', 'tet2', 'pge', '2', 'pge2']);
    // Single-letter pieces that are stop-word fragments go; digits with a dot stay one piece.
    assert.deepEqual(analyzer.analyze('h2o 1990s v2.0 1,000mg'), ['h', '2', 'h2o', '1990', '1990s', 'v', '2.0', 'v2.0', '1000', 'mg', '1000mg']);
    // The same terms whether a query writes the hyphen or not.
    assert.deepEqual(analyzer.analyze('covid19'), analyzer.analyze('COVID-19'));
    assert.deepEqual(createAnalyzer({ splitLettersFromDigits: false }).analyze('TET2 PGE-2'), ['tet2', 'pge', '2', 'pge2']);
  });

  it('spells out a Greek letter that stands alone, not letters inside Greek words', () => {
    assert.deepEqual(analyzer.analyze('IFN-γ'), analyzer.analyze('IFN-gamma'));
    assert.deepEqual(analyzer.analyze('NF-κB TGF-β1'), ['nf', 'kappab', 'nfkappab', 'tgf', 'beta', '1', 'beta1', 'tgfbeta1']);
    assert.deepEqual(analyzer.analyze('Ελληνικά Α'), ['ελληνικά', 'alpha']);
    assert.deepEqual(createAnalyzer({ spellGreekLetters: false }).analyze('IFN-γ'), ['ifn', 'γ', 'ifnγ']);
  });

  it('splits hyphenated words, keeps the joined form and keeps numbers', () => {
    assert.deepEqual(analyzer.analyze('COVID-19 e-mail'), ['covid', '19', 'covid19', 'e', 'mail', 'email']);
    assert.deepEqual(analyzer.analyze('pi is 3.14, version 2.0.3, 1,000 people'), ['pi', '3.14', 'version', '2.0.3', '1000', 'peopl']);
    assert.deepEqual(analyzer.analyze('snake_case'), ['snake', 'case', 'snakecas']);
  });

  it('handles apostrophes and diacritics', () => {
    assert.deepEqual(analyzer.analyze("John's café, O'Neill naïve"), ['john', 'cafe', 'oneil', 'naiv']);
    assert.deepEqual(createAnalyzer({ foldDiacritics: false, stem: false }).analyze('café'), ['café']);
  });

  it('applies NFKC and lowercase', () => {
    assert.deepEqual(analyzer.analyze('ＡＢＣ'), ['abc']);
    assert.deepEqual(analyzer.analyze('ＡＢＣ１２３ ＢＭ２５'), ['abc', '123', 'abc123', 'bm', '25', 'bm25']);
    assert.deepEqual(analyzer.analyze('ｶﾀｶﾅ'), analyzer.analyze('カタカナ'));
  });

  it('segments Chinese into words, including the words inside longer words', () => {
    assert.deepEqual(wordsOnly.analyze('我们都是黑体字'), ['黑体', '黑体字']);
    assert.deepEqual(wordsOnly.analyze('北京大学的学生'), ['北京', '大学', '北京大学', '学生']);
  });

  it('adds CJK character unigrams and bigrams, without stop words', () => {
    const terms = analyzer.analyze('北京大学的学生');
    for (const expected of ['北京大学', '北京', '大学', '学生', '北', '京', '大', '学', '生', '京大', '学的', '的学']) {
      assert.ok(terms.includes(expected), `missing ${expected}`);
    }
    assert.ok(!terms.includes('的'));
    // A word jieba gets wrong ("为主/教") is still found through its bigram.
    assert.ok(analyzer.analyze('范廷颂是越南罗马天主教枢机，被任为主教').includes('主教'));
    assert.deepEqual(createAnalyzer({ cjkCharacterBigrams: false }).analyze('北京'), ['北京', '北', '京']);
  });

  it('counts each occurrence in term frequencies', () => {
    assert.deepEqual(analyzer.termFrequencies('北京'), { 北京: 2, 北: 1, 京: 1 });
    assert.deepEqual(analyzer.termFrequencies('Run, running, runs! Stop.'), { run: 3, stop: 1 });
    assert.deepEqual(analyzer.termFrequencies('constructor toString'), { constructor: 1, tostr: 1 });
  });

  it('handles text that mixes Chinese and English', () => {
    const terms = wordsOnly.analyze('使用BM25检索 English words，效果很好！');
    assert.deepEqual(terms, ['使用', 'bm', '25', 'bm25', '检索', 'english', 'word', '效果', '很', '好']);
    assert.ok(analyzer.analyze('使用BM25检索').includes('bm25'));
  });

  it('gives Japanese and Korean character n-grams', () => {
    const japanese = analyzer.analyze('テキスト');
    assert.deepEqual(japanese, ['テ', 'テキ', 'キ', 'キス', 'ス', 'スト', 'ト']);
    const korean = wordsOnly.analyze('한국어 텍스트');
    assert.deepEqual(korean, ['한국어', '텍스트']);
  });

  it('keeps other scripts as lowercase words and drops overlong terms', () => {
    assert.deepEqual(analyzer.analyze('Привет МИР'), ['привет', 'мир']);
    assert.deepEqual(analyzer.analyze(`ok ${'x'.repeat(65)}`), ['ok']);
  });

  it('is deterministic', () => {
    const text = '使用BM25检索 English words. 北京大学的学生 running COVID-19 ＡＢＣ テキスト';
    const first = analyzer.analyze(text);
    assert.deepEqual(analyzer.analyze(text), first);
    assert.deepEqual(createAnalyzer().analyze(text), first);
    assert.deepEqual(createAnalyzer().termFrequencies(text), analyzer.termFrequencies(text));
  });

  it('returns nothing for empty or punctuation-only text', () => {
    assert.deepEqual(analyzer.analyze(''), []);
    assert.deepEqual(analyzer.analyze(' ，。！ ... --- '), []);
  });
});
