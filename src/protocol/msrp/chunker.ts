/**
 * Splitting one message into SEND chunks (RFC 4975 §5.1, §7.1.1).
 *
 * Each chunk is its own transaction with its own tid (picked so its end-line does not occur in
 * that chunk's body) and carries the same Message-ID, `Byte-Range: start-end/total` and
 * Content-Type; every chunk but the last ends with `+`, the last with `$`.
 *
 * `chunkMessage` reads the body from a Buffer, an iterable or an async iterable (a file or socket
 * stream) and holds at most one chunk plus one source piece in memory, so a 50 MB message never
 * has to exist in one piece. When `totalBytes` is not given, the chunks say `/*` until the last
 * one, which carries the total once it is known. `chunkIterable` does the same for a Buffer or a
 * synchronous iterable without a promise per chunk.
 */
import { type FailureReport, formatPath, type MsrpHeaderList, type MsrpRequest } from "./message.js";
import { pickTransactionId } from "./transaction-id.js";

export interface ChunkHeaderOptions {
  toPath: string | readonly string[];
  fromPath: string | readonly string[];
  messageId: string;
  contentType: string;
  /** Adds `Success-Report: yes` (the final recipient then sends a REPORT). */
  successReport?: boolean;
  /** Adds `Failure-Report` when given (the default `yes` is not written). */
  failureReport?: FailureReport;
  /** Further headers for every chunk (e.g. Content-Disposition), written before Content-Type. */
  extraHeaders?: MsrpHeaderList;
  /** Source of candidate tids (tests inject a sequence); defaults to random ids. */
  nextTid?: () => string;
}

export interface ChunkMessageOptions extends ChunkHeaderOptions {
  source: Buffer | Iterable<Buffer> | AsyncIterable<Buffer>;
  /** Largest body per chunk, in bytes (≥ 1). */
  chunkSize: number;
  /** The message size when known in advance; the source must then deliver exactly this much. */
  totalBytes?: number;
}

export type ChunkerErrorCode = "bad-chunk-size" | "size-mismatch";

/** A programming or source error while chunking (the generator rejects with it). */
export class ChunkerError extends Error {
  constructor(
    readonly code: ChunkerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ChunkerError";
  }
}

/**
 * One SEND chunk: bytes `start` .. `start + body.length - 1` of the message. `total` is the
 * message size or `*`; `flag` defaults to `$` when the chunk reaches `total`, else `+`. A `#`
 * flag aborts the message (the chunk may still carry data).
 */
export function createSendChunk(
  opts: ChunkHeaderOptions & { start: number; body: Buffer; total: number | "*"; flag?: "$" | "+" | "#" },
): MsrpRequest {
  return sendChunk(opts, opts.start, opts.body, opts.total, opts.flag);
}

/**
 * createSendChunk without a per-chunk options object: the chunkers call it for every chunk, and
 * spreading the message's options into a new object each time was a visible cost.
 */
function sendChunk(opts: ChunkHeaderOptions, start: number, body: Buffer, total: number | "*", flag?: "$" | "+" | "#"): MsrpRequest {
  const end = start + body.length - 1;
  const headers: MsrpHeaderList = [
    ["To-Path", formatPath(opts.toPath)],
    ["From-Path", formatPath(opts.fromPath)],
    ["Message-ID", opts.messageId],
  ];
  if (opts.successReport) headers.push(["Success-Report", "yes"]);
  if (opts.failureReport !== undefined && opts.failureReport !== "yes") {
    headers.push(["Failure-Report", opts.failureReport]);
  }
  headers.push(["Byte-Range", `${start}-${end}/${total}`]);
  if (opts.extraHeaders) headers.push(...opts.extraHeaders);
  headers.push(["Content-Type", opts.contentType]);
  return {
    kind: "request",
    tid: pickTransactionId(body, opts.nextTid),
    method: "SEND",
    headers,
    body,
    flag: flag ?? (total !== "*" && end >= total ? "$" : "+"),
  };
}

/** Chunks of a message that is already in memory; chunk bodies are views of `body`, not copies. */
export function* chunkBody(body: Buffer, opts: ChunkHeaderOptions & { chunkSize: number }): Generator<MsrpRequest> {
  const size = checkChunkSize(opts.chunkSize);
  const total = body.length;
  if (total === 0) {
    yield sendChunk(opts, 1, body, 0);
    return;
  }
  for (let offset = 0; offset < total; offset += size) {
    yield sendChunk(opts, offset + 1, body.subarray(offset, offset + size), total);
  }
}

/**
 * Chunks of a message from any source; see the module comment for the memory bound. A synchronous
 * iterable (the virtual clients' payload stream) is better given to `chunkIterable`: this async
 * generator costs a promise and a microtask per chunk and per piece.
 */
export async function* chunkMessage(opts: ChunkMessageOptions): AsyncGenerator<MsrpRequest> {
  if (Buffer.isBuffer(opts.source)) {
    yield* chunkIterable(opts as ChunkMessageOptions & { source: Buffer });
    return;
  }
  const cutter = new PieceCutter(opts);
  for await (const piece of opts.source as AsyncIterable<Buffer>) yield* cutter.push(piece);
  yield* cutter.finish();
}

/** chunkMessage for a Buffer or a synchronous iterable of Buffers, without a promise per chunk. */
export function* chunkIterable(opts: ChunkMessageOptions & { source: Buffer | Iterable<Buffer> }): Generator<MsrpRequest> {
  if (Buffer.isBuffer(opts.source)) {
    // chunkBody checks the chunk size.
    const declared = checkDeclared(opts.totalBytes);
    if (declared !== undefined && declared !== opts.source.length) {
      throw new ChunkerError("size-mismatch", `the body has ${opts.source.length} bytes, not the declared ${declared}`);
    }
    yield* chunkBody(opts.source, opts);
    return;
  }
  const cutter = new PieceCutter(opts);
  for (const piece of opts.source) yield* cutter.push(piece);
  yield* cutter.finish();
}

/**
 * Cuts a stream of source pieces into chunks, holding at most one chunk plus one piece. A chunk
 * that lies within one piece is a view of it; one that spans pieces is copied together. (The
 * virtual clients' payload stream hands out pieces of exactly the chunk size, so none is copied.)
 */
class PieceCutter {
  private readonly size: number;
  private readonly declared: number | undefined;
  private readonly pending: Buffer[] = [];
  private pendingLength = 0;
  private sent = 0;
  /** The chunks a push or finish cut (reused: the caller yields them before the next push). */
  private readonly ready: MsrpRequest[] = [];

  constructor(private readonly opts: ChunkHeaderOptions & { chunkSize: number; totalBytes?: number }) {
    this.size = checkChunkSize(opts.chunkSize);
    this.declared = checkDeclared(opts.totalBytes);
  }

  /** The chunks `piece` completes (often none). */
  push(piece: Buffer): readonly MsrpRequest[] {
    const out = this.ready;
    out.length = 0;
    if (piece.length === 0) return out;
    const declared = this.declared;
    this.pending.push(piece);
    this.pendingLength += piece.length;
    if (declared !== undefined && this.sent + this.pendingLength > declared) {
      throw new ChunkerError("size-mismatch", `the source delivered more than the declared ${declared} bytes`);
    }
    // Strictly more than one chunk pending: the chunk we cut now is certainly not the last one.
    while (this.pendingLength > this.size) out.push(this.chunk(this.take(this.size), declared ?? "*"));
    return out;
  }

  /** The source ended: the last chunks (the one carrying the total). */
  finish(): readonly MsrpRequest[] {
    const out = this.ready;
    out.length = 0;
    const declared = this.declared;
    const total = this.sent + this.pendingLength;
    if (declared !== undefined && total !== declared) {
      throw new ChunkerError("size-mismatch", `the source delivered ${total} bytes, not the declared ${declared}`);
    }
    if (total === 0) {
      out.push(this.chunk(Buffer.alloc(0), 0));
      return out;
    }
    while (this.pendingLength > 0) out.push(this.chunk(this.take(Math.min(this.size, this.pendingLength)), total));
    return out;
  }

  private chunk(body: Buffer, total: number | "*"): MsrpRequest {
    const c = sendChunk(this.opts, this.sent + 1, body, total);
    this.sent += body.length;
    return c;
  }

  private take(n: number): Buffer {
    const pending = this.pending;
    const first = pending[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) pending.shift();
      else pending[0] = first.subarray(n);
      this.pendingLength -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const piece = pending[0]!;
      const k = Math.min(piece.length, n - filled);
      piece.copy(out, filled, 0, k);
      filled += k;
      if (k === piece.length) pending.shift();
      else pending[0] = piece.subarray(k);
    }
    this.pendingLength -= n;
    return out;
  }
}

function checkDeclared(declared: number | undefined): number | undefined {
  if (declared !== undefined && (!Number.isSafeInteger(declared) || declared < 0)) {
    throw new ChunkerError("size-mismatch", `totalBytes must be a non-negative integer, got ${declared}`);
  }
  return declared;
}

function checkChunkSize(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ChunkerError("bad-chunk-size", `chunkSize must be a positive integer, got ${n}`);
  }
  return n;
}
