import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expandTemplate } from "../../src/execution/user-names.js";
import { checkTemplate, userTemplateIsPerClient } from "../../src/scenario/templates.js";

describe("user and password templates", () => {
  it("accepts the documented placeholders", () => {
    expect(checkTemplate("user{index:06}", "user")).toEqual([]);
    expect(checkTemplate("u{n}", "user")).toEqual([]);
    expect(checkTemplate("{user}-secret", "password")).toEqual([]);
    expect(checkTemplate("pw{index}{n:4}", "password")).toEqual([]);
  });

  it("rejects unknown placeholders, unmatched braces, {user} in a user name and bad characters", () => {
    expect(checkTemplate("u{idx}", "user")).toEqual([
      "has an unknown placeholder '{idx}': use {index}, {n}, optionally zero-padded like {index:06}",
    ]);
    expect(checkTemplate("{user}x{index}", "user")).toEqual([
      "has an unknown placeholder '{user}': use {index}, {n}, optionally zero-padded like {index:06}",
    ]);
    expect(checkTemplate("u{index", "user")).toEqual(["has an unmatched '{' or '}': placeholders look like {index} or {n:04}"]);
    expect(checkTemplate("a b{index}", "user")).toEqual([
      "contains characters not allowed in a SIP user name: use letters, digits and - _ . ! ~ * ' ( ) & = + $ , ; ? /",
    ]);
    expect(checkTemplate("line\nbreak", "password")).toEqual(["contains a line break: use a single-line password"]);
  });

  it("knows which user templates vary per client", () => {
    expect(userTemplateIsPerClient("user{index:06}")).toBe(true);
    expect(userTemplateIsPerClient("alice")).toBe(false);
  });

  it("every template the check accepts expands (execution/user-names.ts) to a brace-free, valid user part", () => {
    const literal = fc.stringMatching(/^[A-Za-z0-9\-_.!~*'()&=+$,;?/]{0,6}$/);
    const placeholder = fc.constantFrom("{index}", "{n}", "{index:06}", "{n:4}", "{index:2}");
    const template = fc.array(fc.oneof(literal, placeholder), { minLength: 1, maxLength: 5 }).map((parts) => parts.join(""));
    fc.assert(
      fc.property(template, fc.nat(1_000_000), (t, index) => {
        expect(checkTemplate(t, "user")).toEqual([]);
        const user = expandTemplate(t, { index });
        expect(user).not.toMatch(/[{}]/);
        expect(user).toMatch(/^[A-Za-z0-9\-_.!~*'()&=+$,;?/]*$/);
      }),
    );
  });
});
