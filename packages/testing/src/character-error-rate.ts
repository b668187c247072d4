/**
 * Character error rate of OCR: the Levenshtein distance between the expected and the recognised
 * text, over characters (code points), divided by the expected length. Compare texts with their
 * whitespace collapsed: layout is not what it measures.
 */
export function characterErrorRate(expected: string, actual: string): number {
  const reference = Array.from(expected);
  const hypothesis = Array.from(actual);
  let previous = Array.from({ length: hypothesis.length + 1 }, (_, index) => index);
  for (let i = 1; i <= reference.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= hypothesis.length; j += 1) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (reference[i - 1] === hypothesis[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[hypothesis.length]! / Math.max(1, reference.length);
}
