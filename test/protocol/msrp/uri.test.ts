import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatMsrpUri, msrpUrisEqual, parseMsrpUri } from "../../../src/protocol/msrp/index.js";
import { msrpUriArb } from "./arbitraries.js";

describe("MSRP URIs", () => {
  it("parses the a=path form used in SDP", () => {
    expect(parseMsrpUri("msrp://127.0.0.1:2855/kjhd37s2s20w2a;tcp")).toEqual({
      scheme: "msrp",
      host: "127.0.0.1",
      port: 2855,
      sessionId: "kjhd37s2s20w2a",
      transport: "tcp",
      params: {},
    });
  });

  it("parses msrps, userinfo, IPv6 hosts and extra parameters", () => {
    expect(parseMsrpUri("MSRPS://bob@[2001:db8::7]:9000/a+b=c/d;tcp;rcs;ver=2")).toEqual({
      scheme: "msrps",
      user: "bob",
      host: "2001:db8::7",
      port: 9000,
      sessionId: "a+b=c/d",
      transport: "tcp",
      params: { rcs: null, ver: "2" },
    });
    expect(parseMsrpUri("msrp://relay.example.com;tcp")).toEqual({
      scheme: "msrp",
      host: "relay.example.com",
      transport: "tcp",
      params: {},
    });
  });

  it("formats IPv6 hosts with brackets", () => {
    const u = parseMsrpUri("msrp://[::1]:2855/s1;tcp")!;
    expect(u.host).toBe("::1");
    expect(formatMsrpUri(u)).toBe("msrp://[::1]:2855/s1;tcp");
  });

  it("rejects what is not an MSRP URI", () => {
    for (const bad of [
      "",
      "sip:alice@example.com",
      "msrp://127.0.0.1:2855/abc", // no transport
      "msrp://127.0.0.1:99999/abc;tcp",
      "msrp://127.0.0.1:28a5/abc;tcp",
      "msrp://[::1/abc;tcp",
      "msrp://[nothex]:1/abc;tcp",
      "msrp://host:1/a b;tcp",
      "msrp://@host:1/abc;tcp",
      "msrp://host:1/abc;t-p",
      "http://host:1/abc;tcp",
    ]) {
      expect(parseMsrpUri(bad), bad).toBeNull();
    }
  });

  it("round-trips any URI (property)", () => {
    fc.assert(
      fc.property(msrpUriArb, (u) => {
        expect(parseMsrpUri(formatMsrpUri(u))).toEqual(u);
      }),
    );
  });

  it("compares as RFC 4975 §6.1 says: host and scheme case-insensitive, session-id exact", () => {
    expect(msrpUrisEqual("msrp://PF.example.com:2855/abc;TCP", "MSRP://pf.example.com:2855/abc;tcp")).toBe(true);
    expect(msrpUrisEqual("msrp://u@h:1/abc;tcp", "msrp://h:1/abc;tcp;x=1")).toBe(true);
    expect(msrpUrisEqual("msrp://h:1/abc;tcp", "msrp://h:1/ABC;tcp")).toBe(false);
    expect(msrpUrisEqual("msrp://h:1/abc;tcp", "msrp://h:2/abc;tcp")).toBe(false);
    expect(msrpUrisEqual("msrp://h:1/abc;tcp", "msrps://h:1/abc;tcp")).toBe(false);
    expect(msrpUrisEqual("garbage", "garbage")).toBe(false);
  });
});
