import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface EventLoopMonitorOptions {
  /** How often the loop is sampled, in milliseconds. Default: 10. */
  resolutionMs?: number;
}

/** Event-loop delay since the monitor started or was last reset, in milliseconds. */
export interface EventLoopDelayStats {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Samples taken. */
  samples: number;
  /** How long the figures cover. */
  sinceMs: number;
  resolutionMs: number;
}

export interface EventLoopMonitor {
  stats(): EventLoopDelayStats;
  /** Starts a new measuring period. */
  reset(): void;
  stop(): void;
}

const nanosecondsPerMillisecond = 1e6;

/**
 * Measures how late the API's event loop runs a timer (`perf_hooks.monitorEventLoopDelay`): the
 * time a request or a stream waits because something else holds the thread.
 */
export function startEventLoopMonitor(options: EventLoopMonitorOptions = {}): EventLoopMonitor {
  const resolutionMs = options.resolutionMs ?? 10;
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  let since = performance.now();
  // The histogram records the whole interval between two samples, the resolution included; the
  // delay is what exceeds it.
  const delayMs = (nanoseconds: number) =>
    histogram.count === 0 ? 0 : Math.max(0, Math.round((nanoseconds / nanosecondsPerMillisecond - resolutionMs) * 100) / 100);
  return {
    stats: () => ({
      p50Ms: delayMs(histogram.percentile(50)),
      p99Ms: delayMs(histogram.percentile(99)),
      maxMs: delayMs(histogram.max),
      meanMs: delayMs(histogram.mean),
      samples: histogram.count,
      sinceMs: Math.round(performance.now() - since),
      resolutionMs,
    }),
    reset: () => {
      histogram.reset();
      since = performance.now();
    },
    stop: () => histogram.disable(),
  };
}
