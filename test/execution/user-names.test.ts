import { describe, expect, it } from "vitest";
import { credentialsFor, expandTemplate } from "../../src/execution/user-names.js";

describe("user names from templates", () => {
  it("expands {index}, {n} and zero-padded widths", () => {
    expect(expandTemplate("user{index}", { index: 7 })).toBe("user7");
    expect(expandTemplate("u{n}", { index: 7 })).toBe("u8");
    expect(expandTemplate("u{index:06}", { index: 42 })).toBe("u000042");
    expect(expandTemplate("u{n:3}", { index: 1234 })).toBe("u1235");
  });

  it("fills {user} in the password template and leaves unknown placeholders alone", () => {
    expect(credentialsFor(3, { userTemplate: "a{index:04}", passwordTemplate: "pw-{user}-{n}" }, null)).toEqual({
      user: "a0003",
      password: "pw-a0003-4",
    });
    expect(expandTemplate("{user}{x}", { index: 0 })).toBe("{user}{x}");
  });

  it("uses the --users entry of the client's global index", () => {
    const users = [
      { user: "alice", password: "a" },
      { user: "bob", password: "b" },
    ];
    expect(credentialsFor(1, { userTemplate: "x", passwordTemplate: "y" }, users)).toEqual({ user: "bob", password: "b" });
  });
});
