/**
 * Session test rig: the real embedded CPM server (registrar + PF anchoring MSRP), one real MSRP
 * endpoint for the "worker", a connection provider, and real VirtualClients. Everything is closed
 * after each test, in reverse order.
 */
import { type ConnectionProvider, VirtualClient, type VirtualClientOptions } from "../../../src/client/index.js";
import type { ReceivedCpmMessage } from "../../../src/client/cpm-session.js";
import type { IterationContext } from "../../../src/client/iteration-context.js";
import { seededRandom } from "../../../src/client/prng.js";
import type { ConnectionModel } from "../../../src/config/run-config.js";
import { createMsrpEndpoint, type MsrpEndpoint } from "../../../src/protocol/msrp/endpoint.js";
import type { PeerPlan, SendStepPlan } from "../../../src/scenario/plan.js";
import { createCpmServer, type CpmServer, type CpmServerOptions } from "../../../src/server/index.js";
import { clientOptions, cleanupAfterEach, connectProvider, TEST_DOMAIN } from "./client-fixtures.js";
import { CountingSink } from "./counting-sink.js";

export { until } from "./client-fixtures.js";
export const DOMAIN = TEST_DOMAIN;

export interface Rig {
  server: CpmServer;
  msrp: MsrpEndpoint;
  provider: ConnectionProvider;
  metrics: CountingSink;
  received: ReceivedCpmMessage[];
  client(user: string, index: number, extra?: Partial<VirtualClientOptions>): Promise<VirtualClient>;
}

export function sessionRig() {
  const defer = cleanupAfterEach();
  return {
    defer,
    async rig(
      opts: { model?: ConnectionModel; server?: CpmServerOptions; msrp?: MsrpEndpoint } = {},
    ): Promise<Rig> {
      const metrics = new CountingSink();
      const server = await createCpmServer({ port: 0, domain: DOMAIN, ...opts.server });
      defer(() => server.close());
      const msrp = opts.msrp ?? (await createMsrpEndpoint({ metrics, listen: false }));
      defer(() => msrp.close());
      const provider = await connectProvider({ port: server.sipAddress.port, metrics, model: opts.model, sharedConnections: 2 });
      defer(() => provider.close());
      const received: ReceivedCpmMessage[] = [];
      return {
        server,
        msrp,
        provider,
        metrics,
        received,
        async client(user, index, extra = {}) {
          const c = new VirtualClient(
            clientOptions({
              index,
              user,
              password: `${user}-secret`,
              connections: provider,
              metrics,
              msrp,
              onMessage: (m) => received.push(m),
              ...extra,
            }),
          );
          defer(() => c.dispose());
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

/** A send step of `count` fixed-size text messages, at once, 2 KB chunks, no IMDN; `extra` overrides. */
export const sendStep = (count: number, bytes = 200, extra: Partial<SendStepPlan> = {}): SendStepPlan => ({
  kind: "send",
  count,
  intervalMs: 0,
  size: { kind: "fixed", bytes },
  contentType: "text/plain",
  chunkSize: 2048,
  imdn: false,
  ...extra,
});
