import type { PfStats } from "./pf/pf-stats.js";

export type { PfStats } from "./pf/pf-stats.js";

/**
 * Server counters. Kept as plain numbers and small records so `stats()` is a cheap snapshot that
 * can cross a worker-thread boundary by structured clone.
 */
export interface ServerStats {
  /** Requests processed (retransmissions not included), by method. */
  requests: Record<string, number>;
  /** Final and provisional responses sent (retransmission answers not included), by status. */
  responses: Record<string, number>;
  /** Request retransmissions absorbed by the transaction layer (answered from cache or dropped). */
  retransmissions: number;
  /** AORs with at least one live binding, and the number of live bindings. */
  registeredAors: number;
  contacts: number;
  /** Open TCP connections right now, and accepted in total. */
  tcpConnections: number;
  tcpConnectionsAccepted: number;
  /** Messages that could not be parsed or framed. */
  parseErrors: number;
  /** Exceptions caught around request handling (the server answered 500 or dropped the message). */
  handlerErrors: number;
  /** Socket errors that concern one peer (UDP send failures, TCP resets): counted, never fatal. */
  transportErrors: number;
  /** Requests the server sent itself (PF legs), by method; responses to them by status; UDP retransmissions; timeouts. */
  requestsSent: Record<string, number>;
  responsesReceived: Record<string, number>;
  retransmissionsSent: number;
  clientTimeouts: number;
  /** The PF's B2BUA sessions and MSRP relay. */
  pf: PfStats;
}

export class StatsCollector {
  readonly requests: Record<string, number> = Object.create(null) as Record<string, number>;
  readonly responses: Record<string, number> = Object.create(null) as Record<string, number>;
  retransmissions = 0;
  tcpConnections = 0;
  tcpConnectionsAccepted = 0;
  parseErrors = 0;
  handlerErrors = 0;
  transportErrors = 0;

  request(method: string): void {
    this.requests[method] = (this.requests[method] ?? 0) + 1;
  }

  response(status: number): void {
    this.responses[status] = (this.responses[status] ?? 0) + 1;
  }

  snapshot(
    registry: { aors: number; contacts: number },
    client: { requestsSent: Record<string, number>; responsesReceived: Record<string, number>; retransmissionsSent: number; timeouts: number; userErrors: number },
    pf: PfStats,
  ): ServerStats {
    return {
      requests: { ...this.requests },
      responses: { ...this.responses },
      retransmissions: this.retransmissions,
      registeredAors: registry.aors,
      contacts: registry.contacts,
      tcpConnections: this.tcpConnections,
      tcpConnectionsAccepted: this.tcpConnectionsAccepted,
      parseErrors: this.parseErrors,
      transportErrors: this.transportErrors,
      requestsSent: { ...client.requestsSent },
      responsesReceived: { ...client.responsesReceived },
      retransmissionsSent: client.retransmissionsSent,
      clientTimeouts: client.timeouts,
      handlerErrors: this.handlerErrors + client.userErrors,
      pf,
    };
  }
}
