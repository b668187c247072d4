/** Citation markers: `[3]`, `[1, 2]`, `[1][2]`. */
const markerPattern = /\[(\d+(?:\s*[,，]\s*\d+)*)\]/g;

export interface CitationCheck {
  /** Valid source numbers cited, ascending, without repeats. */
  citations: number[];
  /** Numbers cited that name no source, ascending, without repeats. */
  invalidCitations: number[];
}

/** Checks the [n] markers of an answer against the number of sources that were sent. */
export function checkCitations(answer: string, sourceCount: number): CitationCheck {
  const valid = new Set<number>();
  const invalid = new Set<number>();
  for (const match of answer.matchAll(markerPattern)) {
    for (const part of (match[1] ?? '').split(/[,，]/)) {
      const number = Number.parseInt(part.trim(), 10);
      if (number >= 1 && number <= sourceCount) valid.add(number);
      else invalid.add(number);
    }
  }
  const ascending = (left: number, right: number) => left - right;
  return { citations: [...valid].sort(ascending), invalidCitations: [...invalid].sort(ascending) };
}
