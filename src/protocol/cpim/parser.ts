/**
 * CPIM parser (RFC 3862 §3): message headers, blank line, MIME content headers, blank line,
 * content. Total: bad input gives a typed error. Lines may end in CRLF or a bare LF (some stacks
 * write LF); MIME header lines folded with leading whitespace are unfolded. When the content
 * headers carry a Content-Length shorter than what follows, the content is cut to it (some
 * senders append a CRLF); a longer one means the content was truncated, which is an error.
 */
import { CpimParseError, type CpimHeaderList, type CpimParseResult } from "./message.js";

const NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;

interface Section {
  headers: CpimHeaderList;
  next: number;
}

function readSection(buf: Buffer, from: number, what: string): Section | CpimParseError {
  const headers: CpimHeaderList = [];
  let i = from;
  for (;;) {
    const lf = buf.indexOf(0x0a, i);
    if (lf < 0) return new CpimParseError("missing-separator", `the ${what} are not followed by a blank line`);
    const lineEnd = lf > i && buf[lf - 1] === 0x0d ? lf - 1 : lf;
    const line = buf.toString("utf8", i, lineEnd);
    i = lf + 1;
    if (line === "") return { headers, next: i };
    if ((line[0] === " " || line[0] === "\t") && headers.length > 0) {
      const last = headers[headers.length - 1]!;
      last[1] = `${last[1]} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(":");
    const name = colon < 0 ? "" : line.slice(0, colon);
    if (!NAME.test(name)) {
      return new CpimParseError("bad-header", `malformed ${what} line: ${JSON.stringify(line.slice(0, 80))}`);
    }
    headers.push([name, line.slice(colon + 1).trim()]);
  }
}

export function parseCpim(data: Buffer | string): CpimParseResult {
  const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const msg = readSection(buf, 0, "message headers");
  if (msg instanceof CpimParseError) return { ok: false, error: msg };
  const content = readSection(buf, msg.next, "content headers");
  if (content instanceof CpimParseError) return { ok: false, error: content };
  let body = buf.subarray(content.next);
  const lengthText = content.headers.find(([n]) => n.toLowerCase() === "content-length")?.[1];
  if (lengthText !== undefined) {
    if (!/^\d{1,15}$/.test(lengthText)) {
      return { ok: false, error: new CpimParseError("bad-content-length", `invalid Content-Length: ${lengthText}`) };
    }
    const n = Number(lengthText);
    if (n > body.length) {
      return {
        ok: false,
        error: new CpimParseError("bad-content-length", `Content-Length ${n} but only ${body.length} bytes of content`),
      };
    }
    body = body.subarray(0, n);
  }
  return { ok: true, message: { headers: msg.headers, contentHeaders: content.headers, body } };
}
