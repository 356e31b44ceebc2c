/**
 * Counters of the PF's B2BUA sessions and MSRP relay: plain numbers (cheap to snapshot, cloneable
 * across threads).
 *
 * Failure causes (sessionsFailed keys), one name each so a run report can tell them apart:
 * - set-up: `not-found` (404), `unavailable` (480), `bad-sdp` (488 to the caller),
 *   `bad-answer` (the callee's SDP answer was unusable), `cancelled` (caller CANCEL or early
 *   BYE), `timeout` (no final answer from any contact: 408), `rejected.<status>` (the callee's
 *   final status, after RFC 3261 §16.7 selection);
 * - after set-up: `msrp-connect-timeout` (a client never connected its MSRP leg, or did not
 *   reconnect after losing it), `ack-timeout` (no ACK for the 2xx over UDP), `session-expired`
 *   (RFC 4028: no refresh in time), `dialog-gone` (the far leg answered a pass-through with
 *   408/481).
 */
export interface PfStats {
  /** Sessions in set-up or established right now. */
  sessionsActive: number;
  /** INVITEs routed to at least one contact. */
  sessionsStarted: number;
  /** Sessions answered 200 (both legs up). */
  sessionsEstablished: number;
  /** Established sessions ended by a BYE from either side. */
  sessionsEnded: number;
  sessionsFailed: Record<string, number>;
  /** Re-INVITEs/UPDATEs passed between the legs (answered 2xx), and those whose MSRP path changed. */
  modifications: number;
  reanchored: number;
  msrpChunksRelayed: number;
  msrpBytesRelayed: number;
  msrpFailedChunks: number;
  msrpReportsRelayed: number;
  /** MSRP endpoint: open sessions and connections, malformed messages, router rejections. */
  msrpSessions: number;
  msrpConnections: number;
  msrpBadFrames: number;
  msrpRejected: number;
}

export class PfCounters {
  sessionsActive = 0;
  sessionsStarted = 0;
  sessionsEstablished = 0;
  sessionsEnded = 0;
  readonly sessionsFailed: Record<string, number> = Object.create(null) as Record<string, number>;
  modifications = 0;
  reanchored = 0;
  readonly relay = { chunks: 0, bytes: 0, failedChunks: 0, reports: 0 };

  fail(cause: string): void {
    this.sessionsFailed[cause] = (this.sessionsFailed[cause] ?? 0) + 1;
  }
}
