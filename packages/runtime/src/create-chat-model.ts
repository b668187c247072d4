import { OpenAiChatModel } from '@passage/llm-openai';
import type { ChatModel, Config } from '@passage/spec';

/** The chat model the configuration names, or null for extractive answers. */
export function createChatModel(config: Config): ChatModel | null {
  if (!config.llmEnabled) return null;
  return new OpenAiChatModel({
    model: config.LLM_MODEL,
    ...(config.OPENAI_BASE_URL === undefined ? {} : { baseUrl: config.OPENAI_BASE_URL }),
    ...(config.OPENAI_API_KEY === undefined ? {} : { apiKey: config.OPENAI_API_KEY }),
    temperature: config.LLM_TEMPERATURE,
    maxTokens: config.LLM_MAX_TOKENS,
    maxRetries: config.LLM_MAX_RETRIES,
    idleTimeoutMs: config.LLM_IDLE_TIMEOUT_MS,
    timeoutMs: config.LLM_TIMEOUT_MS,
  });
}
