/**
 * Turns the `serve` command's flag values into CpmServerOptions. Every bad value is a UserError
 * naming the flag and the fix; src/cli/ prints it and exits.
 */
import { readFileSync } from "node:fs";
import { parseDelaySpec } from "../config/durations.js";
import { UserError } from "../errors.js";
import type { CpmServerOptions, DigestAlgorithmName, ServerAuthOptions } from "./options.js";
import { parseUsersFile } from "../config/users-file.js";

export interface ServeFlags {
  host?: string;
  port?: number | string;
  /** `template:<password template with {user}>` or a path to a SIPp-style users file. */
  auth?: string;
  /** "MD5", "SHA-256" or a comma list such as "SHA-256,MD5" (challenge order); or several flags. */
  authAlgorithm?: string | string[];
  /** "20ms", "uniform(10ms,30ms)", "normal(20ms,2ms)", "exponential(5ms)". */
  delay?: string;
  domain?: string;
  /** MSRP listener port of the PF (0 = any free port; the SDP names it). */
  msrpPort?: number | string;
}

const TEMPLATE_PREFIX = "template:";

export function buildServerOptionsFromFlags(flags: ServeFlags): CpmServerOptions {
  const opts: CpmServerOptions = {};
  if (flags.host !== undefined) {
    if (flags.host.trim().length === 0) throw new UserError("--host is empty: give an address such as 127.0.0.1.");
    opts.host = flags.host.trim();
  }
  if (flags.port !== undefined) opts.port = parsePort(flags.port);
  if (flags.msrpPort !== undefined) opts.msrpPort = parsePort(flags.msrpPort, "--msrp-port");
  if (flags.domain !== undefined) {
    if (!/^[A-Za-z0-9.\-[\]:]+$/.test(flags.domain)) {
      throw new UserError(`--domain "${flags.domain}" is not a host name: give a domain such as cpm.test.`);
    }
    opts.domain = flags.domain;
  }
  if (flags.delay !== undefined && flags.delay !== "") {
    const delay = parseDelaySpec(flags.delay);
    if (delay === null) {
      throw new UserError(
        `--delay "${flags.delay}" is not a delay: use a duration (20ms) or uniform(10ms,30ms), normal(20ms,2ms), exponential(5ms).`,
      );
    }
    opts.delay = delay;
  }
  const algorithms = flags.authAlgorithm === undefined ? undefined : parseAlgorithms(flags.authAlgorithm);
  if (flags.auth !== undefined && flags.auth !== "") {
    const auth: ServerAuthOptions = flags.auth.startsWith(TEMPLATE_PREFIX)
      ? { passwordTemplate: parseTemplate(flags.auth.slice(TEMPLATE_PREFIX.length)) }
      : { users: readUsers(flags.auth) };
    if (algorithms) auth.algorithms = algorithms;
    opts.auth = auth;
  } else if (algorithms) {
    throw new UserError("--auth-algorithm needs --auth: give a users file or template:<password-template> as well.");
  }
  return opts;
}

function parsePort(value: number | string, flag = "--port"): number {
  const port = typeof value === "number" ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UserError(`${flag} ${String(value)} is not a port: give a number from 0 (any free port) to 65535.`);
  }
  return port;
}

function parseAlgorithms(value: string | string[]): DigestAlgorithmName[] {
  const names = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v);
  const out: DigestAlgorithmName[] = [];
  for (const name of names) {
    const upper = name.toUpperCase();
    const algorithm = upper === "MD5" ? "MD5" : upper === "SHA-256" || upper === "SHA256" ? "SHA-256" : null;
    if (algorithm === null) throw new UserError(`--auth-algorithm "${name}" is not supported: use MD5, SHA-256 or both (SHA-256,MD5).`);
    if (!out.includes(algorithm)) out.push(algorithm);
  }
  if (out.length === 0) throw new UserError("--auth-algorithm is empty: use MD5, SHA-256 or both (SHA-256,MD5).");
  return out;
}

function parseTemplate(template: string): string {
  if (template.length === 0) {
    throw new UserError('--auth template: is empty: give a password template such as "template:{user}-secret".');
  }
  return template;
}

function readUsers(path: string): Array<{ user: string; password: string }> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UserError(
      code === "ENOENT"
        ? `--auth users file ${path} does not exist: give a file of "user;password" lines or template:<password-template>.`
        : `--auth users file ${path} cannot be read (${code ?? "error"}): check its permissions.`,
    );
  }
  const parsed = parseUsersFile(text, path);
  if (!parsed.ok) {
    const more = parsed.problems.length > 1 ? ` (and ${parsed.problems.length - 1} more problems)` : "";
    throw new UserError(`--auth users file ${parsed.problems[0]}${more}.`);
  }
  return parsed.users;
}
