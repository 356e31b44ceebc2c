import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const moduleUrl = new URL("../../dist/cli/v8-tuning.js", import.meta.url).href;

/** Runs optimizeHotCodeSooner twice in a fresh node process; its two answers. */
function answers(env: NodeJS.ProcessEnv = {}, execArgv: string[] = []): [boolean, boolean] {
  const script = `const m = await import(${JSON.stringify(moduleUrl)}); console.log(JSON.stringify([m.optimizeHotCodeSooner(), m.optimizeHotCodeSooner()]));`;
  const out = execFileSync(process.execPath, [...execArgv, "--input-type=module", "-e", script], { env: { ...process.env, NODE_OPTIONS: "", ...env } });
  return JSON.parse(out.toString()) as [boolean, boolean];
}

describe("V8 tuning for timing (run and serve)", () => {
  it("sets the interrupt budget once per process", () => {
    expect(answers()).toEqual([true, false]);
  });

  it("leaves a budget given on node's command line alone", () => {
    expect(answers({}, ["--interrupt-budget=50000"])).toEqual([false, false]);
  });

  it("names a flag this Node's V8 knows", () => {
    // setFlagsFromString ignores unknown flags silently; V8 lists the flags it knows.
    const known = execFileSync(process.execPath, ["--v8-options"]).toString();
    expect(known).toMatch(/--interrupt-budget/);
  });
});
