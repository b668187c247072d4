import type { IncomingMessage } from 'node:http';
import { IncomingHeaders } from './incoming-headers.js';

/**
 * A successful `text/event-stream` answer as the openai SDK sees it, with no body: the least of a
 * fetch `Response` that the SDK reads of a 2xx answer before handing it back from `asResponse()`
 * (`ok`, `status`, `statusText`, `url`, `headers`). undici's Response and Headers validate and copy
 * every header on the way, which showed as 3% of the API's CPU with a thousand streams. The bytes
 * are read from `stream`, the Node stream they arrive on.
 */
export class EventStreamResponse {
  readonly ok = true;
  readonly redirected = false;
  readonly type = 'basic';
  readonly body = null;
  readonly bodyUsed = false;
  readonly status: number;
  readonly statusText: string;
  readonly url: string;
  readonly headers: IncomingHeaders;
  readonly stream: IncomingMessage;

  constructor(stream: IncomingMessage, url: string) {
    this.stream = stream;
    this.url = url;
    this.status = stream.statusCode ?? 200;
    this.statusText = stream.statusMessage ?? '';
    this.headers = new IncomingHeaders(stream.headers);
  }
}
