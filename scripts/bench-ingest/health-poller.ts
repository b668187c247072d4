/**
 * The `/healthz` poller of `bench:ingest`'s responsiveness run, in a process of its own so that
 * what it measures is the API's answer and not the delays of the benchmark process, whose event
 * loop carries a hundred answer streams. Polls every --interval-ms (default 50) from the start;
 * on SIGTERM it waits for the requests in flight (at most 10 s) and prints one JSON line:
 * `{"latenciesMs":[…],"failures":n}` (a failure: an error or a status other than 200).
 *
 * Arguments: --url <health url> --interval-ms N
 */
import { Agent, get } from 'node:http';
import { numberArgument, stringArgument } from '../bench-stream/arguments.js';

const url = stringArgument('--url', '');
if (url === '') throw new Error('--url <health url> is required');
const intervalMs = numberArgument('--interval-ms', 50);

const agent = new Agent({ keepAlive: true });
const latenciesMs: number[] = [];
let failures = 0;
const inFlight = new Set<Promise<void>>();

function poll(): void {
  const sent = performance.now();
  const request = new Promise<void>((resolve) => {
    get(url, { agent }, (response) => {
      response.resume();
      response.once('end', () => {
        if (response.statusCode === 200) latenciesMs.push(Math.round((performance.now() - sent) * 100) / 100);
        else failures += 1;
        resolve();
      });
    }).once('error', () => {
      failures += 1;
      resolve();
    });
  });
  inFlight.add(request);
  void request.then(() => inFlight.delete(request));
}

const timer = setInterval(poll, intervalMs);
process.once('SIGTERM', () => {
  clearInterval(timer);
  const deadline = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
  void Promise.race([Promise.all(inFlight), deadline]).then(() => {
    process.stdout.write(`${JSON.stringify({ latenciesMs, failures: failures + inFlight.size })}\n`, () => process.exit(0));
  });
});
