/**
 * The relay side of msrp-throughput.mjs, run in a worker thread the way the embedded PF runs in
 * the server thread: one endpoint; per request it creates a passive leg for the sender and an
 * active leg towards the receiver's path, bridges them, and answers with the passive leg's path.
 */
import { parentPort, workerData } from "node:worker_threads";

const m = await import(workerData.msrpUrl);
const endpoint = await m.createMsrpEndpoint({ sessionDefaults: { maxMessageBytes: workerData.maxMessageBytes } });

parentPort.on("message", async (msg) => {
  if (msg.type === "bridge") {
    const legA = endpoint.createSession({ setup: "passive" });
    const legB = endpoint.createSession({ setup: "active" });
    m.bridgeMsrpSessions(legA, legB, { responses: msg.responses ?? "hop-by-hop" });
    await legB.connect(msg.receiverPath);
    parentPort.postMessage({ type: "bridged", id: msg.id, path: legA.localPath });
  } else if (msg.type === "close") {
    await endpoint.close();
    parentPort.postMessage({ type: "closed" });
    parentPort.close();
  }
});
parentPort.postMessage({ type: "ready" });
