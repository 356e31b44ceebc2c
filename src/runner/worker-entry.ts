/**
 * Thread main of a client worker: wires the WorkerRuntime to parentPort with the real connection
 * provider and VirtualClients. Uncaught errors are deliberately not caught here: the thread dies,
 * the pool sees its `error`/`exit` and reports the crash, and the run finishes with the others.
 */
import { parentPort, type MessagePort } from "node:worker_threads";
import { createConnectionProvider, VirtualClient, type ConnectionProvider } from "../client/index.js";
import { installSipJsRuntime } from "../protocol/sip/sipjs-runtime.js";
import { realClock } from "../time/clock.js";
import type { CoordinatorToWorker, WorkerToCoordinator } from "./protocol.js";
import { WorkerRuntime, type WorkerFactories } from "./worker-runtime.js";

if (!parentPort) throw new Error("worker-entry.js must run in a worker thread");
const port: MessagePort = parentPort;

const factories: WorkerFactories<ConnectionProvider> = {
  async createConnections({ config, target, metrics, clock }) {
    installSipJsRuntime();
    return createConnectionProvider({
      model: config.connection,
      transport: config.transport,
      target,
      sharedConnections: config.sharedConnections,
      metrics,
      clock,
    });
  },
  createClient(spec, { config, connections, metrics, clock }) {
    return new VirtualClient({
      index: spec.index,
      user: spec.user,
      password: spec.password,
      domain: spec.domain,
      connections,
      metrics,
      clock,
      requestTimeoutMs: config.requestTimeoutMs,
      registerExpires: config.plan.population.registerExpires,
      refreshFraction: config.plan.population.refreshFraction,
    });
  },
};

const runtime = new WorkerRuntime((message: WorkerToCoordinator) => port.postMessage(message), factories, realClock);

port.on("message", (message: CoordinatorToWorker) => {
  void runtime.handle(message).then(() => {
    // After `done` nothing else is expected: let the thread end once its sockets are closed.
    if (message.type === "stop") port.close();
  });
});
