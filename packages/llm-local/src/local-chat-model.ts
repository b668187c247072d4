import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { ChatHistoryItem, ChatWrapper, Llama, LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import { AbortedError, AppError, ConfigError, silentLogger, type ChatMessage, type ChatModel, type ChatStreamRequest, type Logger } from '@passage/spec';
import { GenerationSlots, type GenerationSlot } from './generation-slots.js';
import { importNodeLlamaCpp, type NodeLlamaCpp } from './node-llama-cpp-binding.js';

export interface LocalChatModelOptions {
  /** A GGUF model file. */
  modelPath: string;
  /** Default: 0.1 (0: always the most likely token). */
  temperature?: number;
  /** Longest answer, tokens. Default: 1024 (never more than the context has room for after the prompt). */
  maxTokens?: number;
  /**
   * Longest wait for the next token once the generation has its turn (the first token included:
   * reading the prompt counts), ms. Waiting in line for a turn is not idleness. Default: 30000.
   */
  idleTimeoutMs?: number;
  /** Longest time for a whole answer from the request on, the wait for a turn included, ms. Default: 120000. */
  timeoutMs?: number;
  /** Generations at once, each on its own context sequence; more requests wait in line. Default: 1 (one at a time suits a CPU). */
  concurrency?: number;
  /**
   * Tokens one generation can see (prompt and answer). Default: the size the model was trained
   * for, lowered by node-llama-cpp to what the memory holds.
   */
  contextSize?: number;
  /**
   * CPU threads of a generation. Default: the machine's cores less one, at least one: the event
   * loop, parsing and other answers keep a core, and llama.cpp's threads wait by spinning, so
   * more threads than free cores make every token far slower (measured: bench:local-llm).
   */
  threads?: number;
  /** Where the start, the end and the reason of every generation are reported. Default: nothing. */
  logger?: Logger;
  /** The import of node-llama-cpp, replaceable in tests. */
  importBinding?: () => Promise<NodeLlamaCpp>;
}

/** Counters of the generations since the model was loaded. */
export interface LocalGenerationStats {
  /** Generations running now. */
  generating: number;
  /** Requests waiting in line for a turn. */
  waiting: number;
  /** Generations that started (had their turn). */
  started: number;
  /** Generations that ended, however they ended. */
  ended: number;
}

/** How one generation ended, as reported in the `local generation ended` log line. */
export type LocalGenerationEnd = 'completed' | 'aborted' | 'aborted while waiting' | 'consumer stopped' | 'idle timeout' | 'total timeout' | 'failed';

/** The report of one generation, passed to `onGenerationEnd` and logged. */
export interface LocalGenerationReport {
  reason: LocalGenerationEnd;
  /** Why the model stopped by itself (end-of-turn token, max tokens), when it did. */
  stopReason?: string;
  promptTokens: number;
  completionTokens: number;
  /** Tokens the model produced after the request was aborted or stopped: at most one. */
  tokensAfterStop: number;
  waitedMs: number;
  firstTokenMs: number | null;
  totalMs: number;
}

/**
 * A ChatModel that runs a GGUF model in this process with node-llama-cpp (llama.cpp's prebuilt
 * binaries, CPU or GPU). The prompt is built by the model's own chat template (node-llama-cpp
 * reads the GGUF's template, or knows the model family's). Generations take turns in a line of
 * `concurrency` slots; a waiting request streams nothing until its turn and leaves the line when
 * its signal aborts. An abort, a consumer that stops reading, or a timeout stops the generation
 * at the next token. Failures are AppErrors with the service's llm_* codes.
 */
export class LocalChatModel implements ChatModel {
  readonly name: string;
  readonly modelPath: string;
  /** Tokens one generation can see. */
  readonly contextSize: number;
  /** The context size the model was trained for. */
  readonly trainContextSize: number;
  /** The chat template in use (node-llama-cpp's name for it). */
  readonly chatTemplate: string;
  /** Called with the report of every generation as it ends (tests and benchmarks read it). */
  onGenerationEnd: ((report: LocalGenerationReport) => void) | null = null;

  readonly #binding: NodeLlamaCpp;
  readonly #llama: Llama;
  readonly #model: LlamaModel;
  readonly #context: LlamaContext;
  readonly #sequences: LlamaContextSequence[];
  readonly #chatWrapper: ChatWrapper;
  readonly #slots: GenerationSlots;
  readonly #options: Required<Pick<LocalChatModelOptions, 'temperature' | 'maxTokens' | 'idleTimeoutMs' | 'timeoutMs'>>;
  readonly #logger: Logger;
  #started = 0;
  #ended = 0;
  #closed = false;

  private constructor(parts: {
    binding: NodeLlamaCpp;
    llama: Llama;
    model: LlamaModel;
    context: LlamaContext;
    options: LocalChatModelOptions;
    concurrency: number;
  }) {
    const { binding, llama, model, context, options } = parts;
    this.#binding = binding;
    this.#llama = llama;
    this.#model = model;
    this.#context = context;
    this.#sequences = Array.from({ length: parts.concurrency }, () => context.getSequence());
    this.#chatWrapper = binding.resolveChatWrapper(model);
    this.#slots = new GenerationSlots(parts.concurrency);
    this.#options = {
      temperature: options.temperature ?? 0.1,
      maxTokens: options.maxTokens ?? 1024,
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
      timeoutMs: options.timeoutMs ?? 120_000,
    };
    this.#logger = options.logger ?? silentLogger;
    this.modelPath = options.modelPath;
    this.name = path.basename(options.modelPath).replace(/\.gguf$/i, '');
    this.contextSize = context.contextSize;
    this.trainContextSize = model.trainContextSize;
    this.chatTemplate = this.#chatWrapper.wrapperName;
  }

  /**
   * Loads node-llama-cpp, the model and a context with one sequence per concurrent generation.
   * Throws ConfigError (which stops the start) when node-llama-cpp is not installed (naming the
   * command that installs it), or the model file is missing or cannot be loaded.
   */
  static async load(options: LocalChatModelOptions): Promise<LocalChatModel> {
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError('LLM_LOCAL_CONCURRENCY', `must be a positive integer, not ${concurrency}`);
    const binding = await importNodeLlamaCpp(options.importBinding);
    const found = await stat(options.modelPath).catch(() => null);
    if (found === null || !found.isFile()) {
      throw new ConfigError('LLM_MODEL_PATH', `no model file at ${path.resolve(options.modelPath)}`);
    }
    const logger = options.logger ?? silentLogger;
    const threads = options.threads ?? defaultThreads();
    // build "never": a missing or broken prebuilt binary fails here instead of downloading and compiling llama.cpp.
    const llama = await binding.getLlama({
      build: 'never',
      progressLogs: false,
      logLevel: binding.LlamaLogLevel.error,
      logger: (level, message) => logger.warn({ level, message: message.trim() }, 'llama.cpp'),
      maxThreads: threads,
    });
    try {
      const model = await llama.loadModel({ modelPath: options.modelPath }).catch((error: unknown) => {
        throw new ConfigError('LLM_MODEL_PATH', `cannot load ${options.modelPath} as a GGUF model: ${(error as Error).message}`);
      });
      const context = await model
        .createContext({
          sequences: concurrency,
          ...(options.contextSize === undefined ? {} : { contextSize: options.contextSize }),
          threads,
        })
        .catch(async (error: unknown) => {
          await model.dispose();
          throw new ConfigError('LLM_CONTEXT_SIZE', `cannot create a context for ${options.modelPath}: ${(error as Error).message}`);
        });
      return new LocalChatModel({ binding, llama, model, context, options, concurrency });
    } catch (error) {
      await llama.dispose();
      throw error;
    }
  }

  get stats(): LocalGenerationStats {
    return { generating: this.#slots.busy, waiting: this.#slots.waiting, started: this.#started, ended: this.#ended };
  }

  stream(request: ChatStreamRequest): AsyncIterableIterator<string> {
    return this.#generate(request);
  }

  /** Counts the prompt's tokens as the model's chat template renders them. */
  countPromptTokens(messages: ChatMessage[]): number {
    const chatHistory: ChatHistoryItem[] = [...toChatHistory(messages), { type: 'model', response: [] }];
    const { contextText } = this.#chatWrapper.generateContextState({ chatHistory });
    return contextText.tokenize(this.#model.tokenizer).length;
  }

  /** Fails the requests in line, stops nothing that runs (their signals do), and frees the model. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#slots.rejectWaiting(new AppError('llm_unavailable', 'The local model is shutting down'));
    await this.#context.dispose();
    await this.#model.dispose();
    await this.#llama.dispose();
  }

  async *#generate(request: ChatStreamRequest): AsyncGenerator<string, void, undefined> {
    if (this.#closed) throw new AppError('llm_unavailable', 'The local model is shut down');
    if (request.signal.aborted) throw new AbortedError();
    const requested = performance.now();
    const { idleTimeoutMs, timeoutMs } = this.#options;
    // Stops the wait or the generation: the caller's abort, a timeout, or the consumer leaving.
    const stop = new AbortController();
    let stoppedBy: 'caller' | 'idle' | 'total' | 'consumer' | null = null;
    const stopFor = (reason: Exclude<typeof stoppedBy, null>): void => {
      stoppedBy ??= reason;
      stop.abort();
    };
    const onCallerAbort = (): void => stopFor('caller');
    request.signal.addEventListener('abort', onCallerAbort, { once: true });
    const totalTimer = setTimeout(() => stopFor('total'), timeoutMs);
    let idleTimer: NodeJS.Timeout | null = null;
    const armIdle = (): void => {
      if (idleTimer !== null) clearTimeout(idleTimer);
      idleTimer = setTimeout(() => stopFor('idle'), idleTimeoutMs);
    };

    let slot: GenerationSlot | null = null;
    let generation: Promise<void> | null = null;
    let chat: InstanceType<NodeLlamaCpp['LlamaChat']> | null = null;
    let outcome: LocalGenerationEnd | null = null;
    const report: LocalGenerationReport = {
      reason: 'failed',
      promptTokens: 0,
      completionTokens: 0,
      tokensAfterStop: 0,
      waitedMs: 0,
      firstTokenMs: null,
      totalMs: 0,
    };
    const pending: string[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    let failure: unknown = null;

    try {
      if (this.#slots.busy === this.#slots.size) {
        this.#logger.debug({ model: this.name, ahead: this.#slots.waiting, generating: this.#slots.busy }, 'local generation waiting for its turn');
      }
      try {
        slot = await this.#slots.acquire(stop.signal);
      } catch (error) {
        outcome = stoppedBy === 'total' ? 'total timeout' : stoppedBy === 'caller' ? 'aborted while waiting' : 'failed';
        throw error;
      }
      report.waitedMs = performance.now() - requested;
      this.#started += 1;
      const sequence = this.#sequences[slot.index];
      if (sequence === undefined) throw new AppError('internal_error', `No context sequence for slot ${slot.index}`);
      const history = toChatHistory(request.messages);
      report.promptTokens = this.countPromptTokens(request.messages);
      const room = this.contextSize - report.promptTokens;
      if (room < 1) {
        throw new AppError(
          'llm_failed',
          `The prompt has ${report.promptTokens} tokens and the local model's context holds ${this.contextSize}: lower CONTEXT_TOKEN_BUDGET or raise LLM_CONTEXT_SIZE`,
        );
      }
      const maxTokens = Math.min(request.maxTokens ?? this.#options.maxTokens, room);
      this.#logger.debug(
        { model: this.name, slot: slot.index, waitedMs: Math.round(report.waitedMs), promptTokens: report.promptTokens, maxTokens },
        'local generation started',
      );
      chat = new this.#binding.LlamaChat({ contextSequence: sequence, chatWrapper: this.#chatWrapper, autoDisposeSequence: false });
      armIdle();
      const wakeUp = (): void => {
        const waiting = wake;
        wake = null;
        waiting?.();
      };
      generation = chat
        .generateResponse([...history, { type: 'model', response: [] }], {
          signal: stop.signal,
          maxTokens,
          temperature: request.temperature ?? this.#options.temperature,
          onToken: (tokens) => {
            report.completionTokens += tokens.length;
            if (stop.signal.aborted) report.tokensAfterStop += tokens.length;
            report.firstTokenMs ??= performance.now() - requested;
            armIdle();
          },
          onTextChunk: (text) => {
            if (text === '' || stop.signal.aborted) return;
            pending.push(text);
            wakeUp();
          },
        })
        .then(
          (response) => {
            report.stopReason = response.metadata.stopReason;
            finished = true;
          },
          (error: unknown) => {
            failure = error;
            finished = true;
          },
        )
        .finally(wakeUp);

      for (;;) {
        if (stop.signal.aborted) {
          await generation;
          break;
        }
        const text = pending.shift();
        if (text !== undefined) {
          yield text;
          continue;
        }
        if (finished) break;
        await new Promise<void>((resolve) => (wake = resolve));
      }
      // Whatever node-llama-cpp threw: #failure maps it to an AppError.
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      if (failure !== null) throw failure;
      if (stop.signal.aborted) throw new AbortedError();
      outcome = 'completed';
    } catch (error) {
      const mapped = this.#failure(error, stoppedBy, outcome);
      outcome = mapped.outcome;
      throw mapped.error;
    } finally {
      // No outcome: the consumer left at a yield (return()); the stop ends the generation at the next token.
      report.reason = outcome ?? 'consumer stopped';
      stopFor('consumer');
      clearTimeout(totalTimer);
      if (idleTimer !== null) clearTimeout(idleTimer);
      request.signal.removeEventListener('abort', onCallerAbort);
      // The slot's sequence is free only once the generation has settled (within one token of the stop).
      if (generation !== null) await generation;
      chat?.dispose({ disposeSequence: false });
      slot?.release();
      if (slot !== null) this.#ended += 1;
      report.totalMs = performance.now() - requested;
      this.#report(report);
    }
  }

  /** The error to throw for a failure, and how the generation ended; `outcome` is set already when it ended while waiting. */
  #failure(
    error: unknown,
    stoppedBy: 'caller' | 'idle' | 'total' | 'consumer' | null,
    outcome: LocalGenerationEnd | null,
  ): { error: Error; outcome: LocalGenerationEnd } {
    const waited = outcome === 'aborted while waiting' || outcome === 'total timeout';
    const { idleTimeoutMs, timeoutMs } = this.#options;
    if (stoppedBy === 'idle') {
      const message = `The local model produced no token for ${idleTimeoutMs} ms; the generation was stopped`;
      return { outcome: 'idle timeout', error: new AppError('llm_timeout', message, { cause: error }) };
    }
    if (stoppedBy === 'total') {
      const message = waited
        ? `The local model was busy with other answers for ${timeoutMs} ms; the request left the line without an answer`
        : `The local model did not finish within ${timeoutMs} ms; the generation was stopped`;
      return { outcome: 'total timeout', error: new AppError('llm_timeout', message, { cause: error }) };
    }
    if (stoppedBy === 'caller') return { outcome: waited ? 'aborted while waiting' : 'aborted', error: new AbortedError() };
    if (error instanceof AppError) return { outcome: 'failed', error };
    const message = `The local model failed: ${error instanceof Error ? error.message : String(error)}`;
    return { outcome: 'failed', error: new AppError('llm_failed', message, { cause: error }) };
  }

  #report(report: LocalGenerationReport): void {
    const rounded = {
      ...report,
      waitedMs: Math.round(report.waitedMs),
      firstTokenMs: report.firstTokenMs === null ? null : Math.round(report.firstTokenMs),
      totalMs: Math.round(report.totalMs),
    };
    const log = report.reason === 'completed' || report.reason.startsWith('aborted') || report.reason === 'consumer stopped' ? 'info' : 'warn';
    this.#logger[log]({ model: this.name, ...rounded }, 'local generation ended');
    this.onGenerationEnd?.(rounded);
  }
}

/** The machine's cores less one, at least one. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

/** The service's messages as node-llama-cpp's chat history (the template decides how a system message is rendered). */
export function toChatHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  return messages.map((message): ChatHistoryItem => {
    switch (message.role) {
      case 'system':
        return { type: 'system', text: message.content };
      case 'user':
        return { type: 'user', text: message.content };
      case 'assistant':
        return { type: 'model', response: [message.content] };
    }
  });
}
