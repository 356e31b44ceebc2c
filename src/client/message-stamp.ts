/**
 * What a virtual client puts in (and reads from) the CPIM messages it sends over MSRP: the usual
 * CPIM/IMDN headers (From, To, DateTime, `NS: imdn`, `imdn.Message-ID`, optional
 * `imdn.Disposition-Notification`) plus a cpm-load stamp so the RECEIVING client can measure
 * `message_delivery` across worker threads (clock.nowNs() is comparable across threads):
 *
 *   NS: cpmload <urn:cpm-load:1>
 *   cpmload.Sent-At: <clock.nowNs() when the sender handed the message to MSRP>
 *   cpmload.Intended-At: <the scheduled send time, for the corrected value>
 *
 * Payloads are slices of one seeded pattern of printable bytes made once per thread: a chat
 * message costs no per-byte work and a 50 MB large message is streamed as views of the pattern,
 * never materialised (see `patternStream`).
 *
 * The "control" content type carries requests between the two cpm-load ends of a session that
 * SIP has no verb for: `{"action":"bye"}` asks the receiver to end the session with BYE (a bye
 * step with `by: callee`). Control messages are not counted as messages.
 */
import {
  type CpimMessage,
  createCpimMessage,
  type DispositionRequest,
  getContentHeader,
  getCpimHeader,
  parseCpim,
  serializeCpim,
} from "../protocol/cpim/index.js";
import { vouchForBytes } from "../protocol/msrp/transaction-id.js";

export const CPMLOAD_NS_URN = "urn:cpm-load:1";
export const CPMLOAD_NS_PREFIX = "cpmload";
const STAMP_NS = { urn: CPMLOAD_NS_URN, prefix: CPMLOAD_NS_PREFIX };

/** Content type (inside CPIM) of control requests between cpm-load clients; see the module comment. */
export const CONTROL_CONTENT_TYPE = "application/x-cpm-load-control+json";
export type ControlAction = "bye";

export interface MessageStamp {
  /** clock.nowNs() when the sender handed the message to MSRP. */
  sentAtNs: number;
  /** When the send was scheduled (the base of the corrected latency); absent = sentAtNs. */
  intendedNs?: number;
}

export interface CpimEnvelope {
  from: string;
  to: string;
  /** imdn.Message-ID. */
  messageId: string;
  /** Wall-clock time for DateTime (ms since the epoch). */
  dateMs: number;
  stamp: MessageStamp;
  contentType: string;
  /** Ask for delivery notifications (imdn.Disposition-Notification). */
  imdn?: boolean;
}

const NOTIFICATIONS: readonly DispositionRequest[] = ["positive-delivery"];

function envelopeMessage(e: CpimEnvelope, body: Buffer, contentLength: boolean): CpimMessage {
  const headers: Array<[string, string]> = [["NS", `${CPMLOAD_NS_PREFIX} <${CPMLOAD_NS_URN}>`]];
  headers.push([`${CPMLOAD_NS_PREFIX}.Sent-At`, formatNs(e.stamp.sentAtNs)]);
  if (e.stamp.intendedNs !== undefined) headers.push([`${CPMLOAD_NS_PREFIX}.Intended-At`, formatNs(e.stamp.intendedNs)]);
  return createCpimMessage({
    from: e.from,
    to: e.to,
    dateTime: new Date(e.dateMs),
    imdn: e.imdn ? { messageId: e.messageId, notifications: NOTIFICATIONS } : { messageId: e.messageId },
    headers,
    contentType: e.contentType,
    body,
    contentLength,
  });
}

/** A whole CPIM message (chat sizes: the content is copied once, into the result). */
export function buildCpim(e: CpimEnvelope, content: Buffer): Buffer {
  return serializeCpim(envelopeMessage(e, content, true));
}

/**
 * The CPIM headers of a message whose `contentBytes` of content are streamed after them (large
 * messages): message headers, blank line, content headers with Content-Length, blank line.
 */
export function cpimHead(e: CpimEnvelope, contentBytes: number): Buffer {
  const m = envelopeMessage(e, Buffer.alloc(0), false);
  m.contentHeaders.push(["Content-Length", String(contentBytes)]);
  return serializeCpim(m, { contentLength: false });
}

function formatNs(ns: number): string {
  // Epoch nanoseconds are ~1.7e18: Number#toString writes them without an exponent below 1e21.
  return String(Math.round(ns));
}

function parseNs(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,22}$/.test(v.trim())) return undefined;
  const n = Number(v.trim());
  return Number.isFinite(n) ? n : undefined;
}

/** The stamp of a parsed CPIM message, when it has a valid one. */
export function readStamp(m: Pick<CpimMessage, "headers">): MessageStamp | undefined {
  const sentAtNs = parseNs(getCpimHeader(m, "Sent-At", STAMP_NS));
  if (sentAtNs === undefined) return undefined;
  const intendedNs = parseNs(getCpimHeader(m, "Intended-At", STAMP_NS));
  return intendedNs === undefined ? { sentAtNs } : { sentAtNs, intendedNs };
}

export interface PeekedHead {
  stamp: MessageStamp | undefined;
  /** Content type inside CPIM. */
  contentType: string | undefined;
  /** Bytes of CPIM headers before the content (message size − this = content size). */
  headBytes: number;
}

/**
 * Reads the CPIM headers from the start of a message (its first chunk) without needing the rest:
 * receivers of large messages keep no bodies. Undefined when the headers do not fit in `start`.
 */
export function peekCpimHead(start: Buffer): PeekedHead | undefined {
  const first = sectionEnd(start, 0);
  if (first < 0) return undefined;
  const second = sectionEnd(start, first);
  if (second < 0) return undefined;
  // The content is not here: drop Content-Length so the two header sections parse on their own.
  const parsed = parseCpim(Buffer.concat([start.subarray(0, first), withoutLength(start.subarray(first, second))]));
  if (!parsed.ok) return undefined;
  return {
    stamp: readStamp(parsed.message),
    contentType: getContentHeader(parsed.message, "Content-Type")?.trim(),
    headBytes: second,
  };
}

function withoutLength(section: Buffer): Buffer {
  const lines = section.toString("utf8").split(/\r?\n/);
  return Buffer.from(lines.filter((l) => !/^content-length\s*:/i.test(l)).join("\r\n"), "utf8");
}

/** Index just after the blank line that ends the header section starting at `from`, or -1. */
function sectionEnd(buf: Buffer, from: number): number {
  if (buf[from] === 0x0d && buf[from + 1] === 0x0a) return from + 2;
  if (buf[from] === 0x0a) return from + 1;
  const crlf = buf.indexOf("\r\n\r\n", from);
  const lf = buf.indexOf("\n\n", from);
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 4;
  return lf >= 0 ? lf + 2 : -1;
}

/** A control request as CPIM content. */
export function controlContent(action: ControlAction): Buffer {
  return Buffer.from(JSON.stringify({ action }), "utf8");
}

/** The action of a control message's content, or undefined when it is not one we know. */
export function readControl(content: Buffer): ControlAction | undefined {
  try {
    const v = JSON.parse(content.toString("utf8")) as { action?: unknown };
    return v !== null && typeof v === "object" && v.action === "bye" ? "bye" : undefined;
  } catch {
    return undefined;
  }
}

// -------------------------------------------------------------------------------------------------
// Payloads

/** 1 MiB of seeded printable bytes; payloads are views of it. */
const PATTERN_BYTES = 1 << 20;
const ALPHABET = Buffer.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,-", "latin1");
/**
 * The pattern written twice in a row: any run of up to PATTERN_BYTES payload bytes, wherever it
 * starts in the pattern, is one contiguous view of it — no payload is ever copied to wrap around.
 */
let patternTwice: Buffer | undefined;

function pattern2(): Buffer {
  if (patternTwice) return patternTwice;
  const p = Buffer.allocUnsafe(2 * PATTERN_BYTES);
  let x = 0x9e3779b9;
  for (let i = 0; i < PATTERN_BYTES; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    p[i] = ALPHABET[(x >>> 0) % ALPHABET.length]!;
  }
  p.copy(p, PATTERN_BYTES, 0, PATTERN_BYTES);
  // Never written again: the MSRP sender need not scan its views for end-lines (no run of seven
  // hyphens occurs in it; vouchForBytes checks that once).
  vouchForBytes(p);
  patternTwice = p;
  return p;
}

/**
 * The payload pattern (the same in every thread and run: a fixed-seed xorshift). Read-only, like
 * every view payloadBytes and patternStream hand out: the MSRP sender skips its end-line scan for
 * this memory (vouchForBytes), so writing into it could put an end-line on the wire unseen.
 */
export function payloadPattern(): Buffer {
  return pattern2().subarray(0, PATTERN_BYTES);
}

/** Where in the pattern a payload starts, drawn from the iteration's seeded PRNG. */
export function payloadOffset(random: () => number): number {
  return Math.min(PATTERN_BYTES - 1, Math.floor(random() * PATTERN_BYTES));
}

/**
 * `size` payload bytes starting at `offset` in the pattern (wrapping): a view up to 1 MiB (read-only,
 * see payloadPattern), else one copy.
 */
export function payloadBytes(size: number, offset: number): Buffer {
  const start = offset % PATTERN_BYTES;
  if (size <= PATTERN_BYTES) return pattern2().subarray(start, start + size);
  const out = Buffer.allocUnsafe(size);
  copyPayload(out, 0, offset);
  return out;
}

/** Fills `out` from index `from` on with the payload bytes that start at `offset` in the pattern. */
function copyPayload(out: Buffer, from: number, offset: number): void {
  const p = pattern2();
  let at = offset % PATTERN_BYTES;
  for (let written = from; written < out.length; ) {
    // The doubled pattern: up to PATTERN_BYTES from any start are contiguous.
    const n = Math.min(out.length - written, PATTERN_BYTES);
    p.copy(out, written, at, at + n);
    written += n;
    at = (at + n) % PATTERN_BYTES;
  }
}

/**
 * A message streamed without materialising it: `head`, then `size` payload bytes starting at
 * `offset` in the pattern, as pieces of `pieceBytes` (the last one shorter). Give it the MSRP chunk
 * size: every piece is then exactly one chunk's body and, past the head, a view of the pattern, so
 * the chunker copies nothing, and the sender does not scan it for its end-line (RFC 4975 §7.1):
 * the pattern is vouched for (vouchForBytes). Only the pieces the head reaches into (usually just
 * the first) and pieces larger than the pattern (chunks over 1 MiB) are put together in a copy,
 * and those are scanned.
 */
export function* patternStream(head: Buffer, size: number, offset: number, pieceBytes = 256 * 1024): Generator<Buffer> {
  const p = pattern2();
  const piece = Math.max(1, Math.floor(pieceBytes));
  const total = head.length + size;
  const start = offset % PATTERN_BYTES;
  for (let from = 0; from < total; from += piece) {
    const to = Math.min(total, from + piece);
    if (from >= head.length && to - from <= PATTERN_BYTES) {
      const at = (start + from - head.length) % PATTERN_BYTES;
      yield p.subarray(at, at + (to - from));
      continue;
    }
    const out = Buffer.allocUnsafe(to - from);
    let filled = 0;
    if (from < head.length) filled = head.copy(out, 0, from, Math.min(head.length, to));
    if (filled < out.length) copyPayload(out, filled, start + from + filled - head.length);
    yield out;
  }
}

/** A size drawn from a SizePlan-like spec with the seeded PRNG. */
export function drawSize(size: { kind: "fixed"; bytes: number } | { kind: "uniform"; minBytes: number; maxBytes: number }, random: () => number): number {
  if (size.kind === "fixed") return size.bytes;
  const lo = Math.min(size.minBytes, size.maxBytes);
  const hi = Math.max(size.minBytes, size.maxBytes);
  return lo + Math.min(hi - lo, Math.floor(random() * (hi - lo + 1)));
}
