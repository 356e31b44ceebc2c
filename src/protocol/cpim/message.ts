/**
 * The CPIM message model (RFC 3862, `message/cpim`), the payload of every CPM message.
 *
 * Two header sections: message headers (From, To, cc, DateTime, Subject, NS, Require and
 * namespaced extensions such as `imdn.Message-ID`), then the MIME headers of the encapsulated
 * content (Content-Type, Content-Length, Content-Disposition ...), then the content bytes.
 * Headers are ordered [name, raw value] pairs as on the wire. Extension headers are written
 * `<prefix>.<Name>`, where an `NS: <prefix> <urn>` header declared the prefix; lookups by
 * namespace URN go through that declaration, so a peer choosing another prefix still works.
 */
export type CpimHeaderList = Array<[name: string, value: string]>;

export interface CpimMessage {
  headers: CpimHeaderList;
  contentHeaders: CpimHeaderList;
  body: Buffer;
}

export type CpimParseErrorCode =
  /** A header section is not followed by its blank line. */
  | "missing-separator"
  | "bad-header"
  | "bad-content-length";

export class CpimParseError extends Error {
  constructor(
    readonly code: CpimParseErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "CpimParseError";
  }
}

export type CpimParseResult = { ok: true; message: CpimMessage } | { ok: false; error: CpimParseError };

function find(list: CpimHeaderList, name: string): string | undefined {
  for (const [n, v] of list) if (n === name) return v;
  const lower = name.toLowerCase();
  for (const [n, v] of list) if (n.toLowerCase() === lower) return v;
  return undefined;
}

/** `NS: prefix <urn>` declarations, prefix → URN (an empty prefix is the default namespace). */
export function cpimNamespaces(m: Pick<CpimMessage, "headers">): Map<string, string> {
  const out = new Map<string, string>();
  for (const [n, v] of m.headers) {
    if (n.toLowerCase() !== "ns") continue;
    const match = /^\s*([^\s<]*)\s*<([^>]*)>\s*$/.exec(v);
    if (match) out.set(match[1]!, match[2]!);
  }
  return out;
}

/**
 * The header name to use for `name` in namespace `urn`: the declared prefix, else `fallback`
 * (the prefix peers conventionally use, e.g. `imdn`) so undeclared but customary names still match.
 */
function qualifiedName(m: Pick<CpimMessage, "headers">, name: string, urn: string, fallback?: string): string[] {
  const names: string[] = [];
  for (const [prefix, u] of cpimNamespaces(m)) if (u === urn) names.push(prefix === "" ? name : `${prefix}.${name}`);
  if (fallback !== undefined && !names.includes(`${fallback}.${name}`)) names.push(`${fallback}.${name}`);
  return names;
}

/** First value of a message header; with `urn`, a header of that namespace (see module comment). */
export function getCpimHeader(
  m: Pick<CpimMessage, "headers">,
  name: string,
  ns?: { urn: string; prefix?: string },
): string | undefined {
  if (!ns) return find(m.headers, name);
  for (const q of qualifiedName(m, name, ns.urn, ns.prefix)) {
    const v = find(m.headers, q);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** All values of a message header (To and cc may repeat), in order. */
export function getCpimHeaders(m: Pick<CpimMessage, "headers">, name: string, ns?: { urn: string; prefix?: string }): string[] {
  const names = new Set((ns ? qualifiedName(m, name, ns.urn, ns.prefix) : [name]).map((n) => n.toLowerCase()));
  return m.headers.filter(([n]) => names.has(n.toLowerCase())).map(([, v]) => v);
}

export function getContentHeader(m: Pick<CpimMessage, "contentHeaders">, name: string): string | undefined {
  return find(m.contentHeaders, name);
}

/** A From/To/cc value: `Display Name <uri>` or `<uri>`. */
export interface CpimAddress {
  displayName?: string;
  uri: string;
}

export function parseCpimAddress(value: string): CpimAddress | null {
  const v = value.trim();
  const lt = v.lastIndexOf("<");
  if (lt < 0 || !v.endsWith(">")) return v && !/[\s<>]/.test(v) ? { uri: v } : null;
  const uri = v.slice(lt + 1, -1).trim();
  if (!uri) return null;
  let name = v.slice(0, lt).trim();
  if (name.startsWith('"') && name.endsWith('"') && name.length >= 2) name = name.slice(1, -1).replace(/\\(.)/g, "$1");
  return name ? { displayName: name, uri } : { uri };
}

export function formatCpimAddress(a: CpimAddress | string): string {
  if (typeof a === "string") return a.includes("<") ? a : `<${a}>`;
  if (!a.displayName) return `<${a.uri}>`;
  const plain = /^[A-Za-z0-9 !#$%&'*+\-./=?^_`{|}~]+$/.test(a.displayName);
  const name = plain ? a.displayName : `"${a.displayName.replace(/["\\]/g, "\\$&")}"`;
  return `${name} <${a.uri}>`;
}
