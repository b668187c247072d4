import type { AnswerEndEvent, AnswerErrorEvent } from '@passage/answering';
import type { AnswerMode, AnswerTimings, Source } from '@passage/spec';
import { sourcesJson } from './sources-json.js';

/** The data of the `end` event of `/ask`, and the fields of its JSON answer besides `sources`. */
export interface AskEndData {
  answer: string;
  citations: number[];
  invalidCitations: number[];
  mode: AnswerMode;
  timings: AnswerTimings;
}

/** The data of the `error` event of `/ask`. */
export interface AskErrorData {
  code: string;
  message: string;
  retryAfterSeconds?: number;
}

/** What `/ask` reports of an `end` answer event: everything but the usage, which is the OpenAI endpoint's. */
export function askEndData(event: AnswerEndEvent): AskEndData {
  return { answer: event.answer, citations: event.citations, invalidCitations: event.invalidCitations, mode: event.mode, timings: event.timings };
}

/** `event: sources`: the passages, numbered as cited. */
export function sourcesEvent(sources: Source[]): string {
  return `event: sources\ndata: {"sources":${sourcesJson.render(sources)}}\n\n`;
}

/** `event: text-delta`, the most frequent: rendered around the delta, without a payload object. */
export function textDeltaEvent(delta: string): string {
  return `event: text-delta\ndata: {"delta":${JSON.stringify(delta)}}\n\n`;
}

/** `event: end`. */
export function endEvent(event: AnswerEndEvent): string {
  return `event: end\ndata: ${JSON.stringify(askEndData(event))}\n\n`;
}

/** `event: error`, sent instead of `end`. */
export function errorEvent(event: AnswerErrorEvent): string {
  const data: AskErrorData = { code: event.code, message: event.message };
  if (event.retryAfterSeconds !== undefined) data.retryAfterSeconds = event.retryAfterSeconds;
  return `event: error\ndata: ${JSON.stringify(data)}\n\n`;
}
