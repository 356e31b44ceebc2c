/** Loads the SIP wire captures under test/fixtures/sip (CRLF line ends, exact Content-Length). */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const FIXTURE_DIR = fileURLToPath(new URL("../../fixtures/sip/", import.meta.url));

export function fixture(name: string): Buffer {
  return readFileSync(FIXTURE_DIR + name);
}

/** Every valid capture (files named *.sip), by file name. */
export function allFixtures(): Array<[name: string, bytes: Buffer]> {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith(".sip"))
    .sort()
    .map((f) => [f, fixture(f)]);
}
