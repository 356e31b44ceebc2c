/**
 * Relaying between two MSRP sessions chunk by chunk, as the PF does between the originating and
 * terminating legs of a 1-1 session: every SEND chunk received on one leg is sent on the other
 * (new tid, that leg's paths; Message-ID, Byte-Range, Content-Type, flag and body kept) without
 * reassembling the message, so a 50 MB message never exists whole in the relay.
 *
 * Responses:
 * - `hop-by-hop` (default; the shape of an RFC 4976 relay): the sender's chunk is answered 200 as
 *   soon as it is passed on. A downstream error for a chunk becomes a failure REPORT to the sender
 *   (when its Failure-Report is `yes`), and later chunks of that message are answered with that
 *   status instead of being forwarded — so a receiver's 413 still stops the sender.
 * - `end-to-end`: each chunk is answered with the far leg's status (408 when it timed out, 481
 *   when the far leg is gone). The sender pipelines, so throughput is the same; latency per chunk
 *   includes the second hop.
 *
 * Reports: with `passReports` (default) Success-Report travels with the chunks and the far end's
 * REPORTs are passed back to the sender. Without it (`false`, the CF's per-leg rule) the relay
 * strips Success-Report and itself confirms a message to its sender once the last chunk was
 * answered 200 by the far leg (chunks of a message are assumed in order, as our senders send them).
 *
 * Cut-through: a chunk whose body is still arriving is forwarded as it comes (its head at once,
 * then its body read by read, then the end-line; MsrpSession.openForward) instead of being
 * collected first; the sender's 200 (hop-by-hop) goes out when its end-line was read. A chunk the
 * far leg cannot take that way right now (not bound yet, its connection busy with another such
 * chunk, its message already refused), and every chunk in end-to-end mode (answered with the far
 * leg's status, so there is nothing to gain), is collected and relayed whole.
 *
 * Flow control: when the far leg's connection is congested, the near leg's connection stops
 * being read until it drains, so a fast sender cannot fill the relay's memory.
 */
import { type ByteRange, parseByteRange } from "./byte-range.js";
import type { MsrpBodySink } from "./connection.js";
import { type ContinuationFlag, getFailureReport, getMsrpHeader, getSuccessReport, type MsrpRequest } from "./message.js";
import type { MsrpChunkResult, MsrpIncomingChunk, MsrpIncomingReport, MsrpSession } from "./session.js";

export interface MsrpBridgeOptions {
  responses?: "hop-by-hop" | "end-to-end";
  passReports?: boolean;
}

export interface MsrpBridgeDirectionStats {
  chunks: number;
  bytes: number;
  /** Chunks the far leg answered with an error (or never answered). */
  failedChunks: number;
  /** Chunks answered upstream without forwarding (their message was already refused downstream). */
  refusedChunks: number;
  reports: number;
  /** Times the sending leg's connection stopped being read because this direction's far leg was congested. */
  pauses: number;
}

export interface MsrpBridge {
  readonly aToB: MsrpBridgeDirectionStats;
  readonly bToA: MsrpBridgeDirectionStats;
  /** Detaches the bridge (the sessions stay open and go back to reassembling). Safe twice. */
  close(): void;
}

/** Messages whose refusal is remembered per direction (oldest forgotten first). */
const REFUSED_MEMORY = 1024;

class Direction {
  readonly stats: MsrpBridgeDirectionStats = { chunks: 0, bytes: 0, failedChunks: 0, refusedChunks: 0, reports: 0, pauses: 0 };
  private readonly refused = new Map<string, number>();
  private holding = false;
  readonly onChunk = (chunk: MsrpIncomingChunk): void => this.relay(chunk);
  readonly onChunkStream = (chunk: MsrpIncomingChunk): MsrpBodySink | undefined => this.relayStream(chunk);

  constructor(
    private readonly from: MsrpSession,
    private readonly to: MsrpSession,
    private readonly endToEnd: boolean,
    private readonly passReports: boolean,
  ) {}

  release(): void {
    if (this.holding) {
      this.holding = false;
      this.from.releaseReading();
    }
  }

  /** A chunk still arriving: forwarded cut-through when the far leg takes it now, else undefined (relayed whole). */
  private relayStream(chunk: MsrpIncomingChunk): MsrpBodySink | undefined {
    if (this.endToEnd) return undefined;
    const head = chunk.request;
    const messageId = chunk.messageId;
    if (messageId !== undefined && this.refused.has(messageId)) return undefined;
    let bytes = 0;
    let flag: ContinuationFlag | undefined;
    let result: MsrpChunkResult | undefined;
    let settled = false;
    const settle = (): void => {
      if (settled || flag === undefined || result === undefined) return;
      settled = true;
      this.forwarded(chunk, head, messageId, result, flag, bytes, false);
    };
    const fwd = this.to.openForward(
      head,
      (r) => {
        result = r;
        settle();
      },
      { stripSuccessReport: !this.passReports },
    );
    if (!fwd) return undefined;
    this.stats.chunks++;
    return {
      data: (data) => {
        bytes += data.length;
        this.stats.bytes += data.length;
        if (!fwd.write(data)) this.hold();
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

  private relay(chunk: MsrpIncomingChunk): void {
    const req = chunk.request;
    const messageId = chunk.messageId;
    if (messageId !== undefined) {
      const status = this.refused.get(messageId);
      if (status !== undefined) {
        this.stats.refusedChunks++;
        chunk.respond(status);
        if (req.flag !== "+") this.refused.delete(messageId);
        return;
      }
    }
    // The empty SEND that bound leg `from` (or a keep-alive) is for this hop only.
    if (req.body.length === 0 && getMsrpHeader(req, "Content-Type") === undefined) {
      chunk.respond(200);
      return;
    }
    this.stats.chunks++;
    this.stats.bytes += req.body.length;
    const forwarded = this.to.forwardChunk(req, { stripSuccessReport: !this.passReports });
    if (!this.endToEnd) chunk.respond(200);
    void forwarded.then((r) => this.forwarded(chunk, req, messageId, r, req.flag, req.body.length, this.endToEnd));
    if (this.to.congested) this.hold();
  }

  /** The far leg's answer to a forwarded chunk of `bodyBytes` bytes. */
  private forwarded(
    chunk: MsrpIncomingChunk,
    req: MsrpRequest,
    messageId: string | undefined,
    r: MsrpChunkResult,
    flag: ContinuationFlag,
    bodyBytes: number,
    endToEnd: boolean,
  ): void {
    const ok = r.status >= 200 && r.status < 300;
    if (endToEnd) chunk.respond(ok ? r.status : r.status === 0 ? 481 : r.status, r.comment);
    if (ok) {
      const confirmLast = !this.passReports && flag === "$" && getSuccessReport(req);
      if (confirmLast && messageId !== undefined) this.confirm(req, bodyBytes, messageId);
      return;
    }
    this.stats.failedChunks++;
    if (endToEnd || messageId === undefined) return;
    const status = r.status === 0 ? 481 : r.status;
    if (flag === "+") this.remember(messageId, status);
    if (getFailureReport(req) === "yes") {
      this.from.sendReport({ messageId, status, byteRange: rangeOf(req, bodyBytes) });
    }
  }

  /** Stops reading the near leg until the far leg's connection drained. */
  private hold(): void {
    if (this.holding) return;
    this.holding = true;
    this.stats.pauses++;
    this.from.holdReading();
    void this.to.waitDrain().then(() => this.release());
  }

  /** Per-leg reports: the relay, as the sender's peer, confirms the whole message. */
  private confirm(req: MsrpRequest, bodyBytes: number, messageId: string): void {
    const r = rangeOf(req, bodyBytes);
    const total = r.total !== "*" ? r.total : r.end !== "*" ? r.end : bodyBytes + r.start - 1;
    this.from.sendReport({ messageId, status: 200, byteRange: { start: 1, end: total, total } });
  }

  private remember(messageId: string, status: number): void {
    this.refused.set(messageId, status);
    if (this.refused.size > REFUSED_MEMORY) this.refused.delete(this.refused.keys().next().value!);
  }
}

/** The range a chunk of `len` body bytes really covered (a chunk may be cut short). */
function rangeOf(req: MsrpRequest, len: number): ByteRange {
  const text = getMsrpHeader(req, "Byte-Range");
  const parsed = text !== undefined ? parseByteRange(text) : null;
  if (!parsed) return { start: 1, end: len, total: "*" };
  return { start: parsed.start, end: parsed.start + len - 1, total: parsed.total };
}

/** Relays every SEND chunk between `a` and `b` in both directions until close(). */
export function bridgeMsrpSessions(a: MsrpSession, b: MsrpSession, opts: MsrpBridgeOptions = {}): MsrpBridge {
  const endToEnd = opts.responses === "end-to-end";
  const passReports = opts.passReports ?? true;
  const ab = new Direction(a, b, endToEnd, passReports);
  const ba = new Direction(b, a, endToEnd, passReports);
  a.setChunkHandler(ab.onChunk);
  b.setChunkHandler(ba.onChunk);
  a.setChunkStreamHandler(ab.onChunkStream);
  b.setChunkStreamHandler(ba.onChunkStream);
  // A REPORT arriving on b is about a message that went a → b: it goes back on a (and vice versa).
  const onReportB = reportTo(a, passReports, ab.stats);
  const onReportA = reportTo(b, passReports, ba.stats);
  b.on("report", onReportB);
  a.on("report", onReportA);
  let closed = false;
  return {
    aToB: ab.stats,
    bToA: ba.stats,
    close() {
      if (closed) return;
      closed = true;
      a.setChunkHandler(undefined);
      b.setChunkHandler(undefined);
      a.setChunkStreamHandler(undefined);
      b.setChunkStreamHandler(undefined);
      a.off("report", onReportA);
      b.off("report", onReportB);
      ab.release();
      ba.release();
    },
  };
}

function reportTo(target: MsrpSession, passReports: boolean, stats: MsrpBridgeDirectionStats): (r: MsrpIncomingReport) => void {
  return (report) => {
    if (!passReports || report.messageId === undefined) return;
    stats.reports++;
    target.sendReport({
      messageId: report.messageId,
      status: report.status,
      byteRange: report.byteRange ?? { start: 1, end: "*", total: "*" },
    });
  };
}
