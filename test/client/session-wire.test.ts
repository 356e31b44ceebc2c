/**
 * What a virtual client's INVITEs look like on the wire (PROTOCOL.md "Conventions on every CPM
 * request", §7.4.1, §7.3.2), captured by a raw SIP peer that registers the client and refuses
 * every INVITE with 486.
 */
import { describe, expect, it } from "vitest";
import { VirtualClient } from "../../src/client/index.js";
import { createMsrpEndpoint } from "../../src/protocol/msrp/endpoint.js";
import { extractMsrpMedia } from "../../src/protocol/sdp/index.js";
import { getHeader, getHeaderValues } from "../../src/protocol/sip/headers.js";
import type { SipRequest } from "../../src/protocol/sip/message.js";
import { createResponse } from "../../src/protocol/sip/response.js";
import { Counter } from "../../src/metrics/names.js";
import { cleanupAfterEach, clientOptions, connectProvider, startRegistrar } from "./support/client-fixtures.js";
import { CountingSink } from "./support/counting-sink.js";
import { isRequest } from "./support/raw-sip-server.js";
import { context } from "./support/session-fixtures.js";

const defer = cleanupAfterEach();

async function capture(): Promise<{ invites: () => SipRequest[]; client: VirtualClient; metrics: CountingSink }> {
  const server = await startRegistrar(defer, (r) => {
    if (isRequest(r.message) && r.message.method === "INVITE") r.reply(createResponse(r.message, 486, "Busy Here", { toTag: "busy" }));
  });
  const metrics = new CountingSink();
  const msrp = await createMsrpEndpoint({ listen: false });
  defer(() => msrp.close());
  const provider = await connectProvider({ port: server.port, metrics });
  defer(() => provider.close());
  const client = new VirtualClient(clientOptions({ index: 3, user: "alice", connections: provider, metrics, seed: 42, msrp }));
  defer(() => client.dispose());
  expect(await client.register()).toBe(true);
  return {
    client,
    metrics,
    invites: () => server.received.map((r) => r.message).filter((m): m is SipRequest => isRequest(m) && m.method === "INVITE"),
  };
}

describe("INVITE on the wire", () => {
  it("a chat session INVITE carries the session ICSI, correlation ids, session timer, CPM Contact and an active MSRP offer", async () => {
    const { client, invites, metrics } = await capture();
    expect(await client.runStep({ kind: "invite", to: { kind: "next" }, subject: "hello" }, 0, context("bob"))).toBe(false);
    expect(metrics.get(`${Counter.sessionFailures}.status.486`)).toBe(1);
    const inv = invites()[0]!;
    expect(inv.uri).toBe("sip:bob@cpm.test");
    expect(getHeader(inv, "P-Preferred-Service")).toBe("urn:urn-7:3gpp-service.ims.icsi.oma.cpm.session");
    expect(getHeader(inv, "Accept-Contact")).toBe('*;+g.3gpp.icsi-ref="urn%3Aurn-7%3A3gpp-service.ims.icsi.oma.cpm.session"');
    expect(getHeader(inv, "Contribution-ID")).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(getHeader(inv, "Conversation-ID")).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(getHeader(inv, "Contribution-ID")).not.toBe(getHeader(inv, "Conversation-ID"));
    expect(getHeaderValues(inv, "Supported")).toContain("timer");
    expect(getHeader(inv, "Session-Expires")).toBe("1800");
    expect(getHeader(inv, "Subject")).toBe("hello");
    expect(getHeader(inv, "User-Agent")).toBe("CPM-client/OMA1.0");
    const contact = getHeader(inv, "Contact")!;
    expect(contact).toMatch(/^<sip:alice@127\.0\.0\.1:\d+;transport=tcp(;ob)?>;\+sip\.instance="<urn:uuid:[0-9a-f-]{36}>";\+g\.3gpp\.icsi-ref="[^"]*oma\.cpm\.session[^"]*"$/);
    expect(getHeader(inv, "Content-Type")).toBe("application/sdp");
    const media = extractMsrpMedia(inv.body.toString());
    if (!media.ok) throw media.error;
    expect(media.media).toMatchObject({ setup: "active", direction: "sendrecv", acceptTypes: ["message/cpim", "application/im-iscomposing+xml"] });
    expect(media.media.path[0]).toMatch(/^msrp:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9]+;tcp$/);
    expect(inv.body.toString()).toContain("m=message 9 TCP/MSRP *");
  });

  it("a large-message INVITE carries the largemsg ICSI and a sendonly offer with max-size", async () => {
    const { client, invites, metrics } = await capture();
    const step = { kind: "largeMessage", to: { kind: "next" }, size: { kind: "fixed", bytes: 100_000 }, chunkSize: 8192, contentType: "application/octet-stream", failureReport: "yes" } as const;
    expect(await client.runStep(step, 0, context("bob"))).toBe(false);
    expect(metrics.get(Counter.largeMessageAttempts)).toBe(1);
    expect(metrics.get(`${Counter.largeMessageFailures}.status.486`)).toBe(1);
    const inv = invites()[0]!;
    expect(getHeader(inv, "P-Preferred-Service")).toBe("urn:urn-7:3gpp-service.ims.icsi.oma.cpm.largemsg");
    expect(getHeader(inv, "Accept-Contact")).toBe('*;+g.3gpp.icsi-ref="urn%3Aurn-7%3A3gpp-service.ims.icsi.oma.cpm.largemsg"');
    const media = extractMsrpMedia(inv.body.toString());
    if (!media.ok) throw media.error;
    expect(media.media.direction).toBe("sendonly");
    expect(media.media.maxSize).toBeGreaterThan(100_000);
  });
});
