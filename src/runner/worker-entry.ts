/**
 * Thread main of a client worker: wires the WorkerRuntime to parentPort with the real connection
 * provider, MSRP endpoint and VirtualClients (worker-factories.ts). Uncaught errors are
 * deliberately not caught here: the thread dies, the pool sees its `error`/`exit` and reports the
 * crash, and the run finishes with the others.
 */
import { parentPort, type MessagePort } from "node:worker_threads";
import { realClock } from "../time/clock.js";
import type { CoordinatorToWorker, WorkerToCoordinator } from "./protocol.js";
import { workerFactories } from "./worker-factories.js";
import { WorkerRuntime } from "./worker-runtime.js";

if (!parentPort) throw new Error("worker-entry.js must run in a worker thread");
const port: MessagePort = parentPort;

const runtime = new WorkerRuntime((message: WorkerToCoordinator) => port.postMessage(message), workerFactories, realClock);

port.on("message", (message: CoordinatorToWorker) => {
  void runtime.handle(message).then(() => {
    // After `done` nothing else is expected: let the thread end once its sockets are closed.
    if (message.type === "stop") port.close();
  });
});
