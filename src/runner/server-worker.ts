/**
 * Thread main of the embedded server during `run`: the server gets its own event loop so the
 * client workers' load does not queue behind it (and its own lag does not hide in theirs).
 * Messages: start(options) → listening(address) | error; close → closed(stats).
 */
import { parentPort, type MessagePort } from "node:worker_threads";
import { UserError } from "../errors.js";
import { createCpmServer, type CpmServer } from "../server/index.js";
import type { CoordinatorToServer, ServerToCoordinator } from "./protocol.js";

if (!parentPort) throw new Error("server-worker.js must run in a worker thread");
const port: MessagePort = parentPort;

let server: CpmServer | null = null;
const post = (message: ServerToCoordinator): void => port.postMessage(message);

port.on("message", (message: CoordinatorToServer) => {
  void handle(message);
});

async function handle(message: CoordinatorToServer): Promise<void> {
  if (message.type === "start") {
    try {
      server = await createCpmServer(message.options);
      const { host, port: sipPort, transports } = server.sipAddress;
      post({ type: "listening", host, port: sipPort, transports: [...transports] });
    } catch (err) {
      post({ type: "error", message: err instanceof Error ? err.message : String(err), userError: err instanceof UserError });
    }
    return;
  }
  const stats = server?.stats() ?? null;
  await server?.close().catch(() => undefined);
  server = null;
  post({ type: "closed", stats });
  // Nothing may keep this thread alive once the server is closed.
  port.close();
}
