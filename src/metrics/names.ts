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
  /** Iterations still running when the stop grace period ended, cut short by the end of the run (not failures). */
  iterationsInterrupted: "iterations.interrupted",
  /** Iterations whose start time came while no idle client was available (open model). */
  iterationsDropped: "iterations.dropped",
  sipBytesSent: "sip.bytes_sent",
  sipBytesReceived: "sip.bytes_received",
  /** MSRP bytes written to / read from sockets (headers and bodies, every connection). */
  msrpBytesSent: "msrp.bytes_sent",
  msrpBytesReceived: "msrp.bytes_received",
  /**
   * CPM 1-1 sessions originated by invite steps (§7.4.1). Every attempt ends in exactly one of
   * `session.successes` (200 and the MSRP leg bound) or `session.failures.<why>`: `status.<code>`
   * (final non-2xx), `timeout` (no final answer in time: CANCELled), `msrp_connect_timeout` (the
   * MSRP leg did not bind in time, or the far end ended the session before it did),
   * `msrp_connect_failed` (TCP connect refused), `msrp_status.<code>` (binding SEND refused),
   * `transport` (no SIP connection), `no_peer` (nobody to call).
   */
  sessionAttempts: "session.attempts",
  sessionSuccesses: "session.successes",
  sessionFailures: "session.failures",
  /** Incoming INVITEs (terminating user): accepted, rejected on purpose (AnswerPlan), cancelled while waiting, failed (`.status.<code>`). */
  sessionIncomingAccepted: "session.incoming.accepted",
  sessionIncomingRejected: "session.incoming.rejected",
  sessionIncomingCanceled: "session.incoming.canceled",
  sessionIncomingFailures: "session.incoming.failures",
  /** BYE steps (§7.4.3), by caller or (asked by a control message) by callee: `.status.<code>`, `.timeout`, `.transport`. */
  byeAttempts: "bye.attempts",
  byeSuccesses: "bye.successes",
  byeFailures: "bye.failures",
  /** re-INVITE steps (§7.4.4): `.status.<code>`, `.timeout`, `.msrp_connect_timeout` (a renewed MSRP leg did not bind). */
  reinviteAttempts: "reinvite.attempts",
  reinviteSuccesses: "reinvite.successes",
  reinviteFailures: "reinvite.failures",
  /** re-INVITEs repeated at the far end's request (491, or 500 with Retry-After): not failures. */
  reinviteRetries: "reinvite.retries",
  /**
   * CPIM messages over MSRP (one per scheduled message of a send step, echo replies, and the one
   * message of a large-message step): every attempt ends in `msrp_send.successes` (all chunks
   * answered 200) or `msrp_send.failures.<why>`: `status.<code>`, `timeout`, `connection_lost`,
   * `session_closed`, `not_bound`, `source_error`, `no_session` (no open session in the iteration).
   */
  msrpSendAttempts: "msrp_send.attempts",
  msrpSendSuccesses: "msrp_send.successes",
  msrpSendFailures: "msrp_send.failures",
  /** Messages sent with success / received whole by a client (control messages excluded), and their payload bytes. */
  messagesSent: "messages.sent",
  messagesReceived: "messages.received",
  messageBytesSent: "messages.bytes_sent",
  messageBytesReceived: "messages.bytes_received",
  /** Received messages without a readable cpm-load stamp (no message_delivery sample). */
  messagesUnstamped: "messages.unstamped",
  /**
   * Large-message steps (§7.3.2): `large_message.successes` (INVITE → 200 → message answered →
   * BYE sent) or `large_message.failures.<why>`: the session reasons above (`status.<code>`,
   * `timeout`, `msrp_connect_timeout`, …) or `msrp` (the message itself failed; msrp_send.failures says why).
   */
  largeMessageAttempts: "large_message.attempts",
  largeMessageSuccesses: "large_message.successes",
  largeMessageFailures: "large_message.failures",
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
  /** Established CPM sessions (chat and large-message) originated by the worker's clients. */
  activeSessions: "sessions.active",
  /** Event-loop lag of a worker in the period, in microseconds: p99 and max (merged by max). */
  eventLoopLagP99: "worker.lag_p99_us",
  eventLoopLagMax: "worker.lag_max_us",
} as const;

/** Gauges merged across workers by taking the maximum instead of the sum. */
export const MAX_MERGED_GAUGES: ReadonlySet<string> = new Set([Gauge.eventLoopLagP99, Gauge.eventLoopLagMax]);
