/** Helpers shared by the scenario compiler tests. */
import { expect } from "vitest";
import { compileScenario, ScenarioError } from "../../../src/scenario/index.js";

/** The smallest valid scenario text: 10 clients for 30 s (tests append their own keys). */
export const MINIMAL_SCENARIO = "population:\n  clients: 10\nduration: 30s\n";

/** Compile and return the formatted problems (fails the test when the text compiles). */
export function problems(text: string, file = "x.yaml"): string[] {
  try {
    compileScenario(text, file);
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioError);
    return (error as ScenarioError).problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`);
  }
  throw new Error("expected the scenario to be rejected");
}
