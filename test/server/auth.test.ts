/**
 * Digest authentication of REGISTER over real UDP sockets: challenges parsed from the wire and
 * answered with the codec's digest functions.
 */
import { describe, expect, it } from "vitest";
import {
  buildDigestCredentials,
  formatDigestCredentials,
  parseDigestChallenge,
  type DigestChallenge,
} from "../../src/protocol/sip/digest.js";
import { getHeader, getHeaderLines } from "../../src/protocol/sip/headers.js";
import type { SipResponse } from "../../src/protocol/sip/message.js";
import type { CpmServer, CpmServerOptions } from "../../src/server/index.js";
import { FakeClock } from "../../src/time/clock.js";
import { request, serverFixtures, type UdpPeer } from "./peers.js";

const fixtures = serverFixtures();

async function setup(opts: CpmServerOptions = {}): Promise<{ s: CpmServer; peer: UdpPeer }> {
  const s = await fixtures.server({
    transports: ["udp"],
    auth: { realm: "cpm.test", passwordTemplate: "{user}-secret", users: [{ user: "bob", password: "bobs-password" }] },
    ...opts,
  });
  return { s, peer: await fixtures.udpPeer() };
}

function challengesOf(r: SipResponse): DigestChallenge[] {
  return getHeaderLines(r, "WWW-Authenticate").map((v) => parseDigestChallenge(v)!);
}

function authorization(challenge: DigestChallenge, user: string, password: string, uri = "sip:cpm.test"): string {
  const creds = buildDigestCredentials({ challenge, username: user, password, method: "REGISTER", uri, cnonce: "c0ffee", nc: 1 })!;
  return `Authorization: ${formatDigestCredentials(creds)}`;
}

describe("digest authentication", () => {
  it("401 with an MD5 challenge, then the right MD5 answer → 200", async () => {
    const { s, peer } = await setup();
    const port = s.sipAddress.port;
    const first = await peer.exchange(request({ user: "alice", callId: "a1", cseq: 1, expires: 300 }), port);
    expect([first.status, first.reason]).toEqual([401, "Unauthorized"]);
    const [challenge, ...others] = challengesOf(first);
    expect(others).toEqual([]);
    expect(challenge).toMatchObject({ realm: "cpm.test", algorithm: "MD5", qop: ["auth"] });
    expect(challenge!.stale).toBeUndefined();
    expect(s.stats().contacts).toBe(0);
    const second = await peer.exchange(
      request({ user: "alice", callId: "a1", cseq: 2, expires: 300, headers: [authorization(challenge!, "alice", "alice-secret")] }),
      port,
    );
    expect(second.status).toBe(200);
    expect(s.stats()).toMatchObject({ contacts: 1, responses: { "401": 1, "200": 1 } });
  });

  it("offers SHA-256 then MD5 in the configured order and accepts a SHA-256 answer", async () => {
    const { s, peer } = await setup({ auth: { realm: "cpm.test", algorithms: ["SHA-256", "MD5"], passwordTemplate: "{user}-secret" } });
    const port = s.sipAddress.port;
    const first = await peer.exchange(request({ user: "alice", callId: "a1", cseq: 1 }), port);
    const challenges = challengesOf(first);
    expect(challenges.map((c) => c.algorithm)).toEqual(["SHA-256", "MD5"]);
    const second = await peer.exchange(
      request({ user: "alice", callId: "a1", cseq: 2, headers: [authorization(challenges[0]!, "alice", "alice-secret")] }),
      port,
    );
    expect(second.status).toBe(200);
  });

  it("an answer with an algorithm that was not offered is challenged again", async () => {
    const { s, peer } = await setup();
    const port = s.sipAddress.port;
    const first = await peer.exchange(request({ callId: "a1", cseq: 1 }), port);
    const sha = { ...challengesOf(first)[0]!, algorithm: "SHA-256" };
    const second = await peer.exchange(request({ callId: "a1", cseq: 2, headers: [authorization(sha, "alice", "alice-secret")] }), port);
    expect(second.status).toBe(401);
  });

  it("users from the list take precedence over the template", async () => {
    const { s, peer } = await setup();
    const port = s.sipAddress.port;
    const first = await peer.exchange(request({ user: "bob", callId: "b1", cseq: 1 }), port);
    const challenge = challengesOf(first)[0]!;
    const templated = await peer.exchange(request({ user: "bob", callId: "b1", cseq: 2, headers: [authorization(challenge, "bob", "bob-secret")] }), port);
    expect(templated.status).toBe(403);
    const listed = await peer.exchange(request({ user: "bob", callId: "b1", cseq: 3, headers: [authorization(challenge, "bob", "bobs-password")] }), port);
    expect(listed.status).toBe(200);
  });

  it("a wrong password is 403 Forbidden and registers nothing", async () => {
    const { s, peer } = await setup();
    const port = s.sipAddress.port;
    const first = await peer.exchange(request({ callId: "a1", cseq: 1 }), port);
    const r = await peer.exchange(request({ callId: "a1", cseq: 2, headers: [authorization(challengesOf(first)[0]!, "alice", "guess")] }), port);
    expect([r.status, r.reason]).toEqual([403, "Forbidden"]);
    expect(s.stats().contacts).toBe(0);
  });

  it("an unknown user is 403 (no user enumeration)", async () => {
    const { s, peer } = await setup({ auth: { realm: "cpm.test", users: [{ user: "bob", password: "pw" }] } });
    const port = s.sipAddress.port;
    const first = await peer.exchange(request({ user: "mallory", callId: "m1", cseq: 1 }), port);
    const r = await peer.exchange(request({ user: "mallory", callId: "m1", cseq: 2, headers: [authorization(challengesOf(first)[0]!, "mallory", "pw")] }), port);
    expect(r.status).toBe(403);
  });

  it("valid credentials of another user than the To user are 403", async () => {
    const { s, peer } = await setup();
    const port = s.sipAddress.port;
    const first = await peer.exchange(request({ user: "alice", callId: "a1", cseq: 1 }), port);
    const r = await peer.exchange(request({ user: "alice", callId: "a1", cseq: 2, headers: [authorization(challengesOf(first)[0]!, "carol", "carol-secret")] }), port);
    expect(r.status).toBe(403);
  });

  it("credentials for another realm are answered with a new challenge", async () => {
    const { s, peer } = await setup();
    const port = s.sipAddress.port;
    const first = await peer.exchange(request({ callId: "a1", cseq: 1 }), port);
    const foreign = { ...challengesOf(first)[0]!, realm: "other.example" };
    const r = await peer.exchange(request({ callId: "a1", cseq: 2, headers: [authorization(foreign, "alice", "alice-secret")] }), port);
    expect(r.status).toBe(401);
    expect(challengesOf(r)[0]!.realm).toBe("cpm.test");
  });

  it("a nonce the server did not issue is challenged again (not stale)", async () => {
    const { s, peer } = await setup();
    const port = s.sipAddress.port;
    const first = await peer.exchange(request({ callId: "a1", cseq: 1 }), port);
    const forged = { ...challengesOf(first)[0]!, nonce: "18c1d2e3f40.AAAAAAAAAAAAAAAAAAAAAA" };
    const r = await peer.exchange(request({ callId: "a1", cseq: 2, headers: [authorization(forged, "alice", "alice-secret")] }), port);
    expect(r.status).toBe(401);
    expect(challengesOf(r)[0]!.stale).toBeUndefined();
  });

  it("an old nonce with the right password → 401 stale=true; the fresh nonce then works", async () => {
    const clock = new FakeClock();
    const { s, peer } = await setup({ clock, nonceLifetimeMs: 60_000 });
    const port = s.sipAddress.port;
    const first = await peer.exchange(request({ callId: "a1", cseq: 1 }), port);
    const old = challengesOf(first)[0]!;
    clock.advanceMs(61_000);
    const stale = await peer.exchange(request({ callId: "a1", cseq: 2, headers: [authorization(old, "alice", "alice-secret")] }), port);
    expect(stale.status).toBe(401);
    const fresh = challengesOf(stale)[0]!;
    expect(fresh.stale).toBe(true);
    expect(fresh.nonce).not.toBe(old.nonce);
    // Staleness is not disclosed to a wrong password.
    const wrong = await peer.exchange(request({ callId: "a1", cseq: 3, headers: [authorization(old, "alice", "nope")] }), port);
    expect(wrong.status).toBe(403);
    const ok = await peer.exchange(request({ callId: "a1", cseq: 4, headers: [authorization(fresh, "alice", "alice-secret")] }), port);
    expect(ok.status).toBe(200);
  });

  it("OPTIONS is not challenged", async () => {
    const { s, peer } = await setup();
    const r = await peer.exchange(request({ method: "OPTIONS" }), s.sipAddress.port);
    expect(r.status).toBe(200);
    expect(getHeader(r, "WWW-Authenticate")).toBeUndefined();
  });
});
