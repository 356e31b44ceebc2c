/**
 * Bind the SIP listeners: TCP and UDP on the SAME port (clients are told one host:port). With port 0
 * the system picks a free TCP port and UDP binds that number; if UDP happens to be taken there, try
 * again with a new TCP port a few times. Bind failures become one-sentence UserErrors.
 */
import type { SipTransportName } from "../../config/run-config.js";
import { UserError } from "../../errors.js";
import type { StatsCollector } from "../stats.js";
import { TcpListener } from "./tcp-listener.js";
import type { TransportHandler } from "./transport-handler.js";
import { UdpEndpoint } from "./udp-endpoint.js";

const EPHEMERAL_ATTEMPTS = 8;

export interface BoundListeners {
  port: number;
  tcp: TcpListener | null;
  udp: UdpEndpoint | null;
}

export async function bindListeners(
  host: string,
  port: number,
  transports: readonly SipTransportName[],
  handler: TransportHandler,
  stats: StatsCollector,
): Promise<BoundListeners> {
  const wantTcp = transports.includes("tcp");
  const wantUdp = transports.includes("udp");
  const attempts = port === 0 && wantTcp && wantUdp ? EPHEMERAL_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    let tcp: TcpListener | null = null;
    try {
      if (wantTcp) tcp = await TcpListener.listen(host, port, handler, stats);
      const boundPort = tcp ? tcp.port : port;
      const udp = wantUdp ? await UdpEndpoint.bind(host, boundPort, handler, stats) : null;
      return { port: udp && !tcp ? udp.port : boundPort, tcp, udp };
    } catch (err) {
      await tcp?.close();
      if (attempt < attempts && errorCode(err) === "EADDRINUSE") continue;
      throw bindError(err, host, port);
    }
  }
}

function errorCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : undefined;
}

function bindError(err: unknown, host: string, port: number): Error {
  switch (errorCode(err)) {
    case "EADDRINUSE":
      return new UserError(
        `Port ${port} on ${host} is already in use: stop the other process or choose another port with --port.`,
      );
    case "EACCES":
      return new UserError(`Port ${port} on ${host} needs privileges this process lacks: choose a port above 1023 with --port.`);
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new UserError(`Address ${host} is not an address of this machine: choose a local address with --host (e.g. 127.0.0.1).`);
    default:
      return err instanceof Error ? err : new Error(String(err));
  }
}
