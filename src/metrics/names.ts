/**
 * Metric names: the public contract. The README documents each one. Never build a metric name
 * from a string literal elsewhere; import it from here.
 */

/** Latency histograms (values recorded in microseconds, 3 significant digits). */
export const Latency = {
  /** REGISTER sent (intended start in rate-driven actions) → final 2xx, including digest retries. */
  register: "register",
  /** Later issues: */
  sessionSetup: "session_setup",
  sessionReady: "session_ready",
  msrpSend: "msrp_send",
  messageDelivery: "message_delivery",
  largeMessage: "large_message",
  iteration: "iteration",
} as const;
export type LatencyMetric = (typeof Latency)[keyof typeof Latency];

/**
 * Each latency metric is also recorded uncorrected (pure service time: request actually sent →
 * answer) under `<name>.service`. The plain name is measured from the intended start time so a
 * slow target cannot hide queueing delay in the generator (no coordinated omission).
 */
export const serviceTimeName = (metric: string): string => `${metric}.service`;

/** Counters (summed across workers and periods). Counter names may carry a suffix, see helpers. */
export const Counter = {
  registerAttempts: "register.attempts",
  registerSuccesses: "register.successes",
  /** `register.failures.status.<code>` and `register.failures.timeout` */
  registerFailures: "register.failures",
  unregisterAttempts: "unregister.attempts",
  unregisterSuccesses: "unregister.successes",
  unregisterFailures: "unregister.failures",
  iterationsStarted: "iterations.started",
  iterationsCompleted: "iterations.completed",
  iterationsFailed: "iterations.failed",
  /** Iterations whose start time came while no idle client was available (open model). */
  iterationsDropped: "iterations.dropped",
  sipBytesSent: "sip.bytes_sent",
  sipBytesReceived: "sip.bytes_received",
  /** MSRP bytes written to / read from sockets (headers and bodies, every connection). */
  msrpBytesSent: "msrp.bytes_sent",
  msrpBytesReceived: "msrp.bytes_received",
  /** Latency samples dropped because they were not finite numbers (a bug upstream; should stay 0). */
  invalidSamples: "metrics.invalid_samples",
} as const;

export const failureByStatus = (prefix: string, status: number): string => `${prefix}.status.${status}`;
export const failureByTimeout = (prefix: string): string => `${prefix}.timeout`;
export const failureByTransport = (prefix: string): string => `${prefix}.transport`;

/** Gauges: last value in a period per worker, summed across workers (max for lag). */
export const Gauge = {
  registeredClients: "clients.registered",
  activeClients: "clients.active",
  /** Event-loop lag of a worker in the period, in microseconds: p99 and max (merged by max). */
  eventLoopLagP99: "worker.lag_p99_us",
  eventLoopLagMax: "worker.lag_max_us",
} as const;

/** Gauges merged across workers by taking the maximum instead of the sum. */
export const MAX_MERGED_GAUGES: ReadonlySet<string> = new Set([Gauge.eventLoopLagP99, Gauge.eventLoopLagMax]);
