/** fast-check arbitraries for MSRP values, shared by the codec tests. */
import fc from "fast-check";
import type { MsrpUri } from "../../../src/protocol/msrp/index.js";

export const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
export const chars = (alphabet: string, min: number, max: number) =>
  fc.array(fc.constantFrom(...alphabet), { minLength: min, maxLength: max }).map((a) => a.join(""));

export const tidArb = fc.tuple(chars(ALNUM, 1, 1), chars(`${ALNUM}.-+%=`, 3, 31)).map(([a, b]) => a + b);

export const msrpUriArb: fc.Arbitrary<MsrpUri> = fc.record({
  scheme: fc.constantFrom("msrp" as const, "msrps" as const),
  host: fc.oneof(fc.constantFrom("127.0.0.1", "::1", "fe80::1", "pf.example.com"), chars("abcdefghij.-", 1, 12)),
  port: fc.integer({ min: 1, max: 65535 }),
  sessionId: chars(`${ALNUM}-._~+=`, 1, 24),
  transport: fc.constantFrom("tcp", "ws"),
  params: fc.constant({}),
});
