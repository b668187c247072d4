import { seededRandom } from '@passage/spec';

const syllables = ['ka', 'ri', 'mo', 'sen', 'ta', 'lu', 'ver', 'no', 'chi', 'del', 'pa', 'ros', 'ti', 'gan', 'e', 'or', 'mi', 'sa'];

/**
 * Deterministic English-like prose of about `bytes` UTF-8 bytes (ASCII), in pieces of about
 * `pieceBytes`: paragraphs of sentences over a vocabulary of a few thousand made-up words drawn
 * with a skewed (Zipf-like) frequency, as natural text repeats its words. For load tests and
 * benchmarks of large documents.
 */
export function* generateText(bytes: number, options: { seed?: number; pieceBytes?: number } = {}): Generator<string> {
  const random = seededRandom(options.seed ?? 1);
  const pieceBytes = options.pieceBytes ?? 64 * 1024;
  const vocabulary = Array.from({ length: 4000 }, () => {
    const length = 1 + Math.floor(random() * 4);
    return Array.from({ length }, () => syllables[Math.floor(random() * syllables.length)]).join('');
  });
  let written = 0;
  let piece = '';
  while (written < bytes) {
    const sentences = 3 + Math.floor(random() * 5);
    let paragraph = '';
    for (let sentence = 0; sentence < sentences; sentence += 1) {
      const words = 8 + Math.floor(random() * 13);
      const chosen = Array.from({ length: words }, () => vocabulary[Math.floor(vocabulary.length * random() ** 3)] as string);
      const first = chosen[0] as string;
      chosen[0] = first.charAt(0).toUpperCase() + first.slice(1);
      paragraph += `${sentence === 0 ? '' : ' '}${chosen.join(' ')}.`;
    }
    paragraph += '\n\n';
    const take = Math.min(paragraph.length, bytes - written);
    piece += take === paragraph.length ? paragraph : paragraph.slice(0, take);
    written += take;
    if (piece.length >= pieceBytes) {
      yield piece;
      piece = '';
    }
  }
  if (piece.length > 0) yield piece;
}
