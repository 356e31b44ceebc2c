/**
 * sip:, sips: and tel: URIs (RFC 3261 19.1, RFC 3966). Components are kept as written (escaped
 * characters stay escaped, the host keeps its case and an IPv6 reference its brackets) so that
 * formatSipUri(parseSipUri(s)) reproduces s; comparison rules (RFC 3261 19.1.4) are the caller's.
 * Pure: malformed input gives null.
 */

export interface SipUri {
  /** Lowercased: "sip", "sips" or "tel". */
  scheme: "sip" | "sips" | "tel";
  /** The user part (for tel: the number, e.g. "+1-201-555-0123"). */
  user?: string;
  password?: string;
  /** Hostname, IPv4 address or bracketed IPv6 reference ("[2001:db8::1]"); "" for tel:. */
  host: string;
  port?: number;
  /** URI parameters (transport, lr, user, maddr, gr, ...): names lowercased, values raw, null when valueless. */
  params: Record<string, string | null>;
  /** URI headers after "?" (name as written, value raw). */
  headers: Record<string, string>;
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Characters never valid unescaped anywhere in a SIP URI (whitespace, controls, quotes, <>). */
function isForbidden(c: number): boolean {
  return c <= 32 || c === 127 || c === 34 || c === 60 || c === 62;
}

/** Parses a sip:, sips: or tel: URI; null when malformed or another scheme. */
export function parseSipUri(s: string): SipUri | null {
  const colon = s.indexOf(":");
  if (colon < 3 || colon > 4) return null;
  const schemeRaw = s.slice(0, colon).toLowerCase();
  if (schemeRaw !== "sip" && schemeRaw !== "sips" && schemeRaw !== "tel") return null;
  const scheme = schemeRaw as SipUri["scheme"];
  const n = s.length;
  for (let i = colon + 1; i < n; i++) if (isForbidden(s.charCodeAt(i))) return null;

  if (scheme === "tel") {
    const semi = s.indexOf(";", colon + 1);
    const end = semi < 0 ? n : semi;
    const number = s.slice(colon + 1, end);
    if (number.length === 0 || number.indexOf("?") >= 0 || number.indexOf("@") >= 0) return null;
    const params = parseUriParams(s, end, n);
    if (params === null) return null;
    return { scheme, user: number, host: "", params, headers: {} };
  }

  let i = colon + 1;
  let user: string | undefined;
  let password: string | undefined;
  // The user part cannot hold an unescaped "@" (but may hold ";", "?", "/", ...), so the first "@"
  // ends it (RFC 4475 3.1.1.2 and 3.1.1.8 rely on this).
  const at = s.indexOf("@", i);
  if (at >= 0) {
    const userinfo = s.slice(i, at);
    const pc = userinfo.indexOf(":");
    user = pc < 0 ? userinfo : userinfo.slice(0, pc);
    if (pc >= 0) password = userinfo.slice(pc + 1);
    if (user.length === 0) return null;
    i = at + 1;
  }
  const hostStart = i;
  if (i < n && s.charCodeAt(i) === 91 /* [ */) {
    const close = s.indexOf("]", i);
    if (close < 0) return null;
    for (let j = i + 1; j < close; j++) {
      const c = s.charCodeAt(j);
      if (!(isAlnum(c) || c === 58 || c === 46)) return null;
    }
    if (close === i + 1) return null;
    i = close + 1;
  } else {
    while (i < n) {
      const c = s.charCodeAt(i);
      if (!(isAlnum(c) || c === 45 || c === 46 || c === 95)) break;
      i++;
    }
  }
  if (i === hostStart) return null;
  const host = s.slice(hostStart, i);
  let port: number | undefined;
  if (i < n && s.charCodeAt(i) === 58) {
    const ps = ++i;
    let v = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + c - 48;
      i++;
    }
    if (i === ps || i - ps > 5 || v > 65535) return null;
    port = v;
  }
  const q = s.indexOf("?", i);
  const paramsEnd = q < 0 ? n : q;
  if (i < paramsEnd && s.charCodeAt(i) !== 59 /* ; */) return null;
  const params = parseUriParams(s, i, paramsEnd);
  if (params === null) return null;
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  if (q >= 0) {
    for (const pair of s.slice(q + 1).split("&")) {
      if (pair.length === 0) continue;
      const eq = pair.indexOf("=");
      if (eq <= 0) return null;
      headers[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  const uri: SipUri = { scheme, host, params, headers };
  if (user !== undefined) uri.user = user;
  if (password !== undefined) uri.password = password;
  if (port !== undefined) uri.port = port;
  return uri;
}

function parseUriParams(s: string, i: number, end: number): Record<string, string | null> | null {
  const params: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
  if (i >= end) return params;
  if (s.charCodeAt(i) !== 59) return null;
  for (const part of s.slice(i + 1, end).split(";")) {
    if (part.length === 0) continue;
    const eq = part.indexOf("=");
    if (eq === 0) return null;
    if (eq < 0) params[part.toLowerCase()] = null;
    else params[part.slice(0, eq).toLowerCase()] = part.slice(eq + 1);
  }
  return params;
}

/** Formats a URI; parameter names come out lowercased, everything else as stored. */
export function formatSipUri(u: SipUri): string {
  let out = `${u.scheme}:`;
  if (u.scheme === "tel") out += u.user ?? "";
  else {
    if (u.user !== undefined) out += u.password !== undefined ? `${u.user}:${u.password}@` : `${u.user}@`;
    out += u.host;
    if (u.port !== undefined) out += `:${u.port}`;
  }
  for (const k in u.params) {
    const v = u.params[k];
    out += v === null || v === undefined ? `;${k}` : `;${k}=${v}`;
  }
  let sep = "?";
  for (const k in u.headers) {
    out += `${sep}${k}=${u.headers[k]}`;
    sep = "&";
  }
  return out;
}

/**
 * The address-of-record form of a URI: scheme, user and host without port, parameters or headers,
 * scheme and host lowercased (what a registrar keys bindings by).
 */
export function addressOfRecord(u: SipUri): string {
  if (u.scheme === "tel") return `tel:${u.user ?? ""}`;
  return `${u.scheme}:${u.user !== undefined ? `${u.user}@` : ""}${u.host.toLowerCase()}`;
}
