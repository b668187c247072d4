/** One Server-Sent Event as received. */
export interface ReceivedEvent {
  event: string;
  data: unknown;
  /** ms since the request was sent. */
  at: number;
}

/** Reads an SSE response body into events (comments skipped). */
export async function readSse(response: Response, started = performance.now()): Promise<ReceivedEvent[]> {
  const events: ReceivedEvent[] = [];
  for await (const event of iterateSse(response, started)) events.push(event);
  return events;
}

export async function* iterateSse(response: Response, started = performance.now()): AsyncGenerator<ReceivedEvent> {
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
        if (line.startsWith(':')) continue;
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
