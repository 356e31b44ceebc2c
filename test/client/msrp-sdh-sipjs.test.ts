/**
 * The MSRP SDH driven by SIP.js itself: two real UserAgents (with the project's SIP.js runtime)
 * joined by an in-memory pipe transport (no proxy: the PF is not in this test), each with the
 * MSRP SDH factory over its own real MSRP endpoint on 127.0.0.1. Checks that SIP.js's calls into
 * the handler (INVITE/200/ACK, re-INVITE both ways, 488 with rollback, BYE) give a working MSRP
 * stream and release every session.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { EmitterImpl } from "sip.js/lib/api/emitter.js";
import type { Invitation } from "sip.js/lib/api/invitation.js";
import { Inviter } from "sip.js/lib/api/inviter.js";
import type { IncomingResponse } from "sip.js/lib/core/messages/incoming-response.js";
import type { Session } from "sip.js/lib/api/session.js";
import { SessionState } from "sip.js/lib/api/session-state.js";
import { TransportState } from "sip.js/lib/api/transport-state.js";
import { UserAgent } from "sip.js/lib/api/user-agent.js";
import { URI } from "sip.js/lib/grammar/uri.js";
import { checkMsrpOffer, createMsrpSessionDescriptionHandlerFactory, msrpSdhOf } from "../../src/client/msrp-sdh-factory.js";
import type { MsrpSdhCallOptions, MsrpSessionDescriptionHandler } from "../../src/client/msrp-sdh.js";
import { createMsrpEndpoint, type MsrpEndpoint, type MsrpSession } from "../../src/protocol/msrp/index.js";
import { installSipJsRuntime } from "../../src/protocol/sip/sipjs-runtime.js";

/** Delivers every message to the other UA of the pair on a later turn (as a socket would). */
class PipeTransport {
  readonly protocol = "TCP";
  onConnect: (() => void) | undefined;
  onDisconnect: ((error?: Error) => void) | undefined;
  onMessage: ((message: string) => void) | undefined;
  state = TransportState.Disconnected;
  readonly stateChange = new EmitterImpl<TransportState>();
  peer: PipeTransport | undefined;

  constructor(_logger: unknown, options: { register: (t: PipeTransport) => void }) {
    options.register(this);
  }
  isConnected(): boolean {
    return this.state === TransportState.Connected;
  }
  async connect(): Promise<void> {
    this.state = TransportState.Connected;
    this.stateChange.emit(this.state);
    this.onConnect?.();
  }
  async disconnect(): Promise<void> {
    this.state = TransportState.Disconnected;
    this.stateChange.emit(this.state);
  }
  async dispose(): Promise<void> {
    await this.disconnect();
  }
  async send(message: string): Promise<void> {
    const peer = this.peer;
    setImmediate(() => peer?.onMessage?.(message));
  }
}

interface Pair {
  alice: UserAgent;
  bob: UserAgent;
  ea: MsrpEndpoint;
  eb: MsrpEndpoint;
  /** Bob's incoming sessions, in order. */
  invitations: Invitation[];
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
beforeAll(() => installSipJsRuntime());

async function pair(bobAccepts: readonly string[] = ["message/cpim", "application/im-iscomposing+xml"]): Promise<Pair> {
  const ea = await createMsrpEndpoint();
  const eb = await createMsrpEndpoint();
  const transports: PipeTransport[] = [];
  const make = (user: string, endpoint: MsrpEndpoint, acceptTypes: readonly string[]) =>
    new UserAgent({
      uri: new URI("sip", user, "cpm.example"),
      transportConstructor: PipeTransport as never,
      transportOptions: { register: (t: PipeTransport) => transports.push(t) },
      sessionDescriptionHandlerFactory: createMsrpSessionDescriptionHandlerFactory({ endpoint, acceptTypes, originUsername: user }),
      sendInitialProvisionalResponse: false,
      logLevel: "error",
      logBuiltinEnabled: false,
      logConfiguration: false,
    });
  const alice = make("alice", ea, ["message/cpim", "application/im-iscomposing+xml"]);
  const bob = make("bob", eb, bobAccepts);
  transports[0]!.peer = transports[1];
  transports[1]!.peer = transports[0];
  const invitations: Invitation[] = [];
  bob.delegate = {
    onInvite: (invitation) => {
      invitations.push(invitation);
      // SIP.js would answer an SDH failure in accept() with 480; the client refuses with 488 itself.
      const problem = checkMsrpOffer(invitation.body ?? "", { acceptTypes: bobAccepts });
      if (problem) void invitation.reject({ statusCode: problem.sipStatus });
      else void invitation.accept();
    },
  };
  await alice.start();
  await bob.start();
  cleanups.push(async () => {
    await alice.stop();
    await bob.stop();
    await ea.close();
    await eb.close();
  });
  return { alice, bob, ea, eb, invitations };
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

/** A re-INVITE from `session`; resolves with the final status. */
function reinvite(session: Session, options: Parameters<Session["invite"]>[0] = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    session
      .invite({
        ...options,
        requestDelegate: {
          onAccept: (r: IncomingResponse) => resolve(r.message.statusCode ?? 0),
          onReject: (r: IncomingResponse) => resolve(r.message.statusCode ?? 0),
        },
      })
      .catch(reject);
  });
}

function sdh(session: Session): MsrpSessionDescriptionHandler {
  const h = msrpSdhOf(session);
  if (!h) throw new Error("no MSRP SDH on the session");
  return h;
}

async function sendAndReceive(from: MsrpSession, to: MsrpSession, text: string): Promise<string> {
  const got = new Promise<string>((resolve) => to.once("message", (m) => resolve(m.body.toString())));
  const r = await from.send(text, { contentType: "message/cpim" });
  expect(r.ok).toBe(true);
  return got;
}

function closedSession(s: MsrpSession): Promise<void> {
  return s.closed ? Promise.resolve() : new Promise((resolve) => s.once("close", () => resolve()));
}

describe("MSRP SDH under SIP.js", () => {
  it("INVITE → 200 → ACK binds the MSRP leg; BYE closes both sessions", async () => {
    const { alice, ea, eb, invitations } = await pair();
    const inviter = new Inviter(alice, new URI("sip", "bob", "cpm.example"));
    await inviter.invite();
    await reachState(inviter, SessionState.Established);
    const [sa, sb] = [sdh(inviter), sdh(invitations[0]!)];
    await Promise.all([sa.ready, sb.ready]);
    expect(await sendAndReceive(sa.msrpSession!, sb.msrpSession!, "hi bob")).toBe("hi bob");
    expect(await sendAndReceive(sb.msrpSession!, sa.msrpSession!, "hi alice")).toBe("hi alice");

    const [ma, mb] = [sa.msrpSession!, sb.msrpSession!];
    await inviter.bye();
    await Promise.all([reachState(inviter, SessionState.Terminated), reachState(invitations[0]!, SessionState.Terminated)]);
    await Promise.all([closedSession(ma), closedSession(mb)]);
    expect([sa.state, sb.state]).toEqual(["closed", "closed"]);
    expect(ea.stats().sessions + eb.stats().sessions).toBe(0);
  });

  it("re-INVITEs: a refresh keeps the stream; after a dropped connection a new one is negotiated; a refused one (488) rolls back", async () => {
    const { alice, invitations } = await pair();
    const inviter = new Inviter(alice, new URI("sip", "bob", "cpm.example"));
    await inviter.invite();
    await reachState(inviter, SessionState.Established);
    const [sa, sb] = [sdh(inviter), sdh(invitations[0]!)];
    await Promise.all([sa.ready, sb.ready]);
    const first = sa.msrpSession!;

    expect(await reinvite(inviter)).toBe(200);
    expect(sa.msrpSession).toBe(first);
    expect(await sendAndReceive(sa.msrpSession!, sb.msrpSession!, "after refresh")).toBe("after refresh");

    const before = sb.msrpSession!;
    first.connection!.socket.destroy();
    await Promise.all([closedSession(first), closedSession(before)]);
    expect(await reinvite(inviter)).toBe(200);
    expect(sa.msrpSession).not.toBe(first);
    expect(sb.msrpSession).not.toBe(before);
    await Promise.all([sa.ready, sb.ready]);
    expect(await sendAndReceive(sa.msrpSession!, sb.msrpSession!, "reconnected")).toBe("reconnected");

    // Bob's re-offer names only a type alice does not accept: alice answers 488, both roll back.
    const current = [sa.msrpSession, sb.msrpSession];
    const onlyHtml = { acceptTypes: ["text/html"] } as MsrpSdhCallOptions;
    expect(await reinvite(invitations[0]!, { sessionDescriptionHandlerOptions: onlyHtml })).toBe(488);
    expect([sa.state, sb.state]).toEqual(["stable", "stable"]);
    expect([sa.msrpSession, sb.msrpSession]).toEqual(current);
    expect(inviter.state).toBe(SessionState.Established);
    expect(await sendAndReceive(sb.msrpSession!, sa.msrpSession!, "still up")).toBe("still up");
  });

  it("an INVITE whose SDP bob cannot use is refused 488 and the offer's MSRP session is released", async () => {
    const { alice, ea, eb, invitations } = await pair(["text/plain"]);
    const inviter = new Inviter(alice, new URI("sip", "bob", "cpm.example"));
    let status = 0;
    await inviter.invite({ requestDelegate: { onReject: (r) => (status = r.message.statusCode ?? 0) } });
    await reachState(inviter, SessionState.Terminated);
    expect(status).toBe(488);
    expect(invitations).toHaveLength(1);
    expect(ea.stats().sessions + eb.stats().sessions).toBe(0);
  });
});
