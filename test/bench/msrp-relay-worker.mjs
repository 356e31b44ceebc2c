/**
 * The relay side of msrp-throughput.mjs, run in a worker thread the way the embedded PF runs in
 * the server thread.
 * - `bridge`: one MSRP endpoint; per request it creates a passive leg for the sender and an active
 *   leg towards the receiver's path, bridges them, and answers with the passive leg's path.
 * - `byte-relay`: the anchor for the same topology without MSRP: a plain TCP relay that accepts
 *   the sender's connection, connects to `target` and copies bytes across with the usual
 *   backpressure (pause the reader while the writer is over its high-water mark, resume on
 *   drain), exactly what `readable.pipe(writable)` does. Answers with its listening port.
 * - `byte-relay` with `reused: true`: the same relay reading the way cpm-load reads MSRP sockets
 *   (src/protocol/msrp/socket-reads.ts): into the thread's reused 1 MiB buffer, each read passed
 *   on from a copy slab. The ceiling for the PF's topology with the PF's own read path.
 */
import { connect, createServer } from "node:net";
import { parentPort, workerData } from "node:worker_threads";

const m = await import(workerData.msrpUrl);
const { adoptAcceptedSocket, BorrowedReads, CopySlabs } = await import(new URL("socket-reads.js", workerData.msrpUrl).href);
const endpoint = await m.createMsrpEndpoint({ sessionDefaults: { maxMessageBytes: workerData.maxMessageBytes } });
const byteRelays = [];

/** A byte relay to `target`; `reused`: it reads as cpm-load's MSRP sockets do (see the module comment). */
function startByteRelay(target, reused) {
  const server = createServer({ pauseOnConnect: reused }, (accepted) => {
    const reads = reused ? new BorrowedReads() : undefined;
    const a = reused ? adoptAcceptedSocket(accepted, reads) : accepted;
    const b = connect(reused ? { host: "127.0.0.1", port: target, onread: new BorrowedReads().onread } : { host: "127.0.0.1", port: target });
    a.setNoDelay(true);
    b.setNoDelay(true);
    const holdWhenFull = (ok) => {
      if (ok) return;
      a.pause();
      b.once("drain", () => a.resume());
    };
    if (reused) {
      const slabs = new CopySlabs();
      reads.handler = (bytes) => {
        let ok = true;
        for (const piece of slabs.copy(bytes)) ok = b.write(piece.bytes, piece.release);
        holdWhenFull(ok);
      };
    } else {
      a.on("data", (d) => holdWhenFull(b.write(d)));
    }
    a.on("end", () => b.end());
    b.on("end", () => a.end());
    a.on("error", () => b.destroy());
    b.on("error", () => a.destroy());
  });
  byteRelays.push(server);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
}

parentPort.on("message", async (msg) => {
  if (msg.type === "bridge") {
    const legA = endpoint.createSession({ setup: "passive" });
    const legB = endpoint.createSession({ setup: "active" });
    m.bridgeMsrpSessions(legA, legB, { responses: msg.responses ?? "hop-by-hop" });
    await legB.connect(msg.receiverPath);
    parentPort.postMessage({ type: "bridged", id: msg.id, path: legA.localPath });
  } else if (msg.type === "byte-relay") {
    const port = await startByteRelay(msg.target, msg.reused === true);
    parentPort.postMessage({ type: "byte-relay", id: msg.id, port });
  } else if (msg.type === "close") {
    for (const s of byteRelays) s.close();
    await endpoint.close();
    parentPort.postMessage({ type: "closed" });
    parentPort.close();
  }
});
parentPort.postMessage({ type: "ready" });
