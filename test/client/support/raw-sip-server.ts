/**
 * A scriptable SIP peer for client tests that need behaviour the embedded server does not have
 * (answers in reverse order, silence, a failing refresh, requests sent to clients). Real sockets on
 * 127.0.0.1, port 0; messages parsed with our codec. TCP and UDP on the same port.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server, type Socket } from "node:net";
import { parseSipMessage, SipStreamFramer } from "../../../src/protocol/sip/parser.js";
import { serializeSipMessage } from "../../../src/protocol/sip/serializer.js";
import type { SipMessage, SipRequest } from "../../../src/protocol/sip/message.js";

export interface Received {
  message: SipMessage;
  transport: "tcp" | "udp";
  /** Send raw bytes back the way the message came (TCP: same connection; UDP: source address). */
  reply(data: Buffer | string | SipMessage): void;
  connection: Socket | undefined;
}

export interface RawSipServer {
  port: number;
  received: Received[];
  connections: Set<Socket>;
  /** Resolves when `count` messages matching `filter` have arrived (bounded by timeoutMs). */
  waitFor(count: number, filter?: (r: Received) => boolean, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startRawSipServer(onMessage: (r: Received) => void = () => {}): Promise<RawSipServer> {
  const received: Received[] = [];
  const connections = new Set<Socket>();
  const waiters = new Set<() => void>();
  const push = (r: Received) => {
    received.push(r);
    onMessage(r);
    for (const w of [...waiters]) w();
  };
  const toBytes = (data: Buffer | string | SipMessage): Buffer =>
    typeof data === "string" ? Buffer.from(data) : Buffer.isBuffer(data) ? data : serializeSipMessage(data);

  const tcp: Server = createServer((socket) => {
    connections.add(socket);
    const framer = new SipStreamFramer();
    socket.on("data", (chunk) => {
      for (const frame of framer.push(chunk)) {
        if (!frame.ok) continue;
        push({ message: frame.message, transport: "tcp", connection: socket, reply: (d) => socket.writable && socket.write(toBytes(d)) });
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => connections.delete(socket));
  });
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  const port = (tcp.address() as { port: number }).port;
  const udp: UdpSocket = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(port, "127.0.0.1", () => resolve());
  });
  udp.on("message", (datagram, rinfo) => {
    const parsed = parseSipMessage(datagram);
    if (!parsed.ok) return;
    push({ message: parsed.message, transport: "udp", connection: undefined, reply: (d) => udp.send(toBytes(d), rinfo.port, rinfo.address) });
  });

  return {
    port,
    received,
    connections,
    waitFor(count, filter = () => true, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hits = received.filter(filter);
          if (hits.length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hits);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`only ${received.filter(filter).length} of ${count} expected messages arrived`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      for (const c of connections) c.destroy();
      await Promise.all([new Promise<void>((r) => tcp.close(() => r())), new Promise<void>((r) => udp.close(() => r()))]);
    },
  };
}

export function isRequest(m: SipMessage): m is SipRequest {
  return m.kind === "request";
}
