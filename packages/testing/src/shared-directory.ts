import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root. */
export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Shared test material (eval sets, PDFs, Qdrant's OpenAPI), from SHARED_DIR or `../shared`. */
export function sharedDirectory(): string {
  return path.resolve(process.env.SHARED_DIR ?? path.join(repositoryRoot, '../shared'));
}

export function sharedPath(...parts: string[]): string {
  return path.join(sharedDirectory(), ...parts);
}
