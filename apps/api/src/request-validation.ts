import type { z } from 'zod';
import { InvalidRequestError } from '@passage/spec';

/** Parses a request body or query with a zod schema; the first problem becomes a 400 naming the field. */
export function parseRequest<Schema extends z.ZodType>(schema: Schema, value: unknown): z.infer<Schema> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') ?? '';
  throw new InvalidRequestError(`${field === '' ? 'body' : field}: ${issue?.message ?? 'invalid value'}`);
}
