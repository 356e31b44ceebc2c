/**
 * Byte-Range (`start-end/total`, RFC 4975 §7.1.1) and Status (`000 200 OK`, §7.1.2) header values.
 * Both parsers are total: a malformed value gives null, never a throw.
 */

/** 1-based inclusive byte positions; `*` = not known (yet) by the sender. */
export interface ByteRange {
  start: number;
  end: number | "*";
  total: number | "*";
}

const BYTE_RANGE = /^\s*(\d{1,16})-(\d{1,16}|\*)\/(\d{1,16}|\*)\s*$/;

/**
 * Parses a Byte-Range value. Rejects start < 1, end < start - 1 (`1-0/0` is the empty message),
 * end > total and numbers beyond Number.MAX_SAFE_INTEGER.
 */
export function parseByteRange(value: string): ByteRange | null {
  // Every chunk carries one, and relays and receivers read it: the plain `start-end/total` form
  // is read digit by digit without a match array; anything else (spaces, `*`) takes the regex.
  const fast = plainByteRange(value);
  if (fast !== undefined) return fast;
  const m = BYTE_RANGE.exec(value);
  if (!m) return null;
  return checkedRange(Number(m[1]), m[2] === "*" ? "*" : Number(m[2]), m[3] === "*" ? "*" : Number(m[3]));
}

/** The range rules of parseByteRange on parsed numbers. */
function checkedRange(start: number, end: number | "*", total: number | "*"): ByteRange | null {
  if (!Number.isSafeInteger(start) || start < 1) return null;
  if (end !== "*" && (!Number.isSafeInteger(end) || end < start - 1)) return null;
  if (total !== "*" && !Number.isSafeInteger(total)) return null;
  if (end !== "*" && total !== "*" && end > total) return null;
  if (end === "*" && total !== "*" && start > total + 1) return null;
  return { start, end, total };
}

const DIGIT_0 = 48;
const DASH = 45;
const SLASH = 47;

/**
 * `digits-digits/digits` (1-16 digits each, nothing around): the range, or null when it breaks a
 * rule; undefined for any other shape (the regex decides).
 */
function plainByteRange(value: string): ByteRange | null | undefined {
  const n = value.length;
  const start = digitsAt(value, 0);
  if (start < 0) return undefined;
  let i = digitEnd;
  if (i >= n || value.charCodeAt(i) !== DASH) return undefined;
  const end = digitsAt(value, i + 1);
  if (end < 0) return undefined;
  i = digitEnd;
  if (i >= n || value.charCodeAt(i) !== SLASH) return undefined;
  const total = digitsAt(value, i + 1);
  if (total < 0 || digitEnd !== n) return undefined;
  return checkedRange(start, end, total);
}

/** Where the last digitsAt stopped (one module-level slot instead of a result object). */
let digitEnd = 0;

/** The number written by 1-16 digits at `from` (digitEnd after them), or -1 when there are none or more. */
function digitsAt(value: string, from: number): number {
  let v = 0;
  let i = from;
  const n = value.length;
  while (i < n) {
    const d = value.charCodeAt(i) - DIGIT_0;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
    i++;
  }
  const count = i - from;
  if (count === 0 || count > 16) return -1;
  digitEnd = i;
  return v;
}

export function formatByteRange(r: ByteRange): string {
  return `${r.start}-${r.end}/${r.total}`;
}

/** The Status header of a REPORT: a 3-digit namespace (000 = MSRP), a status code and a reason. */
export interface MsrpStatus {
  namespace: number;
  code: number;
  reason?: string;
}

const STATUS = /^\s*(\d{3}) (\d{3})(?: ([^\r\n]*?))?\s*$/;

export function parseStatusHeader(value: string): MsrpStatus | null {
  const m = STATUS.exec(value);
  if (!m) return null;
  const s: MsrpStatus = { namespace: Number(m[1]), code: Number(m[2]) };
  if (m[3] !== undefined && m[3] !== "") s.reason = m[3];
  return s;
}

export function formatStatusHeader(s: MsrpStatus): string {
  const ns = String(s.namespace).padStart(3, "0");
  const code = String(s.code).padStart(3, "0");
  return s.reason ? `${ns} ${code} ${s.reason}` : `${ns} ${code}`;
}
