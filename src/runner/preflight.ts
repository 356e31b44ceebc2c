/**
 * Is an external target there before any worker starts? TCP: a connect that succeeds. UDP: an
 * OPTIONS request answered by anything within the timeout (a refused port shows up as an ICMP
 * error on the connected socket). Failure is a UserError naming the target and the fix.
 */
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import type { SipTransportName } from "../config/run-config.js";
import { ExitCode, UserError } from "../errors.js";

export async function checkTargetReachable(
  target: { host: string; port: number },
  transport: SipTransportName,
  timeoutMs = 2000,
): Promise<void> {
  const where = `${transport}://${target.host}:${target.port}`;
  const problem = transport === "tcp" ? await tcpProblem(target, timeoutMs) : await udpProblem(target, timeoutMs);
  if (problem !== null) {
    throw new UserError(`The target ${where} is not reachable (${problem}): start it or correct --target and --transport.`, ExitCode.runFailed);
  }
}

function tcpProblem(target: { host: string; port: number }, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    const finish = (problem: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => finish(`no TCP connection within ${timeoutMs} ms`), timeoutMs);
    socket.once("connect", () => finish(null));
    socket.once("error", (err: NodeJS.ErrnoException) => finish(err.code === "ECONNREFUSED" ? "connection refused" : err.message));
  });
}

function udpProblem(target: { host: string; port: number }, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const family = target.host.includes(":") ? "udp6" : "udp4";
    const socket = createSocket(family);
    let settled = false;
    const finish = (problem: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      resolve(problem);
    };
    const timer = setTimeout(() => finish(`no answer to OPTIONS over UDP within ${timeoutMs} ms`), timeoutMs);
    socket.on("error", (err: NodeJS.ErrnoException) => finish(err.code === "ECONNREFUSED" ? "port unreachable" : err.message));
    // Any datagram back means a SIP element listens there; its status does not matter.
    socket.on("message", () => finish(null));
    socket.connect(target.port, target.host, () => {
      const local = socket.address();
      const tag = randomBytes(6).toString("hex");
      const hostPort = target.host.includes(":") ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
      const localHost = local.family === "IPv6" ? `[${local.address}]` : local.address;
      const request =
        `OPTIONS sip:${hostPort} SIP/2.0\r\n` +
        `Via: SIP/2.0/UDP ${localHost}:${local.port};branch=z9hG4bK-cpmload-${tag};rport\r\n` +
        "Max-Forwards: 70\r\n" +
        `From: <sip:cpm-load@${localHost}>;tag=${tag}\r\n` +
        `To: <sip:${hostPort}>\r\n` +
        `Call-ID: ${tag}@cpm-load\r\n` +
        "CSeq: 1 OPTIONS\r\n" +
        "Content-Length: 0\r\n\r\n";
      socket.send(request, (err) => {
        if (err) finish(err.message);
      });
    });
  });
}
