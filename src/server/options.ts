/**
 * Options of the embedded CPM server and their resolved form. Everything a caller passes is plain,
 * structured-clone safe data (the server runs in its own worker thread during `run`), except the
 * optional clock, which only tests inject in-thread.
 */
import type { DelaySpec } from "../config/durations.js";
import type { SipTransportName } from "../config/run-config.js";
import { UserError } from "../errors.js";
import { realClock, type Clock } from "../time/clock.js";

export type DigestAlgorithmName = "MD5" | "SHA-256";

export interface ServerAuthOptions {
  /** Realm offered in challenges; defaults to the server domain, else the listening host. */
  realm?: string;
  /** One challenge per algorithm, in this order (RFC 8760: most preferred first). Default ['MD5']. */
  algorithms?: DigestAlgorithmName[];
  /** Password for any user: '{user}' is replaced with the user name. */
  passwordTemplate?: string;
  /** Explicit users; looked up before the template. */
  users?: Array<{ user: string; password: string }>;
}

export interface CpmServerOptions {
  host?: string;
  /** 0 = ephemeral: TCP and UDP share the port the system picks. */
  port?: number;
  transports?: SipTransportName[];
  /** The served domain (default realm). Requests for other domains are served too (see registrar). */
  domain?: string;
  auth?: ServerAuthOptions | null;
  /** Delay injected before each final response (not before retransmission answers). */
  delay?: DelaySpec | null;
  /** Registrar bounds in seconds. */
  minExpires?: number;
  maxExpires?: number;
  defaultExpires?: number;
  clock?: Clock;
  /**
   * How long a completed UDP server transaction keeps its response for retransmissions (ms).
   * RFC 3261 Timer J is 64·T1 = 32 s; at 10,000 requests/s that holds ~320,000 responses, so
   * load runs may lower it. TCP transactions are dropped on completion (Timer J = 0).
   */
  udpTransactionLifetimeMs?: number;
  /** Age after which a nonce is answered with stale=true (ms). */
  nonceLifetimeMs?: number;
  /** Period of the registration expiry sweep (ms). Expired bindings are also ignored lazily. */
  expirySweepIntervalMs?: number;
  /**
   * MSRP listener of the PF (both legs of every session are anchored there). Host defaults to
   * `host`; port 0 (the default) takes any free port, which the SDP then names.
   */
  msrpHost?: string;
  msrpPort?: number;
  /**
   * A session whose clients do not both connect their MSRP legs within this time after the 200
   * (or do not reconnect a lost leg by re-INVITE within it) is ended with BYE on both legs (ms).
   * Default 10,000.
   */
  msrpConnectTimeoutMs?: number;
  /** SIP timer T1 for requests the server sends (ms, default 500): UDP retransmissions start here. */
  sipT1Ms?: number;
  /** Timer B: a contact that does not answer an INVITE at all within this time counts as 408 (ms, default 64·T1). */
  inviteTimeoutMs?: number;
  /** How long a contact may ring (after a provisional answer) before the PF CANCELs it: 408 (ms, default 180,000). */
  noAnswerTimeoutMs?: number;
  /** RFC 4028 Min-SE in seconds (default 90): shorter Session-Expires in an INVITE get 422. */
  minSessionExpires?: number;
}

export interface ResolvedAuthOptions {
  realm: string;
  algorithms: DigestAlgorithmName[];
  passwordTemplate: string | null;
  users: ReadonlyMap<string, string>;
  nonceLifetimeMs: number;
}

export interface ResolvedServerOptions {
  host: string;
  port: number;
  transports: SipTransportName[];
  domain: string | null;
  auth: ResolvedAuthOptions | null;
  delay: DelaySpec | null;
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  clock: Clock;
  udpTransactionLifetimeMs: number;
  expirySweepIntervalMs: number;
  msrpHost: string;
  msrpPort: number;
  msrpConnectTimeoutMs: number;
  sipT1Ms: number;
  inviteTimeoutMs: number;
  noAnswerTimeoutMs: number;
  minSessionExpires: number;
}

const isNonNegativeInt = (v: number): boolean => Number.isInteger(v) && v >= 0;

/** Fill in defaults and reject inconsistent values with a UserError (one sentence each). */
export function resolveServerOptions(opts: CpmServerOptions): ResolvedServerOptions {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? 5060;
  if (!isNonNegativeInt(port) || port > 65535) {
    throw new UserError(`Port ${String(port)} is not valid: choose a port between 0 and 65535.`);
  }
  const transports = opts.transports ?? ["tcp", "udp"];
  if (transports.length === 0 || transports.some((t) => t !== "tcp" && t !== "udp")) {
    throw new UserError(`Transports ${JSON.stringify(transports)} are not valid: use tcp, udp or both.`);
  }
  const minExpires = opts.minExpires ?? 60;
  const maxExpires = opts.maxExpires ?? 3600;
  const defaultExpires = opts.defaultExpires ?? 3600;
  if (![minExpires, maxExpires, defaultExpires].every(isNonNegativeInt) || minExpires > maxExpires) {
    throw new UserError(
      `Registration bounds min ${minExpires} / default ${defaultExpires} / max ${maxExpires} s are not valid: use whole seconds with min <= max.`,
    );
  }
  const domain = opts.domain ?? null;
  const msrpPort = opts.msrpPort ?? 0;
  if (!isNonNegativeInt(msrpPort) || msrpPort > 65535) {
    throw new UserError(`MSRP port ${String(msrpPort)} is not valid: choose a port between 0 and 65535.`);
  }
  const sipT1Ms = positiveMs(opts.sipT1Ms, 500, "SIP timer T1");
  return {
    host,
    port,
    transports: [...new Set(transports)],
    domain,
    auth: opts.auth ? resolveAuth(opts.auth, domain ?? host, opts.nonceLifetimeMs ?? 300_000) : null,
    delay: opts.delay ?? null,
    minExpires,
    maxExpires,
    // A default outside the bounds would make plain REGISTERs fail with 423: clamp it instead.
    defaultExpires: Math.min(maxExpires, Math.max(minExpires, defaultExpires)),
    clock: opts.clock ?? realClock,
    udpTransactionLifetimeMs: opts.udpTransactionLifetimeMs ?? 32_000,
    expirySweepIntervalMs: opts.expirySweepIntervalMs ?? 1000,
    msrpHost: opts.msrpHost ?? host,
    msrpPort,
    msrpConnectTimeoutMs: positiveMs(opts.msrpConnectTimeoutMs, 10_000, "The MSRP connect timeout"),
    sipT1Ms,
    inviteTimeoutMs: positiveMs(opts.inviteTimeoutMs, 64 * sipT1Ms, "The INVITE timeout"),
    noAnswerTimeoutMs: positiveMs(opts.noAnswerTimeoutMs, 180_000, "The no-answer timeout"),
    minSessionExpires: opts.minSessionExpires ?? 90,
  };
}

function positiveMs(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new UserError(`${what} of ${String(value)} ms is not valid: give a positive number of milliseconds.`);
  }
  return value;
}

function resolveAuth(auth: ServerAuthOptions, defaultRealm: string, nonceLifetimeMs: number): ResolvedAuthOptions {
  const algorithms = auth.algorithms && auth.algorithms.length > 0 ? [...new Set(auth.algorithms)] : ["MD5" as const];
  for (const a of algorithms) {
    if (a !== "MD5" && a !== "SHA-256") {
      throw new UserError(`Digest algorithm "${String(a)}" is not supported: use MD5 or SHA-256.`);
    }
  }
  if (!auth.passwordTemplate && (!auth.users || auth.users.length === 0)) {
    throw new UserError("Authentication is enabled without any users: give a users file or a password template.");
  }
  const users = new Map<string, string>();
  for (const u of auth.users ?? []) users.set(u.user, u.password);
  return {
    realm: auth.realm ?? defaultRealm,
    algorithms,
    passwordTemplate: auth.passwordTemplate ?? null,
    users,
    nonceLifetimeMs,
  };
}
