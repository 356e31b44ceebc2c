/**
 * Session test rig: the real embedded CPM server (registrar + PF anchoring MSRP), one real MSRP
 * endpoint for the "worker", a connection provider, and real VirtualClients. Everything is closed
 * after each test, in reverse order.
 */
import { afterEach } from "vitest";
import { createConnectionProvider, type ConnectionProvider, VirtualClient, type VirtualClientOptions } from "../../../src/client/index.js";
import type { ReceivedCpmMessage } from "../../../src/client/cpm-session.js";
import type { IterationContext } from "../../../src/client/iteration-context.js";
import { seededRandom } from "../../../src/client/prng.js";
import type { ConnectionModel } from "../../../src/config/run-config.js";
import { createMsrpEndpoint, type MsrpEndpoint } from "../../../src/protocol/msrp/endpoint.js";
import type { PeerPlan } from "../../../src/scenario/plan.js";
import { createCpmServer, type CpmServer, type CpmServerOptions } from "../../../src/server/index.js";
import { realClock } from "../../../src/time/clock.js";
import { CountingSink } from "./counting-sink.js";

export const DOMAIN = "cpm.test";

export interface Rig {
  server: CpmServer;
  msrp: MsrpEndpoint;
  provider: ConnectionProvider;
  metrics: CountingSink;
  received: ReceivedCpmMessage[];
  client(user: string, index: number, extra?: Partial<VirtualClientOptions>): Promise<VirtualClient>;
}

export function sessionRig() {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  return {
    defer(fn: () => Promise<void>): void {
      cleanup.push(fn);
    },
    async rig(
      opts: { model?: ConnectionModel; server?: CpmServerOptions; msrp?: MsrpEndpoint } = {},
    ): Promise<Rig> {
      const metrics = new CountingSink();
      const server = await createCpmServer({ port: 0, domain: DOMAIN, ...opts.server });
      cleanup.push(() => server.close());
      const msrp = opts.msrp ?? (await createMsrpEndpoint({ metrics, listen: false }));
      cleanup.push(() => msrp.close());
      const provider = await createConnectionProvider({
        model: opts.model ?? "per-client",
        transport: "tcp",
        target: { host: "127.0.0.1", port: server.sipAddress.port },
        sharedConnections: 2,
        metrics,
        clock: realClock,
      });
      cleanup.push(() => provider.close());
      const received: ReceivedCpmMessage[] = [];
      return {
        server,
        msrp,
        provider,
        metrics,
        received,
        async client(user, index, extra = {}) {
          const c = new VirtualClient({
            index,
            user,
            password: `${user}-secret`,
            domain: DOMAIN,
            connections: provider,
            metrics,
            clock: realClock,
            requestTimeoutMs: 5000,
            registerExpires: 600,
            refreshFraction: 0.9,
            msrp,
            onMessage: (m) => received.push(m),
            ...extra,
          });
          cleanup.push(() => c.dispose());
          if (!(await c.register())) throw new Error(`${user} did not register`);
          return c;
        },
      };
    },
  };
}

/** An iteration context whose peers are fixed users of the test domain. */
export function context(peer: string | null | ((p: PeerPlan) => string | null), seed = 1): IterationContext {
  return {
    iterationIndex: 0,
    random: seededRandom(seed),
    peerUri: typeof peer === "function" ? peer : () => (peer === null ? null : `sip:${peer}@${DOMAIN}`),
    state: {},
  };
}

/** Polls `cond` every 5 ms; rejects after `timeoutMs` (a missing event fails the test, never hangs it). */
export async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
