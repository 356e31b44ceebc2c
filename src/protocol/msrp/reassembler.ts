/**
 * Reassembling chunked MSRP messages (RFC 4975 §5.1, §7.3.1) on the receiving side of a session.
 *
 * Chunks are keyed by Message-ID, so chunks of different messages may interleave, and placed by
 * their Byte-Range, so they may arrive out of order, twice, or overlapping. A message is complete
 * when its total size is known (a numeric total in any chunk, or the end of the `$` chunk) and
 * every byte 1..total has arrived. A chunk may be cut short (RFC 4975 §7.1.1 interruption): its
 * real end is start + body length - 1. A `#` chunk aborts the message and drops what was kept.
 *
 * Results say what to answer: `error` carries the status (400 malformed, 413 too large, after
 * which further chunks of that message keep getting 413); every other result is answered 200.
 * The last 1024 completed Message-IDs are remembered so a resent chunk is reported as a
 * `duplicate` instead of delivering the message twice or opening a message that never ends.
 * The common case, a message in one chunk, is returned without copying its body.
 */
import { type ByteRange, parseByteRange } from "./byte-range.js";
import { getMsrpHeader, type MsrpHeaderList, type MsrpRequest } from "./message.js";

export interface ReassemblerOptions {
  /** Largest message accepted; larger ones get 413. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Messages in progress at once; a new one beyond this gets 413. Default 1024. */
  maxPendingMessages?: number;
  /**
   * Bytes held for all messages in progress (a declared total is reserved when first seen); a
   * chunk that would go beyond gets 413. Default twice maxMessageBytes.
   */
  maxPendingBytes?: number;
  /**
   * False: track which bytes arrived (completion, duplicates, limits) but keep none of them; the
   * completed message has an empty body and its `size`. For receivers that only need to know a
   * message arrived whole (a load generator receiving 50 MB messages by the thousand). Default true.
   */
  keepBodies?: boolean;
}

export interface ReassembledMessage {
  messageId: string;
  contentType?: string;
  body: Buffer;
  /** Bytes in the message (body.length, unless the reassembler discards bodies). */
  size: number;
  /** Chunks that contributed (duplicates included). */
  chunks: number;
  /** Headers of the first chunk received for this message. */
  headers: MsrpHeaderList;
}

export type ReassemblyErrorCode =
  | "not-a-send"
  | "missing-message-id"
  | "bad-byte-range"
  | "range-mismatch"
  | "too-large"
  | "too-many-messages"
  | "too-much-pending";

export class ReassemblyError extends Error {
  constructor(
    readonly code: ReassemblyErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ReassemblyError";
  }
}

export type ReassemblyResult =
  | { kind: "progress"; messageId: string; receivedBytes: number; totalBytes?: number }
  | { kind: "complete"; message: ReassembledMessage }
  | { kind: "aborted"; messageId: string; receivedBytes: number }
  /** A chunk of a message completed recently (a resend): answer 200 and ignore it. */
  | { kind: "duplicate"; messageId: string }
  | { kind: "error"; status: 400 | 413; messageId?: string; error: ReassemblyError };

interface Pending {
  messageId: string;
  contentType?: string;
  headers: MsrpHeaderList;
  chunks: number;
  total?: number;
  /** Allocated once the total is known. */
  buffer?: Buffer;
  /** Chunks kept while the total is unknown. */
  pieces: Array<{ start: number; data: Buffer }>;
  piecesBytes: number;
  /** Received ranges, 1-based inclusive, sorted and merged: [s0, e0, s1, e1, ...]. */
  ranges: number[];
  received: number;
}

export const DEFAULT_MAX_REASSEMBLED_BYTES = 64 * 1024 * 1024;
const EMPTY = Buffer.alloc(0);
/** How many refused and completed Message-IDs are remembered, each. */
const ID_MEMORY = 1024;

export class MsrpReassembler {
  private readonly maxMessageBytes: number;
  private readonly maxPendingMessages: number;
  private readonly maxPendingBytes: number;
  private readonly keepBodies: boolean;
  private heldBytes = 0;
  private readonly pending = new Map<string, Pending>();
  /** Message-IDs answered 413, oldest first, so later chunks of them get 413 as well. */
  private readonly refused = new Set<string>();
  /** Message-IDs completed recently, oldest first, so resent chunks do not deliver twice. */
  private readonly completed = new Set<string>();

  constructor(opts: ReassemblerOptions = {}) {
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_REASSEMBLED_BYTES;
    this.maxPendingMessages = opts.maxPendingMessages ?? 1024;
    this.maxPendingBytes = opts.maxPendingBytes ?? 2 * this.maxMessageBytes;
    this.keepBodies = opts.keepBodies ?? true;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  pendingMessageIds(): string[] {
    return [...this.pending.keys()];
  }

  /** Bytes received so far of a message in progress (undefined when none is). */
  progress(messageId: string): { receivedBytes: number; totalBytes?: number } | undefined {
    const p = this.pending.get(messageId);
    if (!p) return undefined;
    return p.total === undefined ? { receivedBytes: p.received } : { receivedBytes: p.received, totalBytes: p.total };
  }

  /** Forgets a message in progress (e.g. its sender got a timeout or the session ended). */
  discard(messageId: string): boolean {
    return this.drop(messageId);
  }

  /** Bytes held for messages in progress. */
  get pendingBytes(): number {
    return this.heldBytes;
  }

  clear(): void {
    this.pending.clear();
    this.heldBytes = 0;
    this.refused.clear();
    this.completed.clear();
  }

  /**
   * `bodyLength`: without keepBodies only the chunk's size matters, and a receiver that did not
   * keep the bytes (MsrpSession counting a chunk as it arrived) passes it here with an empty body.
   * Ignored when bodies are kept.
   */
  accept(chunk: MsrpRequest, bodyLength?: number): ReassemblyResult {
    if (chunk.method !== "SEND") return error(400, undefined, "not-a-send", `${chunk.method} carries no message`);
    const messageId = getMsrpHeader(chunk, "Message-ID")?.trim();
    if (!messageId) return error(400, undefined, "missing-message-id", "SEND without Message-ID");
    if (this.refused.has(messageId)) {
      if (chunk.flag === "+") return error(413, messageId, "too-large", "this message was already refused");
      this.refused.delete(messageId);
      // The sender aborting after our 413 is what RFC 4975 asks of it: acknowledge that.
      if (chunk.flag === "#") return { kind: "aborted", messageId, receivedBytes: 0 };
      return error(413, messageId, "too-large", "this message was already refused");
    }

    if (this.completed.has(messageId)) return { kind: "duplicate", messageId };

    const rangeText = getMsrpHeader(chunk, "Byte-Range");
    // Without Byte-Range the chunk is the whole message, or its first part (RFC 4975 §7.1.1).
    let range: ByteRange | null = { start: 1, end: "*", total: "*" };
    if (rangeText !== undefined) range = parseByteRange(rangeText);
    if (!range) return error(400, messageId, "bad-byte-range", `invalid Byte-Range: ${rangeText}`);
    const len = this.keepBodies || bodyLength === undefined ? chunk.body.length : bodyLength;
    const end = range.start + len - 1;
    if (range.end !== "*" && end > range.end) {
      return error(400, messageId, "range-mismatch", `body of ${len} bytes exceeds Byte-Range ${rangeText}`);
    }
    if (range.total !== "*" && end > range.total) {
      return error(400, messageId, "range-mismatch", `chunk ends at ${end}, past the total ${range.total}`);
    }

    let state = this.pending.get(messageId);
    if (chunk.flag === "#") {
      this.drop(messageId);
      return { kind: "aborted", messageId, receivedBytes: state?.received ?? 0 };
    }
    const total = range.total !== "*" ? range.total : chunk.flag === "$" ? end : undefined;
    if (state?.total !== undefined && total !== undefined && total !== state.total) {
      this.drop(messageId);
      return error(400, messageId, "range-mismatch", `total changed from ${state.total} to ${total}`);
    }
    if ((total ?? 0) > this.maxMessageBytes || end > this.maxMessageBytes) {
      return this.refuse(messageId, `message larger than ${this.maxMessageBytes} bytes`);
    }

    // Fast path: the whole message in one chunk, nothing kept before.
    if (!state && range.start === 1 && total === len) {
      const body = this.keepBodies ? chunk.body : EMPTY;
      const message: ReassembledMessage = { messageId, body, size: len, chunks: 1, headers: chunk.headers };
      const ct = getMsrpHeader(chunk, "Content-Type");
      if (ct !== undefined) message.contentType = ct;
      this.remember(this.completed, messageId);
      return { kind: "complete", message };
    }

    if (!state) {
      if (this.pending.size >= this.maxPendingMessages) {
        return this.refuse(messageId, `more than ${this.maxPendingMessages} messages in progress`, "too-many-messages");
      }
      state = { messageId, headers: chunk.headers, chunks: 0, pieces: [], piecesBytes: 0, ranges: [], received: 0 };
      this.pending.set(messageId, state);
    }
    state.chunks++;
    if (state.contentType === undefined) {
      const ct = getMsrpHeader(chunk, "Content-Type");
      if (ct !== undefined) state.contentType = ct;
    }
    if (total !== undefined && state.total === undefined) {
      if (state.received > 0 && lastEnd(state.ranges) > total) {
        this.drop(messageId);
        return error(400, messageId, "range-mismatch", `bytes already received lie past the total ${total}`);
      }
      state.total = total;
    }
    if (state.total !== undefined && end > state.total) {
      this.drop(messageId);
      return error(400, messageId, "range-mismatch", `chunk ends at ${end}, past the total ${state.total}`);
    }

    if (state.total !== undefined && !state.buffer && this.keepBodies) {
      // The size is known now: one buffer of that size, with what was kept so far copied in.
      if (this.heldBytes - state.piecesBytes + state.total > this.maxPendingBytes) {
        return this.refuse(messageId, `more than ${this.maxPendingBytes} bytes in progress`, "too-much-pending");
      }
      this.heldBytes += state.total - state.piecesBytes;
      state.buffer = Buffer.allocUnsafe(state.total);
      for (const p of state.pieces) p.data.copy(state.buffer, p.start - 1);
      state.pieces = [];
      state.piecesBytes = 0;
    }
    if (len > 0 && !covers(state.ranges, range.start, end)) {
      if (!this.keepBodies) {
        // Only the ranges are tracked.
      } else if (state.buffer) {
        chunk.body.copy(state.buffer, range.start - 1);
      } else {
        // Overlapping resends could otherwise pin far more memory than the message holds.
        if (state.piecesBytes + len > 2 * this.maxMessageBytes) {
          return this.refuse(messageId, "too many overlapping chunks");
        }
        if (this.heldBytes + len > this.maxPendingBytes) {
          return this.refuse(messageId, `more than ${this.maxPendingBytes} bytes in progress`, "too-much-pending");
        }
        state.pieces.push({ start: range.start, data: chunk.body });
        state.piecesBytes += len;
        this.heldBytes += len;
      }
      state.received = addRange(state.ranges, range.start, end);
    }

    if (state.total !== undefined && state.received === state.total) {
      this.drop(messageId);
      const body = state.buffer ?? EMPTY;
      const message: ReassembledMessage = { messageId, body, size: state.total, chunks: state.chunks, headers: state.headers };
      if (state.contentType !== undefined) message.contentType = state.contentType;
      this.remember(this.completed, messageId);
      return { kind: "complete", message };
    }
    return state.total === undefined
      ? { kind: "progress", messageId, receivedBytes: state.received }
      : { kind: "progress", messageId, receivedBytes: state.received, totalBytes: state.total };
  }

  private refuse(messageId: string, text: string, code: ReassemblyErrorCode = "too-large"): ReassemblyResult {
    this.drop(messageId);
    this.remember(this.refused, messageId);
    return error(413, messageId, code, text);
  }

  private drop(messageId: string): boolean {
    const state = this.pending.get(messageId);
    if (!state) return false;
    this.heldBytes -= state.buffer ? state.buffer.length : state.piecesBytes;
    return this.pending.delete(messageId);
  }

  private remember(set: Set<string>, messageId: string): void {
    set.add(messageId);
    if (set.size > ID_MEMORY) set.delete(set.values().next().value!);
  }
}

function error(status: 400 | 413, messageId: string | undefined, code: ReassemblyErrorCode, text: string): ReassemblyResult {
  const r: ReassemblyResult = { kind: "error", status, error: new ReassemblyError(code, text) };
  if (messageId !== undefined) r.messageId = messageId;
  return r;
}

function lastEnd(ranges: number[]): number {
  return ranges.length === 0 ? 0 : ranges[ranges.length - 1]!;
}

/** True when [s, e] lies inside one received range already (a duplicate). */
function covers(ranges: number[], s: number, e: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) {
    if (ranges[i]! <= s && e <= ranges[i + 1]!) return true;
  }
  return false;
}

/** Merges [s, e] into the sorted range list and returns the number of bytes covered. */
function addRange(ranges: number[], s: number, e: number): number {
  const out: number[] = [];
  let ns = s;
  let ne = e;
  let placed = false;
  for (let i = 0; i < ranges.length; i += 2) {
    const rs = ranges[i]!;
    const re = ranges[i + 1]!;
    if (re + 1 < ns) {
      out.push(rs, re);
    } else if (ne + 1 < rs) {
      if (!placed) {
        out.push(ns, ne);
        placed = true;
      }
      out.push(rs, re);
    } else {
      ns = Math.min(ns, rs);
      ne = Math.max(ne, re);
    }
  }
  if (!placed) out.push(ns, ne);
  ranges.length = 0;
  let covered = 0;
  for (let i = 0; i < out.length; i += 2) {
    ranges.push(out[i]!, out[i + 1]!);
    covered += out[i + 1]! - out[i]! + 1;
  }
  return covered;
}
