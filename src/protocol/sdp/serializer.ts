/**
 * SDP serializer: the model back to text with CRLF line ends (RFC 8866 §5), every line in the
 * order the model holds it. Trusts the model (values without CR/LF, as the parser produces them).
 */
import type { SdpLine, SdpMedia, SdpOrigin, SessionDescription } from "./message.js";

const CRLF = "\r\n";

export function formatOrigin(o: SdpOrigin): string {
  return `${o.username} ${o.sessionId} ${o.sessionVersion} ${o.netType} ${o.addrType} ${o.address}`;
}

export function formatMediaLine(m: SdpMedia): string {
  const port = m.portCount === undefined ? `${m.port}` : `${m.port}/${m.portCount}`;
  return `${m.media} ${port} ${m.proto} ${m.formats.join(" ")}`;
}

function formatLine(line: SdpLine): string {
  if (line.kind === "field") return `${line.type}=${line.value}`;
  return line.value === null ? `a=${line.name}` : `a=${line.name}:${line.value}`;
}

export function serializeSdp(sdp: SessionDescription): string {
  let out = `v=${sdp.version}${CRLF}o=${formatOrigin(sdp.origin)}${CRLF}s=${sdp.sessionName}${CRLF}`;
  for (const line of sdp.lines) out += formatLine(line) + CRLF;
  for (const m of sdp.media) {
    out += `m=${formatMediaLine(m)}${CRLF}`;
    for (const line of m.lines) out += formatLine(line) + CRLF;
  }
  return out;
}
