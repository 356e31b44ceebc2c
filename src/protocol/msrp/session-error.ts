/**
 * Why an MSRP session operation failed. Every failure a peer or the network can cause has its own
 * code so callers count it under its own name (e.g. `msrp.failures.connect_timeout`) instead of
 * parsing messages. The session layer never throws these at callers of `send()`: a SendResult
 * carries them; `connect()` rejects with them.
 */
export type MsrpFailureCode =
  /** A 4xx/5xx response (or a failure REPORT) for a chunk: `status` holds the code. */
  | "msrp-status"
  /** No response to a chunk within the transaction timeout (counted as 408). */
  | "msrp-transaction-timeout"
  /** All chunks answered 200, but the success REPORT asked for did not come in time. */
  | "msrp-report-timeout"
  /** The TCP connection could not be opened (refused, unreachable, unsupported scheme). */
  | "msrp-connect-failed"
  /** Active: connect + bind took too long. Passive: the peer never bound the session. */
  | "msrp-connect-timeout"
  /** The connection carrying the session failed or was closed by the peer. */
  | "msrp-connection-lost"
  /** The session was closed locally while the operation was in progress. */
  | "msrp-session-closed"
  /** An active session was used before connect(), or a session has no remote path. */
  | "msrp-not-bound"
  /** The message source (stream) failed or delivered a size other than declared. */
  | "msrp-source-error";

export class MsrpSessionError extends Error {
  constructor(
    readonly code: MsrpFailureCode,
    message: string,
    /** The MSRP status for `msrp-status` (and 408 for timeouts). */
    readonly status?: number,
  ) {
    super(message);
    this.name = "MsrpSessionError";
  }
}
