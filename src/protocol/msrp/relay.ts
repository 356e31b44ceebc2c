/**
 * Relaying between two MSRP sessions chunk by chunk, as the PF does between the originating and
 * terminating legs of a 1-1 session: every SEND chunk received on one leg is sent on the other
 * (that leg's paths and a tid of its own, or the sender's when that is a long random one and the
 * chunk is passed on cut-through; Message-ID, Byte-Range, Content-Type, flag and body kept) without
 * reassembling the message, so a 50 MB message never exists whole in the relay.
 *
 * Responses:
 * - `hop-by-hop` (default; the shape of an RFC 4976 relay): the sender's chunk is answered 200 as
 *   soon as it is passed on. A downstream error for a chunk becomes a failure REPORT to the sender
 *   (when its Failure-Report is `yes` or `partial`), and later chunks of that message are answered with that
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
 *
 * Each direction is an MsrpChunkForwarder (forwarder.ts), the implementation the PF's anchor uses
 * too.
 */
import { MsrpChunkForwarder } from "./forwarder.js";
import type { MsrpIncomingReport, MsrpSession } from "./session.js";

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

/** Relays every SEND chunk between `a` and `b` in both directions until close(). */
export function bridgeMsrpSessions(a: MsrpSession, b: MsrpSession, opts: MsrpBridgeOptions = {}): MsrpBridge {
  const endToEnd = opts.responses === "end-to-end";
  const passReports = opts.passReports ?? true;
  const direction = (from: MsrpSession, to: MsrpSession): [MsrpBridgeDirectionStats, MsrpChunkForwarder] => {
    const stats: MsrpBridgeDirectionStats = { chunks: 0, bytes: 0, failedChunks: 0, refusedChunks: 0, reports: 0, pauses: 0 };
    return [stats, new MsrpChunkForwarder({ source: () => from, target: () => to, counters: stats, endToEnd, passReports })];
  };
  const [abStats, ab] = direction(a, b);
  const [baStats, ba] = direction(b, a);
  a.setChunkHandler(ab.onChunk);
  b.setChunkHandler(ba.onChunk);
  a.setChunkStreamHandler(ab.onChunkStream);
  b.setChunkStreamHandler(ba.onChunkStream);
  // A REPORT arriving on b is about a message that went a → b: it goes back on a (and vice versa).
  const onReportB = (r: MsrpIncomingReport): void => ab.passReport(r);
  const onReportA = (r: MsrpIncomingReport): void => ba.passReport(r);
  b.on("report", onReportB);
  a.on("report", onReportA);
  let closed = false;
  return {
    aToB: abStats,
    bToA: baStats,
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
