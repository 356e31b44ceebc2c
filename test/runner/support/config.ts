/** RunConfigs for runner tests: a real scenario file resolved by the real config layer. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveRunConfig } from "../../../src/config/resolve.js";
import type { RunConfig } from "../../../src/config/run-config.js";
import type { RunFlags } from "../../../src/config/run-options.js";

export interface ScenarioShape {
  clients: number;
  arrivalRate: number;
  /** [durationSeconds, iterations/s] per phase */
  phases: Array<[number, number]>;
  unregisterAtEnd?: boolean;
  thresholds?: string;
}

export function scenarioYaml(s: ScenarioShape): string {
  return `name: runner-test
seed: 7
population:
  clients: ${s.clients}
  rate: ${s.arrivalRate}
  users:
    template: "u{index:05}"
    password: "{user}-pw"
    domain: runner.test
  register:
    expires: 600
    refresh: 0.5
    unregisterAtEnd: ${s.unregisterAtEnd ?? true}
phases:
${s.phases.map(([d, r], i) => `  - name: p${i}\n    duration: ${d}s\n    rate: ${r}`).join("\n")}
scenarios:
  - name: re-register
    weight: 1
    steps:
      - register: {}
${s.thresholds ? `thresholds:\n${s.thresholds}` : ""}
`;
}

/** A temp dir holding the scenario; results go to <dir>/results/<run-id>. */
export function makeConfig(shape: ScenarioShape, flags: RunFlags = {}): { config: RunConfig; dir: string } {
  return configFromYaml(scenarioYaml(shape), flags);
}

/** The same for any scenario text (session scenarios, bundled files read from scenarios/). */
export function configFromYaml(yaml: string, flags: RunFlags = {}): { config: RunConfig; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "cpm-load-runner-"));
  const scenarioFile = join(dir, "scenario.yaml");
  writeFileSync(scenarioFile, yaml);
  const config = resolveRunConfig({
    scenarioFile,
    flags: { live: false, out: join(dir, "results"), ...flags },
    env: {},
    cwd: dir,
    cores: 2,
  });
  return { config, dir };
}

/** Sum of a counter family: "register.failures" + "register.failures.status.503" + … */
export function family(counters: Record<string, number>, prefix: string): number {
  let sum = 0;
  for (const [name, v] of Object.entries(counters)) if (name === prefix || name.startsWith(`${prefix}.`)) sum += v;
  return sum;
}
