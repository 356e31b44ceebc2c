/** Loads the wire fixtures of test/fixtures/msrp. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("../../fixtures/msrp/", import.meta.url));

export function fixture(name: string): Buffer {
  return readFileSync(dir + name);
}

/** Fixtures holding whole MSRP messages, with how many messages each holds. */
export const MSRP_FIXTURES: ReadonlyArray<[name: string, messages: number]> = [
  ["send-cpim.msrp", 1],
  ["response-200.msrp", 1],
  ["response-481.msrp", 1],
  ["report-success.msrp", 1],
  ["bind-send.msrp", 1],
  ["multi-chunk.msrp", 2],
  ["abort.msrp", 2],
  ["binary-lookalike.msrp", 1],
];
