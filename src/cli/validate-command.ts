/**
 * `cpm-load validate <scenario>`: every problem with file:line:col (exit 2), or a summary of the
 * compiled plan and its warnings (exit 0).
 */
import { describePlan, loadScenarioFile, planWarnings } from "../scenario/index.js";

export interface ValidateArgs {
  scenario: string;
  json?: boolean;
}

export async function validateCommand(args: ValidateArgs): Promise<void> {
  const plan = loadScenarioFile(args.scenario);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${describePlan(plan)}\n`);
  for (const warning of planWarnings(plan)) process.stdout.write(`warning: ${warning}\n`);
  process.stdout.write(`${args.scenario} is valid.\n`);
}
