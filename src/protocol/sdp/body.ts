/**
 * The SDP inside a SIP body. CPM INVITEs often carry `multipart/mixed` (RFC 5621): SDP plus a
 * resource list (group sessions, §7.5.1) or plus the first CPIM message (RCS). SIP.js hands the
 * session description handler the body without its Content-Type header, so the boundary is taken
 * from the body itself: the first line starting with `--` (RFC 2046 §5.1.1 delimiter; any preamble
 * before it is skipped). Total: returns null when no SDP part is found.
 */

const SDP_TYPE = /^content-type:[ \t]*application\/sdp[ \t]*(;|$)/im;

export function sdpFromBody(body: string): string | null {
  const start = body.search(/\S/);
  if (start < 0) return null;
  if (body.startsWith("v=", start)) return body.slice(start);
  const at = body.startsWith("--") ? 0 : body.indexOf("\n--") + 1;
  if (at === 0 && !body.startsWith("--")) return null;
  const eol = body.indexOf("\n", at);
  const delimiter = (eol < 0 ? body.slice(at) : body.slice(at, eol)).trimEnd();
  if (delimiter.length <= 2) return null;
  // Parts sit between delimiters; the close delimiter (`--boundary--`) ends the last one.
  const pieces = body.slice(at + delimiter.length).split(`\n${delimiter}`);
  for (const piece of pieces) {
    if (piece.startsWith("--")) break;
    const blank = /\r?\n\r?\n/.exec(piece);
    if (blank === null) continue;
    const headers = piece.slice(0, blank.index);
    if (!SDP_TYPE.test(headers)) continue;
    let content = piece.slice(blank.index + blank[0].length);
    // The CRLF before the next delimiter belongs to the delimiter (RFC 2046).
    if (content.endsWith("\r")) content = content.slice(0, -1);
    return content;
  }
  return null;
}

/** Content types whose bodies sdpFromBody can read. */
export function isSdpBodyType(contentType: string): boolean {
  const semi = contentType.indexOf(";");
  const t = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return t === "application/sdp" || t === "multipart/mixed";
}
