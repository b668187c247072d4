/**
 * Approximate token count, without a model vocabulary. CJK characters count one token each (BPE
 * vocabularies of current models spend about one token per Han character); any other run of text
 * counts one token per four characters, rounded up per word, which tracks OpenAI's tokenizers on
 * English within about 15%.
 */
const cjkPattern = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]/u;

/**
 * Counted by UTF-16 code unit rather than with a regular expression per character: it runs over
 * every sentence of every document, and this is several times faster. A surrogate pair counts as
 * one character of a word (no astral character is CJK here, nor whitespace).
 */
export function estimateTokens(text: string): number {
  let tokens = 0;
  let wordLength = 0;
  const length = text.length;
  for (let index = 0; index < length; index += 1) {
    const code = text.charCodeAt(index);
    if (isCjkCode(code)) {
      if (wordLength > 0) tokens += Math.ceil(wordLength / 4);
      wordLength = 0;
      tokens += 1;
    } else if (isWhitespaceCode(code)) {
      if (wordLength > 0) tokens += Math.ceil(wordLength / 4);
      wordLength = 0;
    } else {
      wordLength += 1;
      if (code >= 0xd800 && code <= 0xdbff && index + 1 < length) {
        const next = text.charCodeAt(index + 1);
        if (next >= 0xdc00 && next <= 0xdfff) index += 1;
      }
    }
  }
  if (wordLength > 0) tokens += Math.ceil(wordLength / 4);
  return tokens;
}

export function isCjkCharacter(character: string): boolean {
  return cjkPattern.test(character);
}

/** The UTF-16 code units of {@link isCjkCharacter}'s ranges. */
function isCjkCode(code: number): boolean {
  return (
    (code >= 0x3040 && code <= 0x30ff) ||
    (code >= 0x3400 && code <= 0x4dbf) ||
    (code >= 0x4e00 && code <= 0x9fff) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xac00 && code <= 0xd7af)
  );
}

/** Whether a UTF-16 code unit is whitespace: the same set as `\s` in a JavaScript regular expression. */
export function isWhitespaceCode(code: number): boolean {
  return (
    code === 0x20 ||
    (code >= 0x09 && code <= 0x0d) ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}
