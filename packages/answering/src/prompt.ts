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
  /**
   * estimateTokens of each source's text, in the order of `sources`, when already known (chunks
   * carry it from ingestion): spares measuring every passage again on each request.
   */
  sourceTokens?: ReadonlyArray<number | undefined>;
}

export interface BuiltPrompt {
  messages: ChatMessage[];
  /** The sources that fit the budget, numbered as in the prompt. */
  sources: Source[];
  /** How many of the oldest history messages were left out to fit the budget. */
  droppedHistoryMessages: number;
  /** Approximate tokens of all messages (estimateTokens, plus 4 per message). */
  promptTokens: number;
}

/** Approximate cost of one chat message: its text plus the role and separators around it. */
const messageOverheadTokens = 4;

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
  const history = keepNewestTurns(input.history, Math.floor(budget * (options.historyShare ?? 0.25)));

  let contextBudget = budget - history.tokens;
  let contextTokens = 0;
  const passages: string[] = [];
  const keptSources: Source[] = [];
  for (const [position, source] of input.sources.entries()) {
    const renumbered = { ...source, index: keptSources.length + 1 };
    let passage = formatPassage(renumbered);
    const textTokens = input.sourceTokens?.[position] ?? estimateTokens(source.text);
    // The header ends in a newline, so the passage costs header plus text.
    let cost = estimateTokens(passage.slice(0, passage.length - source.text.length)) + textTokens + 2;
    if (cost > contextBudget) {
      if (keptSources.length > 0) break;
      passage = formatPassage(renumbered, truncateToTokens(renumbered.text, Math.max(contextBudget - 20, 16)));
      cost = Math.max(contextBudget, 0);
    }
    passages.push(passage);
    keptSources.push(renumbered);
    contextBudget -= cost;
    contextTokens += cost;
  }

  const contextBlock = passages.length > 0 ? passages.join('\n\n') : '(no passages were found)';
  const systemPrompt = options.systemPrompt ?? defaultSystemPrompt;
  const messages: ChatMessage[] = [
    { role: 'system', content: systemPrompt },
    ...history.messages,
    { role: 'user', content: `Context:\n${contextBlock}\n\nQuestion: ${input.question}` },
  ];
  const promptTokens = estimateTokensCached(systemPrompt) + history.tokens + contextTokens + estimateTokens(input.question) + 4 + 2 * messageOverheadTokens;
  return { messages, sources: keptSources, droppedHistoryMessages: input.history.length - history.messages.length, promptTokens };
}

/**
 * The newest turns of a conversation that fit `budgetTokens` (oldest dropped first), never opening
 * on an assistant turn whose question was dropped.
 */
export function keepNewestTurns(history: ChatMessage[], budgetTokens: number): { messages: ChatMessage[]; tokens: number } {
  const kept: ChatMessage[] = [];
  const costs: number[] = [];
  let tokens = 0;
  for (let position = history.length - 1; position >= 0; position -= 1) {
    const message = history[position];
    if (message === undefined) continue;
    const cost = estimateTokens(message.content) + messageOverheadTokens;
    if (tokens + cost > budgetTokens) break;
    kept.unshift(message);
    costs.unshift(cost);
    tokens += cost;
  }
  while (kept[0]?.role === 'assistant') {
    kept.shift();
    tokens -= costs.shift() ?? 0;
  }
  return { messages: kept, tokens };
}

let cachedText = '';
let cachedTokens = 0;
/** The system prompt is the same on every request: measure it once. */
function estimateTokensCached(text: string): number {
  if (text !== cachedText) {
    cachedText = text;
    cachedTokens = estimateTokens(text);
  }
  return cachedTokens;
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
