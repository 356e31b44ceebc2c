/**
 * A scenario file with problems. Every problem carries its position so the user can jump to it;
 * all of them are reported at once (fixing a file one error per run is tedious).
 */
import { ExitCode, UserError } from "../errors.js";

export interface ScenarioProblem {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
  /** Lower-case sentence naming the problem and the fix, without the position. */
  message: string;
}

export const formatProblem = (p: ScenarioProblem): string => `${p.file}:${p.line}:${p.col}: ${p.message}`;

export class ScenarioError extends UserError {
  constructor(readonly problems: readonly ScenarioProblem[]) {
    super(ScenarioError.describe(problems), ExitCode.usage);
    this.name = "ScenarioError";
  }

  private static describe(problems: readonly ScenarioProblem[]): string {
    if (problems.length === 1) return formatProblem(problems[0]!);
    const file = problems[0]?.file ?? "the scenario";
    return [`${file} has ${problems.length} problems:`, ...problems.map((p) => `  ${formatProblem(p)}`)].join("\n");
  }
}
