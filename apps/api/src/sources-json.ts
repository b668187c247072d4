import type { Source } from '@passage/spec';

/** Passages whose escaped text is remembered. Default of SourcesJson: about 2000 chunks. */
const defaultRememberedTexts = 2048;

/**
 * The JSON of a list of sources, as `JSON.stringify(sources)` writes it, with each passage's
 * escaped text remembered by chunk id. The text is most of the bytes of every answer's first
 * event, and escaping it is slow for text beyond Latin-1 (V8 has no fast path for such strings):
 * 170 µs for five SciFact passages, 5% of the API's CPU per streamed answer. The same passages
 * come back question after question, so the escaped text is reused while the text is equal.
 */
export class SourcesJson {
  readonly #texts = new Map<string, { text: string; json: string }>();
  readonly #capacity: number;

  /** `capacity`: passages whose escaped text is kept, least recently used first out. Default: 2048. */
  constructor(capacity = defaultRememberedTexts) {
    this.#capacity = capacity;
  }

  render(sources: Source[]): string {
    let json = '[';
    for (let position = 0; position < sources.length; position += 1) {
      const source = sources[position]!;
      if (position > 0) json += ',';
      json +=
        `{"index":${JSON.stringify(source.index)},"documentId":${JSON.stringify(source.documentId)},` +
        `"documentName":${JSON.stringify(source.documentName)},"page":${JSON.stringify(source.page)},` +
        `"chunkId":${JSON.stringify(source.chunkId)},"score":${JSON.stringify(source.score)},"text":${this.#text(source)}}`;
    }
    return `${json}]`;
  }

  #text(source: Source): string {
    const remembered = this.#texts.get(source.chunkId);
    // Re-inserted, so that the map's order is the order of last use.
    if (remembered !== undefined) this.#texts.delete(source.chunkId);
    const entry = remembered !== undefined && remembered.text === source.text ? remembered : { text: source.text, json: JSON.stringify(source.text) };
    this.#texts.set(source.chunkId, entry);
    if (this.#texts.size > this.#capacity) this.#texts.delete(this.#texts.keys().next().value!);
    return entry.json;
  }
}

/** The renderer of the endpoints that send passages (`/ask`, chat completions): one per process, as the passages are. */
export const sourcesJson = new SourcesJson();
