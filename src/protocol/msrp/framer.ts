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
 * Cut-through mode (MsrpStreamFramer, for relays; RFC 4976 relays may forward a chunk before its
 * end): a request whose header block is complete but whose end-line is not in the bytes at hand is
 * not buffered. Its head (start line and validated headers) is emitted at once, then its body as
 * segments that are views of the pushed reads (never copied), then its end with the flag. Only the
 * last few bytes of a read that could be the start of the end-line are held back (copied, at most
 * the end-line's length) until the next read decides. A message that fits in the bytes at hand, a
 * response, or a request with bad headers comes out whole, exactly as MsrpFramer gives it — except,
 * when the caller reuses its read buffer (`reusedInput`), a request with a body of 8 KiB or more:
 * that comes in parts too (head, the body as one view, end), so its body is never copied here.
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
  type MsrpRequest,
  parsePath,
} from "./message.js";
import { parseMsrpUri } from "./uri.js";

export interface MsrpFramerOptions {
  /** Largest message, start line to end-line, before the stream is given up. Default 16 MiB. */
  maxMessageBytes?: number;
  /**
   * The caller reuses each pushed buffer once push() returns (a socket read into one reused
   * buffer, socket-reads.ts): the framer then copies whatever it keeps past the push (a message
   * not yet complete, every body of a whole message). Body segments of MsrpStreamFramer stay
   * views, valid until the next push. Default false: pushed buffers are the framer's to keep.
   */
  reusedInput?: boolean;
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

/** A whole request handed out in parts (STREAM_WHOLE_BODY_BYTES). */
interface StreamedWhole {
  streamed: true;
  head: MsrpRequest;
  data: Buffer;
  flag: ContinuationFlag;
  size: number;
}

/**
 * What MsrpStreamFramer emits: whole messages and errors (MsrpFrame), or a request in parts: one
 * `head`, any number of `body` segments, one `end`. A fatal error frame while a body is open means
 * that request will never end.
 */
export type MsrpStreamEvent =
  | MsrpFrame
  | {
      part: "head";
      /** The request with an empty body and flag `+`; the real flag comes with `end`. */
      request: MsrpRequest;
    }
  | {
      part: "body";
      /** The next body bytes: a view of a pushed read (or a small copy of held-back bytes). */
      data: Buffer;
    }
  | {
      part: "end";
      flag: ContinuationFlag;
      /** Bytes the message occupied on the wire, end-line included. */
      size: number;
    };

export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** `MSRP ` + 32-char tid + a status code and a generous comment. */
const MAX_START_LINE_BYTES = 4096;
const MIN_ARENA_BYTES = 16 * 1024;
/**
 * With reusedInput, a whole request in the bytes at hand whose body is at least this large comes
 * out in parts (head, one body view, end) like a streamed one, instead of with a copy of its body:
 * a receiver that only counts bytes, or a relay that passes them on, never pays for that copy.
 */
const STREAM_WHOLE_BODY_BYTES = 8 * 1024;

const CR = 0x0d;
const LF = 0x0a;
const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");
const PREFIX = Buffer.from("MSRP ", "latin1");
const EMPTY: Buffer = Buffer.alloc(0);
const HEADER_NAME = /^[A-Za-z0-9\-_.!%*+`'~]+$/;
const SP = 0x20;
const HYPHEN = 0x2d;

/**
 * The index of the first CRLF in buf[from, limit), or -1 (a JS loop: start lines are short, and a
 * native search costs more to call than to run over a few dozen bytes).
 */
function findCrlf(buf: Buffer, from: number, limit: number): number {
  for (let i = from; i + 1 < limit; i++) if (buf[i] === CR && buf[i + 1] === LF) return i;
  return -1;
}
/**
 * 1 for the bytes a received tid may hold (4 to 32 of them): looser than RFC 4975's ident (which
 * wants an alphanumeric first), so a peer's odd but framable tid is answered instead of costing
 * the whole connection. The tids we send are always strict idents (a relay passes a sender's tid
 * on only when it is all alphanumerics).
 */
const TID_BYTE = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-+%=") TID_BYTE[c.charCodeAt(0)] = 1;

/**
 * What follows the tid on a start line, buf[from, eol): a method (`[A-Z]+`) or a status code with
 * an optional comment (`NNN` or `NNN comment`, the comment without CR or LF), else invalid. The usual method and comment come out as
 * constants, not as fresh strings.
 */
function readRestOfStartLine(buf: Buffer, from: number, eol: number, tid: string): StartLine {
  let i = from;
  while (i < eol && buf[i]! >= 0x41 && buf[i]! <= 0x5a) i++;
  if (i === eol && eol > from) return { kind: "request", tid, method: knownMethod(buf, from, eol) ?? buf.toString("latin1", from, eol) };
  const d0 = buf[from]! - 0x30;
  const d1 = buf[from + 1]! - 0x30;
  const d2 = buf[from + 2]! - 0x30;
  if (eol - from < 3 || d0 < 0 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return { kind: "invalid", tid };
  const status = d0 * 100 + d1 * 10 + d2;
  if (eol - from === 3) return { kind: "response", tid, status };
  if (buf[from + 3] !== SP) return { kind: "invalid", tid };
  for (let k = from + 4; k < eol; k++) if (buf[k] === CR || buf[k] === LF) return { kind: "invalid", tid };
  const isOk = eol - from === 6 && buf[from + 4] === 0x4f && buf[from + 5] === 0x4b;
  return { kind: "response", tid, status, comment: isOk ? "OK" : buf.toString("utf8", from + 4, eol) };
}

const KNOWN_METHODS = ["SEND", "REPORT", "AUTH", "NICKNAME"].map((m) => ({ name: m, bytes: Buffer.from(m, "latin1") }));

function knownMethod(buf: Buffer, from: number, to: number): string | undefined {
  for (const m of KNOWN_METHODS) {
    if (m.bytes.length !== to - from) continue;
    let k = 0;
    while (k < m.bytes.length && buf[from + k] === m.bytes[k]) k++;
    if (k === m.bytes.length) return m.name;
  }
  return undefined;
}

function scratchNeedle(): Buffer {
  const b = Buffer.alloc(9 + 32);
  b.write("\r\n-------", 0, "latin1");
  return b;
}

function flagOf(byte: number | undefined): ContinuationFlag | undefined {
  return byte === 0x24 ? "$" : byte === 0x2b ? "+" : byte === 0x23 ? "#" : undefined;
}

type StartLine =
  | { kind: "request"; tid: string; method: string }
  | { kind: "response"; tid: string; status: number; comment?: string }
  | { kind: "invalid"; tid: string };

/** The state machine behind MsrpFramer and MsrpStreamFramer. */
class FramerCore {
  private readonly maxMessageBytes: number;
  private readonly reusedInput: boolean;
  /** Holds [start, end); bytes past `end` are free only when `owned`. */
  private buf: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  /** False while `buf` is a chunk the caller pushed (never write into it). */
  private owned = false;
  /** `buf` up to `end`, made once per change of either (searches must not run past `end`). */
  private view: Buffer | undefined;
  /** Where the next search for the start line's CRLF begins. */
  private lineScan = 0;
  /** Set once the start line of the current message is read. */
  private current: StartLine | undefined;
  private needle: Buffer = EMPTY;
  /** `CRLF -------` and room for the longest tid (a received tid has at most 32 characters). */
  private readonly needleScratch: Buffer = scratchNeedle();
  /** Views of the scratch needle by tid length (made once each, not once per message). */
  private readonly needleViews: Buffer[] = [];
  /** Index just after the start line's CRLF. */
  private startLineEnd = 0;
  /** Where the next search for the end-line begins. */
  private scanPos = 0;
  private failed = false;
  /**
   * Path values already found valid: a connection carries the same few paths over and over, and
   * parsing their URIs was the largest cost per small message.
   */
  private readonly validPaths = new PathCache();
  /** Header lines of the last request and of the last response (see HeaderLineMemo). */
  private readonly requestLines = new HeaderLineMemo();
  private readonly responseLines = new HeaderLineMemo();

  // ---- cut-through state (streaming only) ----
  /** Where the next search for the blank line ending the header block begins; -1 once known. */
  private blankScan = 0;
  /** Index of the header block's CRLFCRLF in `buf`, or -1. */
  private blank = -1;
  /** The current request's headers could not be validated: it is framed whole (and reported). */
  private noStream = false;
  /** True while the current request's body is being streamed. */
  private inBody = false;
  /** The streamed request (for the error frame should it grow past the limit). */
  private streamed: MsrpRequest | undefined;
  /** Wire bytes of the streamed message so far (start line included). */
  private messageBytes = 0;
  /** Held-back body bytes that may begin the end-line (a small copy). */
  private carry: Buffer = EMPTY;

  constructor(
    opts: MsrpFramerOptions,
    private readonly streaming: boolean,
  ) {
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.reusedInput = opts.reusedInput === true;
  }

  get bufferedBytes(): number {
    return this.end - this.start + this.carry.length;
  }

  private lineMemo(cur: StartLine): HeaderLineMemo {
    return cur.kind === "response" ? this.responseLines : this.requestLines;
  }

  /** The bytes held, as one Buffer ending at `end` (cached: searched several times per message). */
  private held(): Buffer {
    return (this.view ??= this.buf.subarray(0, this.end));
  }

  get isFailed(): boolean {
    return this.failed;
  }

  get streamingBody(): boolean {
    return this.inBody;
  }

  push(chunk: Buffer, out: MsrpStreamEvent[]): void {
    if (this.failed) return;
    if (this.inBody) {
      const after = this.streamBody(chunk, 0, 0, out);
      if (after < 0 || this.failed) return;
      chunk = chunk.subarray(after);
    }
    this.append(chunk);
    for (;;) {
      if (this.current === undefined) {
        const r = this.readStartLine();
        if (r === "wait") break;
        if (r !== undefined) {
          out.push(r);
          this.fail();
          break;
        }
      }
      const r = this.readToEndLine();
      if (r === "wait") {
        if (this.streaming && this.startStream(out)) {
          if (this.failed || this.inBody) return;
          continue;
        }
        break;
      }
      this.resetMessage();
      if ("streamed" in r) {
        out.push({ part: "head", request: r.head }, { part: "body", data: r.data }, { part: "end", flag: r.flag, size: r.size });
        continue;
      }
      out.push(r);
      if (!r.ok && r.fatal) {
        this.fail();
        break;
      }
    }
    if (this.start === this.end) this.release();
    else if (this.reusedInput && !this.owned) this.keepHeldBytes();
  }

  /** The bytes held for the next push are still the caller's buffer: copy them into an arena. */
  private keepHeldBytes(): void {
    const live = this.end - this.start;
    const arena = Buffer.allocUnsafeSlow(Math.max(MIN_ARENA_BYTES, 2 * live));
    this.buf.copy(arena, 0, this.start, this.end);
    const shift = this.start;
    this.buf = arena;
    this.start = 0;
    this.end = live;
    this.view = undefined;
    this.shiftPositions(shift);
    this.owned = true;
  }

  private shiftPositions(shift: number): void {
    this.lineScan = Math.max(0, this.lineScan - shift);
    this.scanPos = Math.max(0, this.scanPos - shift);
    this.startLineEnd = Math.max(0, this.startLineEnd - shift);
    this.blankScan = Math.max(0, this.blankScan - shift);
    if (this.blank >= 0) this.blank -= shift;
  }

  private resetMessage(): void {
    this.blankScan = 0;
    this.blank = -1;
    this.noStream = false;
  }

  private fail(): void {
    this.failed = true;
    this.inBody = false;
    this.streamed = undefined;
    this.carry = EMPTY;
    this.release();
  }

  /**
   * Called when the current message's end-line is not in the bytes at hand: a request whose header
   * block is complete starts streaming (head, the body bytes at hand, held-back tail). True when
   * it did; false to keep buffering (no blank line yet, a response, bad headers, too few bytes to
   * rule out an end-line right after the blank line).
   */
  private startStream(out: MsrpStreamEvent[]): boolean {
    const cur = this.current!;
    if (cur.kind !== "request" || this.noStream) return false;
    const buf = this.buf;
    if (this.blank < 0) {
      const from = Math.max(this.startLineEnd - 2, this.blankScan);
      const b = this.held().indexOf(CRLFCRLF, from);
      if (b < 0) {
        this.blankScan = Math.max(from, this.end - 3);
        return false;
      }
      this.blank = b;
    }
    const b = this.blank;
    // An end-line may start at b + 2 (an empty body without its own CRLF): readToEndLine has ruled
    // that out once every byte it needs is here.
    if (this.end < b + 2 + this.needle.length + 3) return false;
    const headers: MsrpHeaderList = [];
    const problem = b > this.startLineEnd ? this.requestLines.parse(buf, this.startLineEnd, b, headers) : undefined;
    if (problem !== undefined || validateHeaders(headers, this.validPaths) !== undefined) {
      // Framed whole, so the error is reported with the message as MsrpFramer does.
      this.noStream = true;
      return false;
    }
    const request: MsrpRequest = { kind: "request", tid: cur.tid, method: cur.method, headers, body: EMPTY, flag: "+" };
    out.push({ part: "head", request });
    this.streamed = request;
    this.inBody = true;
    const data = this.held();
    const bodyStart = b + 4;
    this.messageBytes = bodyStart - this.start;
    // Views of `data` go out; the framer lets go of it (nothing is ever written into it again).
    const scanFrom = this.scanPos;
    this.release();
    const after = this.streamBody(data, bodyStart, scanFrom, out);
    if (after >= 0 && !this.failed) this.append(data.subarray(after));
    return true;
  }

  /**
   * Streams body bytes `data[pos..]` (positions before `scanFrom` are known not to start an
   * end-line). Returns the index just after the end-line when it was found (the message is done),
   * else -1 with every undecided byte held back in `carry`. `messageBytes` counts the bytes handed
   * out (and the head), never the held-back ones.
   */
  private streamBody(data: Buffer, pos: number, scanFrom: number, out: MsrpStreamEvent[]): number {
    const needle = this.needle;
    const nl = needle.length;
    if (this.carry.length > 0) {
      if (pos >= data.length) return -1;
      const carry = this.carry;
      this.carry = EMPTY;
      // Enough new bytes to decide every held-back position (an end-line is nl + 3 bytes long).
      const k = Math.min(data.length - pos, nl + 2);
      const joined = Buffer.concat([carry, data.subarray(pos, pos + k)]);
      const r = scanEndLine(joined, 0, 0, needle);
      if (r.end >= 0 && r.end < carry.length) {
        this.emitBody(carry.subarray(0, r.end), out);
        return this.finishBody(r.flag, pos + (r.end + nl + 3 - carry.length), out);
      }
      if (r.end < 0 && r.safe < carry.length) {
        // Too few new bytes to decide (k then covered all of them): hold them back as well.
        this.emitBody(carry.subarray(0, r.safe), out);
        this.carry = Buffer.from(joined.subarray(r.safe));
        this.checkLimit(out);
        return -1;
      }
      this.emitBody(carry, out);
      scanFrom = pos;
    }
    const r = scanEndLine(data, pos, Math.max(pos, scanFrom), needle);
    if (r.end >= 0) {
      this.emitBody(data.subarray(pos, r.end), out);
      return this.finishBody(r.flag, r.end + nl + 3, out);
    }
    this.emitBody(data.subarray(pos, r.safe), out);
    if (r.safe < data.length) this.carry = Buffer.from(data.subarray(r.safe));
    this.checkLimit(out);
    return -1;
  }

  private emitBody(data: Buffer, out: MsrpStreamEvent[]): void {
    if (data.length === 0) return;
    this.messageBytes += data.length;
    out.push({ part: "body", data });
  }

  /** The end-line was read; `after` (returned) is the index in the current data just past it. */
  private finishBody(flag: ContinuationFlag, after: number, out: MsrpStreamEvent[]): number {
    if (!this.checkLimit(out)) return -1;
    const size = this.messageBytes + this.needle.length + 3;
    this.inBody = false;
    this.current = undefined;
    this.streamed = undefined;
    this.carry = EMPTY;
    this.resetMessage();
    out.push({ part: "end", flag, size });
    return after;
  }

  /** False (after a fatal frame) when the streamed message grew past the limit. */
  private checkLimit(out: MsrpStreamEvent[]): boolean {
    if (this.messageBytes + this.carry.length <= this.maxMessageBytes) return true;
    out.push(this.tooLarge());
    this.fail();
    return false;
  }

  private tooLarge(): MsrpFrame & { ok: false } {
    const req = this.streamed!;
    const f = fatal("too-large", `message larger than ${this.maxMessageBytes} bytes`);
    f.tid = req.tid;
    f.method = req.method;
    f.headers = req.headers;
    return f;
  }

  private release(): void {
    this.buf = EMPTY;
    this.view = undefined;
    this.start = this.end = this.lineScan = this.scanPos = this.startLineEnd = 0;
    this.owned = false;
  }

  private append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.start === this.end && this.current === undefined) {
      this.buf = chunk;
      this.view = chunk;
      this.start = this.lineScan = 0;
      this.end = chunk.length;
      this.owned = false;
      return;
    }
    if (this.owned && this.buf.length - this.end >= chunk.length) {
      chunk.copy(this.buf, this.end);
      this.end += chunk.length;
      this.view = undefined;
      return;
    }
    // Never compact in place: views of earlier messages may still point into the old arena.
    const live = this.end - this.start;
    // Doubling what is held keeps many small reads O(n); one large read is not doubled (a 1 MiB
    // read after a few header bytes gets an arena of ~1 MiB, not 2).
    const arena = Buffer.allocUnsafeSlow(Math.max(MIN_ARENA_BYTES, 2 * live + chunk.length));
    this.buf.copy(arena, 0, this.start, this.end);
    chunk.copy(arena, live);
    const shift = this.start;
    this.buf = arena;
    this.start = 0;
    this.end = live + chunk.length;
    this.view = undefined;
    this.shiftPositions(shift);
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
    const eol = findCrlf(buf, from, Math.min(this.end, this.start + MAX_START_LINE_BYTES + 2));
    if (eol < 0) {
      if (this.end - this.start > MAX_START_LINE_BYTES) {
        return fatal("bad-start-line", `no CRLF within ${MAX_START_LINE_BYTES} bytes of a start line`);
      }
      this.lineScan = Math.max(this.start, this.end - 1);
      return "wait";
    }
    // Read byte by byte (no string of the whole line, no regular expressions): a start line per
    // chunk and per 200.
    const tidStart = this.start + PREFIX.length;
    let i = tidStart;
    while (i < eol && TID_BYTE[buf[i]!] === 1) i++;
    const tidLength = i - tidStart;
    if (tidLength < 4 || tidLength > 32 || (i < eol && buf[i] !== SP)) {
      return fatal("bad-start-line", "the start line has no valid transaction id");
    }
    const tid = buf.toString("latin1", tidStart, i);
    const start = i < eol ? readRestOfStartLine(buf, i + 1, eol, tid) : ({ kind: "invalid", tid } as const);
    this.current = start;
    // The needle lives in a scratch buffer of this framer (one message is framed at a time).
    const scratch = this.needleScratch;
    for (let k = 0; k < tidLength; k++) scratch[9 + k] = buf[tidStart + k]!;
    this.needle = this.needleViews[tidLength] ??= scratch.subarray(0, 9 + tidLength);
    this.startLineEnd = eol + 2;
    // The end-line may follow the start line directly (no headers): its CRLF is the start line's.
    this.scanPos = eol;
    return undefined;
  }

  private readToEndLine(): MsrpFrame | StreamedWhole | "wait" {
    const cur = this.current!;
    if (cur.kind === "response" && this.scanPos === this.startLineEnd - 2) {
      const frame = this.rememberedResponse(cur);
      if (frame !== undefined) return frame;
    }
    const data = this.held();
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

  /**
   * A response made only of header lines remembered from earlier responses (HeaderLineMemo) and
   * its end-line, read line by line without a search: the 200 that answers every chunk. Undefined
   * for anything else (a new line, a body, bytes still missing, invalid headers): the general path
   * then frames it, and gets the same result for a response this path would have taken.
   */
  private rememberedResponse(cur: StartLine & { kind: "response" }): MsrpFrame | undefined {
    const buf = this.buf;
    const end = this.end;
    const needle = this.needle;
    const headers: MsrpHeaderList = [];
    let pos = this.startLineEnd;
    for (let i = 0; ; i++) {
      // An end-line here: `-------<tid>` (the needle without the CRLF that ended the line before), flag, CRLF.
      const flagAt = pos + needle.length - 2;
      if (flagAt + 3 <= end && buf[pos] === HYPHEN) {
        let k = 2;
        while (k < needle.length && buf[pos + k - 2] === needle[k]) k++;
        const flag = k === needle.length ? flagOf(buf[flagAt]) : undefined;
        if (flag === undefined || buf[flagAt + 1] !== CR || buf[flagAt + 2] !== LF) return undefined;
        if (headers.length === 0 || validateHeaders(headers, this.validPaths) !== undefined) return undefined;
        const message: MsrpMessage = { kind: "response", tid: cur.tid, status: cur.status, headers };
        if (cur.comment !== undefined) message.comment = cur.comment;
        const frameEnd = flagAt + 3;
        const size = frameEnd - this.start;
        this.start = frameEnd;
        this.lineScan = frameEnd;
        this.current = undefined;
        return { ok: true, message, size };
      }
      const pair = this.responseLines.lineAt(i, buf, pos, end);
      if (pair === undefined) return undefined;
      headers.push(pair);
      pos += this.responseLines.lengthOf(i) + 2;
    }
  }

  /** `contentEnd` is the index of the CRLF that precedes the end-line. */
  private buildFrame(cur: StartLine, contentEnd: number, flag: ContinuationFlag, size: number): MsrpFrame | StreamedWhole {
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
      // "Content-Type: x CRLF CRLF -------" (an empty body without its CRLF) leaves an empty
      // last line: read it as an empty body rather than reject a harmless sender slip.
      if (bodyStart < 0 && headerEnd - this.startLineEnd >= 2 && buf[headerEnd - 2] === CR && buf[headerEnd - 1] === LF) {
        headerEnd -= 2;
        bodyStart = contentEnd;
      }
      const problem =
        headerEnd > this.startLineEnd
          ? this.lineMemo(cur).parse(buf, this.startLineEnd, headerEnd, headers)
          : // Only an empty line was there: reported as the malformed header line it is.
            parseHeaderLine("", 0, 0, headers);
      if (problem) return withStart(problem, cur, headers);
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
    let body = EMPTY;
    if (bodyStart >= 0 && contentEnd > bodyStart) {
      // Also from the framer's own arena: it is never written over, and a part is not kept.
      if (this.streaming && this.reusedInput && contentEnd - bodyStart >= STREAM_WHOLE_BODY_BYTES) {
        const head: MsrpRequest = { kind: "request", tid: cur.tid, method: cur.method, headers, body: EMPTY, flag: "+" };
        return { streamed: true, head, data: buf.subarray(bodyStart, contentEnd), flag, size };
      }
      body = this.takeBody(bodyStart, contentEnd);
    }
    return {
      ok: true,
      message: { kind: "request", tid: cur.tid, method: cur.method, headers, body, flag },
      size,
    };
  }

  private takeBody(from: number, to: number): Buffer {
    const view = this.buf.subarray(from, to);
    // Keep a view only when it is a good part of its backing store (half of the arena when the
    // input is reused: that arena holds nothing else worth keeping); copy small bodies out. A
    // caller's reused buffer is never kept.
    if (this.reusedInput ? this.owned && view.length * 2 >= view.buffer.byteLength : view.length * 4 >= view.buffer.byteLength) return view;
    return Buffer.from(view);
  }
}

/** One header line, text[pos, lineEnd), onto `headers`; the error names the line. */
function parseHeaderLine(text: string, pos: number, lineEnd: number, headers: MsrpHeaderList): MsrpParseError | undefined {
  const colon = text.indexOf(":", pos);
  const name = colon < 0 || colon > lineEnd ? "" : trimmedSlice(text, pos, colon);
  if (!HEADER_NAME.test(name)) {
    return nonFatal("bad-header", `malformed header line: ${JSON.stringify(text.slice(pos, Math.min(lineEnd, pos + 80)))}`);
  }
  headers.push([canonicalMsrpHeaderName(name), trimmedSlice(text, colon + 1, lineEnd)]);
  return undefined;
}

/** Longest header line remembered by HeaderLineMemo (longer ones are parsed every time). */
const MEMO_LINE_LENGTH = 512;
/** Most lines, and longest rest of a block, a memo keeps (it lives as long as its connection). */
const MEMO_LINES = 32;
const MEMO_TEXT_LENGTH = 8 * 1024;
const NON_ASCII = /[\x80-\xff]/;

/**
 * The header lines of the last message of one kind on this stream, as text and as parsed
 * [name, value] pairs, by position. A connection carries the same lines over and over (To-Path,
 * From-Path, Message-ID, Content-Type of every chunk of a message; both paths of every 200), so a
 * line whose bytes equal the one at its position last time is not decoded and split again: its
 * pair is shared between messages (pairs are read-only, MsrpHeaderList: never modified, only
 * replaced, as setMsrpHeader does). From the first line
 * that differs on, the rest of the block is decoded and parsed at once, as without the memo (a
 * connection shared by many sessions, whose messages alternate, pays one comparison for it).
 * Only ASCII blocks are remembered (a byte then is a character, so lines compare byte for
 * character); the memo holds strings, never a view of a caller's reused read buffer.
 */
class HeaderLineMemo {
  /** Line i is texts[i].slice(starts[i], starts[i] + lengths[i]) (kept as offsets: no string per line). */
  private readonly texts: string[] = [];
  private readonly starts: number[] = [];
  private readonly lengths: number[] = [];
  private readonly pairs: Array<readonly [string, string]> = [];
  private count = 0;

  /** Parses the header block buf[from, to) (no trailing CRLF) onto `headers`. */
  parse(buf: Buffer, from: number, to: number, headers: MsrpHeaderList): MsrpParseError | undefined {
    let pos = from;
    let i = 0;
    for (; i < this.count; i++) {
      const end = pos + this.lengths[i]!;
      if (end > to || (end < to && (buf[end] !== CR || buf[end + 1] !== LF)) || !this.sameAt(i, buf, pos)) break;
      headers.push(this.share(i));
      if (end === to) return undefined;
      pos = end + 2;
    }
    // The rest, decoded at once: as latin1 first, which is the text itself when it is ASCII.
    let text = buf.toString("latin1", pos, to);
    const ascii = !NON_ASCII.test(text);
    if (!ascii) text = buf.toString("utf8", pos, to);
    // Lines are remembered at their positions, so none after one that is not (too long, not ASCII).
    let remembering = ascii && text.length <= MEMO_TEXT_LENGTH;
    let at = 0;
    for (;;) {
      let lineEnd = text.indexOf("\r\n", at);
      const last = lineEnd < 0;
      if (last) lineEnd = text.length;
      const problem = parseHeaderLine(text, at, lineEnd, headers);
      if (problem) remembering = false;
      else if (remembering && (lineEnd - at > MEMO_LINE_LENGTH || i >= MEMO_LINES)) remembering = false;
      else if (remembering) {
        this.texts[i] = text;
        this.starts[i] = at;
        this.lengths[i] = lineEnd - at;
        this.pairs[i] = headers[headers.length - 1]!;
        i++;
        if (i > this.count) this.count = i;
      }
      if (!remembering && i < this.count) this.count = i;
      if (problem) return problem;
      if (last) return undefined;
      at = lineEnd + 2;
    }
  }

  /** The pair of remembered line `i` when buf[pos..] holds it followed by CRLF (before `limit`). */
  lineAt(i: number, buf: Buffer, pos: number, limit: number): readonly [string, string] | undefined {
    if (i >= this.count) return undefined;
    const end = pos + this.lengths[i]!;
    if (end + 2 > limit || buf[end] !== CR || buf[end + 1] !== LF || !this.sameAt(i, buf, pos)) return undefined;
    return this.share(i);
  }

  /**
   * Remembered pair `i`. Shared between messages, and not frozen: the type makes pairs read-only
   * (MsrpHeaderList), and freezing them cost ~5 % of a relay's CPU (frozen and plain arrays mixed
   * in one header list make every access to them polymorphic).
   */
  private share(i: number): readonly [string, string] {
    return this.pairs[i]!;
  }

  lengthOf(i: number): number {
    return this.lengths[i]!;
  }

  /**
   * True when buf[pos..] holds remembered line `i` (compared from its end: lines that differ
   * usually differ there — a session id before `;tcp`, a Message-ID, a Byte-Range's numbers).
   */
  private sameAt(i: number, buf: Buffer, pos: number): boolean {
    const text = this.texts[i]!;
    const start = this.starts[i]!;
    for (let k = this.lengths[i]! - 1; k >= 0; k--) if (buf[pos + k] !== text.charCodeAt(start + k)) return false;
    return true;
  }
}

/**
 * `text.slice(from, to).trim()` with one string made instead of two (the value after `: ` always
 * has a space to trim): the same characters count as white space as for String.prototype.trim.
 */
function trimmedSlice(text: string, from: number, to: number): string {
  let a = from;
  let b = to;
  while (a < b && isTrimmed(text.charCodeAt(a))) a++;
  while (b > a && isTrimmed(text.charCodeAt(b - 1))) b--;
  return text.slice(a, b);
}

/** ECMAScript WhiteSpace and LineTerminator: what String.prototype.trim removes. */
function isTrimmed(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/**
 * The first valid end-line (needle, flag, CRLF) starting at or after `scanFrom` in `data`, or
 * `end: -1` and `safe`: the first position (≥ pos) that might still start one once more bytes
 * come; every byte before it is body.
 */
function scanEndLine(
  data: Buffer,
  pos: number,
  scanFrom: number,
  needle: Buffer,
): { end: number; flag: ContinuationFlag; safe: number } {
  const nl = needle.length;
  let from = scanFrom;
  for (;;) {
    const p = data.indexOf(needle, from);
    if (p < 0) break;
    if (p + nl + 3 > data.length) return { end: -1, flag: "$", safe: p };
    const flag = flagOf(data[p + nl]);
    if (flag !== undefined && data[p + nl + 1] === CR && data[p + nl + 2] === LF) return { end: p, flag, safe: p };
    from = p + 1;
  }
  // A proper prefix of the needle at the very end may be completed by the next read.
  for (let i = Math.max(scanFrom, data.length - nl + 1); i < data.length; i++) {
    if (data[i] === CR && isPrefixAt(data, i, needle)) return { end: -1, flag: "$", safe: Math.max(i, pos) };
  }
  return { end: -1, flag: "$", safe: data.length };
}

function isPrefixAt(data: Buffer, at: number, needle: Buffer): boolean {
  for (let i = at, j = 0; i < data.length; i++, j++) {
    if (data[i] !== needle[j]) return false;
  }
  return true;
}

/** Whole messages out of a TCP byte stream; see the module comment. */
export class MsrpFramer {
  private readonly core: FramerCore;

  constructor(opts: MsrpFramerOptions = {}) {
    this.core = new FramerCore(opts, false);
  }

  /** Bytes held for a message not yet complete. */
  get bufferedBytes(): number {
    return this.core.bufferedBytes;
  }

  /** True after a fatal error: the stream is given up and pushes are ignored. */
  get isFailed(): boolean {
    return this.core.isFailed;
  }

  /**
   * Feeds the next bytes of the stream; returns the messages (and errors) they complete, in order.
   * The framer keeps `chunk` (bodies may be views of it): do not reuse or modify it afterwards,
   * which holds for the fresh Buffers of a socket's 'data' events — unless the framer was made
   * with `reusedInput`, which makes it copy what it keeps.
   */
  push(chunk: Buffer): MsrpFrame[] {
    const out: MsrpStreamEvent[] = [];
    this.core.push(chunk, out);
    // Without streaming the core emits whole frames only.
    return out as MsrpFrame[];
  }
}

/**
 * The cut-through framer for relays: like MsrpFramer, except that a request whose end-line is
 * not in the bytes at hand comes out as head, body segments (views of the pushed reads) and end,
 * as soon as each part is known; see the module comment.
 */
export class MsrpStreamFramer {
  private readonly core: FramerCore;

  constructor(opts: MsrpFramerOptions = {}) {
    this.core = new FramerCore(opts, true);
  }

  /** Bytes held: a message not yet streamable (start line, headers) or a held-back end-line prefix. */
  get bufferedBytes(): number {
    return this.core.bufferedBytes;
  }

  get isFailed(): boolean {
    return this.core.isFailed;
  }

  /** True between a `head` and its `end`. */
  get inBody(): boolean {
    return this.core.streamingBody;
  }

  /**
   * Feeds the next bytes; returns the events they complete, in order. As with MsrpFramer, the
   * framer may hand out views of `chunk`: do not reuse or modify it afterwards. With `reusedInput`
   * it keeps nothing of `chunk` past this call, and the body segments it returns are valid until
   * the caller reuses `chunk`.
   */
  push(chunk: Buffer): MsrpStreamEvent[] {
    const out: MsrpStreamEvent[] = [];
    this.core.push(chunk, out);
    return out;
  }
}

/**
 * Paths remembered as valid per connection: a trunk-like connection (an S-CSCF's, a shared client
 * connection) carries the To-Path and From-Path of every session on it, and a cache smaller than
 * that parsed and checked every URI of every message again (~3 µs a 200 with 100 sessions).
 */
const MAX_CACHED_PATHS = 4096;

/**
 * Path values already found valid. The last two (a connection's To-Path and From-Path, the same on
 * every chunk) are compared directly, which is cheaper than hashing a freshly parsed string. The
 * rest live in two generations of MAX_CACHED_PATHS / 2: when the recent one is full it becomes the
 * older one and the older one is dropped, so sessions that ended age out without a per-entry
 * eviction (deleting a Set's oldest entries one by one leaves holes that every later lookup of the
 * oldest entry walks over).
 */
class PathCache {
  private recent = new Set<string>();
  private older = new Set<string>();
  // Not "": an empty path is not valid, and must not pass for a cached one.
  private a: string | undefined;
  private b: string | undefined;

  has(value: string): boolean {
    if (value === this.a || value === this.b) return true;
    if (!this.recent.has(value)) {
      if (!this.older.has(value)) return false;
      this.keep(value);
    }
    this.remember(value);
    return true;
  }

  add(value: string): void {
    this.keep(value);
    this.remember(value);
  }

  private keep(value: string): void {
    if (this.recent.size >= MAX_CACHED_PATHS / 2) {
      this.older = this.recent;
      this.recent = new Set();
    }
    this.recent.add(value);
  }

  private remember(value: string): void {
    this.b = this.a;
    this.a = value;
  }
}

function validateHeaders(headers: MsrpHeaderList, validPaths: PathCache): MsrpParseError | undefined {
  let toPath: string | undefined;
  let fromPath: string | undefined;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
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
  return checkPath("To-Path", toPath, validPaths) ?? checkPath("From-Path", fromPath, validPaths);
}

function checkPath(name: string, value: string | undefined, validPaths: PathCache): MsrpParseError | undefined {
  if (value === undefined) return new MsrpParseError("missing-header", `${name} is missing`);
  if (validPaths.has(value)) return undefined;
  const uris = parsePath(value);
  if (uris.length === 0 || !uris.every((u) => parseMsrpUri(u) !== null)) {
    return new MsrpParseError("bad-header", `invalid ${name}: ${value}`);
  }
  validPaths.add(value);
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
