import { estimateTokens, type ChatMessage, type ChatModel } from '@passage/spec';
import { keepNewestTurns } from './prompt.js';

export const defaultCondensePrompt = [
  'You rewrite the last question of a conversation as one standalone question that can be understood without the conversation.',
  'Replace pronouns and references with what they refer to in the earlier turns; keep names and technical terms as written.',
  'Write it in the language of the last question.',
  'Reply with the rewritten question only: do not answer it, add no preamble and no quotes.',
].join(' ');

export interface CondenseOptions {
  /** Approximate tokens (estimateTokens) of conversation sent to be condensed, newest turns kept. Default: 1000. */
  historyTokens?: number;
  /** Longest standalone question the model may write, tokens. Default: 128. */
  maxTokens?: number;
  /** Replaces the default instructions. */
  systemPrompt?: string;
}

export interface CondenseRequest {
  chatModel: ChatModel;
  question: string;
  /** Earlier turns, oldest first. */
  history: ChatMessage[];
  signal: AbortSignal;
}

export interface CondensedQuestion {
  /** The standalone question; the original question when the model returned nothing usable. */
  question: string;
  promptTokens: number;
  completionTokens: number;
}

/** The messages of a condense call: instructions, then the transcript and the last question. */
export function buildCondenseMessages(question: string, history: ChatMessage[], options: CondenseOptions = {}): ChatMessage[] {
  const turns = keepNewestTurns(history, options.historyTokens ?? 1000).messages;
  const transcript = turns.map((turn) => `${turn.role === 'user' ? 'User' : 'Assistant'}: ${turn.content}`).join('\n');
  return [
    { role: 'system', content: options.systemPrompt ?? defaultCondensePrompt },
    { role: 'user', content: `Conversation:\n${transcript === '' ? '(none)' : transcript}\n\nLast question: ${question}\n\nStandalone question:` },
  ];
}

/**
 * Asks the model for a standalone form of a follow-up question, for retrieval. A failure is
 * thrown (an AppError with an llm_* code), like the failure of any other model call.
 */
export async function condenseQuestion(request: CondenseRequest, options: CondenseOptions = {}): Promise<CondensedQuestion> {
  const messages = buildCondenseMessages(request.question, request.history, options);
  let text = '';
  for await (const delta of request.chatModel.stream({ messages, signal: request.signal, maxTokens: options.maxTokens ?? 128, temperature: 0 })) {
    text += delta;
  }
  const cleaned = cleanStandaloneQuestion(text);
  return {
    question: cleaned === '' ? request.question : cleaned,
    promptTokens: messages.reduce((sum, message) => sum + estimateTokens(message.content) + 4, 0),
    completionTokens: estimateTokens(text),
  };
}

/** Strips what models add despite the instructions: a label, quotes, surrounding space. */
export function cleanStandaloneQuestion(text: string): string {
  const unquote = (value: string) =>
    value
      .trim()
      .replace(/^["'“”«»]+|["'“”«»]+$/g, '')
      .trim();
  return unquote(unquote(text).replace(/^(standalone question|question)\s*:\s*/i, ''));
}
