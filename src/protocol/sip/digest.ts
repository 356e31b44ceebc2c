/**
 * HTTP Digest authentication as SIP uses it (RFC 3261 22.4, RFC 2617, RFC 7616, RFC 8760):
 * parsing and formatting of challenges (WWW-Authenticate, Proxy-Authenticate) and credentials
 * (Authorization, Proxy-Authorization), and the response computation for MD5 and SHA-256 (and
 * their -sess variants), with qop=auth / auth-int or without qop. Pure: bad input gives null.
 */
import { createHash } from "node:crypto";

export type DigestAlgorithm = "MD5" | "SHA-256" | "MD5-sess" | "SHA-256-sess";

const ALGORITHMS: Record<string, DigestAlgorithm> = {
  "MD5": "MD5",
  "SHA-256": "SHA-256",
  "MD5-SESS": "MD5-sess",
  "SHA-256-SESS": "SHA-256-sess",
};

/** The algorithm for a wire token (case-insensitive; absent means MD5), or null when unsupported. */
export function digestAlgorithm(token: string | undefined): DigestAlgorithm | null {
  if (token === undefined || token === "") return "MD5";
  return ALGORITHMS[token.toUpperCase()] ?? null;
}

export interface DigestChallenge {
  realm: string;
  nonce: string;
  /** As on the wire; "MD5" when absent. Unsupported values are kept (see digestAlgorithm()). */
  algorithm: string;
  /** qop options offered ("auth", "auth-int"); absent when the challenge has no qop (RFC 2069 style). */
  qop?: string[];
  opaque?: string;
  stale?: boolean;
  domain?: string;
  /** Every auth-param, names lowercased, quoted values unquoted. */
  params: Record<string, string>;
}

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm?: string;
  /** "auth" or "auth-int" when the challenge offered qop. */
  qop?: string;
  /** 8 hex digits. */
  nc?: string;
  cnonce?: string;
  opaque?: string;
  params: Record<string, string>;
}

/**
 * Splits `Digest a=b, c="d,e"` into its scheme and auth-params. Null when the value is not
 * `scheme 1#auth-param` (unterminated quotes, missing "=", junk between params).
 */
export function parseAuthParams(value: string): { scheme: string; params: Record<string, string> } | null {
  const n = value.length;
  let i = 0;
  while (i < n && isWs(value.charCodeAt(i))) i++;
  const schemeStart = i;
  while (i < n && isToken(value.charCodeAt(i))) i++;
  if (i === schemeStart) return null;
  const scheme = value.slice(schemeStart, i);
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  let first = true;
  for (;;) {
    while (i < n && isWs(value.charCodeAt(i))) i++;
    if (i >= n) break;
    if (!first) {
      if (value.charCodeAt(i) !== 44 /* , */) return null;
      i++;
      while (i < n && (isWs(value.charCodeAt(i)) || value.charCodeAt(i) === 44)) i++;
      if (i >= n) break;
    }
    first = false;
    const nameStart = i;
    while (i < n && isToken(value.charCodeAt(i))) i++;
    if (i === nameStart) return null;
    const name = value.slice(nameStart, i).toLowerCase();
    while (i < n && isWs(value.charCodeAt(i))) i++;
    if (i >= n || value.charCodeAt(i) !== 61 /* = */) return null;
    i++;
    while (i < n && isWs(value.charCodeAt(i))) i++;
    if (i < n && value.charCodeAt(i) === 34 /* " */) {
      let out = "";
      let j = i + 1;
      let closed = false;
      let segStart = j;
      for (; j < n; j++) {
        const c = value.charCodeAt(j);
        if (c === 92 /* \ */) {
          out += value.slice(segStart, j);
          j++;
          segStart = j;
        } else if (c === 34) {
          out += value.slice(segStart, j);
          closed = true;
          break;
        }
      }
      if (!closed) return null;
      params[name] = out;
      i = j + 1;
    } else {
      const vs = i;
      while (i < n && isToken(value.charCodeAt(i))) i++;
      // Tolerate token68-like values some servers send unquoted (base64 nonces with / and =).
      while (i < n && (value.charCodeAt(i) === 47 || value.charCodeAt(i) === 61)) {
        i++;
        while (i < n && isToken(value.charCodeAt(i))) i++;
      }
      if (i === vs) return null;
      params[name] = value.slice(vs, i);
    }
  }
  return { scheme, params };
}

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}

function isToken(c: number): boolean {
  return (
    (c >= 48 && c <= 57) ||
    (c >= 65 && c <= 90) ||
    (c >= 97 && c <= 122) ||
    c === 45 || c === 46 || c === 33 || c === 37 || c === 42 || c === 95 || c === 43 || c === 96 || c === 39 || c === 126
  );
}

/** Parses a WWW-Authenticate / Proxy-Authenticate value; null unless a Digest challenge with realm and nonce. */
export function parseDigestChallenge(value: string): DigestChallenge | null {
  const p = parseAuthParams(value);
  if (p === null || p.scheme.toLowerCase() !== "digest") return null;
  const { realm, nonce } = p.params;
  if (realm === undefined || nonce === undefined) return null;
  const c: DigestChallenge = { realm, nonce, algorithm: p.params.algorithm ?? "MD5", params: p.params };
  if (p.params.qop !== undefined) {
    c.qop = p.params.qop
      .split(",")
      .map((q) => q.trim().toLowerCase())
      .filter((q) => q.length > 0);
  }
  if (p.params.opaque !== undefined) c.opaque = p.params.opaque;
  if (p.params.stale !== undefined) c.stale = p.params.stale.toLowerCase() === "true";
  if (p.params.domain !== undefined) c.domain = p.params.domain;
  return c;
}

/** Parses an Authorization / Proxy-Authorization value; null unless Digest with the required fields. */
export function parseDigestCredentials(value: string): DigestCredentials | null {
  const p = parseAuthParams(value);
  if (p === null || p.scheme.toLowerCase() !== "digest") return null;
  const { username, realm, nonce, uri, response } = p.params;
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) {
    return null;
  }
  const c: DigestCredentials = { username, realm, nonce, uri, response, params: p.params };
  const { algorithm, qop, nc, cnonce, opaque } = p.params;
  if (algorithm !== undefined) c.algorithm = algorithm;
  if (qop !== undefined) c.qop = qop.toLowerCase();
  if (nc !== undefined) c.nc = nc;
  if (cnonce !== undefined) c.cnonce = cnonce;
  if (opaque !== undefined) c.opaque = opaque;
  return c;
}

function quote(s: string): string {
  return `"${s.replace(/(["\\])/g, "\\$1")}"`;
}

/** Formats a challenge: `Digest realm="..", nonce="..", [opaque=".."], [stale=TRUE], algorithm=.., [qop=".."]`. */
export function formatDigestChallenge(c: {
  realm: string;
  nonce: string;
  algorithm?: string;
  qop?: string[];
  opaque?: string;
  stale?: boolean;
  domain?: string;
}): string {
  let out = `Digest realm=${quote(c.realm)}`;
  if (c.domain !== undefined) out += `, domain=${quote(c.domain)}`;
  out += `, nonce=${quote(c.nonce)}`;
  if (c.opaque !== undefined) out += `, opaque=${quote(c.opaque)}`;
  if (c.stale) out += ", stale=TRUE";
  out += `, algorithm=${c.algorithm ?? "MD5"}`;
  if (c.qop !== undefined && c.qop.length > 0) out += `, qop=${quote(c.qop.join(","))}`;
  return out;
}

/** Formats credentials with RFC 7616 quoting (algorithm, qop and nc unquoted). */
export function formatDigestCredentials(c: Omit<DigestCredentials, "params">): string {
  let out = `Digest username=${quote(c.username)}, realm=${quote(c.realm)}, nonce=${quote(c.nonce)}, uri=${quote(c.uri)}, response=${quote(c.response)}`;
  if (c.algorithm !== undefined) out += `, algorithm=${c.algorithm}`;
  if (c.cnonce !== undefined) out += `, cnonce=${quote(c.cnonce)}`;
  if (c.opaque !== undefined) out += `, opaque=${quote(c.opaque)}`;
  if (c.qop !== undefined) out += `, qop=${c.qop}`;
  if (c.nc !== undefined) out += `, nc=${c.nc}`;
  return out;
}

export interface DigestInput {
  algorithm: DigestAlgorithm;
  username: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  /** "auth" or "auth-int"; absent for the RFC 2069 form. */
  qop?: string;
  /** Nonce count: a number (formatted as 8 hex digits) or the 8-hex-digit string. */
  nc?: number | string;
  cnonce?: string;
  /** The message body, for qop=auth-int. */
  body?: Buffer | string;
}

function hasher(algorithm: DigestAlgorithm): (s: string | Buffer) => string {
  const name = algorithm.startsWith("SHA-256") ? "sha256" : "md5";
  return (s) => createHash(name).update(s).digest("hex");
}

/** Formats a nonce count as the 8 lowercase hex digits the wire form needs. */
export function formatNonceCount(nc: number | string): string {
  return typeof nc === "number" ? nc.toString(16).padStart(8, "0") : nc;
}

/**
 * The request-digest (RFC 7616 3.4.1): with qop, H(HA1:nonce:nc:cnonce:qop:HA2); without qop,
 * H(HA1:nonce:HA2); -sess algorithms hash the nonce and cnonce into HA1; auth-int hashes the body
 * into HA2. Returns lowercase hex.
 */
export function computeDigestResponse(p: DigestInput): string {
  const H = hasher(p.algorithm);
  let ha1 = H(`${p.username}:${p.realm}:${p.password}`);
  if (p.algorithm.endsWith("-sess")) ha1 = H(`${ha1}:${p.nonce}:${p.cnonce ?? ""}`);
  const qop = p.qop?.toLowerCase();
  const ha2 =
    qop === "auth-int" ? H(`${p.method}:${p.uri}:${H(p.body ?? "")}`) : H(`${p.method}:${p.uri}`);
  if (qop === "auth" || qop === "auth-int") {
    return H(`${ha1}:${p.nonce}:${formatNonceCount(p.nc ?? 1)}:${p.cnonce ?? ""}:${qop}:${ha2}`);
  }
  return H(`${ha1}:${p.nonce}:${ha2}`);
}

/**
 * Answers a challenge: credentials for `method uri` with qop=auth when offered (else auth-int when
 * only that is offered and a body is given, else no qop). Null when the algorithm is unsupported.
 */
export function buildDigestCredentials(opts: {
  challenge: DigestChallenge;
  username: string;
  password: string;
  method: string;
  uri: string;
  /** Client nonce; required when the challenge offers qop (callers choose the randomness). */
  cnonce?: string;
  nc?: number;
  body?: Buffer | string;
}): DigestCredentials | null {
  const { challenge } = opts;
  const algorithm = digestAlgorithm(challenge.algorithm);
  if (algorithm === null) return null;
  let qop: string | undefined;
  if (challenge.qop !== undefined) {
    if (challenge.qop.includes("auth")) qop = "auth";
    else if (challenge.qop.includes("auth-int")) qop = "auth-int";
    else return null;
  }
  const cnonce = qop !== undefined || algorithm.endsWith("-sess") ? (opts.cnonce ?? "") : undefined;
  if (cnonce === "") return null;
  const nc = qop !== undefined ? formatNonceCount(opts.nc ?? 1) : undefined;
  const input: DigestInput = {
    algorithm,
    username: opts.username,
    realm: challenge.realm,
    password: opts.password,
    method: opts.method,
    uri: opts.uri,
    nonce: challenge.nonce,
  };
  if (qop !== undefined) input.qop = qop;
  if (nc !== undefined) input.nc = nc;
  if (cnonce !== undefined) input.cnonce = cnonce;
  if (opts.body !== undefined) input.body = opts.body;
  const creds: DigestCredentials = {
    username: opts.username,
    realm: challenge.realm,
    nonce: challenge.nonce,
    uri: opts.uri,
    response: computeDigestResponse(input),
    algorithm: challenge.algorithm,
    params: {},
  };
  if (cnonce !== undefined) creds.cnonce = cnonce;
  if (challenge.opaque !== undefined) creds.opaque = challenge.opaque;
  if (qop !== undefined) creds.qop = qop;
  if (nc !== undefined) creds.nc = nc;
  return creds;
}

/**
 * Server side: true when `creds` carry the right response for `method` and the user's password.
 * The caller checks the nonce (issued by it, not stale) and the realm separately.
 */
export function verifyDigestCredentials(
  creds: DigestCredentials,
  opts: { password: string; method: string; body?: Buffer | string },
): boolean {
  const algorithm = digestAlgorithm(creds.algorithm);
  if (algorithm === null) return false;
  if (creds.qop !== undefined && (creds.nc === undefined || creds.cnonce === undefined)) return false;
  const input: DigestInput = {
    algorithm,
    username: creds.username,
    realm: creds.realm,
    password: opts.password,
    method: opts.method,
    uri: creds.uri,
    nonce: creds.nonce,
  };
  if (creds.qop !== undefined) input.qop = creds.qop;
  if (creds.nc !== undefined) input.nc = creds.nc;
  if (creds.cnonce !== undefined) input.cnonce = creds.cnonce;
  if (opts.body !== undefined) input.body = opts.body;
  const expected = computeDigestResponse(input);
  return expected.length === creds.response.length && expected === creds.response.toLowerCase();
}

/**
 * Picks the challenge to answer from several (RFC 8760 3: a server may offer SHA-256 and MD5;
 * the client uses the first it supports in its preference order). Null when none is usable.
 */
export function pickDigestChallenge(
  values: string[],
  prefer: DigestAlgorithm[] = ["SHA-256", "MD5", "SHA-256-sess", "MD5-sess"],
): DigestChallenge | null {
  const parsed = values.map(parseDigestChallenge).filter((c): c is DigestChallenge => c !== null);
  for (const algorithm of prefer) {
    const c = parsed.find((x) => digestAlgorithm(x.algorithm) === algorithm);
    if (c !== undefined) return c;
  }
  return null;
}
