/**
 * The SSE decoders `bench:stream` compares: the well-kept eventsource-parser, which the model
 * client uses, and a hand-written data-only decoder (sse-data-decoder.ts), on the bytes the stub sends for one answer, each event
 * decoded, parsed as JSON and its delta taken, as the model client does. Runs in this process, on
 * CPU time, for a fixed number of answers.
 */
import { createParser } from 'eventsource-parser';
import { SseDataDecoder } from './sse-data-decoder.js';

export interface DecoderFigures {
  /** CPU µs per answer of --tokens events, read in the pieces the stub sends, JSON.parse of each included. */
  eventsourceParserMicrosecondsPerStream: number;
  ownDecoderMicrosecondsPerStream: number;
  /** The same without JSON.parse: the decoders' own cost. */
  eventsourceParserDecodeOnlyMicrosecondsPerStream: number;
  ownDecoderDecodeOnlyMicrosecondsPerStream: number;
}

function piecesOf(tokens: number): string[] {
  const prefix = `data: {"id":"chatcmpl-stub-1","object":"chat.completion.chunk","created":1700000000,"model":"stub","choices":[{"index":0,"delta":`;
  const pieces = [`${prefix}{"role":"assistant","content":""},"finish_reason":null}]}\n\n`];
  for (let position = 0; position < tokens; position += 1) pieces.push(`${prefix}{"content":"token${position} "},"finish_reason":null}]}\n\n`);
  pieces.push(`${prefix}{},"finish_reason":"stop"}]}\n\n`, 'data: [DONE]\n\n');
  return pieces;
}

function cpuMicroseconds(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

export function compareSseDecoders(tokens: number, streams = 2000): DecoderFigures {
  const pieces = piecesOf(tokens);
  let characters = 0;
  const parse = (data: string) => {
    if (data === '[DONE]') return;
    const delta = (JSON.parse(data) as { choices?: Array<{ delta?: { content?: string } }> }).choices?.[0]?.delta?.content;
    if (typeof delta === 'string') characters += delta.length;
  };
  const count = (data: string) => {
    characters += data.length;
  };
  const withParser = (take: (data: string) => void) => () => {
    const parser = createParser({ onEvent: (event) => take(event.data) });
    for (const piece of pieces) parser.feed(piece);
  };
  const withOwn = (take: (data: string) => void) => () => {
    const decoder = new SseDataDecoder(take);
    for (const piece of pieces) decoder.push(piece);
  };
  const perStream = (run: () => void) => {
    for (let warm = 0; warm < 500; warm += 1) run();
    const started = cpuMicroseconds();
    for (let stream = 0; stream < streams; stream += 1) run();
    return (cpuMicroseconds() - started) / streams;
  };
  // Alternated three times, the least of each kept, so that neither profits alone from a quieter
  // moment of a shared machine.
  const least = (run: () => void, other: () => void) => {
    let best = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 3; round += 1) {
      best = Math.min(best, perStream(run));
      perStream(other);
    }
    return Math.round(best * 10) / 10;
  };
  const figures = {
    eventsourceParserMicrosecondsPerStream: least(withParser(parse), withOwn(parse)),
    ownDecoderMicrosecondsPerStream: least(withOwn(parse), withParser(parse)),
    eventsourceParserDecodeOnlyMicrosecondsPerStream: least(withParser(count), withOwn(count)),
    ownDecoderDecodeOnlyMicrosecondsPerStream: least(withOwn(count), withParser(count)),
  };
  if (characters === 0) throw new Error('the decoders found no deltas');
  return figures;
}
