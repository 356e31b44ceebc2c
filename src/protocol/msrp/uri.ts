/**
 * MSRP URIs (RFC 4975 §6): `msrp[s]://[userinfo@]host[:port][/session-id];transport[;param]*`.
 * The host is kept without IPv6 brackets so it can be handed to net.connect as is; the formatter
 * puts the brackets back.
 */
export interface MsrpUri {
  scheme: "msrp" | "msrps";
  user?: string;
  host: string;
  port?: number;
  sessionId?: string;
  /** `tcp` in practice; any alphanumeric token is accepted. */
  transport: string;
  params: Record<string, string | null>;
}

const SESSION_ID = /^[A-Za-z0-9\-._~+=/%]+$/;
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const ALPHANUM = /^[A-Za-z0-9]+$/;
const REG_NAME = /^[A-Za-z0-9\-._~%!$&'()*+,=]+$/;
const IPV6 = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9._~-]+)?$/;

export function parseMsrpUri(s: string): MsrpUri | null {
  const text = s.trim();
  const sep = text.indexOf("://");
  if (sep < 0) return null;
  const scheme = text.slice(0, sep).toLowerCase();
  if (scheme !== "msrp" && scheme !== "msrps") return null;
  const rest = text.slice(sep + 3);
  const semi = rest.indexOf(";");
  if (semi < 0) return null; // the transport parameter is mandatory
  const main = rest.slice(0, semi);
  const paramTexts = rest.slice(semi + 1).split(";");

  const slash = main.indexOf("/");
  let authority = slash < 0 ? main : main.slice(0, slash);
  const sessionId = slash < 0 ? undefined : main.slice(slash + 1);
  if (sessionId !== undefined && !SESSION_ID.test(sessionId)) return null;

  let user: string | undefined;
  const at = authority.lastIndexOf("@");
  if (at >= 0) {
    user = authority.slice(0, at);
    authority = authority.slice(at + 1);
    if (user.length === 0) return null;
  }

  let host: string;
  let portText: string | undefined;
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close < 0) return null;
    host = authority.slice(1, close);
    if (!IPV6.test(host) || !host.includes(":")) return null;
    const after = authority.slice(close + 1);
    if (after.length > 0) {
      if (!after.startsWith(":")) return null;
      portText = after.slice(1);
    }
  } else {
    const colon = authority.indexOf(":");
    host = colon < 0 ? authority : authority.slice(0, colon);
    if (colon >= 0) portText = authority.slice(colon + 1);
    if (!REG_NAME.test(host)) return null;
  }
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return null;
    port = Number(portText);
    if (port > 65535) return null;
  }

  const transport = paramTexts[0]!;
  if (!ALPHANUM.test(transport)) return null;
  const params: Record<string, string | null> = {};
  for (const p of paramTexts.slice(1)) {
    const eq = p.indexOf("=");
    const name = eq < 0 ? p : p.slice(0, eq);
    const value = eq < 0 ? null : p.slice(eq + 1);
    if (!TOKEN.test(name) || (value !== null && !TOKEN.test(value))) return null;
    params[name] = value;
  }

  const uri: MsrpUri = { scheme, host, transport, params };
  if (user !== undefined) uri.user = user;
  if (port !== undefined) uri.port = port;
  if (sessionId !== undefined) uri.sessionId = sessionId;
  return uri;
}

export function formatMsrpUri(u: MsrpUri): string {
  const host = u.host.includes(":") ? `[${u.host}]` : u.host;
  let s = `${u.scheme}://`;
  if (u.user !== undefined) s += `${u.user}@`;
  s += host;
  if (u.port !== undefined) s += `:${u.port}`;
  if (u.sessionId !== undefined) s += `/${u.sessionId}`;
  s += `;${u.transport}`;
  for (const [k, v] of Object.entries(u.params)) s += v === null ? `;${k}` : `;${k}=${v}`;
  return s;
}

/**
 * URI equality of RFC 4975 §6.1: scheme, host and transport case-insensitively, port exactly,
 * session-id case-sensitively; userinfo and other parameters do not take part.
 */
export function msrpUrisEqual(a: MsrpUri | string, b: MsrpUri | string): boolean {
  const x = typeof a === "string" ? parseMsrpUri(a) : a;
  const y = typeof b === "string" ? parseMsrpUri(b) : b;
  if (!x || !y) return false;
  return (
    x.scheme === y.scheme &&
    x.host.toLowerCase() === y.host.toLowerCase() &&
    x.port === y.port &&
    x.sessionId === y.sessionId &&
    x.transport.toLowerCase() === y.transport.toLowerCase()
  );
}
