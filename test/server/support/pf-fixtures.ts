/**
 * PF test fixtures: a server per test, registered test UAs, and `establish()`, which runs a whole
 * session set-up on the wire (INVITE → PF → callee, 180, 200, ACKs, both MSRP legs bound) and
 * returns everything a test needs to go on from there.
 */
import { afterEach, expect } from "vitest";
import type { SipRequest, SipResponse } from "../../../src/protocol/sip/message.js";
import { createCpmServer, type CpmServer, type CpmServerOptions } from "../../../src/server/index.js";
import { MsrpPeer } from "./msrp-peer.js";
import { clientAnswer, clientOffer, type Dialog, msrpMediaOf, TestUa } from "./sip-ua.js";

export function pfFixtures() {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  return {
    defer(fn: () => Promise<void> | void): void {
      cleanup.push(fn);
    },
    async server(opts: CpmServerOptions = {}): Promise<CpmServer> {
      const s = await createCpmServer({ port: 0, domain: "cpm.test", ...opts });
      cleanup.push(() => s.close());
      return s;
    },
    async ua(server: CpmServer, user: string, transport: "tcp" | "udp" = "tcp", register = true): Promise<TestUa> {
      const ua = await TestUa.open(server, user, transport);
      cleanup.push(() => ua.close());
      if (register) expect((await ua.register()).status).toBe(200);
      return ua;
    },
    async msrp(server: CpmServer, sessionId: string): Promise<MsrpPeer> {
      const p = await MsrpPeer.connect(server.msrpAddress.port, sessionId);
      cleanup.push(() => p.destroy());
      return p;
    },
  };
}

export interface Established {
  invite: SipRequest;
  /** What the callee received. */
  bInvite: SipRequest;
  ok: SipResponse;
  aDialog: Dialog;
  bDialog: Dialog;
  bTag: string;
  /** The PF's MSRP path on each leg (from the SDP each client got). */
  pfPathA: string[];
  pfPathB: string[];
  aMsrp: MsrpPeer;
  bMsrp: MsrpPeer;
}

/** A full set-up between registered `a` and `b` with both MSRP legs bound (raw MSRP peers). */
export async function establish(
  fx: ReturnType<typeof pfFixtures>,
  server: CpmServer,
  a: TestUa,
  b: TestUa,
  opts: { ring?: boolean } = {},
): Promise<Established> {
  const aPlan = MsrpPeer.planned();
  const bPlan = MsrpPeer.planned();
  const invite = a.invite(b.aor, { body: clientOffer(aPlan.path) });
  const bInvite = await b.request("INVITE");
  const bTag = `b-${Math.random().toString(36).slice(2)}`;
  if (opts.ring !== false) b.respond(bInvite, 180, { toTag: bTag });
  const pfPathB = msrpMediaOf(bInvite.body).path;
  b.respond(bInvite, 200, { toTag: bTag, body: clientAnswer(bInvite.body, bPlan.path) });
  const ok = await a.final("INVITE");
  expect(ok.status).toBe(200);
  const aDialog = a.ack2xx(invite, ok);
  const bDialog = b.dialogOf(bInvite, bTag);
  const pfPathA = msrpMediaOf(ok.body).path;
  const aMsrp = await fx.msrp(server, aPlan.sessionId);
  const bMsrp = await fx.msrp(server, bPlan.sessionId);
  expect((await aMsrp.bind(pfPathA)).status).toBe(200);
  expect((await bMsrp.bind(pfPathB)).status).toBe(200);
  return { invite, bInvite, ok, aDialog, bDialog, bTag, pfPathA, pfPathB, aMsrp, bMsrp };
}
