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
  const m = BYTE_RANGE.exec(value);
  if (!m) return null;
  const start = Number(m[1]);
  const end = m[2] === "*" ? "*" : Number(m[2]);
  const total = m[3] === "*" ? "*" : Number(m[3]);
  if (!Number.isSafeInteger(start) || start < 1) return null;
  if (end !== "*" && (!Number.isSafeInteger(end) || end < start - 1)) return null;
  if (total !== "*" && !Number.isSafeInteger(total)) return null;
  if (end !== "*" && total !== "*" && end > total) return null;
  if (end === "*" && total !== "*" && start > total + 1) return null;
  return { start, end, total };
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
