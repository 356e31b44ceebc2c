/**
 * The embedded CPM server (PF/CF) as a library: SIP over TCP and UDP, server transactions with
 * retransmission absorption, REGISTER with optional digest auth, OPTIONS, the PF as a B2BUA for
 * 1-1 sessions and large messages with MSRP anchored on its own MSRP listener (pf/b2bua.ts), and
 * the right 4xx/5xx for everything else (see core/sip-core.ts). Later issues add handlers
 * (pager mode, deferred store, CF) on the same core with `SipCore.setHandler`.
 *
 * Layout: transport/ (sockets → flows), transaction/ (server and client transactions), core/ (UAS
 * checks, responses, injected delay), registrar/ (bindings), auth/ (digest), pf/ (B2BUA, SDP
 * rewriting, MSRP anchoring), timers/.
 */
import type { SipTransportName } from "../config/run-config.js";
import { getHeader } from "../protocol/sip/headers.js";
import { DigestAuthenticator } from "./auth/digest-authenticator.js";
import type { IncomingRequest } from "./core/incoming-request.js";
import { ResponseSender } from "./core/response-sender.js";
import { SipCore } from "./core/sip-core.js";
import { resolveServerOptions, type CpmServerOptions } from "./options.js";
import { BindingStore } from "./registrar/binding-store.js";
import { addressOfRecord, RegisterHandler } from "./registrar/register-handler.js";
import { StatsCollector, type ServerStats } from "./stats.js";
import { ServerTransactionTable } from "./transaction/server-transaction-table.js";
import { bindListeners } from "./transport/bind.js";
import { ClientTransactions } from "./transaction/client-transactions.js";
import { ParticipatingFunction } from "./pf/b2bua.js";
import type { PfStats } from "./pf/pf-stats.js";
import { createMsrpEndpoint, type MsrpEndpoint } from "../protocol/msrp/endpoint.js";

export type { CpmServerOptions, ServerAuthOptions, DigestAlgorithmName } from "./options.js";
export type { ServerStats, PfStats } from "./stats.js";
export { buildServerOptionsFromFlags, type ServeFlags } from "./cli-options.js";
export { SERVER_HEADER } from "./core/response-sender.js";

export interface CpmServer {
  readonly sipAddress: { host: string; port: number; transports: SipTransportName[] };
  /** Where the PF's MSRP listener is (both legs of every session connect here). */
  readonly msrpAddress: { host: string; port: number };
  stats(): ServerStats;
  /** Close listeners, connections and timers. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Option tags we accept in Require: RFC 3327 Path (stored and echoed by the registrar) and RFC 4028
 * timer (the PF passes refreshes between the legs).
 */
const SUPPORTED_OPTION_TAGS = ["path", "timer"] as const;
/** Bodies we accept: SDP offers of sessions. */
const ACCEPT = "application/sdp";

export async function createCpmServer(opts: CpmServerOptions = {}): Promise<CpmServer> {
  const o = resolveServerOptions(opts);
  const stats = new StatsCollector();
  const table = new ServerTransactionTable(o.clock, { udpLifetimeMs: o.udpTransactionLifetimeMs });
  const sender = new ResponseSender(o.clock, o.delay, table, stats);
  const core = new SipCore(table, sender, stats, SUPPORTED_OPTION_TAGS);
  const bindings = new BindingStore(o.clock, o.expirySweepIntervalMs);
  const registrar = new RegisterHandler(bindings, o, o.clock);
  const auth = o.auth === null ? null : new DigestAuthenticator(o.auth, o.clock);

  core.setHandler("REGISTER", (req: IncomingRequest) => {
    const aor = addressOfRecord(getHeader(req.message, "To"));
    if (aor === null) {
      req.respond(400, "Bad Request", [["Warning", '399 cpm-serv "To is not a SIP or SIPS URI"']]);
      return;
    }
    if (auth !== null && !auth.authorize(req, aor.user)) return;
    registrar.handle(req, aor);
  });
  core.setHandler("OPTIONS", (req: IncomingRequest) => {
    req.respond(200, "OK", [
      ["Allow", core.allow],
      ["Accept", ACCEPT],
      ["Supported", core.supportedValue],
    ]);
  });
  // Out of dialog a BYE belongs to nothing; in a dialog the PF's dialog handler takes it.
  core.setHandler("BYE", (req: IncomingRequest) => req.respond(481, "Call/Transaction Does Not Exist"));

  let msrp: MsrpEndpoint;
  try {
    msrp = await createMsrpEndpoint({ host: o.msrpHost, port: o.msrpPort, clock: o.clock });
  } catch (err) {
    sender.close();
    table.close();
    bindings.clear();
    throw err;
  }
  let listeners: Awaited<ReturnType<typeof bindListeners>>;
  try {
    listeners = await bindListeners(o.host, o.port, o.transports, core, stats);
  } catch (err) {
    sender.close();
    table.close();
    bindings.clear();
    await msrp.close();
    throw err;
  }
  const txs = new ClientTransactions(o.clock, {
    viaHost: o.host,
    viaPort: listeners.port,
    t1Ms: o.sipT1Ms,
    inviteTimeoutMs: o.inviteTimeoutMs,
    provisionalTimeoutMs: o.noAnswerTimeoutMs,
  });
  const pf = new ParticipatingFunction(
    {
      host: o.host,
      port: listeners.port,
      msrpConnectTimeoutMs: o.msrpConnectTimeoutMs,
      minSessionExpires: o.minSessionExpires,
      t1Ms: o.sipT1Ms,
      t2Ms: 4000,
      knownUsers: new Set(o.auth?.users.keys() ?? []),
    },
    { clock: o.clock, txs, bindings, auth, msrp, newTag: () => sender.newTag(), allow: () => core.allow },
  );
  core.setHandler("INVITE", (req) => pf.onInvite(req));
  core.setDialogHandler((req) => pf.onInDialog(req));
  core.setAckHandler((ack, flow) => pf.onAck(ack, flow));
  core.setResponseHandler((response) => {
    txs.onResponse(response);
  });

  const pfStats = (): PfStats => {
    const c = pf.counters;
    const m = msrp.stats();
    return {
      sessionsActive: pf.activeSessions,
      sessionsStarted: c.sessionsStarted,
      sessionsEstablished: c.sessionsEstablished,
      sessionsEnded: c.sessionsEnded,
      sessionsFailed: { ...c.sessionsFailed },
      modifications: c.modifications,
      reanchored: c.reanchored,
      msrpChunksRelayed: c.relay.chunks,
      msrpBytesRelayed: c.relay.bytes,
      msrpFailedChunks: c.relay.failedChunks,
      msrpReportsRelayed: c.relay.reports,
      msrpSessions: m.sessions,
      msrpConnections: m.inboundConnections + m.outboundConnections,
      msrpBadFrames: m.badFrames,
      msrpRejected: m.rejected481 + m.rejected506 + m.rejected403,
    };
  };

  let closing: Promise<void> | null = null;
  return {
    sipAddress: { host: o.host, port: listeners.port, transports: [...o.transports] },
    msrpAddress: msrp.address,
    stats: () => stats.snapshot({ aors: bindings.aorCount, contacts: bindings.bindingCount }, txs.counters, pfStats()),
    close() {
      closing ??= (async () => {
        pf.close();
        txs.close();
        sender.close();
        table.close();
        bindings.clear();
        await Promise.all([listeners.tcp?.close(), listeners.udp?.close(), msrp.close()]);
      })();
      return closing;
    },
  };
}
