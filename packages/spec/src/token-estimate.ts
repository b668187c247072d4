/**
 * Approximate token count, without a model vocabulary. CJK characters count one token each (BPE
 * vocabularies of current models spend about one token per Han character); any other run of text
 * counts one token per four characters, rounded up per word, which tracks OpenAI's tokenizers on
 * English within about 15%.
 */
const cjkPattern = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]/u;

export function estimateTokens(text: string): number {
  let tokens = 0;
  let wordLength = 0;
  for (const character of text) {
    if (cjkPattern.test(character)) {
      if (wordLength > 0) tokens += Math.ceil(wordLength / 4);
      wordLength = 0;
      tokens += 1;
    } else if (/\s/u.test(character)) {
      if (wordLength > 0) tokens += Math.ceil(wordLength / 4);
      wordLength = 0;
    } else {
      wordLength += 1;
    }
  }
  if (wordLength > 0) tokens += Math.ceil(wordLength / 4);
  return tokens;
}

export function isCjkCharacter(character: string): boolean {
  return cjkPattern.test(character);
}
