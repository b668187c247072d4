import { z } from 'zod';

/**
 * Control characters (C0, DEL, C1), bidirectional overrides and isolates (a right-to-left override
 * makes `exe.pdf` display as `fdp.exe`), and lone surrogates (which cannot be stored as UTF-8 and
 * come back as replacement characters).
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
const forbiddenCharacters = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u;

/** Whether a name can be shown and stored as it is: see forbiddenCharacters. */
export function isDisplayableName(value: string): boolean {
  return !forbiddenCharacters.test(value);
}

/** A name of a knowledge base, document or key: trimmed, 1 to `maxLength` characters, nothing forbiddenCharacters names. */
export function displayName(maxLength: number) {
  return z.string().trim().min(1).max(maxLength).refine(isDisplayableName, 'must not contain control characters, bidirectional overrides or lone surrogates');
}
