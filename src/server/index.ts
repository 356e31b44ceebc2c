/**
 * The embedded CPM server (PF/CF) as a library. This issue gives it the registrar base: SIP over
 * TCP and UDP, server transactions with retransmission absorption, REGISTER with optional digest
 * auth, OPTIONS, and the right 4xx/5xx for everything else (see core/sip-core.ts). Later issues add
 * handlers (B2BUA PF, MSRP, CF) on the same core with `SipCore.setHandler`.
 *
 * Layout: transport/ (sockets → flows), transaction/ (matching, retransmissions), core/ (UAS checks,
 * responses, injected delay), registrar/ (bindings), auth/ (digest).
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

export type { CpmServerOptions, ServerAuthOptions, DigestAlgorithmName } from "./options.js";
export type { ServerStats } from "./stats.js";
export { buildServerOptionsFromFlags, type ServeFlags } from "./cli-options.js";
export { SERVER_HEADER } from "./core/response-sender.js";

export interface CpmServer {
  readonly sipAddress: { host: string; port: number; transports: SipTransportName[] };
  stats(): ServerStats;
  /** Close listeners, connections and timers. Safe to call twice. */
  close(): Promise<void>;
}

/** Option tags we accept in Require (RFC 3327 Path is stored and echoed by the registrar). */
const SUPPORTED_OPTION_TAGS = ["path"] as const;
/** Bodies we accept; nothing this issue handles carries one, SDP comes with sessions. */
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
  // No dialogs exist yet (sessions come with the B2BUA PF): every BYE is for an unknown dialog.
  core.setHandler("BYE", (req: IncomingRequest) => req.respond(481, "Call/Transaction Does Not Exist"));

  const listeners = await bindListeners(o.host, o.port, o.transports, core, stats);

  let closing: Promise<void> | null = null;
  return {
    sipAddress: { host: o.host, port: listeners.port, transports: [...o.transports] },
    stats: () => stats.snapshot({ aors: bindings.aorCount, contacts: bindings.bindingCount }),
    close() {
      closing ??= (async () => {
        sender.close();
        table.close();
        bindings.clear();
        await Promise.all([listeners.tcp?.close(), listeners.udp?.close()]);
      })();
      return closing;
    },
  };
}
