/**
 * The embedded server's worker thread, seen from the coordinator: start it with options built
 * from the run config, wait for its address, close it (bounded) at the end.
 */
import { Worker } from "node:worker_threads";
import { parseDelaySpec } from "../config/durations.js";
import type { RunConfig } from "../config/run-config.js";
import { ExitCode, UserError } from "../errors.js";
import { credentialsFor } from "../execution/user-names.js";
import type { CpmServerOptions } from "../server/options.js";
import { compiledRunnerFile } from "./pool.js";
import type { CoordinatorToServer, ServerToCoordinator, TargetAddress } from "./protocol.js";

/** A password template the server can expand itself (it only knows `{user}`). */
const SERVER_EXPANDABLE = /^[^{}]*(\{user\}[^{}]*)*$/;

/** The embedded server's options for a run: its address, the run's users and injected delay. */
export function embeddedServerOptions(config: RunConfig): CpmServerOptions {
  let delay = null;
  if (config.embedded.delay !== null) {
    delay = parseDelaySpec(config.embedded.delay);
    if (delay === null) {
      throw new UserError(`The delay "${config.embedded.delay}" is not valid: use e.g. 20ms, uniform(10ms,30ms), normal(20ms,2ms) or exponential(20ms).`);
    }
  }
  let auth: CpmServerOptions["auth"] = null;
  if (config.embedded.auth) {
    const population = config.plan.population;
    if (config.users && config.users.length > 0) auth = { users: config.users.map((u) => ({ ...u })) };
    else if (SERVER_EXPANDABLE.test(population.passwordTemplate)) auth = { passwordTemplate: population.passwordTemplate };
    else {
      // {index}/{n} in the password: hand the server the expanded list (clone-safe, ~40 B a user).
      auth = {
        users: Array.from({ length: population.clients }, (_, i) => credentialsFor(i, population, null)),
      };
    }
  }
  return {
    host: config.target.host,
    port: config.target.port,
    transports: ["tcp", "udp"],
    domain: config.domain,
    auth,
    delay,
    // RFC 3261 keeps UDP transactions 32 s; at thousands of REGISTERs/s that is hundreds of
    // thousands of cached responses. Client retransmissions end well before 10 s on loopback.
    udpTransactionLifetimeMs: 10_000,
  };
}

export class ServerThread {
  private constructor(
    private readonly worker: Worker,
    readonly address: TargetAddress,
  ) {}

  static async start(config: RunConfig, signal?: AbortSignal): Promise<ServerThread> {
    const options = embeddedServerOptions(config);
    const worker = new Worker(compiledRunnerFile("server-worker.js"), { name: "cpm-load embedded server" });
    const reply = await new Promise<ServerToCoordinator>((resolve) => {
      const onAbort = () => resolve({ type: "error", message: "interrupted while the embedded server was starting", userError: false });
      signal?.addEventListener("abort", onAbort, { once: true });
      worker.once("message", (m: ServerToCoordinator) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(m);
      });
      worker.once("error", (err) => resolve({ type: "error", message: err.message, userError: false }));
      worker.once("exit", (code) => resolve({ type: "error", message: `the server thread exited with code ${code}`, userError: false }));
      worker.postMessage({ type: "start", options } satisfies CoordinatorToServer);
    });
    if (reply.type !== "listening") {
      await worker.terminate();
      const message = reply.type === "error" ? reply.message : "unexpected reply from the server thread";
      if (reply.type === "error" && reply.userError) throw new UserError(message);
      throw new UserError(`The embedded server could not start (${message}): check --target and retry.`, ExitCode.runFailed);
    }
    // The listening host may be a wildcard; clients connect to loopback then.
    const host = reply.host === "0.0.0.0" || reply.host === "::" ? "127.0.0.1" : reply.host;
    return new ServerThread(worker, { host, port: reply.port });
  }

  /** Close the server; gives it `timeoutMs`, then terminates the thread. Returns its stats if any. */
  async close(timeoutMs = 1000): Promise<unknown> {
    const stats = await new Promise<unknown>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      this.worker.once("message", (m: ServerToCoordinator) => {
        clearTimeout(timer);
        resolve(m.type === "closed" ? m.stats : null);
      });
      this.worker.once("exit", () => {
        clearTimeout(timer);
        resolve(null);
      });
      this.worker.postMessage({ type: "close" } satisfies CoordinatorToServer);
    });
    await this.worker.terminate();
    return stats;
  }
}
