/**
 * Incremental MSRP framer (RFC 4975 §5.1, §9): bytes from a TCP stream in, whole messages out.
 *
 * MSRP has no Content-Length: a message ends at the first `CRLF -------<tid><flag> CRLF` after
 * its start line, so the framer reads the start line, learns the tid, then searches the *bytes*
 * (bodies are binary) for that end-line. A look-alike inside a body (another tid, a wrong flag,
 * a missing CRLF) is skipped; a body that contains the exact end-line cannot be framed by anyone,
 * which is why senders pick a tid that does not occur in the body.
 *
 * Cost model: every pushed byte is searched once (the search position is remembered between
 * pushes) and copied at most once into an internal arena, which grows by doubling, so a 16 MiB
 * chunk arriving in 1 KiB reads costs O(n), not O(n²). When the framer holds nothing, a pushed
 * chunk is used in place without copying. Bodies handed out are views into those buffers when
 * they fill a good part of them, and copies when they are small, so a 20-byte body never pins a
 * 64 KiB read buffer.
 *
 * Errors: anything after a readable start line (bad header, missing To-Path, bad Byte-Range) is
 * reported for that one message with its tid, method and headers so the caller can answer 400,
 * and framing continues with the next message. A stream whose start line is unreadable, or a
 * message larger than `maxMessageBytes`, cannot be re-synchronised: that error is `fatal`, the
 * caller closes the connection, and the framer ignores anything pushed afterwards.
 */
import { parseByteRange, parseStatusHeader } from "./byte-range.js";
import {
  canonicalMsrpHeaderName,
  type ContinuationFlag,
  type MsrpHeaderList,
  type MsrpMessage,
  MsrpParseError,
  type MsrpParseErrorCode,
  type MsrpParseResult,
  parsePath,
} from "./message.js";
import { parseMsrpUri } from "./uri.js";

export interface MsrpFramerOptions {
  /** Largest message, start line to end-line, before the stream is given up. Default 16 MiB. */
  maxMessageBytes?: number;
}

export type MsrpFrame =
  | {
      ok: true;
      message: MsrpMessage;
      /** Bytes the message occupied on the wire, end-line included. */
      size: number;
    }
  | {
      ok: false;
      error: MsrpParseError;
      /** The connection cannot be re-synchronised: close it. */
      fatal: boolean;
      /** Present when the start line was readable (answer requests with 400 using it). */
      tid?: string;
      /** Present when the start line was a request line. */
      method?: string;
      /** Present when the header section could be split into lines. */
      headers?: MsrpHeaderList;
    };

export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** `MSRP ` + 32-char tid + a status code and a generous comment. */
const MAX_START_LINE_BYTES = 4096;
const MIN_ARENA_BYTES = 16 * 1024;

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from("\r\n", "latin1");
const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");
const PREFIX = Buffer.from("MSRP ", "latin1");
const EMPTY: Buffer = Buffer.alloc(0);
const METHOD = /^[A-Z]+$/;
const STATUS_LINE = /^(\d{3})(?: (.*))?$/;
const HEADER_NAME = /^[A-Za-z0-9\-_.!%*+`'~]+$/;
/**
 * Looser than RFC 4975's ident (which wants an alphanumeric first): a peer's odd but framable tid
 * is answered instead of costing the whole connection. Our own tids are always strict idents.
 */
const RECEIVED_TID = /^[A-Za-z0-9.\-+%=]{4,32}$/;

function flagOf(byte: number | undefined): ContinuationFlag | undefined {
  return byte === 0x24 ? "$" : byte === 0x2b ? "+" : byte === 0x23 ? "#" : undefined;
}

type StartLine =
  | { kind: "request"; tid: string; method: string }
  | { kind: "response"; tid: string; status: number; comment?: string }
  | { kind: "invalid"; tid: string };

export class MsrpFramer {
  private readonly maxMessageBytes: number;
  /** Holds [start, end); bytes past `end` are free only when `owned`. */
  private buf: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  /** False while `buf` is a chunk the caller pushed (never write into it). */
  private owned = false;
  /** Where the next search for the start line's CRLF begins. */
  private lineScan = 0;
  /** Set once the start line of the current message is read. */
  private current: StartLine | undefined;
  private needle: Buffer = EMPTY;
  /** Index just after the start line's CRLF. */
  private startLineEnd = 0;
  /** Where the next search for the end-line begins. */
  private scanPos = 0;
  private failed = false;
  /**
   * Path values already found valid: a connection carries the same few paths over and over, and
   * parsing their URIs was the largest cost per small message.
   */
  private readonly validPaths = new Set<string>();

  constructor(opts: MsrpFramerOptions = {}) {
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** Bytes held for a message not yet complete. */
  get bufferedBytes(): number {
    return this.end - this.start;
  }

  /** True after a fatal error: the stream is given up and pushes are ignored. */
  get isFailed(): boolean {
    return this.failed;
  }

  /**
   * Feeds the next bytes of the stream; returns the messages (and errors) they complete, in order.
   * The framer keeps `chunk` (bodies may be views of it): do not reuse or modify it afterwards,
   * which holds for the fresh Buffers of a socket's 'data' events.
   */
  push(chunk: Buffer): MsrpFrame[] {
    const frames: MsrpFrame[] = [];
    if (this.failed) return frames;
    this.append(chunk);
    for (;;) {
      if (this.current === undefined) {
        const r = this.readStartLine();
        if (r === "wait") break;
        if (r !== undefined) {
          frames.push(r);
          this.fail();
          break;
        }
      }
      const r = this.readToEndLine();
      if (r === "wait") break;
      frames.push(r);
      if (!r.ok && r.fatal) {
        this.fail();
        break;
      }
    }
    if (this.start === this.end) this.release();
    return frames;
  }

  private fail(): void {
    this.failed = true;
    this.release();
  }

  private release(): void {
    this.buf = EMPTY;
    this.start = this.end = this.lineScan = this.scanPos = this.startLineEnd = 0;
    this.owned = false;
  }

  private append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.start === this.end && this.current === undefined) {
      this.buf = chunk;
      this.start = this.lineScan = 0;
      this.end = chunk.length;
      this.owned = false;
      return;
    }
    if (this.owned && this.buf.length - this.end >= chunk.length) {
      chunk.copy(this.buf, this.end);
      this.end += chunk.length;
      return;
    }
    // Never compact in place: views of earlier messages may still point into the old arena.
    const live = this.end - this.start;
    const arena = Buffer.allocUnsafeSlow(Math.max(MIN_ARENA_BYTES, 2 * (live + chunk.length)));
    this.buf.copy(arena, 0, this.start, this.end);
    chunk.copy(arena, live);
    const shift = this.start;
    this.buf = arena;
    this.start = 0;
    this.end = live + chunk.length;
    this.lineScan = Math.max(0, this.lineScan - shift);
    this.scanPos = Math.max(0, this.scanPos - shift);
    this.startLineEnd = Math.max(0, this.startLineEnd - shift);
    this.owned = true;
  }

  /** undefined = start line read; "wait" = need more bytes; a frame = fatal error. */
  private readStartLine(): MsrpFrame | "wait" | undefined {
    const buf = this.buf;
    // Tolerate CRLFs between messages (some stacks send them as keep-alives).
    while (this.start < this.end && (buf[this.start] === CR || buf[this.start] === LF)) this.start++;
    if (this.start === this.end) return "wait";
    const avail = Math.min(PREFIX.length, this.end - this.start);
    for (let i = 0; i < avail; i++) {
      if (buf[this.start + i] !== PREFIX[i]) {
        return fatal("bad-start-line", "the stream does not start with an MSRP start line");
      }
    }
    const from = Math.max(this.start, this.lineScan);
    const eol = buf.subarray(0, this.end).indexOf(CRLF, from);
    if (eol < 0) {
      if (this.end - this.start > MAX_START_LINE_BYTES) {
        return fatal("bad-start-line", `no CRLF within ${MAX_START_LINE_BYTES} bytes of a start line`);
      }
      this.lineScan = Math.max(this.start, this.end - 1);
      return "wait";
    }
    const line = buf.toString("utf8", this.start + PREFIX.length, eol);
    const sp = line.indexOf(" ");
    const tid = sp < 0 ? line : line.slice(0, sp);
    if (!RECEIVED_TID.test(tid)) {
      return fatal("bad-start-line", "the start line has no valid transaction id");
    }
    const rest = sp < 0 ? "" : line.slice(sp + 1);
    let start: StartLine;
    if (METHOD.test(rest)) {
      start = { kind: "request", tid, method: rest };
    } else {
      const m = STATUS_LINE.exec(rest);
      if (m) {
        start = { kind: "response", tid, status: Number(m[1]) };
        if (m[2] !== undefined) start.comment = m[2];
      } else {
        start = { kind: "invalid", tid };
      }
    }
    this.current = start;
    this.needle = Buffer.from(`\r\n-------${tid}`, "latin1");
    this.startLineEnd = eol + 2;
    // The end-line may follow the start line directly (no headers): its CRLF is the start line's.
    this.scanPos = eol;
    return undefined;
  }

  private readToEndLine(): MsrpFrame | "wait" {
    const cur = this.current!;
    const data = this.buf.subarray(0, this.end);
    const needleLen = this.needle.length;
    for (;;) {
      const p = data.indexOf(this.needle, this.scanPos);
      if (p < 0 || p + needleLen + 3 > this.end) {
        // Keep the last needleLen - 1 bytes searchable: the end-line may straddle two reads.
        this.scanPos = p >= 0 ? p : Math.max(this.scanPos, this.end - needleLen + 1);
        if (this.end - this.start > this.maxMessageBytes) {
          const f = fatal("too-large", `message larger than ${this.maxMessageBytes} bytes`);
          return withStart(f, cur);
        }
        return "wait";
      }
      const flag = flagOf(data[p + needleLen]);
      if (flag !== undefined && data[p + needleLen + 1] === CR && data[p + needleLen + 2] === LF) {
        const frameEnd = p + needleLen + 3;
        const frame = this.buildFrame(cur, p, flag, frameEnd - this.start);
        this.start = frameEnd;
        this.lineScan = frameEnd;
        this.current = undefined;
        return frame;
      }
      this.scanPos = p + 1;
    }
  }

  /** `contentEnd` is the index of the CRLF that precedes the end-line. */
  private buildFrame(cur: StartLine, contentEnd: number, flag: ContinuationFlag, size: number): MsrpFrame {
    const buf = this.buf;
    const from = this.startLineEnd - 2; // so that "start line CRLF CRLF body" is seen too
    let headerEnd = contentEnd;
    let bodyStart = -1;
    if (contentEnd > from) {
      const blank = buf.subarray(from, contentEnd).indexOf(CRLFCRLF);
      if (blank >= 0) {
        headerEnd = from + blank;
        bodyStart = headerEnd + 4;
      }
    }
    const headers: MsrpHeaderList = [];
    if (headerEnd > this.startLineEnd) {
      const text = buf.toString("utf8", this.startLineEnd, headerEnd);
      const lines = text.split("\r\n");
      // "Content-Type: x CRLF CRLF -------" (an empty body without its CRLF) leaves an empty
      // last line: read it as an empty body rather than reject a harmless sender slip.
      if (lines.length > 1 && lines[lines.length - 1] === "" && bodyStart < 0) {
        lines.pop();
        bodyStart = contentEnd;
      }
      for (const line of lines) {
        const colon = line.indexOf(":");
        const name = colon < 0 ? "" : line.slice(0, colon).trim();
        if (!HEADER_NAME.test(name)) {
          return withStart(nonFatal("bad-header", `malformed header line: ${JSON.stringify(line.slice(0, 80))}`), cur, headers);
        }
        headers.push([canonicalMsrpHeaderName(name), line.slice(colon + 1).trim()]);
      }
    }
    let body = EMPTY;
    if (bodyStart >= 0 && contentEnd > bodyStart) {
      body = this.takeBody(bodyStart, contentEnd);
    }
    const hasBodySection = bodyStart >= 0;

    if (cur.kind === "invalid") {
      return withStart(nonFatal("bad-start-line", "the start line is neither a request nor a response"), cur, headers);
    }
    const problem = validateHeaders(headers, this.validPaths);
    if (problem) return withStart(problem, cur, headers);

    if (cur.kind === "response") {
      if (hasBodySection) {
        return withStart(nonFatal("unexpected-body", "an MSRP response cannot carry a body"), cur, headers);
      }
      const message: MsrpMessage = { kind: "response", tid: cur.tid, status: cur.status, headers };
      if (cur.comment !== undefined) message.comment = cur.comment;
      return { ok: true, message, size };
    }
    return {
      ok: true,
      message: { kind: "request", tid: cur.tid, method: cur.method, headers, body, flag },
      size,
    };
  }

  private takeBody(from: number, to: number): Buffer {
    const view = this.buf.subarray(from, to);
    // Keep a view only when it is a good part of its backing store; copy small bodies out.
    if (view.length * 4 >= view.buffer.byteLength) return view;
    return Buffer.from(view);
  }
}

const MAX_CACHED_PATHS = 64;

function validateHeaders(headers: MsrpHeaderList, validPaths: Set<string>): MsrpParseError | undefined {
  let toPath: string | undefined;
  let fromPath: string | undefined;
  for (const [name, value] of headers) {
    switch (name) {
      case "To-Path":
        toPath ??= value;
        break;
      case "From-Path":
        fromPath ??= value;
        break;
      case "Byte-Range":
        if (!parseByteRange(value)) return new MsrpParseError("bad-byte-range", `invalid Byte-Range: ${value}`);
        break;
      case "Status":
        if (!parseStatusHeader(value)) return new MsrpParseError("bad-status", `invalid Status: ${value}`);
        break;
      case "Failure-Report":
        if (!/^(yes|no|partial)$/i.test(value)) {
          return new MsrpParseError("bad-header", `invalid Failure-Report: ${value}`);
        }
        break;
      case "Success-Report":
        if (!/^(yes|no)$/i.test(value)) return new MsrpParseError("bad-header", `invalid Success-Report: ${value}`);
        break;
    }
  }
  for (const [name, value] of [
    ["To-Path", toPath],
    ["From-Path", fromPath],
  ] as const) {
    if (value === undefined) return new MsrpParseError("missing-header", `${name} is missing`);
    if (validPaths.has(value)) continue;
    const uris = parsePath(value);
    if (uris.length === 0 || !uris.every((u) => parseMsrpUri(u) !== null)) {
      return new MsrpParseError("bad-header", `invalid ${name}: ${value}`);
    }
    if (validPaths.size >= MAX_CACHED_PATHS) validPaths.clear();
    validPaths.add(value);
  }
  return undefined;
}

function fatal(code: MsrpParseErrorCode, text: string): MsrpFrame & { ok: false } {
  return { ok: false, error: new MsrpParseError(code, text), fatal: true };
}

function nonFatal(code: MsrpParseErrorCode, text: string): MsrpParseError {
  return new MsrpParseError(code, text);
}

function withStart(
  e: MsrpParseError | (MsrpFrame & { ok: false }),
  cur: StartLine,
  headers?: MsrpHeaderList,
): MsrpFrame & { ok: false } {
  const f: MsrpFrame & { ok: false } = e instanceof MsrpParseError ? { ok: false, error: e, fatal: false } : e;
  f.tid = cur.tid;
  if (cur.kind === "request") f.method = cur.method;
  if (headers) f.headers = headers;
  return f;
}

/**
 * Parses exactly one message from `data` (a datagram-like buffer, a test fixture): fails with
 * `incomplete` when the end-line is missing and `trailing-data` when bytes follow it.
 */
export function parseMsrpMessage(data: Buffer, opts: MsrpFramerOptions = {}): MsrpParseResult {
  const framer = new MsrpFramer({ maxMessageBytes: opts.maxMessageBytes ?? Number.MAX_SAFE_INTEGER });
  const frames = framer.push(data);
  const first = frames[0];
  if (!first) return { ok: false, error: new MsrpParseError("incomplete", "no end-line found") };
  if (!first.ok) return { ok: false, error: first.error };
  if (frames.length > 1 || framer.bufferedBytes > 0) {
    return { ok: false, error: new MsrpParseError("trailing-data", "bytes follow the end-line") };
  }
  return { ok: true, message: first.message };
}
