/** `--name value` from the command line, or the default. */
export function stringArgument(name: string, defaultValue: string): string {
  const position = process.argv.indexOf(name);
  const value = position >= 0 ? process.argv[position + 1] : undefined;
  return value === undefined || value.startsWith('--') ? defaultValue : value;
}

export function numberArgument(name: string, defaultValue: number): number {
  const value = Number(stringArgument(name, String(defaultValue)));
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number ≥ 0`);
  return value;
}

export function flagArgument(name: string): boolean {
  return process.argv.includes(name);
}
