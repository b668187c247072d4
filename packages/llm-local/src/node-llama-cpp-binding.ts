import { ConfigError } from '@passage/spec';

/** The node-llama-cpp module (an optional dependency: types only here, loaded at run time). */
export type NodeLlamaCpp = typeof import('node-llama-cpp');

/** The pinned version: newer releases' lockfiles name platform builds the registry here does not serve. */
export const nodeLlamaCppVersion = '3.21.1';

export const installNodeLlamaCppCommand = `npm install -E node-llama-cpp@${nodeLlamaCppVersion} -w @passage/llm-local`;

/**
 * Imports node-llama-cpp, or throws a ConfigError (which stops the start) that says what to
 * install. `importModule` is the import itself, replaceable so that the missing-package path can
 * be tested on a machine that has the package.
 */
export async function importNodeLlamaCpp(importModule: () => Promise<NodeLlamaCpp> = () => import('node-llama-cpp')): Promise<NodeLlamaCpp> {
  try {
    return await importModule();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && error instanceof Error && error.message.includes('node-llama-cpp')) {
      throw new ConfigError(
        'LLM_PROVIDER',
        `"local" runs the model in this process with the optional package node-llama-cpp, which is not installed. ` +
          `Install it with \`${installNodeLlamaCppCommand}\` (an install with --omit=optional leaves it out), or set LLM_PROVIDER=openai`,
      );
    }
    throw new ConfigError(
      'LLM_PROVIDER',
      `"local": node-llama-cpp is installed but cannot be loaded: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
