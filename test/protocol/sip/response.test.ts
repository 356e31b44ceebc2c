import { describe, expect, it } from "vitest";
import { getHeader, getHeaderValues, parseNameAddr } from "../../../src/protocol/sip/headers.js";
import type { SipRequest } from "../../../src/protocol/sip/message.js";
import { parseSipMessage } from "../../../src/protocol/sip/parser.js";
import { createResponse, hasTagParam, reasonPhrase } from "../../../src/protocol/sip/response.js";
import { serializeSipMessage } from "../../../src/protocol/sip/serializer.js";
import { fixture } from "./fixtures.js";

function request(name: string): SipRequest {
  const r = parseSipMessage(fixture(name));
  if (!r.ok || r.message.kind !== "request") throw new Error("request fixture expected");
  return r.message;
}

describe("createResponse", () => {
  it("copies every Via in order, From, To with the new tag, Call-ID and CSeq", () => {
    const req = request("compact-folded.sip");
    const res = createResponse(req, 200, undefined, { toTag: "srv1" });
    expect(res.kind).toBe("response");
    expect(res.status).toBe(200);
    expect(res.reason).toBe("OK");
    expect(res.headers.map(([n]) => n)).toEqual(["Via", "Via", "From", "To", "Call-ID", "CSeq"]);
    expect(getHeaderValues(res, "Via")).toEqual(getHeaderValues(req, "Via"));
    // The request's To already carries a tag (in-dialog NOTIFY): it is kept, not doubled.
    expect(getHeader(res, "To")).toBe("<sip:alice@cpm.example.com>;tag=tvabb1o0mh");
    expect(res.body.length).toBe(0);
  });

  it("adds the To-tag to an out-of-dialog request and appends extra headers", () => {
    const req = request("register-sipjs.sip");
    const res = createResponse(req, 401, undefined, {
      toTag: "t9",
      headers: [["www-authenticate", 'Digest realm="r", nonce="n"']],
    });
    expect(res.reason).toBe("Unauthorized");
    expect(parseNameAddr(getHeader(res, "To")!)?.params.tag).toBe("t9");
    expect(res.headers.at(-1)).toEqual(["WWW-Authenticate", 'Digest realm="r", nonce="n"']);
  });

  it("accepts extra headers as the 4th argument directly and a custom reason", () => {
    const res = createResponse(request("options.sip"), 200, "Fine", [["Allow", "INVITE, MESSAGE"]]);
    expect(res.reason).toBe("Fine");
    expect(getHeader(res, "Allow")).toBe("INVITE, MESSAGE");
    expect(getHeader(res, "To")).toBe("<sip:cpm.example.com>");
  });

  it("copies Record-Route into 1xx/2xx (dialog-creating) responses only", () => {
    const req = request("invite-sdp.sip");
    req.headers.push(["Record-Route", "<sip:pf.example.com;lr>"]);
    expect(getHeaderValues(createResponse(req, 180, undefined, { toTag: "x" }), "Record-Route")).toEqual(["<sip:pf.example.com;lr>"]);
    expect(getHeaderValues(createResponse(req, 486), "Record-Route")).toEqual([]);
    expect(getHeaderValues(createResponse(req, 100), "Record-Route")).toEqual([]);
  });

  it("serializes into a response that parses back", () => {
    const res = createResponse(request("message-cpim.sip"), 202, undefined, { toTag: "abc", body: Buffer.from("ok") });
    const back = parseSipMessage(serializeSipMessage(res));
    expect(back.ok && back.message).toEqual({ ...res, headers: [...res.headers, ["Content-Length", "2"]] });
  });

  it("knows reason phrases, with class fallbacks", () => {
    expect(reasonPhrase(481)).toBe("Call/Transaction Does Not Exist");
    expect(reasonPhrase(199)).toBe("Early Dialog Terminated");
    expect(reasonPhrase(299)).toBe("Success");
    expect(reasonPhrase(499)).toBe("Client Error");
    expect(reasonPhrase(699)).toBe("Global Failure");
  });

  it("detects header tags only outside the URI", () => {
    expect(hasTagParam("<sip:a@b;tag=1>")).toBe(false);
    expect(hasTagParam("<sip:a@b>;tag=1")).toBe(true);
    expect(hasTagParam("sip:a@b ; TAG = 1")).toBe(true);
    expect(hasTagParam("<sip:a@b>;tagx=1")).toBe(false);
  });
});
