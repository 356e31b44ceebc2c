import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  buildDigestCredentials,
  computeDigestResponse,
  formatDigestChallenge,
  formatDigestCredentials,
  parseAuthParams,
  parseDigestChallenge,
  parseDigestCredentials,
  pickDigestChallenge,
  verifyDigestCredentials,
} from "../../../src/protocol/sip/digest.js";
import { getHeaderValues } from "../../../src/protocol/sip/headers.js";
import { parseSipMessage } from "../../../src/protocol/sip/parser.js";
import { fixture } from "./fixtures.js";

describe("computeDigestResponse", () => {
  it("matches the RFC 2617 section 3.5 example (MD5, qop=auth)", () => {
    expect(
      computeDigestResponse({
        algorithm: "MD5",
        username: "Mufasa",
        realm: "testrealm@host.com",
        password: "Circle Of Life",
        method: "GET",
        uri: "/dir/index.html",
        nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop: "auth",
        nc: 1,
        cnonce: "0a4f113b",
      }),
    ).toBe("6629fae49393a05397450978507c4ef1");
  });

  const rfc7616 = {
    username: "Mufasa",
    realm: "http-auth@example.org",
    password: "Circle of Life",
    method: "GET",
    uri: "/dir/index.html",
    nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    qop: "auth",
    nc: "00000001",
    cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
  };

  it("matches the RFC 7616 section 3.9.1 examples (SHA-256 and MD5)", () => {
    expect(computeDigestResponse({ ...rfc7616, algorithm: "SHA-256" })).toBe(
      "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
    );
    expect(computeDigestResponse({ ...rfc7616, algorithm: "MD5" })).toBe("8ca523f5e9506fed4657c9700eebdbec");
  });

  it("computes the RFC 2069 form without qop: H(HA1:nonce:HA2)", () => {
    const md5 = (x: string) => createHash("md5").update(x).digest("hex");
    const ha1 = md5("Mufasa:testrealm@host.com:Circle Of Life");
    const ha2 = md5("GET:/dir/index.html");
    expect(ha1).toBe("939e7578ed9e3c518a452acee763bce9"); // RFC 2617 3.5's HA1
    expect(
      computeDigestResponse({
        algorithm: "MD5",
        username: "Mufasa",
        realm: "testrealm@host.com",
        password: "Circle Of Life",
        method: "GET",
        uri: "/dir/index.html",
        nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
      }),
    ).toBe(md5(`${ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:${ha2}`));
  });

  it("differs for -sess and auth-int, which hash in cnonce and body", () => {
    const base = { ...rfc7616, algorithm: "SHA-256" as const };
    const plain = computeDigestResponse(base);
    expect(computeDigestResponse({ ...base, algorithm: "SHA-256-sess" })).not.toBe(plain);
    const int1 = computeDigestResponse({ ...base, qop: "auth-int", body: "a" });
    const int2 = computeDigestResponse({ ...base, qop: "auth-int", body: "b" });
    expect(int1).not.toBe(int2);
    expect(int1).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("challenges and credentials", () => {
  it("parses Kamailio's SHA-256 and MD5 challenges and prefers SHA-256", () => {
    const r = parseSipMessage(fixture("401-kamailio.sip"));
    if (!r.ok) throw new Error(r.error.message);
    const values = getHeaderValues(r.message, "WWW-Authenticate");
    const c = parseDigestChallenge(values[1]!);
    expect(c).toMatchObject({ realm: "cpm.example.com", nonce: "Y2hZcGbXa7ww0fd6N4pqVvMlVXK+Jxg1", algorithm: "MD5", qop: ["auth"] });
    expect(pickDigestChallenge(values)?.algorithm).toBe("SHA-256");
    expect(pickDigestChallenge(values, ["MD5"])?.algorithm).toBe("MD5");
    expect(pickDigestChallenge(['Digest realm="r", nonce="n", algorithm=SHA-512-256'])).toBeNull();
  });

  it("parses quoted strings with commas and escapes, unquoted tokens, stale and opaque", () => {
    const c = parseDigestChallenge('Digest realm="a, \\"b\\"",nonce="n,1" , opaque="o", stale=TRUE, qop="auth-int, auth", algorithm=sha-256');
    expect(c).toMatchObject({ realm: 'a, "b"', nonce: "n,1", opaque: "o", stale: true, qop: ["auth-int", "auth"], algorithm: "sha-256" });
    expect(parseAuthParams("Digest")).toEqual({ scheme: "Digest", params: {} });
  });

  it("rejects malformed or non-Digest values", () => {
    for (const bad of ['Basic realm="x"', 'Digest realm="x"', 'Digest realm="x, nonce="y"', "Digest realm", 'Digest realm="r" nonce="n"', ""]) {
      expect(parseDigestChallenge(bad), bad).toBeNull();
    }
    expect(parseDigestCredentials('Digest username="u", realm="r"')).toBeNull();
  });

  it("builds credentials a server verifies, and formats/parses them losslessly", () => {
    const challenge = parseDigestChallenge(
      formatDigestChallenge({ realm: "cpm.example.com", nonce: "abc123", algorithm: "SHA-256", qop: ["auth"], opaque: "op" }),
    )!;
    const creds = buildDigestCredentials({
      challenge,
      username: "alice",
      password: "pw",
      method: "REGISTER",
      uri: "sip:cpm.example.com",
      cnonce: "c0ffee",
      nc: 1,
    })!;
    expect(creds).toMatchObject({ qop: "auth", nc: "00000001", cnonce: "c0ffee", opaque: "op", algorithm: "SHA-256" });
    const wire = formatDigestCredentials(creds);
    expect(wire).toContain("qop=auth, nc=00000001");
    const parsed = parseDigestCredentials(wire)!;
    expect(parsed).toMatchObject({ username: "alice", realm: "cpm.example.com", uri: "sip:cpm.example.com", response: creds.response });
    expect(verifyDigestCredentials(parsed, { password: "pw", method: "REGISTER" })).toBe(true);
    expect(verifyDigestCredentials(parsed, { password: "wrong", method: "REGISTER" })).toBe(false);
    expect(verifyDigestCredentials(parsed, { password: "pw", method: "INVITE" })).toBe(false);
  });

  it("answers a challenge without qop in the RFC 2069 form, and needs a cnonce when qop is offered", () => {
    const noQop = parseDigestChallenge('Digest realm="r", nonce="n"')!;
    const creds = buildDigestCredentials({ challenge: noQop, username: "u", password: "p", method: "INVITE", uri: "sip:b@r" })!;
    expect(creds.qop).toBeUndefined();
    expect(creds.nc).toBeUndefined();
    expect(verifyDigestCredentials(parseDigestCredentials(formatDigestCredentials(creds))!, { password: "p", method: "INVITE" })).toBe(true);
    const withQop = parseDigestChallenge('Digest realm="r", nonce="n", qop="auth"')!;
    expect(buildDigestCredentials({ challenge: withQop, username: "u", password: "p", method: "INVITE", uri: "sip:b@r" })).toBeNull();
  });
});
