/**
 * `cpm-load serve`: the embedded CPM server in the foreground (its own process, so SIPp, another
 * machine or several load generators can target it) until SIGINT/SIGTERM, then a clean close.
 */
import type { Options } from "yargs";
import type { SipTransportName } from "../config/run-config.js";
import { UserError } from "../errors.js";
import { lowerHelperThreadPriority } from "./helper-threads.js";
import { optimizeHotCodeSooner } from "./v8-tuning.js";
import { exitSoon, onStopSignals } from "./signals.js";

export const SERVE_OPTIONS: Record<string, Options> = {
  host: { type: "string", default: "127.0.0.1", requiresArg: true, describe: "Address to listen on" },
  port: { type: "string", default: "5060", requiresArg: true, describe: "SIP port for TCP and UDP (0: any free port, printed at start)" },
  transport: { type: "string", default: "tcp,udp", requiresArg: true, describe: "Transports to serve: tcp, udp or tcp,udp" },
  auth: {
    type: "string",
    requiresArg: true,
    describe: "Require digest authentication: template:<password template with {user}> (e.g. 'template:{user}-secret') or a SIPp-style users file (user;password lines)",
  },
  "auth-algorithm": { type: "string", requiresArg: true, describe: "Digest algorithms to offer, in order: MD5, SHA-256 or SHA-256,MD5 (default MD5)" },
  delay: { type: "string", requiresArg: true, describe: "Delay before each final response: 20ms, uniform(10ms,30ms), normal(20ms,2ms), exponential(20ms)" },
  domain: { type: "string", requiresArg: true, describe: "Served SIP domain (default realm), e.g. cpm.test" },
  "msrp-port": { type: "string", default: "0", requiresArg: true, describe: "TCP port of the PF's MSRP listener (0: any free port, printed at start; SDP names it)" },
};

export interface ServeArgs {
  host: string;
  port: string;
  transport: string;
  auth?: string;
  "auth-algorithm"?: string;
  delay?: string;
  domain?: string;
  "msrp-port"?: string;
}

function parseTransports(text: string): SipTransportName[] {
  const names = text.split(",").map((t) => t.trim().toLowerCase()).filter((t) => t !== "");
  const bad = names.filter((t) => t !== "tcp" && t !== "udp");
  if (names.length === 0 || bad.length > 0) {
    throw new UserError(`--transport '${text}' is not valid: use tcp, udp or tcp,udp.`);
  }
  return [...new Set(names)] as SipTransportName[];
}

const formatHost = (host: string): string => (host.includes(":") ? `[${host}]` : host);

export async function serveCommand(args: ServeArgs): Promise<void> {
  if (process.env.CPM_LOAD_KEEP_HELPER_PRIORITY !== "1") lowerHelperThreadPriority();
  optimizeHotCodeSooner();
  const transports = parseTransports(args.transport);
  const { buildServerOptionsFromFlags } = await import("../server/cli-options.js");
  const options = buildServerOptionsFromFlags({
    host: args.host,
    port: args.port,
    ...(args.auth === undefined ? {} : { auth: args.auth }),
    ...(args["auth-algorithm"] === undefined ? {} : { authAlgorithm: args["auth-algorithm"] }),
    ...(args.delay === undefined ? {} : { delay: args.delay }),
    ...(args.domain === undefined ? {} : { domain: args.domain }),
    ...(args["msrp-port"] === undefined ? {} : { msrpPort: args["msrp-port"] }),
  });
  options.transports = transports;

  const { createCpmServer } = await import("../server/index.js");
  const server = await createCpmServer(options);
  const stop = onStopSignals(() => process.stdout.write("cpm-load serve: stopping\n"));
  try {
    const { host, port } = server.sipAddress;
    const listed = transports.map((t) => t.toUpperCase()).join(", ");
    process.stdout.write(`cpm-load serve: listening on sip:${formatHost(host)}:${port} (${listed}) — Ctrl-C to stop\n`);
    const msrp = server.msrpAddress;
    if (msrp) process.stdout.write(`cpm-load serve: MSRP on msrp://${formatHost(msrp.host)}:${msrp.port} (TCP)\n`);
    if (options.auth) {
      const algorithms = options.auth.algorithms?.join(", ") ?? "MD5";
      process.stdout.write(`cpm-load serve: digest authentication required (${algorithms})\n`);
    }
    await stop.stopped;
    await server.close();
    process.stdout.write("cpm-load serve: stopped\n");
  } finally {
    stop.dispose();
    exitSoon(2000, process.env.CPM_LOAD_DEBUG === "1");
  }
}
