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
 *   the sender when its Failure-Report is `yes`, and the rest of that message is answered with the
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
 */
import { type ByteRange, parseByteRange } from "../../protocol/msrp/byte-range.js";
import type { MsrpEndpoint } from "../../protocol/msrp/endpoint.js";
import type { MsrpBodySink } from "../../protocol/msrp/connection.js";
import { type ContinuationFlag, getFailureReport, getMsrpHeader, type MsrpRequest } from "../../protocol/msrp/message.js";
import type { MsrpIncomingChunk, MsrpIncomingReport, MsrpSession, MsrpSessionCloseInfo } from "../../protocol/msrp/session.js";

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
  holding = false;
  refused: Map<string, number> | null = null;

  constructor(session: MsrpSession) {
    this.session = session;
  }
}

export class MsrpAnchor {
  private readonly legs: [Leg, Leg];
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly endpoint: MsrpEndpoint,
    private readonly counters: RelayCounters,
    private readonly events: AnchorEvents,
  ) {
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
      if (l.holding) {
        l.holding = false;
        old.releaseReading();
      }
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

  private newSession(leg: LegIndex): MsrpSession {
    // connectTimeoutMs 0: the PF runs one deadline per SIP session from the moment it is
    // established (a callee may ring far longer than any MSRP connect timeout).
    const session = this.endpoint.createSession({ setup: "passive", connectTimeoutMs: 0 });
    // These run inside the MSRP connection's socket events: nothing may escape them (a throw
    // there would take the whole server down), so a failure answers 500 / is dropped instead.
    session.setChunkHandler((chunk) => {
      try {
        this.relay(leg, chunk);
      } catch {
        this.counters.failedChunks++;
        chunk.respond(500);
      }
    });
    session.setChunkStreamHandler((chunk) => {
      try {
        return this.relayStream(leg, chunk);
      } catch {
        // Declined: the chunk is collected and goes through the handler above.
        return undefined;
      }
    });
    session.on("report", (report) => {
      try {
        this.passReport(leg, report);
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

  private relay(from: LegIndex, chunk: MsrpIncomingChunk): void {
    const req = chunk.request;
    // The binding SEND (and empty keep-alives): answered here, not passed on.
    if (req.body.length === 0 && getMsrpHeader(req, "Content-Type") === undefined) {
      chunk.respond(200);
      return;
    }
    const near = this.legs[from];
    const messageId = chunk.messageId;
    if (messageId !== undefined && near.refused !== null) {
      const status = near.refused.get(messageId);
      if (status !== undefined) {
        chunk.respond(status);
        if (req.flag !== "+") near.refused.delete(messageId);
        return;
      }
    }
    const far = this.legs[from === 0 ? 1 : 0];
    const target = far.session;
    this.counters.chunks++;
    this.counters.bytes += req.body.length;
    chunk.respond(200);
    near.inFlight++;
    void target
      .forwardChunk(req)
      .catch(() => ({ status: 0 }))
      .then((r) => this.forwarded(near, req, messageId, r.status, req.flag, req.body.length))
      .catch(() => {});
    if (target.congested) this.hold(near, target);
  }

  /**
   * A chunk whose body is still arriving: forwarded cut-through when the far leg can take it now,
   * else undefined (collected, then relayed whole by relay()).
   */
  private relayStream(from: LegIndex, chunk: MsrpIncomingChunk): MsrpBodySink | undefined {
    if (this.closed) return undefined;
    const head = chunk.request;
    const near = this.legs[from];
    const messageId = chunk.messageId;
    if (messageId !== undefined && near.refused?.has(messageId)) return undefined;
    const target = this.legs[from === 0 ? 1 : 0].session;
    let bytes = 0;
    let flag: ContinuationFlag | undefined;
    let answer: number | undefined;
    let settled = false;
    const settle = (): void => {
      if (settled || flag === undefined || answer === undefined) return;
      settled = true;
      this.forwarded(near, head, messageId, answer, flag, bytes);
    };
    const fwd = target.openForward(head, (r) => {
      answer = r.status;
      settle();
    });
    if (!fwd) return undefined;
    this.counters.chunks++;
    near.inFlight++;
    return {
      data: (data) => {
        bytes += data.length;
        this.counters.bytes += data.length;
        if (!fwd.write(data)) this.hold(near, target);
      },
      end: (f) => {
        flag = f;
        fwd.end(f);
        chunk.respond(200);
        settle();
      },
      abort: () => {
        flag = "#";
        fwd.abort();
        settle();
      },
    };
  }

  /** Stops reading the near leg until the far leg's connection drained. */
  private hold(near: Leg, target: MsrpSession): void {
    if (near.holding) return;
    near.holding = true;
    const source = near.session;
    source.holdReading();
    void target
      .waitDrain()
      .then(() => {
        if (near.holding && near.session === source) {
          near.holding = false;
          source.releaseReading();
        }
      })
      .catch(() => {});
  }

  /** The far leg's answer to a forwarded chunk (status 0: it could not be sent). */
  private forwarded(
    near: Leg,
    req: MsrpRequest,
    messageId: string | undefined,
    answer: number,
    flag: ContinuationFlag,
    bodyBytes: number,
  ): void {
    near.inFlight--;
    if (this.inFlight === 0) this.wakeIdle();
    if (answer >= 200 && answer < 300) return;
    this.counters.failedChunks++;
    if (messageId === undefined || this.closed) return;
    const status = answer === 0 ? 481 : answer;
    if (flag === "+") {
      near.refused ??= new Map();
      near.refused.set(messageId, status);
      if (near.refused.size > REFUSED_MEMORY) near.refused.delete(near.refused.keys().next().value!);
    }
    if (getFailureReport(req) === "yes") near.session.sendReport({ messageId, status, byteRange: rangeOf(req, bodyBytes) });
  }

  /** A REPORT arriving on one leg is about a message that came from the other: pass it back. */
  private passReport(on: LegIndex, report: MsrpIncomingReport): void {
    if (report.messageId === undefined) return;
    const target = this.legs[on === 0 ? 1 : 0].session;
    this.counters.reports++;
    target.sendReport({
      messageId: report.messageId,
      status: report.status,
      byteRange: report.byteRange ?? { start: 1, end: "*", total: "*" },
    });
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** The range a chunk of `len` body bytes really covered (a chunk may be cut short). */
function rangeOf(req: MsrpRequest, len: number): ByteRange {
  const text = getMsrpHeader(req, "Byte-Range");
  const parsed = text !== undefined ? parseByteRange(text) : null;
  if (!parsed) return { start: 1, end: len, total: "*" };
  return { start: parsed.start, end: parsed.start + len - 1, total: parsed.total };
}
