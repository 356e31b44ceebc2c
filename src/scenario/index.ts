/**
 * Scenario files: load, validate, compile to a Plan. Pure except for reading the file.
 */
import { readFileSync } from "node:fs";
import { UserError } from "../errors.js";
import { compileScenario } from "./compile.js";
import type { Plan } from "./plan.js";

export { compileScenario, nameFromFile, SCENARIO_DEFAULTS } from "./compile.js";
export { ScenarioError, formatProblem, type ScenarioProblem } from "./scenario-error.js";
export { describePlan, planWarnings } from "./summary.js";
export { schemaUrl } from "./schema.js";

export function loadScenarioFile(path: string): Plan {
  return compileScenario(readScenarioText(path), path);
}

function readScenarioText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new UserError(`Scenario file '${path}' does not exist: check the path (scenarios/register.yaml is the bundled example).`);
    }
    if (code === "EISDIR") throw new UserError(`'${path}' is a folder, not a scenario file: name a .yaml file inside it.`);
    if (code === "EACCES") throw new UserError(`Scenario file '${path}' cannot be read (permission denied): fix its permissions.`);
    throw new UserError(`Scenario file '${path}' cannot be read (${(error as Error).message}): check the path.`);
  }
}
