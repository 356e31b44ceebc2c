/**
 * The shared connection model routes every incoming message to the right client: responses by
 * Via branch, requests by Request-URI (Contact) user. A scripted peer answers in reverse order and
 * then sends requests to each client over the shared connections.
 */
import { describe, expect, it } from "vitest";
import { VirtualClient } from "../../src/client/index.js";
import { Demux, topBranch, uriUser } from "../../src/client/demux.js";
import { Counter } from "../../src/metrics/names.js";
import { getBranch, getHeader, parseNameAddr } from "../../src/protocol/sip/headers.js";
import type { SipMessage, SipRequest, SipResponse } from "../../src/protocol/sip/message.js";
import { parseSipMessage } from "../../src/protocol/sip/parser.js";
import { createResponse } from "../../src/protocol/sip/response.js";
import { FakeClock } from "../../src/time/clock.js";
import { cleanupAfterEach, clientOptions, connectProvider } from "./support/client-fixtures.js";
import { CountingSink } from "./support/counting-sink.js";
import { isRequest, startRawSipServer, type Received } from "./support/raw-sip-server.js";

const defer = cleanupAfterEach();

const N = 20;

describe.each(["tcp", "udp"] as const)("shared %s connections", (transport) => {
  it("responses answered in reverse order reach their own clients; requests reach the client they name", async () => {
    const held: Received[] = [];
    const server = await startRawSipServer((r) => {
      if (!isRequest(r.message) || r.message.method !== "REGISTER") return;
      held.push(r);
      if (held.length === N) {
        // Every client has a REGISTER in flight: answer them last-first, each with its own expires.
        for (const h of [...held].reverse()) {
          const req = h.message as SipRequest;
          const contact = getHeader(req, "Contact")!;
          const user = uriUser(parseNameAddr(contact)!.uri)!;
          const expires = 1000 + Number(user.slice(1));
          h.reply(createResponse(req, 200, "OK", { toTag: `t-${user}`, headers: [["Contact", contact.replace(/;expires=\d+/, `;expires=${expires}`)]] }));
        }
      }
    });
    defer(() => server.close());
    const metrics = new CountingSink();
    const provider = await connectProvider({ port: server.port, metrics, model: "shared", transport, sharedConnections: 2 });
    defer(() => provider.close());
    const clients = Array.from({ length: N }, (_, i) => new VirtualClient(clientOptions({ index: i, user: `c${i}`, connections: provider, metrics })));
    for (const c of clients) defer(() => c.dispose());
    // A misrouted 200 would be dropped by the wrong user agent (no such transaction) and its
    // owner would time out: every register resolving true means every response found its client.
    const results = await Promise.all(clients.map((c) => c.register()));
    expect(results).toEqual(Array(N).fill(true));
    expect(metrics.get(Counter.registerSuccesses)).toBe(N);
    if (transport === "tcp") expect(server.connections.size).toBe(2);

    // The peer now sends an OPTIONS to each client's registered Contact, over the connection that
    // client registered on; the answer must come from that client's user agent.
    const options: string[] = [];
    for (const h of held) {
      const req = h.message as SipRequest;
      const contactUri = parseNameAddr(getHeader(req, "Contact")!)!.uri;
      const user = uriUser(contactUri)!;
      const branch = `z9hG4bK-options-${user}`;
      options.push(branch);
      h.reply(
        [
          `OPTIONS ${contactUri} SIP/2.0`,
          `Via: SIP/2.0/${transport.toUpperCase()} 127.0.0.1:${server.port};branch=${branch}`,
          "Max-Forwards: 70",
          `From: <sip:pf@cpm.test>;tag=pf-${user}`,
          `To: <${contactUri}>`,
          `Call-ID: options-${user}@cpm.test`,
          "CSeq: 1 OPTIONS",
          "Content-Length: 0",
          "",
          "",
        ].join("\r\n"),
      );
    }
    const answers = await server.waitFor(N, (r) => r.message.kind === "response");
    for (const a of answers) {
      const res = a.message as SipResponse;
      expect(res.status).toBe(200);
      const branch = getBranch(res)!;
      const user = branch.slice("z9hG4bK-options-".length);
      // The answering user agent is the one the request named.
      expect(uriUser(parseNameAddr(getHeader(res, "To")!)!.uri)).toBe(user);
      expect(options).toContain(branch);
    }
  });
});

describe("Demux (unit)", () => {
  const parse = (text: string): SipMessage => {
    const r = parseSipMessage(text.split("\n").join("\r\n"));
    if (!r.ok) throw r.error;
    return r.message;
  };
  const response = (branch: string, method: string, status: number) =>
    parse(`SIP/2.0 ${status} X\nVia: SIP/2.0/TCP 127.0.0.1;branch=${branch};rport=5\nFrom: <sip:a@h>;tag=1\nTo: <sip:a@h>\nCall-ID: c\nCSeq: 1 ${method}\nContent-Length: 0\n\n`);

  it("routes a response by branch, forgets non-INVITE branches at the final response, keeps INVITE ones", () => {
    const demux = new Demux<string>(new FakeClock());
    demux.noteRequest("b1", "REGISTER", "alice");
    demux.noteRequest("b2", "INVITE", "bob");
    demux.noteRequest("b2", "CANCEL", "bob");
    demux.noteRequest("b3", "ACK", "bob");
    expect(demux.route(response("b1", "REGISTER", 100))).toBe("alice");
    expect(demux.route(response("b1", "REGISTER", 200))).toBe("alice");
    expect(demux.route(response("b1", "REGISTER", 200))).toBeUndefined();
    expect(demux.route(response("b2", "INVITE", 200))).toBe("bob");
    expect(demux.route(response("b2", "INVITE", 200))).toBe("bob"); // a retransmitted 2xx
    expect(demux.route(response("b2", "CANCEL", 200))).toBe("bob");
    expect(demux.route(response("b2", "CANCEL", 200))).toBeUndefined();
    expect(demux.route(response("b3", "ACK", 200))).toBeUndefined();
    expect(demux.unroutable).toBe(3);
  });

  it("ages out branches nobody answered after two generations", () => {
    const clock = new FakeClock();
    const demux = new Demux<string>(clock, 1000);
    demux.noteRequest("old", "INVITE", "a");
    clock.advanceMs(1000);
    demux.noteRequest("newer", "INVITE", "b");
    expect(demux.pendingBranches).toBe(2);
    expect(demux.route(response("old", "INVITE", 180))).toBe("a");
    clock.advanceMs(1000);
    expect(demux.route(response("old", "INVITE", 200))).toBeUndefined();
    expect(demux.route(response("newer", "INVITE", 200))).toBe("b");
    clock.advanceMs(2000);
    expect(demux.pendingBranches).toBe(0);
  });

  it("routes requests by Request-URI user, else by To user; forgets released users", () => {
    const demux = new Demux<string>(new FakeClock());
    demux.addUser("alice", "A");
    demux.addUser("+4930 1", "P");
    const req = (ruri: string, to: string) =>
      parse(`MESSAGE ${ruri} SIP/2.0\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\nFrom: <sip:b@h>;tag=1\nTo: ${to}\nCall-ID: c\nCSeq: 1 MESSAGE\nMax-Forwards: 70\nContent-Length: 0\n\n`);
    expect(demux.route(req("sip:alice@127.0.0.1:5070;transport=tcp", "<sip:x@h>"))).toBe("A");
    expect(demux.route(req("sip:cpm.test", "<sip:alice@cpm.test>"))).toBe("A");
    expect(demux.route(req("sip:%2B4930%201@h", "<sip:x@h>"))).toBe("P");
    expect(demux.route(req("sip:nobody@h", "<sip:nobody@h>"))).toBeUndefined();
    demux.removeUser("alice", "other");
    expect(demux.route(req("sip:alice@h", "<sip:alice@h>"))).toBe("A");
    demux.removeUser("alice", "A");
    expect(demux.route(req("sip:alice@h", "<sip:alice@h>"))).toBeUndefined();
  });

  it("reads the top branch and the user part of URIs", () => {
    expect(topBranch(response("z9hG4bKabc.1", "REGISTER", 200))).toBe("z9hG4bKabc.1");
    expect(uriUser("sip:bob:secret@h")).toBe("bob");
    expect(uriUser("sips:%61lice@h;x=1")).toBe("alice");
    expect(uriUser("sip:h.example.com")).toBeUndefined();
  });
});
