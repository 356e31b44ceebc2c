import { createSocket, type Socket } from "node:dgram";
import { createServer, type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ExitCode, UserError } from "../../src/errors.js";
import { checkTargetReachable } from "../../src/runner/preflight.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function udpSocket(onMessage?: (msg: Buffer, socket: Socket, rinfo: { port: number; address: string }) => void): Promise<number> {
  const socket = createSocket("udp4");
  if (onMessage) socket.on("message", (msg, rinfo) => onMessage(msg, socket, rinfo));
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
  cleanups.push(() => new Promise<void>((r) => socket.close(() => r())));
  return socket.address().port;
}

describe("target preflight", () => {
  it("accepts a TCP target that accepts connections", async () => {
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    await expect(checkTargetReachable({ host: "127.0.0.1", port: (server.address() as AddressInfo).port }, "tcp")).resolves.toBeUndefined();
  });

  it("rejects a refused TCP port with one sentence naming the target and the fix", async () => {
    const port = await freeTcpPort();
    const err = await checkTargetReachable({ host: "127.0.0.1", port }, "tcp").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(ExitCode.runFailed);
    expect((err as UserError).message).toBe(
      `The target tcp://127.0.0.1:${port} is not reachable (connection refused): start it or correct --target and --transport.`,
    );
  });

  it("accepts a UDP target that answers the OPTIONS probe, whatever it answers", async () => {
    let probe = "";
    const port = await udpSocket((msg, socket, rinfo) => {
      probe = msg.toString();
      socket.send("SIP/2.0 404 Not Found\r\n\r\n", rinfo.port, rinfo.address);
    });
    await expect(checkTargetReachable({ host: "127.0.0.1", port }, "udp")).resolves.toBeUndefined();
    expect(probe).toMatch(/^OPTIONS sip:127\.0\.0\.1:\d+ SIP\/2\.0\r\n/);
    expect(probe).toContain("CSeq: 1 OPTIONS\r\n");
    expect(probe.endsWith("Content-Length: 0\r\n\r\n")).toBe(true);
  });

  it("rejects a UDP port nobody listens on (ICMP port unreachable)", async () => {
    const port = await udpSocket();
    // Free the port again: nothing listens there now.
    await cleanups.pop()!();
    await expect(checkTargetReachable({ host: "127.0.0.1", port }, "udp")).rejects.toThrow(/is not reachable \(port unreachable\)/);
  });

  it("rejects a UDP target that stays silent, after the timeout", async () => {
    const port = await udpSocket(() => {});
    await expect(checkTargetReachable({ host: "127.0.0.1", port }, "udp", 200)).rejects.toThrow(
      /no answer to OPTIONS over UDP within 200 ms/,
    );
  });
});
