/** One Server-Sent Event as received; a comment line comes as event `:` with its text as data. */
export interface ReceivedEvent {
  event: string;
  data: unknown;
  /** ms since the request was sent. */
  at: number;
}

export interface SseReadOptions {
  /** Yield comment lines (`: heartbeat`) as events named `:`. Default: false. */
  includeComments?: boolean;
}

/** Reads an SSE response body into events (comments skipped unless asked for). */
export async function readSse(response: Response, started = performance.now(), options: SseReadOptions = {}): Promise<ReceivedEvent[]> {
  const events: ReceivedEvent[] = [];
  for await (const event of iterateSse(response, started, options)) events.push(event);
  return events;
}

export async function* iterateSse(response: Response, started = performance.now(), options: SseReadOptions = {}): AsyncGenerator<ReceivedEvent> {
  if (response.body === null) return;
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const piece of response.body) {
    buffer += decoder.decode(piece as Uint8Array, { stream: true });
    let boundary = buffer.indexOf('\n\n');
    while (boundary >= 0) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      boundary = buffer.indexOf('\n\n');
      let name = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          if (options.includeComments) yield { event: ':', data: line.slice(1).trim(), at: performance.now() - started };
          continue;
        }
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length === 0) continue;
      const text = data.join('\n');
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // [DONE] and other plain payloads stay strings.
      }
      yield { event: name, data: parsed, at: performance.now() - started };
    }
  }
}
