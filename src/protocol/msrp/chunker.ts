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
 * one, which carries the total once it is known.
 */
import { type FailureReport, formatPath, type MsrpHeaderList, type MsrpRequest } from "./message.js";
import { pickTransactionId, randomTransactionId } from "./transaction-id.js";

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
    tid: pickTransactionId(body, opts.nextTid ?? randomTransactionId),
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

/** Chunks of a message from any source; see the module comment for the memory bound. */
export async function* chunkMessage(opts: ChunkMessageOptions): AsyncGenerator<MsrpRequest> {
  const size = checkChunkSize(opts.chunkSize);
  const declared = opts.totalBytes;
  if (declared !== undefined && (!Number.isSafeInteger(declared) || declared < 0)) {
    throw new ChunkerError("size-mismatch", `totalBytes must be a non-negative integer, got ${declared}`);
  }
  if (Buffer.isBuffer(opts.source)) {
    if (declared !== undefined && declared !== opts.source.length) {
      throw new ChunkerError("size-mismatch", `the body has ${opts.source.length} bytes, not the declared ${declared}`);
    }
    yield* chunkBody(opts.source, opts);
    return;
  }

  const pending: Buffer[] = [];
  let pendingLength = 0;
  let sent = 0;
  const take = (n: number): Buffer => {
    const first = pending[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) pending.shift();
      else pending[0] = first.subarray(n);
      pendingLength -= n;
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
    pendingLength -= n;
    return out;
  };
  const chunk = (body: Buffer, total: number | "*"): MsrpRequest => {
    const c = sendChunk(opts, sent + 1, body, total);
    sent += body.length;
    return c;
  };

  for await (const piece of opts.source as AsyncIterable<Buffer>) {
    if (piece.length === 0) continue;
    pending.push(piece);
    pendingLength += piece.length;
    if (declared !== undefined && sent + pendingLength > declared) {
      throw new ChunkerError("size-mismatch", `the source delivered more than the declared ${declared} bytes`);
    }
    // Strictly more than one chunk pending: the chunk we cut now is certainly not the last one.
    while (pendingLength > size) yield chunk(take(size), declared ?? "*");
  }
  const total = sent + pendingLength;
  if (declared !== undefined && total !== declared) {
    throw new ChunkerError("size-mismatch", `the source delivered ${total} bytes, not the declared ${declared}`);
  }
  if (total === 0) {
    yield chunk(Buffer.alloc(0), 0);
    return;
  }
  while (pendingLength > 0) yield chunk(take(Math.min(size, pendingLength)), total);
}

function checkChunkSize(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ChunkerError("bad-chunk-size", `chunkSize must be a positive integer, got ${n}`);
  }
  return n;
}
