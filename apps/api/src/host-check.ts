/**
 * Whether a `Host` header names this machine's loopback interface (`localhost`, `*.localhost`,
 * `127.x.y.z`, `[::1]`, with or without a port). Without API keys the service answers only such
 * requests: a page on another site that rebinds its DNS name to 127.0.0.1 sends its own name as
 * `Host`, and is refused.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = /^(\[[^\]]+\]|[^:]+)(?::\d{1,5})?$/.exec(host.trim().toLowerCase())?.[1];
  if (name === undefined) return false;
  return name === 'localhost' || name.endsWith('.localhost') || name === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(name);
}
