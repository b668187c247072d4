/**
 * Incremental parser of a `text/event-stream` body (the WHATWG format): feed it text as it
 * arrives and get the `data` of every event it completes. Lines end in LF or CRLF; comments, `id`,
 * `event` and `retry` fields are skipped, since chat completion streams carry everything in `data`.
 */
export class ServerSentEventParser {
  #buffer = '';
  #data: string[] = [];

  /** The data of each event that `text` completes, multi-line data joined with LF. */
  push(text: string): string[] {
    const buffer = this.#buffer + text;
    const events: string[] = [];
    let start = 0;
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const end = newline > start && buffer.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
      if (end === start) {
        if (this.#data.length > 0) {
          events.push(this.#data.length === 1 ? this.#data[0]! : this.#data.join('\n'));
          this.#data = [];
        }
      } else if (buffer.startsWith('data:', start)) {
        this.#data.push(buffer.slice(buffer.charCodeAt(start + 5) === 32 ? start + 6 : start + 5, end));
      }
      start = newline + 1;
      newline = buffer.indexOf('\n', start);
    }
    this.#buffer = start === buffer.length ? '' : buffer.slice(start);
    return events;
  }

  /** The data of an event the stream ended in without its blank line, if any. */
  end(): string[] {
    const events = this.push('\n\n');
    this.#buffer = '';
    return events;
  }
}
