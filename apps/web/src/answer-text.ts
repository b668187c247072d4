import type { Source } from './api-types.js';
import { element } from './dom.js';

const citationMarker = /\[(\d{1,3})\]/g;

/** What a citation link needs: the passage it names and how to open it. */
export interface CitationTarget {
  sources: ReadonlyMap<number, Source>;
  /** The id of the element listing source `index` under this answer. */
  sourceElementId: (index: number) => string;
  open: (source: Source, opener: HTMLElement) => void;
}

/**
 * Renders answer text into `container`: plain text, with every `[n]` that names a source turned
 * into a link that opens the passage. A marker that names no source stays text (the server lists
 * it in `invalidCitations`). Called again as the text grows, it renders the whole text anew: an
 * answer is short, and a `[1` cut between two deltas becomes a link once its `]` arrives.
 */
export function renderAnswerText(container: HTMLElement, text: string, target: CitationTarget): void {
  const pieces: Array<Node | string> = [];
  let last = 0;
  for (const match of text.matchAll(citationMarker)) {
    const index = Number(match[1]);
    const source = target.sources.get(index);
    if (source === undefined) continue;
    pieces.push(text.slice(last, match.index));
    pieces.push(citationLink(source, target));
    last = match.index + match[0].length;
  }
  pieces.push(text.slice(last));
  container.replaceChildren(...pieces);
}

/** `[n]` as a link to the source's entry under the answer; a click opens the passage instead of jumping. */
export function citationLink(source: Source, target: CitationTarget): HTMLAnchorElement {
  const where = source.page === null ? source.documentName : `${source.documentName}, page ${source.page}`;
  const link = element(
    'a',
    { href: `#${target.sourceElementId(source.index)}`, class: 'citation', 'aria-label': `Source ${source.index}: ${where}` },
    `[${source.index}]`,
  );
  link.addEventListener('click', (event) => {
    event.preventDefault();
    target.open(source, link);
  });
  return link;
}
