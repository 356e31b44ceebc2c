/**
 * Forwarding the SEND chunks of one direction between two MSRP sessions, chunk by chunk: the one
 * implementation behind the library bridge (relay.ts, bridgeMsrpSessions) and the PF's anchor
 * (server/pf/msrp-anchor.ts).
 *
 * Every SEND chunk received on the source leg is sent on the target leg as a new transaction (new
 * tid, that leg's To-Path/From-Path; Message-ID, Byte-Range, Content-Type, flag and body kept)
 * without reassembling the message, so a 50 MB message never exists whole in the relay.
 *
 * - The empty binding SEND (no body, no Content-Type) and empty keep-alives are answered 200 and
 *   not passed on: they concern this hop only.
 * - Responses: hop by hop (default; the shape of an RFC 4976 relay) the sender's chunk is answered
 *   200 as soon as it is passed on, and a downstream error becomes a failure REPORT to the sender
 *   (when its Failure-Report is `yes` or `partial`); later chunks of a refused message are answered with the
 *   same status instead of being forwarded, so a receiver's 413 still stops the sender. A chunk
 *   with Failure-Report `partial` is passed on without a transaction (no 200 comes), its tids
 *   watched for an error response, which becomes the same failure REPORT. End to
 *   end, each chunk is answered with the far leg's status (408 timed out, 481 far leg gone).
 * - Reports: with `passReports` Success-Report travels with the chunks and the far end's REPORTs
 *   are passed back (passReport). Without it the relay strips Success-Report and itself confirms
 *   a message once its last chunk was answered 200 by the far leg.
 * - Cut-through (onChunkStream): a chunk whose body is still arriving goes out as it comes (its
 *   head at once, then its body read by read, then the end-line; MsrpSession.openForward); the
 *   sender's 200 goes out when its end-line was read. A chunk the far leg cannot take that way now
 *   (not bound yet, its connection busy with another such chunk, its message already refused), and
 *   every chunk in end-to-end mode, is collected and relayed whole (onChunk).
 * - Flow control: when the target's connection is congested the source's connection is not read
 *   until it drains, so a fast sender cannot fill the relay's memory.
 *
 * The legs are asked for on every chunk (`source()`, `target()`): the PF replaces a leg's session
 * after a re-INVITE, and the relay must always use the current one.
 */
import { type ByteRange, parseByteRange } from "./byte-range.js";
import type { MsrpBodySink } from "./connection.js";
import { type ContinuationFlag, getFailureReport, getMsrpHeader, getSuccessReport, type MsrpRequest, type MsrpResponse } from "./message.js";
import type { MsrpChunkResult, MsrpForwardStream, MsrpIncomingChunk, MsrpIncomingReport, MsrpSession } from "./session.js";

/**
 * What a direction counts. The optional ones are counted only when present (the PF sums every
 * session into one object that has no use for them).
 */
export interface MsrpForwardCounters {
  chunks: number;
  bytes: number;
  /** Chunks the far leg answered with an error (or never answered). */
  failedChunks: number;
  /** REPORTs passed back to the sender. */
  reports: number;
  /** Chunks answered upstream without forwarding (their message was already refused downstream). */
  refusedChunks?: number;
  /** Times the source's connection stopped being read because the target was congested. */
  pauses?: number;
}

export interface MsrpForwarderOptions {
  /** The leg chunks arrive on, and the leg they go out on (asked per chunk). */
  source: () => MsrpSession;
  target: () => MsrpSession;
  counters: MsrpForwardCounters;
  /** Default false (hop by hop). */
  endToEnd?: boolean;
  /** Default true. */
  passReports?: boolean;
  /** Refused messages remembered (oldest forgotten first). Default 1024. */
  refusedMemory?: number;
  /** A chunk starts being forwarded / its outcome is known (the PF waits for in-flight chunks at BYE). */
  onForwardStart?: () => void;
  onForwardSettled?: () => void;
  /** True once the owner is shut down: no more cut-through, no failure reports. */
  isClosed?: () => boolean;
}

const DEFAULT_REFUSED_MEMORY = 1024;
const STRIP = { stripSuccessReport: true };
const NO_STRIP = { stripSuccessReport: false };
// Cut-through chunks come from the source session's framer: their tid framed their body.
const STRIP_FRAMED = { stripSuccessReport: true, bodyFramedByTid: true };
const NO_STRIP_FRAMED = { stripSuccessReport: false, bodyFramedByTid: true };

export class MsrpChunkForwarder {
  private readonly refused = new Map<string, number>();
  private readonly refusedMemory: number;
  private readonly endToEnd: boolean;
  private readonly passReports: boolean;
  /** The session whose reading this direction holds (undefined: none). */
  private held: MsrpSession | undefined;
  readonly onChunk = (chunk: MsrpIncomingChunk): void => this.relay(chunk);
  readonly onChunkStream = (chunk: MsrpIncomingChunk): MsrpBodySink | undefined => this.relayStream(chunk);

  constructor(private readonly opts: MsrpForwarderOptions) {
    this.refusedMemory = opts.refusedMemory ?? DEFAULT_REFUSED_MEMORY;
    this.endToEnd = opts.endToEnd === true;
    this.passReports = opts.passReports ?? true;
  }

  /** Resumes reading the held source (its hold is over, or the session is being replaced). */
  release(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    held.releaseReading();
  }

  /** A REPORT that arrived on the target leg is about a message of this direction: back to the source. */
  passReport(report: MsrpIncomingReport): void {
    if (!this.passReports || report.messageId === undefined) return;
    this.opts.counters.reports++;
    this.opts.source().sendReport({
      messageId: report.messageId,
      status: report.status,
      byteRange: report.byteRange ?? { start: 1, end: "*", total: "*" },
    });
  }

  /** A whole chunk (or one the cut-through path declined). */
  private relay(chunk: MsrpIncomingChunk): void {
    const req = chunk.request;
    // The empty SEND that bound the source (or a keep-alive) is for this hop only.
    if (req.body.length === 0 && getMsrpHeader(req, "Content-Type") === undefined) {
      chunk.respond(200);
      return;
    }
    const messageId = chunk.messageId;
    if (messageId !== undefined && this.refused.size > 0) {
      const status = this.refused.get(messageId);
      if (status !== undefined) {
        if (this.opts.counters.refusedChunks !== undefined) this.opts.counters.refusedChunks++;
        chunk.respond(status);
        if (req.flag !== "+") this.refused.delete(messageId);
        return;
      }
    }
    const counters = this.opts.counters;
    counters.chunks++;
    counters.bytes += req.body.length;
    const target = this.opts.target();
    this.opts.onForwardStart?.();
    const endToEnd = this.endToEnd;
    const facts = chunkFacts(req, messageId);
    // Failure-Report partial: no transaction on the far leg, so its error response arrives after
    // the chunk counted as passed on; it still becomes a failure REPORT and stops the message.
    // (relayStream does the same for chunks passed on cut-through.)
    const opts =
      facts.partial && !endToEnd
        ? { stripSuccessReport: !this.passReports, onLateError: (response: MsrpResponse) => this.lateFailure(facts, response.status, req.flag, req.body.length) }
        : this.passReports
          ? NO_STRIP
          : STRIP;
    target.forwardChunkThen(req, opts, (r) => this.forwarded(endToEnd ? chunk : undefined, facts, r, req.flag, req.body.length));
    if (!endToEnd) chunk.respond(200);
    if (target.congested) this.hold(target);
  }

  /** A chunk still arriving: forwarded cut-through when the target takes it now, else undefined (relayed whole). */
  private relayStream(chunk: MsrpIncomingChunk): MsrpBodySink | undefined {
    if (this.endToEnd || this.opts.isClosed?.() === true) return undefined;
    const messageId = chunk.messageId;
    if (messageId !== undefined && this.refused.has(messageId)) return undefined;
    const target = this.opts.target();
    const facts = chunkFacts(chunk.request, messageId);
    const streamed = new StreamedChunk(this, chunk, facts, target);
    // A closure only for partial chunks: every other chunk allocates nothing more than before.
    const opts = facts.partial
      ? { stripSuccessReport: !this.passReports, onLateError: (response: MsrpResponse) => streamed.lateError(response), bodyFramedByTid: true }
      : this.passReports
        ? NO_STRIP_FRAMED
        : STRIP_FRAMED;
    const fwd = target.openForward(chunk.request, streamed.onResult, opts);
    if (!fwd) return undefined;
    streamed.fwd = fwd;
    this.opts.counters.chunks++;
    this.opts.onForwardStart?.();
    return streamed;
  }

  /** @internal Body bytes of a streamed chunk passed on. */
  countBytes(n: number): void {
    this.opts.counters.bytes += n;
  }

  /**
   * @internal The far leg's answer to a forwarded chunk of `bodyBytes` bytes. `answerTo`: the
   * chunk to answer with it (end to end), else undefined.
   */
  forwarded(
    answerTo: MsrpIncomingChunk | undefined,
    facts: ChunkFacts,
    r: MsrpChunkResult,
    flag: ContinuationFlag,
    bodyBytes: number,
  ): void {
    this.opts.onForwardSettled?.();
    const ok = r.status >= 200 && r.status < 300;
    if (answerTo) answerTo.respond(ok ? r.status : r.status === 0 ? 481 : r.status, r.comment);
    const messageId = facts.messageId;
    if (ok) {
      if (!this.passReports && flag === "$" && messageId !== undefined && facts.successReport) this.confirm(facts, bodyBytes, messageId);
      return;
    }
    if (answerTo) {
      this.opts.counters.failedChunks++;
      return;
    }
    this.failed(facts, r.status === 0 ? 481 : r.status, flag, bodyBytes);
  }

  /** @internal The far end refused a chunk passed on without a transaction (Failure-Report partial). */
  lateFailure(facts: ChunkFacts, status: number, flag: ContinuationFlag, bodyBytes: number): void {
    if (this.opts.isClosed?.() === true) return;
    this.failed(facts, status, flag, bodyBytes);
  }

  /**
   * Hop by hop, the far leg refused a chunk the sender was already answered for: counted, later
   * chunks of its message refused with the same status, and a failure REPORT when asked for.
   */
  private failed(facts: ChunkFacts, status: number, flag: ContinuationFlag, bodyBytes: number): void {
    this.opts.counters.failedChunks++;
    const messageId = facts.messageId;
    if (messageId === undefined || this.opts.isClosed?.() === true) return;
    if (flag === "+") this.remember(messageId, status);
    if (facts.failureReport) this.opts.source().sendReport({ messageId, status, byteRange: rangeOf(facts, bodyBytes) });
  }

  /** @internal Stops reading the source until the target's connection drained. */
  hold(target: MsrpSession): void {
    if (this.held !== undefined) return;
    const source = this.opts.source();
    this.held = source;
    if (this.opts.counters.pauses !== undefined) this.opts.counters.pauses++;
    source.holdReading();
    void target.waitDrain().then(
      () => {
        if (this.held === source) this.release();
      },
      () => {},
    );
  }

  /** Per-leg reports: the relay, as the sender's peer, confirms the whole message. */
  private confirm(facts: ChunkFacts, bodyBytes: number, messageId: string): void {
    const r = rangeOf(facts, bodyBytes);
    const total = r.total !== "*" ? r.total : r.end !== "*" ? r.end : bodyBytes + r.start - 1;
    this.opts.source().sendReport({ messageId, status: 200, byteRange: { start: 1, end: total, total } });
  }

  private remember(messageId: string, status: number): void {
    this.refused.set(messageId, status);
    if (this.refused.size > this.refusedMemory) this.refused.delete(this.refused.keys().next().value!);
  }
}

/**
 * One chunk being forwarded cut-through: the sink its body arrives in, and the holder of its
 * outcome (its end and the far leg's answer, in either order). One object per chunk instead of
 * a handful of closures: many chunks are in flight at once, and what they hold is what the
 * garbage collector copies.
 */
class StreamedChunk implements MsrpBodySink {
  readonly forwardsBytes = true;
  fwd: MsrpForwardStream | undefined;
  private bytes = 0;
  private flag: ContinuationFlag | undefined;
  private result: MsrpChunkResult | undefined;
  private settled = false;
  /** Until it is answered at its end: then only its facts are kept while the far leg answers. */
  private chunk: MsrpIncomingChunk | undefined;

  constructor(
    private readonly forwarder: MsrpChunkForwarder,
    chunk: MsrpIncomingChunk,
    private readonly facts: ChunkFacts,
    private readonly target: MsrpSession,
  ) {
    this.chunk = chunk;
  }

  readonly onResult = (r: MsrpChunkResult): void => {
    this.result = r;
    this.settle();
  };

  /** Failure-Report partial: the far end's error response to this chunk (it had no transaction). */
  lateError(response: MsrpResponse): void {
    this.forwarder.lateFailure(this.facts, response.status, this.flag ?? "+", this.bytes);
  }

  data(data: Buffer): void {
    this.bytes += data.length;
    this.forwarder.countBytes(data.length);
    if (!this.fwd!.write(data)) this.forwarder.hold(this.target);
  }

  end(flag: ContinuationFlag): void {
    this.flag = flag;
    this.fwd!.end(flag);
    this.chunk?.respond(200);
    this.chunk = undefined;
    this.settle();
  }

  abort(): void {
    this.flag = "#";
    this.fwd!.abort();
    this.settle();
  }

  private settle(): void {
    if (this.settled || this.flag === undefined || this.result === undefined) return;
    this.settled = true;
    this.fwd = undefined;
    this.chunk = undefined;
    this.forwarder.forwarded(undefined, this.facts, this.result, this.flag, this.bytes);
  }
}

/**
 * What the relay still needs of a chunk once it is passed on (to report a failure or confirm the
 * message): read from its headers at once, so the chunk itself is not kept while the far leg
 * answers — many chunks wait at once on a busy relay, and what they hold is what the garbage
 * collector copies and promotes.
 */
interface ChunkFacts {
  messageId: string | undefined;
  /** Failure-Report `partial`: passed on without a transaction (see relay()). */
  partial: boolean;
  /** The sender wants to hear of failures: Failure-Report `yes` or `partial` (only `no` asks for silence). */
  failureReport: boolean;
  successReport: boolean;
  range: ByteRange | null;
}

function chunkFacts(req: MsrpRequest, messageId: string | undefined): ChunkFacts {
  const range = getMsrpHeader(req, "Byte-Range");
  const failureReport = getFailureReport(req);
  return {
    messageId,
    partial: failureReport === "partial",
    failureReport: failureReport !== "no",
    successReport: getSuccessReport(req),
    range: range !== undefined ? parseByteRange(range) : null,
  };
}

/** The range a chunk of `len` body bytes really covered (a chunk may be cut short). */
function rangeOf(facts: ChunkFacts, len: number): ByteRange {
  const parsed = facts.range;
  if (!parsed) return { start: 1, end: len, total: "*" };
  return { start: parsed.start, end: parsed.start + len - 1, total: parsed.total };
}
