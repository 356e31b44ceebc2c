/**
 * The real connection and client factories of a client worker: per worker, the SIP connection
 * provider (per-client or shared model) and ONE MSRP endpoint that every client of the worker uses
 * for its sessions, so MSRP connections to the same PF address are pooled per worker (RFC 4975
 * §5.4 reuse) and one listener serves the worker's passive sessions. Kept apart from
 * worker-entry.ts (the thread main) so tests can build and close them in-process.
 */
import { createConnectionProvider, VirtualClient, type ConnectionProvider } from "../client/index.js";
import { createMsrpEndpoint, type MsrpEndpoint } from "../protocol/msrp/endpoint.js";
import type { RunConfig } from "../config/run-config.js";
import { installSipJsRuntime, type SipJsRuntimeOptions } from "../protocol/sip/sipjs-runtime.js";
import type { WorkerFactories } from "./worker-runtime.js";

/**
 * MSRP listens on loopback: the clients take the active role towards the PF (they connect to the
 * path in its answer), so the listener is only for peers that choose to connect to us, and the
 * targets a run may reach are local ones.
 */
export const WORKER_MSRP_HOST = "127.0.0.1";

/**
 * SIP.js Timers L and M over TCP (ms). RFC 3261/6026 keep a finished INVITE transaction 64·T1 =
 * 32 s to absorb retransmissions, which TCP never produces; each holds its session graph
 * (~45 KB measured per set-up-and-closed session, caller and callee), so at 500 sessions/s the
 * worker's heap grew by ~24 MB/s and its major GCs stalled the loop for hundreds of ms. Over UDP
 * the RFC value stays: there retransmissions are real.
 */
export const TCP_TIMER_LM_MS = 4000;

export interface WorkerConnections {
  sip: ConnectionProvider;
  msrp: MsrpEndpoint;
  /** Closes the MSRP endpoint and the SIP connections (both, even when one fails). */
  close(): Promise<void>;
}

export const workerFactories: WorkerFactories<WorkerConnections> = {
  async createConnections({ config, target, metrics, clock }) {
    installSipJsRuntime(sipJsRuntimeOptions(config));
    const sip = await createConnectionProvider({
      model: config.connection,
      transport: config.transport,
      target,
      sharedConnections: config.sharedConnections,
      metrics,
      clock,
    });
    let msrp: MsrpEndpoint;
    try {
      msrp = await createMsrpEndpoint({ host: WORKER_MSRP_HOST, port: 0, clock, metrics });
    } catch (err) {
      await sip.close().catch(() => undefined);
      throw err;
    }
    return {
      sip,
      msrp,
      async close() {
        await Promise.allSettled([msrp.close(), sip.close()]);
      },
    };
  },
  createClient(spec, { config, connections, metrics, clock }) {
    const client = new VirtualClient({
      index: spec.index,
      user: spec.user,
      password: spec.password,
      domain: spec.domain,
      connections: connections.sip,
      msrp: connections.msrp,
      metrics,
      clock,
      requestTimeoutMs: config.requestTimeoutMs,
      registerExpires: config.plan.population.registerExpires,
      refreshFraction: config.plan.population.refreshFraction,
      seed: config.plan.seed,
      ...(config.plan.population.answer ? { answer: config.plan.population.answer } : {}),
    });
    return client;
  },
};

function sipJsRuntimeOptions(config: RunConfig): SipJsRuntimeOptions {
  return config.transport === "tcp" ? { timerLMs: TCP_TIMER_LM_MS } : {};
}
