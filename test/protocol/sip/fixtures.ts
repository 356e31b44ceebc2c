/** Loads the SIP wire captures under test/fixtures/sip (CRLF line ends, exact Content-Length). */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const FIXTURE_DIR = fileURLToPath(new URL("../../fixtures/sip/", import.meta.url));

export function fixture(name: string): Buffer {
  return readFileSync(FIXTURE_DIR + name);
}

function list(dir: string): Array<[name: string, bytes: Buffer]> {
  return readdirSync(FIXTURE_DIR + dir)
    .filter((f) => f.endsWith(".sip"))
    .sort()
    .map((f) => [dir + f, fixture(dir + f)]);
}

/** The captures of real traffic (one message each, body exactly Content-Length). */
export function captureFixtures(): Array<[name: string, bytes: Buffer]> {
  return list("");
}

/** RFC 4475 messages a parser must accept. */
export function tortureValidFixtures(): Array<[name: string, bytes: Buffer]> {
  return list("rfc4475/valid/");
}

/** RFC 4475 messages to reject. */
export function tortureInvalidFixtures(): Array<[name: string, bytes: Buffer]> {
  return list("rfc4475/invalid/");
}

/** Every valid message file: captures and valid torture messages. */
export function allFixtures(): Array<[name: string, bytes: Buffer]> {
  return [...captureFixtures(), ...tortureValidFixtures()];
}
