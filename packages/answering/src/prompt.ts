import { estimateTokens, type ChatMessage, type Source } from '@passage/spec';

export const defaultSystemPrompt = [
  'You answer questions using only the numbered context passages that the user provides.',
  'Cite every statement with the number of the passage it comes from, in square brackets, like [1] or [2][3].',
  'Cite only passage numbers that appear in the context.',
  'If the passages do not contain the answer, say that the documents do not answer the question; do not guess and do not use outside knowledge.',
  'Answer in the language of the question.',
].join(' ');

export interface PromptOptions {
  /**
   * Approximate tokens (estimateTokens) for context passages plus history together. The system
   * message and the question are not counted: they always go in. Default: 3000.
   */
  budgetTokens?: number;
  /** Share of the budget that history may take, from 0 to 1; context takes the rest. Default: 0.25. */
  historyShare?: number;
  /** Replaces the default instructions. */
  systemPrompt?: string;
}

export interface PromptInput {
  question: string;
  history: ChatMessage[];
  sources: Source[];
}

export interface BuiltPrompt {
  messages: ChatMessage[];
  /** The sources that fit the budget, numbered as in the prompt. */
  sources: Source[];
  /** How many of the oldest history messages were left out to fit the budget. */
  droppedHistoryMessages: number;
}

export function formatPassage(source: Source, text = source.text): string {
  return `[${source.index}] ${source.documentName}, page ${source.page}\n${text}`;
}

/**
 * Builds role-content messages: system instructions, the earlier turns, then one user message with
 * the numbered context block and the question. History keeps its newest turns (the oldest go
 * first); context keeps the best-ranked passages; the first passage is truncated rather than left
 * out, so the model always sees some context when there is any.
 */
export function buildPrompt(input: PromptInput, options: PromptOptions = {}): BuiltPrompt {
  const budget = options.budgetTokens ?? 3000;
  const historyBudget = Math.floor(budget * (options.historyShare ?? 0.25));

  const keptHistory: ChatMessage[] = [];
  let historyTokens = 0;
  for (let position = input.history.length - 1; position >= 0; position -= 1) {
    const message = input.history[position];
    if (message === undefined) continue;
    const cost = estimateTokens(message.content) + 4;
    if (historyTokens + cost > historyBudget) break;
    keptHistory.unshift(message);
    historyTokens += cost;
  }
  // A conversation must not open on an assistant turn whose question was dropped.
  while (keptHistory[0]?.role === 'assistant') keptHistory.shift();

  let contextBudget = budget - historyTokens;
  const passages: string[] = [];
  const keptSources: Source[] = [];
  for (const source of input.sources) {
    const renumbered = { ...source, index: keptSources.length + 1 };
    let passage = formatPassage(renumbered);
    let cost = estimateTokens(passage) + 2;
    if (cost > contextBudget) {
      if (keptSources.length > 0) break;
      passage = formatPassage(renumbered, truncateToTokens(renumbered.text, Math.max(contextBudget - 20, 16)));
      cost = contextBudget;
    }
    passages.push(passage);
    keptSources.push(renumbered);
    contextBudget -= cost;
  }

  const contextBlock = passages.length > 0 ? passages.join('\n\n') : '(no passages were found)';
  const messages: ChatMessage[] = [
    { role: 'system', content: options.systemPrompt ?? defaultSystemPrompt },
    ...keptHistory,
    { role: 'user', content: `Context:\n${contextBlock}\n\nQuestion: ${input.question}` },
  ];
  return { messages, sources: keptSources, droppedHistoryMessages: input.history.length - keptHistory.length };
}

function truncateToTokens(text: string, maxTokens: number): string {
  if (estimateTokens(text) <= maxTokens) return text;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (estimateTokens(text.slice(0, middle)) <= maxTokens) low = middle;
    else high = middle - 1;
  }
  return `${text.slice(0, low)}…`;
}
