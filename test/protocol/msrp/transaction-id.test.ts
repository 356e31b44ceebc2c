import { describe, expect, it } from "vitest";
import {
  isValidTransactionId,
  pickTransactionId,
  randomTransactionId,
  transactionIdOccursIn,
} from "../../../src/protocol/msrp/index.js";

describe("transaction ids", () => {
  it("are valid MSRP idents of 16 characters by default, 8 to 32 on request", () => {
    expect(randomTransactionId()).toHaveLength(16);
    expect(randomTransactionId(4)).toHaveLength(8);
    expect(randomTransactionId(64)).toHaveLength(32);
    for (let i = 0; i < 1000; i++) expect(isValidTransactionId(randomTransactionId())).toBe(true);
  });

  it("do not repeat across many draws", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) seen.add(randomTransactionId());
    expect(seen.size).toBe(20_000);
  });

  it("are validated against the ident grammar", () => {
    expect(isValidTransactionId("a786hjs2")).toBe(true);
    expect(isValidTransactionId("a.-+%=")).toBe(true);
    expect(isValidTransactionId("abc")).toBe(false);
    expect(isValidTransactionId(".abc")).toBe(false);
    expect(isValidTransactionId("abc_d")).toBe(false);
    expect(isValidTransactionId("a".repeat(33))).toBe(false);
  });

  it("are picked so that their end-line does not occur in the body", () => {
    const body = Buffer.from("text\r\n-------COLLIDE1$\r\nmore -------COLLIDE2 end");
    expect(transactionIdOccursIn("COLLIDE1", body)).toBe(true);
    expect(transactionIdOccursIn("COLLIDE2", body)).toBe(true);
    expect(transactionIdOccursIn("COLLIDE3", body)).toBe(false);
    const candidates = ["COLLIDE1", "COLLIDE2", "COLLIDE3"];
    expect(pickTransactionId(body, () => candidates.shift()!)).toBe("COLLIDE3");
  });

  it("still end with a fresh random id when a candidate source keeps colliding", () => {
    const body = Buffer.from("-------STUCK000");
    const tid = pickTransactionId(body, () => "STUCK000");
    expect(tid).not.toBe("STUCK000");
    expect(isValidTransactionId(tid)).toBe(true);
  });
});
