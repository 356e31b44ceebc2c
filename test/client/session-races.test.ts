/**
 * Races of a CPM 1-1 session between a virtual client and its peer, with the timing built on
 * purpose by a scripted SIP peer (raw sockets) and, where the stream must bind, a real MSRP
 * endpoint as the far MSRP end:
 * - an ACK and a re-INVITE read by the callee in one TCP read (the PF ACKs the callee's 2xx and
 *   then forwards the caller's re-INVITE: under load both wait in the socket together);
 * - the callee's BYE overtaking the MSRP 200 to the control request that asked for it;
 * - a re-INVITE refused with 500 + Retry-After (or 491) is repeated, as RFC 3261 §14.1/§14.2 say.
 */
import { describe, expect, it } from "vitest";
import { REINVITE_RETRIES, retryDelayMs } from "../../src/client/cpm-session.js";
import { VirtualClient } from "../../src/client/index.js";
import { CONTROL_CONTENT_TYPE } from "../../src/client/message-stamp.js";
import { Counter } from "../../src/metrics/names.js";
import { createMsrpEndpoint, type MsrpEndpoint } from "../../src/protocol/msrp/endpoint.js";
import type { MsrpSession } from "../../src/protocol/msrp/session.js";
import { buildMsrpAnswer, buildMsrpOffer, extractMsrpMedia, serializeSdp } from "../../src/protocol/sdp/index.js";
import { getHeader, parseNameAddr } from "../../src/protocol/sip/headers.js";
import type { SipRequest, SipResponse } from "../../src/protocol/sip/message.js";
import { createResponse } from "../../src/protocol/sip/response.js";
import { serializeSipMessage } from "../../src/protocol/sip/serializer.js";
import { cleanupAfterEach, clientOptions, connectProvider, startRegistrar } from "./support/client-fixtures.js";
import { CountingSink } from "./support/counting-sink.js";
import { isRequest, type RawSipServer, type Received } from "./support/raw-sip-server.js";
import { context } from "./support/session-fixtures.js";

const defer = cleanupAfterEach();

const DOMAIN = "cpm.test";
const CPM_TYPES = ["message/cpim", "application/im-iscomposing+xml"];

/** A registrar that accepts everyone; `onOther` sees every other message. */
const peer = (onOther: (r: Received) => void): Promise<RawSipServer> => startRegistrar(defer, onOther);

async function client(user: string, port: number, msrp: MsrpEndpoint, metrics = new CountingSink()) {
  const provider = await connectProvider({ port, metrics });
  defer(() => provider.close());
  const c = new VirtualClient(clientOptions({ index: 1, user, connections: provider, metrics, sessionExpiresS: 0, msrp }));
  defer(() => c.dispose());
  expect(await c.register()).toBe(true);
  return { client: c, metrics };
}

async function endpoint(listen: boolean): Promise<MsrpEndpoint> {
  const e = await createMsrpEndpoint({ listen });
  defer(() => e.close());
  return e;
}

/** A final response to the request `cseq method`. */
const isResponseTo = (method: string, cseq: number) => (r: Received) =>
  r.message.kind === "response" && r.message.status >= 200 && getHeader(r.message, "CSeq") === `${cseq} ${method}`;

const request = (method: string, uri: string, headers: Array<[string, string]>, body = ""): SipRequest => ({
  kind: "request",
  method,
  uri,
  headers,
  body: Buffer.from(body),
});

describe("the callee reads the ACK and a re-INVITE together", () => {
  it("answers the re-INVITE 200, not 500 (SIP.js's ACK processing is over before the re-INVITE reaches it)", async () => {
    const server = await peer(() => {});
    const { client: bob } = await client("bob", server.port, await endpoint(false));
    const reg = server.received.find((r) => isRequest(r.message) && r.message.method === "REGISTER")!;
    const contact = parseNameAddr(getHeader(reg.message, "Contact")!)!.uri;
    const offer = (version: number) =>
      serializeSdp(
        buildMsrpOffer({ path: ["msrp://127.0.0.1:9/farend;tcp"], acceptTypes: ["message/cpim"], origin: { sessionId: "7", sessionVersion: version } }),
      );
    const dialog = (cseq: number, method: string, toTag?: string): Array<[string, string]> => [
      ["Via", `SIP/2.0/TCP 127.0.0.1:${server.port};branch=z9hG4bK-race-${cseq}-${method}`],
      ["Max-Forwards", "70"],
      ["From", `<sip:alice@${DOMAIN}>;tag=pf-a`],
      ["To", `<sip:bob@${DOMAIN}>${toTag === undefined ? "" : `;tag=${toTag}`}`],
      ["Call-ID", "race-ack-reinvite@pf"],
      ["CSeq", `${cseq} ${method}`],
      ["Contact", `<sip:pf@127.0.0.1:${server.port};transport=tcp>`],
    ];
    reg.reply(request("INVITE", contact, [...dialog(1, "INVITE"), ["Content-Type", "application/sdp"]], offer(1)));
    const [ok] = await server.waitFor(1, isResponseTo("INVITE", 1));
    const res = ok!.message as SipResponse;
    expect(res.status).toBe(200);
    const toTag = /;tag=([^;]+)/.exec(getHeader(res, "To")!)![1]!;
    // One write: the callee's framer hands both to the client in one synchronous run.
    reg.reply(
      Buffer.concat([
        serializeSipMessage(request("ACK", contact, dialog(1, "ACK", toTag))),
        serializeSipMessage(request("INVITE", contact, [...dialog(2, "INVITE", toTag), ["Content-Type", "application/sdp"]], offer(2))),
      ]),
    );
    const [answer] = await server.waitFor(1, isResponseTo("INVITE", 2));
    expect((answer!.message as SipResponse).status).toBe(200);
    expect(bob.activeSessions).toBe(1);
    reg.reply(request("ACK", contact, dialog(2, "ACK", toTag)));
  });
});

/**
 * A far end for a client's own INVITEs: a scripted SIP peer whose 2xx carries the SDP answer of a
 * real passive MSRP session, so the client's stream binds. `onReinvite` answers re-INVITEs.
 */
async function farEnd(onReinvite?: (req: SipRequest, n: number, answer: () => string) => SipResponse) {
  const far = await endpoint(true);
  let session: MsrpSession | undefined;
  let invite: SipRequest | undefined;
  let reinvites = 0;
  const answerTo = (offer: Buffer, version: number): string => {
    const media = extractMsrpMedia(offer.toString());
    if (!media.ok) throw media.error;
    session ??= far.createSession({ setup: "passive", acceptTypes: CPM_TYPES, remotePath: media.media.path });
    const a = buildMsrpAnswer(offer.toString(), { path: session.localPath, acceptTypes: CPM_TYPES, origin: { sessionId: "9", sessionVersion: version } });
    if (!a.ok) throw a.error;
    return serializeSdp(a.sdp);
  };
  const server = await peer((r) => {
    if (!isRequest(r.message) || r.message.method !== "INVITE") return;
    const req = r.message;
    const headers: Array<[string, string]> = [
      ["Contact", `<sip:far@127.0.0.1:${server.port};transport=tcp>`],
      ["Content-Type", "application/sdp"],
    ];
    if (getHeader(req, "To")?.includes(";tag=") !== true) {
      invite = req;
      r.reply(createResponse(req, 200, "OK", { toTag: "far", headers, body: Buffer.from(answerTo(req.body, 1)) }));
      return;
    }
    reinvites++;
    r.reply(onReinvite?.(req, reinvites, () => answerTo(req.body, reinvites + 1)) ?? createResponse(req, 200, "OK", { headers, body: Buffer.from(answerTo(req.body, reinvites + 1)) }));
  });
  return {
    server,
    get session() {
      return session!;
    },
    /** An in-dialog BYE to the caller of the INVITE. */
    bye(): void {
      const inv = invite!;
      const conn = server.received.find((r) => r.message === inv)!;
      const contact = parseNameAddr(getHeader(inv, "Contact")!)!.uri;
      conn.reply(
        request("BYE", contact, [
          ["Via", `SIP/2.0/TCP 127.0.0.1:${server.port};branch=z9hG4bK-far-bye`],
          ["Max-Forwards", "70"],
          ["From", `${getHeader(inv, "To")};tag=far`],
          ["To", getHeader(inv, "From")!],
          ["Call-ID", getHeader(inv, "Call-ID")!],
          ["CSeq", "1 BYE"],
        ]),
      );
    },
  };
}

describe("bye by the callee", () => {
  it("succeeds when the callee's BYE overtakes the 200 to the control request (the unanswered send then fails as session_closed)", async () => {
    const far = await farEnd();
    const { client: alice, metrics } = await client("alice", far.server.port, await endpoint(false));
    const ctx = context("bob");
    expect(await alice.runStep({ kind: "invite", to: { kind: "next" } }, 0, ctx)).toBe(true);
    // The far end acts on the control request at once and answers it only after its BYE was answered.
    const s = far.session;
    const handle = s.handleRequest.bind(s);
    let controls = 0;
    s.handleRequest = (req, conn) => {
      if (req.method !== "SEND" || !req.body.toString().includes(CONTROL_CONTENT_TYPE)) return handle(req, conn);
      controls++;
      far.bye();
      void far.server.waitFor(1, isResponseTo("BYE", 1)).then(() => handle(req, conn));
    };
    expect(await alice.runStep({ kind: "bye", by: "callee" }, 0, ctx)).toBe(true);
    expect(controls).toBe(1);
    expect(metrics.get(Counter.byeSuccesses)).toBe(1);
    expect(metrics.family(Counter.byeFailures)).toBe(0);
    expect(alice.activeSessions).toBe(0);
  });
});

describe("re-INVITE refused for now", () => {
  it("500 with Retry-After: the re-INVITE is sent again after the delay and succeeds; the repeat is counted, not a failure", async () => {
    const far = await farEnd((req, n, answer) =>
      n === 1
        ? createResponse(req, 500, "Server Internal Error", { headers: [["Retry-After", "0"]] })
        : createResponse(req, 200, "OK", {
            headers: [
              ["Contact", `<sip:far@127.0.0.1:${far.server.port};transport=tcp>`],
              ["Content-Type", "application/sdp"],
            ],
            body: Buffer.from(answer()),
          }),
    );
    const { client: alice, metrics } = await client("alice", far.server.port, await endpoint(false));
    const ctx = context("bob");
    expect(await alice.runStep({ kind: "invite", to: { kind: "next" } }, 0, ctx)).toBe(true);
    expect(await alice.runStep({ kind: "reinvite", renewMsrp: false }, 0, ctx)).toBe(true);
    expect(metrics.get(REINVITE_RETRIES)).toBe(1);
    expect(metrics.get(Counter.reinviteSuccesses)).toBe(1);
    expect(metrics.family(Counter.reinviteFailures)).toBe(0);
    const reinvites = far.server.received.filter((r) => isRequest(r.message) && r.message.method === "INVITE").length - 1;
    expect(reinvites).toBe(2);
  });

  it("a Retry-After beyond the request timeout is not waited for: the refusal is the outcome", async () => {
    const far = await farEnd((req) => createResponse(req, 500, "Server Internal Error", { headers: [["Retry-After", "10"]] }));
    const { client: alice, metrics } = await client("alice", far.server.port, await endpoint(false));
    const ctx = context("bob");
    expect(await alice.runStep({ kind: "invite", to: { kind: "next" } }, 0, ctx)).toBe(true);
    expect(await alice.runStep({ kind: "reinvite", renewMsrp: false }, 0, ctx)).toBe(false);
    expect(metrics.get(`${Counter.reinviteFailures}.status.500`)).toBe(1);
    expect(metrics.get(REINVITE_RETRIES)).toBe(0);
    // The session is unchanged and still usable (RFC 3261 §14.1).
    expect(alice.activeSessions).toBe(1);
    expect(ctx.state.session).toBeDefined();
  });

  it("retry delays follow RFC 3261: 491 → 2.1-4 s for the Call-ID owner, 0-2 s otherwise, in 10 ms steps; 500 → Retry-After", () => {
    expect(retryDelayMs(491, undefined, true, () => 0)).toBe(2100);
    expect(retryDelayMs(491, undefined, true, () => 0.999999)).toBe(4000);
    expect(retryDelayMs(491, undefined, false, () => 0)).toBe(0);
    expect(retryDelayMs(491, undefined, false, () => 0.999999)).toBe(2000);
    expect(retryDelayMs(491, undefined, true, () => 0.5)! % 10).toBe(0);
    expect(retryDelayMs(500, "3", true)).toBe(3000);
    expect(retryDelayMs(500, " 7 (busy);duration=60", true)).toBe(7000);
    expect(retryDelayMs(500, undefined, true)).toBeUndefined();
    expect(retryDelayMs(500, "soon", true)).toBeUndefined();
    expect(retryDelayMs(503, "3", true)).toBeUndefined();
    expect(retryDelayMs(488, undefined, true)).toBeUndefined();
  });
});
