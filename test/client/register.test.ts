/**
 * Virtual clients register against the real embedded server (createCpmServer) over real sockets:
 * both transports, both connection models, with and without digest auth.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Grammar } from "sip.js/lib/grammar/grammar.js";
import { VirtualClient, type ConnectionProvider } from "../../src/client/index.js";
import { Counter, Latency, failureByStatus } from "../../src/metrics/names.js";
import { installSipJsRuntime, sipJsRuntimeStats } from "../../src/protocol/sip/sipjs-runtime.js";
import { createCpmServer, type CpmServer } from "../../src/server/index.js";
import { realClock } from "../../src/time/clock.js";
import { clientOptions, connectProvider, until } from "./support/client-fixtures.js";
import { CountingSink } from "./support/counting-sink.js";

installSipJsRuntime();

const N = 50;

function makeClients(provider: ConnectionProvider, metrics: CountingSink, n: number, password = (u: string) => `${u}-secret`, prefix = "u") {
  return Array.from(
    { length: n },
    (_, i) => new VirtualClient(clientOptions({ index: i, user: `${prefix}${i}`, password: password(`${prefix}${i}`), connections: provider, metrics })),
  );
}

/** Records which grammar rules SIP.js runs while `fn` runs. */
async function grammarRulesDuring(fn: () => Promise<void>): Promise<string[]> {
  const grammar = Grammar as unknown as { parse: (input: string, rule: string) => unknown };
  const original = grammar.parse;
  const rules: string[] = [];
  grammar.parse = (input, rule) => {
    rules.push(rule);
    return original(input, rule);
  };
  try {
    await fn();
  } finally {
    grammar.parse = original;
  }
  return rules;
}

describe.each([
  ["tcp", "per-client"],
  ["tcp", "shared"],
  ["udp", "per-client"],
  ["udp", "shared"],
] as const)("%s, %s connections: 50 clients against the embedded server", (transport, model) => {
  let server: CpmServer;
  beforeAll(async () => {
    server = await createCpmServer({ port: 0, domain: "cpm.test" });
  });
  afterAll(async () => {
    await server.close();
  });

  it("all register (one fast parse per response, no SIP.js grammar on the way), then all unregister", async () => {
    const metrics = new CountingSink();
    const provider = await connectProvider({ port: server.sipAddress.port, metrics, model, transport, sharedConnections: 3 });
    const clients = makeClients(provider, metrics, N);
    const before = { ...sipJsRuntimeStats };
    let results: boolean[] = [];
    const rules = await grammarRulesDuring(async () => {
      results = await Promise.all(clients.map((c) => c.register()));
    });
    expect(results.every(Boolean)).toBe(true);
    expect(clients.every((c) => c.isRegistered)).toBe(true);
    expect(server.stats().registeredAors).toBe(N);
    expect(server.stats().contacts).toBe(N);
    if (transport === "tcp") expect(server.stats().tcpConnections).toBe(model === "shared" ? 3 : N);

    // SIP.js asks its grammar only for the instance-id check of each new UserAgent, which the
    // runtime answers without running the grammar: the peggy parser never runs.
    expect(new Set(rules)).toEqual(new Set(["uuid"]));
    expect(rules.length).toBe(N);
    expect(sipJsRuntimeStats.grammarParses - before.grammarParses).toBe(0);
    expect(sipJsRuntimeStats.handedOver - before.handedOver).toBe(N);
    expect(sipJsRuntimeStats.fastParsed - before.fastParsed).toBe(N);
    expect(sipJsRuntimeStats.stockParsed).toBe(before.stockParsed);

    expect(metrics.get(Counter.registerAttempts)).toBe(N);
    expect(metrics.get(Counter.registerSuccesses)).toBe(N);
    expect(metrics.latencies.filter((l) => l.metric === Latency.register)).toHaveLength(N);
    for (const l of metrics.latencies) {
      expect(l.serviceUs).toBeGreaterThan(0);
      expect(l.latencyUs).toBe(l.serviceUs); // no intended start given
    }
    expect(metrics.get(Counter.sipBytesSent)).toBeGreaterThan(N * 300);
    expect(metrics.get(Counter.sipBytesReceived)).toBeGreaterThan(N * 200);

    const unregistered = await Promise.all(clients.map((c) => c.unregister()));
    expect(unregistered.every(Boolean)).toBe(true);
    expect(server.stats().contacts).toBe(0);
    expect(metrics.get(Counter.unregisterSuccesses)).toBe(N);
    expect(clients.some((c) => c.isRegistered)).toBe(false);

    await Promise.all(clients.map((c) => c.dispose()));
    await Promise.all(clients.map((c) => c.dispose()));
    await provider.close();
    await provider.close();
    if (transport === "tcp") await until(() => server.stats().tcpConnections === 0);
  });
});

describe("digest authentication against the embedded server", () => {
  let server: CpmServer;
  let provider: ConnectionProvider;
  beforeAll(async () => {
    server = await createCpmServer({ port: 0, domain: "cpm.test", auth: { passwordTemplate: "{user}-secret" } });
    provider = await connectProvider({ port: server.sipAddress.port, metrics: new CountingSink() });
  });
  afterAll(async () => {
    await provider.close();
    await server.close();
  });

  it("clients answer the 401 challenge and register; latency covers both round trips", async () => {
    const metrics = new CountingSink();
    const clients = makeClients(provider, metrics, 10, (u) => `${u}-secret`, "good");
    const intended = realClock.nowNs();
    const results = await Promise.all(clients.map((c) => c.register(intended)));
    expect(results).toEqual(Array(10).fill(true));
    expect(server.stats().responses["401"]).toBe(10);
    expect(server.stats().registeredAors).toBe(10);
    expect(metrics.get(Counter.registerAttempts)).toBe(10);
    expect(metrics.get(Counter.registerSuccesses)).toBe(10);
    for (const l of metrics.latencies) expect(l.latencyUs).toBeGreaterThanOrEqual(l.serviceUs!);
    await Promise.all(clients.map((c) => c.unregister()));
    expect(server.stats().contacts).toBe(0);
    await Promise.all(clients.map((c) => c.dispose()));
  });

  it("a wrong password fails with 403, counted by status, and the client is not registered", async () => {
    const metrics = new CountingSink();
    const clients = makeClients(provider, metrics, 5, () => "not-the-password", "bad");
    const results = await Promise.all(clients.map((c) => c.register()));
    expect(results).toEqual(Array(5).fill(false));
    expect(metrics.get(failureByStatus(Counter.registerFailures, 403))).toBe(5);
    expect(metrics.get(Counter.registerSuccesses)).toBe(0);
    expect(clients.some((c) => c.isRegistered)).toBe(false);
    expect(metrics.latencies).toHaveLength(0);
    await Promise.all(clients.map((c) => c.dispose()));
  });
});

describe("registration refresh", () => {
  it("the Registerer refreshes before expiry; each refresh counts as a REGISTER", async () => {
    const server = await createCpmServer({ port: 0, domain: "cpm.test", minExpires: 1 });
    const metrics = new CountingSink();
    const provider = await connectProvider({ port: server.sipAddress.port, metrics, model: "shared", transport: "udp" });
    const client = new VirtualClient(
      clientOptions({
        index: 0,
        user: "refresher",
        password: "x",
        connections: provider,
        metrics,
        requestTimeoutMs: 2000,
        registerExpires: 2,
        refreshFraction: 0.5,
      }),
    );
    expect(await client.register()).toBe(true);
    await until(() => metrics.get(Counter.registerSuccesses) >= 3, 8000);
    expect(client.isRegistered).toBe(true);
    // unregister() waits for a refresh in flight, so afterwards every attempt has its outcome.
    expect(await client.unregister()).toBe(true);
    expect(metrics.get(Counter.registerAttempts)).toBe(metrics.get(Counter.registerSuccesses));
    expect(Object.keys(metrics.counters).filter((k) => k.includes("failures"))).toEqual([]);
    expect(metrics.latencies.length).toBe(metrics.get(Counter.registerSuccesses));
    expect(server.stats().contacts).toBe(0);
    await client.dispose();
    await provider.close();
    await server.close();
  });
});
