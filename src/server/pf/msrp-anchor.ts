/**
 * MSRP anchored at the PF for one 1-1 session: one passive MsrpSession per leg (A = originating,
 * B = terminating) on the server's MSRP endpoint, and the chunk relay between them.
 *
 * Relay rules (the shape of an RFC 4976 relay, with the PF as endpoint on each leg):
 * - Every SEND chunk is answered 200 on its own leg as soon as it is passed on (hop by hop), and
 *   sent on the other leg as a new transaction: new tid, that leg's To-Path/From-Path, Message-ID,
 *   Byte-Range, Content-Type, flag and body kept (the body Buffer is not copied). Nothing is
 *   reassembled, so a 50 MB message never exists whole in the PF.
 * - The empty binding SEND (no body, no Content-Type) is answered and not passed on: it binds the
 *   client's connection to its leg, nothing more.
 * - A chunk arriving before the other leg's client has bound waits for it (MsrpSession.forwardChunk
 *   does); the connect timeout bounds that wait.
 * - Downstream errors: a chunk the far leg refuses (or never answers) becomes a failure REPORT to
 *   the sender when its Failure-Report is `yes` or `partial`, and the rest of that message is answered with the
 *   same status instead of being forwarded (a receiver's 413 still stops the sender).
 * - Success reports are end to end **[choice]**: Success-Report travels with the chunks and the far
 *   client's REPORT is passed back to the sender, so a sender's "delivered" means the recipient has
 *   the message, not merely the PF.
 * - Cut-through: a chunk whose body is still arriving is not buffered. Its head goes out on the
 *   far leg at once (MsrpSession.openForward) and its body follows read by read as views of the
 *   socket reads, then the end-line; the sender's 200 goes out when the end-line was read. When
 *   that cannot be done (the far leg not bound yet, or its connection busy writing another such
 *   chunk, or the message already refused) the chunk is collected and relayed whole as above.
 * - Flow control: when the far leg's connection is congested, the near leg's connection is not
 *   read until it drains.
 *
 * Legs can be replaced (re-INVITE with a new MSRP path after a dropped connection, §7.4.4): the
 * relay always forwards to the current session of the other leg.
 *
 * The forwarding itself is MsrpChunkForwarder (protocol/msrp/forwarder.ts), one per direction,
 * the same code as the library's bridgeMsrpSessions; this module adds the legs, their replacement
 * and the in-flight count the SIP side waits on.
 */
import type { MsrpEndpoint } from "../../protocol/msrp/endpoint.js";
import { MsrpChunkForwarder } from "../../protocol/msrp/forwarder.js";
import type { MsrpSession, MsrpSessionCloseInfo } from "../../protocol/msrp/session.js";

export type LegIndex = 0 | 1;

/** Counters shared by every anchor of one server (PF stats). */
export interface RelayCounters {
  chunks: number;
  bytes: number;
  failedChunks: number;
  reports: number;
}

export interface AnchorEvents {
  /** A leg's MSRP session ended by itself (its connection was lost); the SIP session may re-INVITE. */
  onLegLost(leg: LegIndex, info: MsrpSessionCloseInfo): void;
  /** Both legs' current sessions are bound (their clients connected). */
  onBound(): void;
}

/** Refused messages remembered per leg (a PF has many anchors: fewer than the library's default). */
const REFUSED_MEMORY = 64;

/**
 * Close a session the PF owns. Closing rejects the session's internal promises with an
 * MsrpSessionError nobody awaits; capturing a stack trace for each was a visible cost per session
 * at thousands of sessions per second, so it is skipped here (the errors carry their message).
 */
function closeQuietly(session: MsrpSession): void {
  session.removeAllListeners("close");
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    void session.close();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

class Leg {
  session: MsrpSession;
  /** A replacement negotiated in a re-INVITE, swapped in once the offer/answer completes. */
  pending: MsrpSession | null = null;
  /** Forwarded chunks still waiting for the far leg's answer. */
  inFlight = 0;

  constructor(session: MsrpSession) {
    this.session = session;
  }
}

export class MsrpAnchor {
  private readonly legs: [Leg, Leg];
  /** Forwarding of the chunks that arrive on leg 0 (to leg 1) and on leg 1 (to leg 0). */
  private readonly forwarders: [MsrpChunkForwarder, MsrpChunkForwarder];
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly endpoint: MsrpEndpoint,
    private readonly counters: RelayCounters,
    private readonly events: AnchorEvents,
  ) {
    this.forwarders = [this.forwarder(0), this.forwarder(1)];
    this.legs = [new Leg(this.newSession(0)), new Leg(this.newSession(1))];
  }

  /** The PF's own path on a leg (the pending replacement's, while one is negotiated). */
  path(leg: LegIndex): string[] {
    const l = this.legs[leg];
    return (l.pending ?? l.session).localPath;
  }

  session(leg: LegIndex): MsrpSession {
    return this.legs[leg].session;
  }

  /** The peer's path from its SDP: also the From-Path its binding SEND must carry. */
  setRemotePath(leg: LegIndex, path: readonly string[]): void {
    const l = this.legs[leg];
    (l.pending ?? l.session).setRemotePath(path);
  }

  isBound(leg: LegIndex): boolean {
    return this.legs[leg].session.isBound;
  }

  /** True when the leg's current session can still carry messages (or may still be bound). */
  isUsable(leg: LegIndex): boolean {
    return !this.legs[leg].session.closed;
  }

  /** Start negotiating a new session for a leg (re-anchoring); `commit` or `rollback` ends it. */
  prepareReplacement(leg: LegIndex): void {
    const l = this.legs[leg];
    if (l.pending === null) l.pending = this.newSession(leg);
  }

  hasReplacement(leg: LegIndex): boolean {
    return this.legs[leg].pending !== null;
  }

  /** The offer/answer completed: replacements take over, the old sessions close. */
  commit(): void {
    for (const l of this.legs) {
      if (l.pending === null) continue;
      const old = l.session;
      l.session = l.pending;
      l.pending = null;
      // A hold on the old session ends with it (the new one is read from the start).
      this.forwarders[this.legs.indexOf(l) as LegIndex].release();
      closeQuietly(old);
    }
  }

  /** The offer/answer failed: replacements are dropped. */
  rollback(): void {
    for (const l of this.legs) {
      if (l.pending === null) continue;
      closeQuietly(l.pending);
      l.pending = null;
    }
  }

  /** Forwarded chunks not yet answered by their receiving leg. */
  get inFlight(): number {
    return this.legs[0].inFlight + this.legs[1].inFlight;
  }

  /** Resolves once every forwarded chunk was answered (or failed), or after `timeoutMs`. */
  whenIdle(timeoutMs: number, after: (ms: number, fn: () => void) => { cancel(): void }): Promise<void> {
    if (this.inFlight === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = after(timeoutMs, () => done());
      const done = (): void => {
        timer.cancel();
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve();
      };
      this.idleWaiters.push(done);
    });
  }

  /** Close both legs (and any replacement). Safe twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.legs) {
      for (const s of [l.session, l.pending]) {
        if (s !== null) closeQuietly(s);
      }
      l.pending = null;
    }
    this.wakeIdle();
  }

  private forwarder(from: LegIndex): MsrpChunkForwarder {
    const to: LegIndex = from === 0 ? 1 : 0;
    return new MsrpChunkForwarder({
      source: () => this.legs[from].session,
      // Always the far leg's current session: a re-INVITE may have replaced it.
      target: () => this.legs[to].session,
      counters: this.counters,
      refusedMemory: REFUSED_MEMORY,
      onForwardStart: () => {
        this.legs[from].inFlight++;
      },
      onForwardSettled: () => {
        this.legs[from].inFlight--;
        if (this.inFlight === 0) this.wakeIdle();
      },
      isClosed: () => this.closed,
    });
  }

  private newSession(leg: LegIndex): MsrpSession {
    // connectTimeoutMs 0: the PF runs one deadline per SIP session from the moment it is
    // established (a callee may ring far longer than any MSRP connect timeout).
    const session = this.endpoint.createSession({ setup: "passive", connectTimeoutMs: 0 });
    const fwd = this.forwarders[leg];
    // These run inside the MSRP connection's socket events: nothing may escape them (a throw
    // there would take the whole server down), so a failure answers 500 / is dropped instead.
    session.setChunkHandler((chunk) => {
      try {
        fwd.onChunk(chunk);
      } catch {
        this.counters.failedChunks++;
        chunk.respond(500);
      }
    });
    session.setChunkStreamHandler((chunk) => {
      try {
        return fwd.onChunkStream(chunk);
      } catch {
        // Declined: the chunk is collected and goes through the handler above.
        return undefined;
      }
    });
    // A REPORT arriving on this leg is about a message that came from the other one: passed back.
    const back = this.forwarders[leg === 0 ? 1 : 0];
    session.on("report", (report) => {
      try {
        back.passReport(report);
      } catch {
        // A REPORT that cannot be passed back is lost; nobody answers REPORTs anyway.
      }
    });
    session.once("bound", () => {
      if (!this.closed && this.legs !== undefined && this.legs[0].session.isBound && this.legs[1].session.isBound) this.events.onBound();
    });
    session.once("close", (info) => {
      if (this.closed) return;
      const l = this.legs[leg];
      if (l.session === session) this.events.onLegLost(leg, info);
    });
    return session;
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
