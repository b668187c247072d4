import type { IncomingHttpHeaders } from 'node:http';

/**
 * The read side of a fetch `Headers` over the headers Node already parsed (names in lower case),
 * without copying them: what the openai SDK and its error classes read of an answer's headers
 * (`get`, `has`, iteration). Repeated headers read as one value joined by ", ", as in fetch.
 * Iteration follows the order Node received them in, not fetch's sorted order.
 */
export class IncomingHeaders implements Iterable<[string, string]> {
  readonly #headers: IncomingHttpHeaders;

  constructor(headers: IncomingHttpHeaders) {
    this.#headers = headers;
  }

  get(name: string): string | null {
    return joined(this.#headers[name.toLowerCase()]);
  }

  has(name: string): boolean {
    return this.#headers[name.toLowerCase()] !== undefined;
  }

  forEach(callback: (value: string, name: string, headers: IncomingHeaders) => void): void {
    for (const [name, value] of this) callback(value, name, this);
  }

  *entries(): IterableIterator<[string, string]> {
    for (const name of Object.keys(this.#headers)) {
      const value = joined(this.#headers[name]);
      if (value !== null) yield [name, value];
    }
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

function joined(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return typeof value === 'string' ? value : value.join(', ');
}
