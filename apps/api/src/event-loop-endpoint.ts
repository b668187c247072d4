import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventLoopMonitor } from './event-loop-monitor.js';
import { sendJson } from './send-json.js';

const statsPath = '/v1/stats/event-loop';

/**
 * Internal figures for the benchmarks: `GET /v1/stats/event-loop` answers the monitor's
 * EventLoopDelayStats; `POST /v1/stats/event-loop/reset` starts a new period (204).
 * Returns a listener that answers true when it took the request.
 */
export function eventLoopEndpoint(monitor: EventLoopMonitor): (request: IncomingMessage, response: ServerResponse) => boolean {
  return (request, response) => {
    const path = request.url?.split('?', 1)[0];
    if (path === statsPath && request.method === 'GET') {
      sendJson(response, 200, monitor.stats());
      return true;
    }
    if (path === `${statsPath}/reset` && request.method === 'POST') {
      monitor.reset();
      response.statusCode = 204;
      response.end();
      return true;
    }
    return false;
  };
}
