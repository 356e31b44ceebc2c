/**
 * Set-up shared by the client tests: a cleanup list run after each test, a connection provider to
 * a local target, VirtualClient options with the usual test settings, a registrar peer that
 * accepts everyone, and a bounded wait for an event.
 */
import { afterEach } from "vitest";
import { createConnectionProvider, type ConnectionProvider, type VirtualClientOptions } from "../../../src/client/index.js";
import type { ConnectionModel, SipTransportName } from "../../../src/config/run-config.js";
import type { MetricsSink } from "../../../src/metrics/sink.js";
import { getHeader } from "../../../src/protocol/sip/headers.js";
import { createResponse } from "../../../src/protocol/sip/response.js";
import { realClock } from "../../../src/time/clock.js";
import { isRequest, startRawSipServer, type RawSipServer, type Received } from "./raw-sip-server.js";

export const TEST_DOMAIN = "cpm.test";

/** Registers a cleanup; all run after each test, last registered first. */
export type Defer = (fn: () => Promise<unknown>) => void;

/** One cleanup list per test file (call at module level). */
export function cleanupAfterEach(): Defer {
  const list: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const fn of list.splice(0).reverse()) await fn();
  });
  return (fn) => {
    list.push(fn);
  };
}

/** A connection provider to 127.0.0.1:`port` on the real clock (default: per-client TCP, one shared connection). */
export function connectProvider(opts: {
  port: number;
  metrics: MetricsSink;
  model?: ConnectionModel;
  transport?: SipTransportName;
  sharedConnections?: number;
}): Promise<ConnectionProvider> {
  return createConnectionProvider({
    model: opts.model ?? "per-client",
    transport: opts.transport ?? "tcp",
    target: { host: "127.0.0.1", port: opts.port },
    sharedConnections: opts.sharedConnections ?? 1,
    metrics: opts.metrics,
    clock: realClock,
  });
}

/**
 * VirtualClient options with the test settings (password "pw", domain cpm.test, real clock, 5 s
 * request timeout, 600 s registrations refreshed at 90 %); `o` overrides any of them.
 */
export function clientOptions(
  o: Pick<VirtualClientOptions, "index" | "user" | "connections" | "metrics"> & Partial<VirtualClientOptions>,
): VirtualClientOptions {
  return {
    password: "pw",
    domain: TEST_DOMAIN,
    clock: realClock,
    requestTimeoutMs: 5000,
    registerExpires: 600,
    refreshFraction: 0.9,
    ...o,
  };
}

/** A raw SIP peer that accepts every REGISTER for 600 s; `onOther` sees every other message. */
export async function startRegistrar(defer: Defer, onOther: (r: Received) => void = () => {}): Promise<RawSipServer> {
  const server = await startRawSipServer((r) => {
    if (isRequest(r.message) && r.message.method === "REGISTER") {
      const contact = getHeader(r.message, "Contact");
      r.reply(createResponse(r.message, 200, "OK", { toTag: "reg", headers: [["Contact", `${contact};expires=600`]] }));
      return;
    }
    onOther(r);
  });
  defer(() => server.close());
  return server;
}

/** Polls `cond` every 5 ms; rejects after `timeoutMs` (a missing event fails the test, never hangs it). */
export async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
