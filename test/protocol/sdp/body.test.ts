import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { extractMsrpMedia, isSdpBodyType, sdpFromBody } from "../../../src/protocol/sdp/index.js";
import { crlf, RCS_CHAT_OFFER } from "./fixtures.js";

/** RCS chat INVITE with the first message inside (SDP + CPIM), as IMS cores relay it. */
const SDP_PLUS_CPIM = [
  "--boundary1",
  "Content-Type: application/sdp",
  `Content-Length: ${Buffer.byteLength(RCS_CHAT_OFFER)}`,
  "",
  `${RCS_CHAT_OFFER}`,
  "--boundary1",
  "Content-Type: message/cpim",
  "",
  "From: <sip:anonymous@anonymous.invalid>",
  "To: <sip:anonymous@anonymous.invalid>",
  "NS: imdn <urn:ietf:params:imdn>",
  "imdn.Message-ID: Msg6rn78PUQzC",
  "",
  "Content-type: text/plain; charset=utf-8",
  "",
  "subject",
  "--boundary1--",
  "",
].join("\r\n");

/** CPM group INVITE (§7.5.1): resource list first, then the SDP; a preamble before the first part. */
const GROUP_INVITE = crlf(
  "This is a multi-part message in MIME format.",
  "--=_Part_3144",
  "Content-Type: application/resource-lists+xml",
  "Content-Disposition: recipient-list",
  "",
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><list><entry uri="sip:bob@cpm.example"/></list></resource-lists>',
  "--=_Part_3144",
  "content-type: Application/SDP;charset=utf-8",
  "",
  "v=0",
  "o=- 1 1 IN IP4 127.0.0.1",
  "s=-",
  "c=IN IP4 127.0.0.1",
  "t=0 0",
  "m=message 9 TCP/MSRP *",
  "a=accept-types:message/cpim",
  "a=path:msrp://127.0.0.1:7000/grp1;tcp",
  "a=setup:active",
  "",
  "--=_Part_3144--",
);

describe("sdpFromBody", () => {
  it("returns a plain SDP body as it is", () => {
    expect(sdpFromBody(RCS_CHAT_OFFER)).toBe(RCS_CHAT_OFFER);
    expect(sdpFromBody(`\r\n${RCS_CHAT_OFFER}`)).toBe(RCS_CHAT_OFFER);
  });

  it("finds the SDP part before a CPIM part, byte for byte", () => {
    expect(sdpFromBody(SDP_PLUS_CPIM)).toBe(RCS_CHAT_OFFER);
  });

  it("finds the SDP part after a resource list, past a preamble, with any header case and parameters", () => {
    const sdp = sdpFromBody(GROUP_INVITE);
    const m = extractMsrpMedia(sdp ?? "");
    expect(m.ok && m.media.path).toEqual(["msrp://127.0.0.1:7000/grp1;tcp"]);
  });

  it("reads LF-only multipart bodies", () => {
    const sdp = sdpFromBody(SDP_PLUS_CPIM.replaceAll("\r\n", "\n"));
    expect(sdp).toBe(RCS_CHAT_OFFER.replaceAll("\r\n", "\n"));
  });

  it("returns null when there is no SDP part or no body", () => {
    expect(sdpFromBody("")).toBeNull();
    expect(sdpFromBody("  \r\n")).toBeNull();
    expect(sdpFromBody("hello")).toBeNull();
    expect(sdpFromBody(crlf("--b", "Content-Type: text/plain", "", "hi", "--b--"))).toBeNull();
    expect(sdpFromBody(crlf("--b", "Content-Type: application/sdp"))).toBeNull(); // no blank line: no content
  });

  it("never throws on random input", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (s) => {
        const r = sdpFromBody(s);
        expect(r === null || typeof r === "string").toBe(true);
      }),
      { numRuns: 1000 },
    );
    const piece = fc.constantFrom("--b", "--b--", "Content-Type: application/sdp", "", "v=0", "\r", "x");
    fc.assert(fc.property(fc.array(piece, { maxLength: 12 }), (ls) => void sdpFromBody(ls.join("\r\n"))), { numRuns: 1000 });
  });

  it("names the body types it reads", () => {
    expect(isSdpBodyType("application/sdp")).toBe(true);
    expect(isSdpBodyType("multipart/mixed;boundary=\"boundary1\"")).toBe(true);
    expect(isSdpBodyType("message/cpim")).toBe(false);
  });
});
