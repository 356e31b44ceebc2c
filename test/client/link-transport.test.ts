/**
 * The SIP.js Transport over a client link follows SIP.js's transport state machine.
 */
import { describe, expect, it } from "vitest";
import { TransportState } from "sip.js/lib/api/transport-state.js";
import { LinkTransport } from "../../src/client/link-transport.js";
import type { ClientLink } from "../../src/client/link.js";
import { parseSipMessage } from "../../src/protocol/sip/parser.js";
import { installSipJsRuntime } from "../../src/protocol/sip/sipjs-runtime.js";

installSipJsRuntime();

class FakeLink implements ClientLink {
  readonly protocol = "TCP" as const;
  readonly localAddress = "127.0.0.1";
  readonly localPort = 5999;
  closed = false;
  sent: string[] = [];
  send(data: string): boolean {
    if (this.closed) return false;
    this.sent.push(data);
    return true;
  }
  forget(): void {}
  async release(): Promise<void> {
    this.closed = true;
  }
}

const logger = {} as never;

describe("LinkTransport", () => {
  it("connects at once over an open link, sends, disconnects, and reports each state", async () => {
    const link = new FakeLink();
    const t = new LinkTransport(logger, { link });
    const states: TransportState[] = [];
    const events: string[] = [];
    t.stateChange.addListener((s) => states.push(s));
    t.onConnect = () => events.push("connect");
    t.onDisconnect = (e) => events.push(`disconnect:${e?.message ?? "-"}`);
    expect(t.state).toBe(TransportState.Disconnected);
    await expect(t.send("x")).rejects.toThrow(/not connected/);
    await t.connect();
    expect(t.isConnected()).toBe(true);
    await t.connect(); // no transition when connected
    await t.send("OPTIONS");
    expect(link.sent).toEqual(["OPTIONS"]);
    await t.disconnect();
    await t.dispose();
    expect(states).toEqual([TransportState.Connecting, TransportState.Connected, TransportState.Disconnecting, TransportState.Disconnected]);
    expect(events).toEqual(["connect", "disconnect:-"]);
    expect(t.protocol).toBe("TCP");
  });

  it("a lost connection moves to Disconnected with the error; connecting again fails while the link is closed", async () => {
    const link = new FakeLink();
    const t = new LinkTransport(logger, { link });
    const errors: Array<Error | undefined> = [];
    t.onDisconnect = (e) => errors.push(e);
    await t.connect();
    link.closed = true;
    await expect(t.send("x")).rejects.toThrow(/closed/);
    t.linkClosed(new Error("connection reset"));
    expect(t.state).toBe(TransportState.Disconnected);
    expect(errors.map((e) => e?.message)).toEqual(["connection reset"]);
    await expect(t.connect()).rejects.toThrow(/closed/);
    expect(t.state).toBe(TransportState.Disconnected);
  });

  it("hands received messages to SIP.js only while connected", async () => {
    const link = new FakeLink();
    const t = new LinkTransport(logger, { link });
    const got: string[] = [];
    t.onMessage = (m) => got.push(m);
    const text = "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nFrom: <sip:b@h>;tag=1\r\nTo: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    const parsed = parseSipMessage(text);
    if (!parsed.ok) throw parsed.error;
    t.receive(parsed.message, text);
    expect(got).toEqual([]);
    await t.connect();
    t.receive(parsed.message, text);
    expect(got).toEqual([text]);
  });
});
