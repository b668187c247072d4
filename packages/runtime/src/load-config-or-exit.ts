import { ConfigError, loadConfig, type Config } from '@passage/spec';

/** For app entry points: a bad variable prints one line naming it and ends the process. */
export function loadConfigOrExit(environment: Record<string, string | undefined>): Config {
  try {
    return loadConfig(environment);
  } catch (error) {
    return exitOnConfigError(error);
  }
}

/** Ends the process with a one-line message for a ConfigError (found while building adapters, say); rethrows anything else. */
export function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    console.error(`Invalid configuration: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
