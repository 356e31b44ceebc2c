/**
 * Interop: two real SIP.js UserAgents (the project's SIP.js runtime and MSRP session description
 * handler, each over its own TCP connection) register at the embedded server and hold a CPM
 * session through the PF: INVITE/200/ACK, MSRP both ways through the PF's anchored legs, a refresh
 * re-INVITE, recovery after a dropped MSRP connection, and BYE from the callee.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Invitation } from "sip.js/lib/api/invitation.js";
import { Inviter } from "sip.js/lib/api/inviter.js";
import type { IncomingResponse } from "sip.js/lib/core/messages/incoming-response.js";
import { Registerer } from "sip.js/lib/api/registerer.js";
import { RegistererState } from "sip.js/lib/api/registerer-state.js";
import type { Session } from "sip.js/lib/api/session.js";
import { SessionState } from "sip.js/lib/api/session-state.js";
import { UserAgent } from "sip.js/lib/api/user-agent.js";
import { URI } from "sip.js/lib/grammar/uri.js";
import { createMsrpSessionDescriptionHandlerFactory, msrpSdhOf } from "../../src/client/msrp-sdh-factory.js";
import type { MsrpSdhCallOptions } from "../../src/client/msrp-sdh.js";
import { createMsrpEndpoint, type MsrpSession } from "../../src/protocol/msrp/index.js";
import { installSipJsRuntime } from "../../src/protocol/sip/sipjs-runtime.js";
import { createCpmServer, type CpmServer } from "../../src/server/index.js";
import { SipJsTcpTransport } from "./support/sipjs-tcp-transport.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
beforeAll(() => installSipJsRuntime());

async function userAgent(server: CpmServer, user: string, invitations: Invitation[] = []): Promise<UserAgent> {
  const endpoint = await createMsrpEndpoint({ listen: false });
  const ua = new UserAgent({
    uri: new URI("sip", user, "cpm.test"),
    transportConstructor: SipJsTcpTransport as never,
    transportOptions: { host: server.sipAddress.host, port: server.sipAddress.port },
    contactParams: { transport: "tcp" },
    sessionDescriptionHandlerFactory: createMsrpSessionDescriptionHandlerFactory({ endpoint, originUsername: user }),
    sendInitialProvisionalResponse: false,
    logLevel: "error",
    logBuiltinEnabled: false,
    logConfiguration: false,
  });
  ua.delegate = {
    onInvite: (invitation) => {
      invitations.push(invitation);
      void invitation.accept();
    },
  };
  await ua.start();
  const registerer = new Registerer(ua, { expires: 600 });
  const registered = new Promise<void>((resolve) => {
    registerer.stateChange.addListener((s) => {
      if (s === RegistererState.Registered) resolve();
    });
  });
  await registerer.register();
  await registered;
  cleanups.push(async () => {
    await ua.stop();
    await endpoint.close();
  });
  return ua;
}

function reachState(session: Session, state: SessionState): Promise<void> {
  if (session.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const listener = (s: SessionState): void => {
      if (s !== state) return;
      session.stateChange.removeListener(listener);
      resolve();
    };
    session.stateChange.addListener(listener);
  });
}

function msrpOf(session: Session): MsrpSession {
  const s = msrpSdhOf(session)?.msrpSession;
  if (!s) throw new Error("no MSRP session");
  return s;
}

async function sendAndReceive(from: MsrpSession, to: MsrpSession, text: string): Promise<string> {
  const got = new Promise<string>((resolve) => to.once("message", (m) => resolve(m.body.toString())));
  const r = await from.send(text, { contentType: "message/cpim" });
  expect(r.ok).toBe(true);
  return got;
}

function reinvite(session: Session, options: MsrpSdhCallOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    session
      .invite({
        sessionDescriptionHandlerOptions: options,
        requestDelegate: {
          onAccept: (r: IncomingResponse) => resolve(r.message.statusCode ?? 0),
          onReject: (r: IncomingResponse) => resolve(r.message.statusCode ?? 0),
        },
      })
      .catch(reject);
  });
}

describe("SIP.js clients through the PF", () => {
  it("set-up, CPIM both ways via the anchored legs, refresh, recovery after a dropped MSRP connection, BYE from the callee", async () => {
    const server = await createCpmServer({ port: 0, domain: "cpm.test", transports: ["tcp"] });
    cleanups.push(() => server.close());
    const invitations: Invitation[] = [];
    const alice = await userAgent(server, "alice");
    await userAgent(server, "bob", invitations);

    const inviter = new Inviter(alice, new URI("sip", "bob", "cpm.test"));
    await inviter.invite();
    await reachState(inviter, SessionState.Established);
    const invitation = invitations[0]!;
    await reachState(invitation, SessionState.Established);
    await Promise.all([msrpSdhOf(inviter)!.ready, msrpSdhOf(invitation)!.ready]);
    // Each client's MSRP peer is the PF, not the other client.
    expect(msrpOf(inviter).remotePath![0]).toContain(`:${server.msrpAddress.port}/`);
    expect(msrpOf(invitation).remotePath![0]).toContain(`:${server.msrpAddress.port}/`);
    expect(msrpOf(inviter).remotePath).not.toEqual(msrpOf(invitation).remotePath);

    expect(await sendAndReceive(msrpOf(inviter), msrpOf(invitation), "hi bob")).toBe("hi bob");
    expect(await sendAndReceive(msrpOf(invitation), msrpOf(inviter), "hi alice")).toBe("hi alice");

    expect(await reinvite(inviter)).toBe(200);
    expect(await sendAndReceive(msrpOf(inviter), msrpOf(invitation), "after refresh")).toBe("after refresh");

    // Alice's MSRP connection drops: she renews her MSRP session with a re-INVITE (§7.4.4).
    const dropped = msrpOf(inviter);
    const closed = new Promise<void>((resolve) => dropped.once("close", () => resolve()));
    dropped.connection!.socket.destroy();
    await closed;
    expect(await reinvite(inviter, { renew: true })).toBe(200);
    await msrpSdhOf(inviter)!.ready;
    expect(msrpOf(inviter)).not.toBe(dropped);
    expect(await sendAndReceive(msrpOf(inviter), msrpOf(invitation), "after the drop")).toBe("after the drop");
    expect(await sendAndReceive(msrpOf(invitation), msrpOf(inviter), "and back")).toBe("and back");

    await invitation.bye();
    await Promise.all([reachState(inviter, SessionState.Terminated), reachState(invitation, SessionState.Terminated)]);
    expect(server.stats().pf).toMatchObject({ sessionsActive: 0, sessionsEstablished: 1, sessionsEnded: 1, reanchored: 1, sessionsFailed: {} });
  });
});
