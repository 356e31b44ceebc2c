/**
 * SDP parser (RFC 8866 §5): total, bad input gives a typed SdpParseError, never a throw.
 *
 * Strict where a mistake would change the meaning (v=0 first, then o= with six fields and s=;
 * well-formed m= and c= lines; attribute names are tokens), lenient where real stacks differ
 * without harm: lines may end in CRLF or a bare LF (RFC 8866 §5 asks parsers to accept LF), runs
 * of spaces between the fields of o=/c=/m= count as one, blank lines are skipped (a multipart body
 * or a hand-written INVITE often leaves one at the end), and `t=` is not required (some gateways
 * drop it; nothing here depends on it). Line types are any lower-case letter so lines from later
 * extensions pass through untouched.
 */
import {
  type SdpConnection,
  type SdpLine,
  type SdpMedia,
  type SdpOrigin,
  SdpParseError,
  type SdpParseResult,
  type SessionDescription,
} from "./message.js";

/** RFC 8866 token (att-field): printable US-ASCII except `"(),/:;<=>?@[\]` and space. */
const TOKEN = /^[!#-'*+\-.0-9A-Z^-~]+$/;
const TYPE = /^[a-z]$/;
const PORT = /^\d{1,5}$/;
const COUNT = /^[1-9]\d{0,4}$/;
/** byte-string of RFC 8866: anything but NUL, CR and LF (LF cannot occur after the split). */
const BAD_VALUE_CHAR = /[\0\r]/;

export interface SdpParseOptions {
  /** Longest accepted description in characters (bytes for a Buffer); default 65,536. */
  maxLength?: number;
}

const DEFAULT_MAX_LENGTH = 65_536;

function fields(value: string): string[] {
  return value.split(" ").filter((f) => f.length > 0);
}

export function parseOrigin(value: string): SdpOrigin | null {
  const f = fields(value);
  if (f.length !== 6) return null;
  return { username: f[0]!, sessionId: f[1]!, sessionVersion: f[2]!, netType: f[3]!, addrType: f[4]!, address: f[5]! };
}

export function parseConnection(value: string): SdpConnection | null {
  const f = fields(value);
  if (f.length !== 3) return null;
  return { netType: f[0]!, addrType: f[1]!, address: f[2]! };
}

function parseMediaLine(value: string): SdpMedia | null {
  const f = fields(value);
  if (f.length < 4) return null;
  const [media, portText, proto] = [f[0]!, f[1]!, f[2]!];
  if (!TOKEN.test(media)) return null;
  const slash = portText.indexOf("/");
  const portPart = slash < 0 ? portText : portText.slice(0, slash);
  if (!PORT.test(portPart)) return null;
  const port = Number(portPart);
  if (port > 65535) return null;
  // proto is `token *("/" token)`.
  if (!proto.split("/").every((p) => TOKEN.test(p))) return null;
  const m: SdpMedia = { media, port, proto, formats: f.slice(3), lines: [] };
  if (slash >= 0) {
    const countText = portText.slice(slash + 1);
    if (!COUNT.test(countText)) return null;
    m.portCount = Number(countText);
  }
  return m;
}

function parseLine(type: string, value: string): SdpLine | null {
  if (type !== "a") return { kind: "field", type, value };
  const colon = value.indexOf(":");
  const name = colon < 0 ? value : value.slice(0, colon);
  if (!TOKEN.test(name)) return null;
  return { kind: "attribute", name, value: colon < 0 ? null : value.slice(colon + 1) };
}

function fail(code: SdpParseError["code"], message: string, line?: number): SdpParseResult {
  return { ok: false, error: new SdpParseError(code, message, line) };
}

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

export function parseSdp(data: Buffer | string, options: SdpParseOptions = {}): SdpParseResult {
  const max = options.maxLength ?? DEFAULT_MAX_LENGTH;
  if (data.length > max) return fail("too-large", `the description is ${data.length} long, the limit is ${max}`);
  const text = typeof data === "string" ? data : data.toString("utf8");

  // [line number, type, value] of every non-blank line.
  const raw: Array<[number, string, string]> = [];
  const split = text.split("\n");
  for (let i = 0; i < split.length; i++) {
    let line = split[i]!;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.length === 0) continue;
    const type = line.slice(0, 1);
    const value = line.slice(2);
    if (!TYPE.test(type) || line[1] !== "=" || BAD_VALUE_CHAR.test(value)) {
      return fail("bad-line", `line ${i + 1} is not <letter>=<value>: ${quote(line)}`, i + 1);
    }
    raw.push([i + 1, type, value]);
  }
  if (raw.length === 0) return fail("empty", "the description has no lines");

  const [vLine, vType, vValue] = raw[0]!;
  if (vType !== "v" || vValue !== "0") return fail("bad-version", "the first line must be v=0", vLine);
  const o = raw[1];
  const origin = o !== undefined && o[1] === "o" ? parseOrigin(o[2]) : null;
  if (origin === null) {
    return fail("bad-origin", "the second line must be o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>", o?.[0]);
  }
  const s = raw[2];
  if (s === undefined || s[1] !== "s") return fail("bad-session-name", "the third line must be s=<session name>", s?.[0]);

  const sdp: SessionDescription = { version: 0, origin, sessionName: s[2], lines: [], media: [] };
  let current: { lines: SdpLine[] } = sdp;
  for (let k = 3; k < raw.length; k++) {
    const [n, type, value] = raw[k]!;
    if (type === "m") {
      const media = parseMediaLine(value);
      if (media === null) return fail("bad-media", `line ${n} is not m=<media> <port> <proto> <fmt>…: ${quote(value)}`, n);
      sdp.media.push(media);
      current = media;
      continue;
    }
    if (type === "c" && parseConnection(value) === null) {
      return fail("bad-connection", `line ${n} is not c=<nettype> <addrtype> <address>: ${quote(value)}`, n);
    }
    const line = parseLine(type, value);
    if (line === null) return fail("bad-attribute", `line ${n} has no valid attribute name: ${quote(value)}`, n);
    current.lines.push(line);
  }
  return { ok: true, sdp };
}
