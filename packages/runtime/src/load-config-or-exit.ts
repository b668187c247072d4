import { ConfigError, loadConfig, type Config } from '@passage/spec';

/** For app entry points: a bad variable prints one line naming it and ends the process. */
export function loadConfigOrExit(environment: Record<string, string | undefined>): Config {
  try {
    return loadConfig(environment);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Invalid configuration: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
}
