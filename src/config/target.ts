/**
 * `--target host:port` parsing and the loopback guard. cpm-load is a load generator: pointed at
 * the wrong address by a typo it would flood a real network, so targets outside 127.0.0.0/8,
 * localhost and ::1 are refused unless the user says --allow-remote.
 */
import { isIP } from "node:net";

export const DEFAULT_SIP_PORT = 5060;

export type TargetParse = { ok: true; host: string; port: number } | { ok: false; message: string };

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** True for 127.0.0.0/8, ::1, ::ffff:127.x.x.x and the name localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || h === "0:0:0:0:0:0:0:1" || /^::ffff:127\./.test(h);
  return false;
}

/** Parse "host:port", "[v6]:port", "host" (port 5060) or "sip:host:port". `label` names the source in messages. */
export function parseTarget(input: string, allowRemote: boolean, label: string): TargetParse {
  const text = input.trim().replace(/^sip:/i, "");
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if ((text.match(/:/g) ?? []).length > 1) {
    host = text; // a bare IPv6 address: no port
  } else {
    const colon = text.lastIndexOf(":");
    host = colon === -1 ? text : text.slice(0, colon);
    portText = colon === -1 ? undefined : text.slice(colon + 1);
  }
  const isFlag = label.startsWith("-");
  const example = `e.g. ${label}${isFlag ? " " : "="}127.0.0.1:5060`;
  const given = isFlag ? `${label} '${input}'` : `${label}='${input}'`;
  if (host === "" || (isIP(host) === 0 && !HOSTNAME.test(host))) {
    return { ok: false, message: `${given} does not name a host: write host:port, ${example}.` };
  }
  if (bracketed && isIP(host) !== 6) {
    return { ok: false, message: `${given} has brackets around something that is not an IPv6 address: write host:port, ${example}.` };
  }
  let port = DEFAULT_SIP_PORT;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
    if (!(port >= 1 && port <= 65535)) {
      return { ok: false, message: `${given} has no valid port: give a port from 1 to 65535, ${example}.` };
    }
  }
  if (!allowRemote && !isLoopbackHost(host)) {
    return {
      ok: false,
      message: `${given} is outside the loopback network (127.0.0.0/8, localhost, ::1): pass --allow-remote if you are allowed to load that server.`,
    };
  }
  return { ok: true, host, port };
}
