/**
 * Lexical terms kept as the JSON text the parsing thread made, decoded on every read. A
 * document's chunks wait in the calling thread until they are embedded and written: as objects of
 * ~100 keys their terms take about 6 KB each (0.7 GB for the 120,000 chunks of a 100 MB text), as
 * JSON about 1.4 KB; and the object a read makes lives only while one chunk is written, which the
 * young generation collects cheaply instead of promoting a whole document's terms.
 */
const encodedTerms = Symbol('encoded terms');

interface EncodedTerms {
  readonly [encodedTerms]: string;
}

function decodeTerms(this: EncodedTerms): Record<string, number> {
  return JSON.parse(this[encodedTerms]) as Record<string, number>;
}

function termsText(this: EncodedTerms): string {
  return this[encodedTerms];
}

/**
 * Gives `target` a read-only, enumerable `terms` property decoded from `termsJson` at each read:
 * to a reader, a spread, `JSON.stringify` or a structured clone it is a plain object. The text
 * itself stays readable as `termsJson` (not enumerable), for a store that writes JSON.
 */
export function withTermsOnDemand<Target extends object>(
  target: Target,
  termsJson: string,
): Target & { readonly terms: Record<string, number>; readonly termsJson: string } {
  Object.defineProperty(target, encodedTerms, { value: termsJson });
  Object.defineProperty(target, 'terms', { get: decodeTerms, enumerable: true });
  Object.defineProperty(target, 'termsJson', { get: termsText });
  return target as Target & { readonly terms: Record<string, number>; readonly termsJson: string };
}
