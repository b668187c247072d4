import { OpenAiChatModel } from '@passage/llm-openai';
import type { ChatModel, Config, Logger } from '@passage/spec';

/** A chat model with the resources it holds (a local model's memory), released by `close`. */
export type RuntimeChatModel = ChatModel & { close?: () => Promise<void> };

/**
 * The chat model the configuration names (`config.llmProvider`), or null for extractive answers.
 * The local provider is imported only when configured: node-llama-cpp is an optional dependency,
 * and without it the start fails with a ConfigError that names the command that installs it.
 */
export async function createChatModel(config: Config, logger: Logger): Promise<RuntimeChatModel | null> {
  switch (config.llmProvider) {
    case null:
      return null;
    case 'openai':
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
    case 'local': {
      const { LocalChatModel } = await import('@passage/llm-local');
      const modelPath = config.LLM_MODEL_PATH ?? '';
      logger.info({ provider: 'local', modelPath }, 'loading the local chat model');
      const started = performance.now();
      const model = await LocalChatModel.load({
        modelPath,
        temperature: config.LLM_TEMPERATURE,
        maxTokens: config.LLM_MAX_TOKENS,
        idleTimeoutMs: config.LLM_IDLE_TIMEOUT_MS,
        timeoutMs: config.LLM_TIMEOUT_MS,
        concurrency: config.LLM_LOCAL_CONCURRENCY,
        ...(config.LLM_CONTEXT_SIZE === undefined ? {} : { contextSize: config.LLM_CONTEXT_SIZE }),
        ...(config.LLM_THREADS === undefined ? {} : { threads: config.LLM_THREADS }),
        logger,
      });
      logger.info(
        {
          provider: 'local',
          model: model.name,
          chatTemplate: model.chatTemplate,
          contextSize: model.contextSize,
          trainContextSize: model.trainContextSize,
          concurrency: config.LLM_LOCAL_CONCURRENCY,
          loadMs: Math.round(performance.now() - started),
        },
        'chat model ready',
      );
      return model;
    }
  }
}
