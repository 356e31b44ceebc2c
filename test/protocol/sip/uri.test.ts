import { describe, expect, it } from "vitest";
import { addressOfRecord, formatSipUri, parseSipUri } from "../../../src/protocol/sip/uri.js";

describe("parseSipUri", () => {
  it("parses user, password, host, port, params and headers", () => {
    const u = parseSipUri("sip:alice:secret@cpm.example.com:5060;transport=tcp;lr;maddr=239.255.255.1?subject=project%20x&priority=urgent");
    expect(u).toMatchObject({ scheme: "sip", user: "alice", password: "secret", host: "cpm.example.com", port: 5060 });
    expect({ ...u?.params }).toEqual({ transport: "tcp", lr: null, maddr: "239.255.255.1" });
    expect({ ...u?.headers }).toEqual({ subject: "project%20x", priority: "urgent" });
  });

  it("parses sips, IPv4 and IPv6 hosts without user", () => {
    expect(parseSipUri("SIPS:192.0.2.4")).toMatchObject({ scheme: "sips", host: "192.0.2.4" });
    const v6 = parseSipUri("sip:bob@[2001:db8::10]:5070;transport=udp");
    expect(v6).toMatchObject({ user: "bob", host: "[2001:db8::10]", port: 5070 });
    expect(parseSipUri("sip:[::1]")?.host).toBe("[::1]");
  });

  it("keeps escaped characters raw and allows ; in the user part", () => {
    expect(parseSipUri("sip:I%20have%20spaces@example.net")?.user).toBe("I%20have%20spaces");
    expect(parseSipUri("sip:+1-212-555-1212:1234@gateway.com;user=phone")).toMatchObject({
      user: "+1-212-555-1212",
      password: "1234",
      params: { user: "phone" },
    });
    expect(parseSipUri("sip:user;par=u%40example.net@example.com")?.user).toBe("user;par=u%40example.net");
  });

  it("parses tel: URIs with the number as user and no host", () => {
    expect(parseSipUri("tel:+1-201-555-0123;phone-context=example.com")).toEqual({
      scheme: "tel",
      user: "+1-201-555-0123",
      host: "",
      params: { "phone-context": "example.com" },
      headers: {},
    });
  });

  it("returns null for malformed URIs and other schemes", () => {
    for (const bad of [
      "", "sip:", "http://example.com", "mailto:a@b", "sip:@example.com", "sip:a@", "sip:a@b:70000", "sip:a@b:x",
      "sip:a@[::1", "sip:a b@c", "sip:a@b junk", "sip:a@b?noequals", "tel:", "sip:<a@b>", "sip:a@b;=x", "sip:a@[]",
    ]) {
      expect(parseSipUri(bad), bad).toBeNull();
    }
  });

  it("formats back to the same string (parameter names lowercase)", () => {
    for (const s of [
      "sip:alice@cpm.example.com",
      "sips:alice:pw@[2001:db8::1]:5061;transport=tls;lr?x=1&y=2",
      "sip:cpm.example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
      "tel:+12015550123;ext=7",
    ]) {
      expect(formatSipUri(parseSipUri(s)!)).toBe(s);
    }
  });

  it("gives the address of record", () => {
    expect(addressOfRecord(parseSipUri("sip:alice@CPM.Example.com:5060;transport=tcp")!)).toBe("sip:alice@cpm.example.com");
    expect(addressOfRecord(parseSipUri("tel:+1234;ext=1")!)).toBe("tel:+1234");
  });
});
