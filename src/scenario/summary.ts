/**
 * Human summaries of a compiled Plan (printed by `cpm-load validate` and before a run) and the
 * warnings worth knowing before starting: things that are valid but probably not what was meant.
 */
import type { Plan, StepPlan } from "./plan.js";

const seconds = (ms: number): string => {
  const s = ms / 1000;
  return Number.isInteger(s) ? `${s}s` : `${Number(s.toFixed(3))}s`;
};
const num = (n: number): string => String(Number(n.toFixed(3)));

function describeStep(step: StepPlan): string {
  switch (step.kind) {
    case "register":
      return step.expires === undefined ? "register" : `register(expires ${step.expires}s)`;
    case "unregister":
      return "unregister";
    case "pause":
      return `pause ${seconds(step.durationMs)}`;
  }
}

/** A multi-line description of what the plan will do. */
export function describePlan(plan: Plan): string {
  const p = plan.population;
  const lines = [
    `scenario ${plan.name}${plan.description ? ` — ${plan.description.trim()}` : ""}`,
    `  duration    ${seconds(plan.durationMs)}, seed ${plan.seed}`,
    `  population  ${p.clients} clients, ${num(p.arrivalRate)}/s (all up after ${seconds((p.clients / p.arrivalRate) * 1000)}), users ${p.userTemplate}@${p.domain}, password ${p.passwordTemplate}`,
    `  register    expires ${p.registerExpires}s, refresh at ${Math.round(p.refreshFraction * 100)}% of the granted lifetime, ${p.unregisterAtEnd ? "unregister at the end" : "stay registered at the end"}`,
    `  phases`,
    ...plan.phases.map(
      (ph) =>
        `    ${ph.name.padEnd(12)} ${seconds(ph.durationMs).padStart(7)}  ${ph.startRate === ph.endRate ? `${num(ph.startRate)} iterations/s` : `${num(ph.startRate)} → ${num(ph.endRate)} iterations/s`}`,
    ),
  ];
  if (plan.scenarios.length > 0) {
    lines.push("  scenarios");
    for (const s of plan.scenarios) {
      lines.push(`    ${s.name.padEnd(12)} ${`${num(s.weight * 100)}%`.padStart(7)}  ${s.steps.map(describeStep).join(" → ")}`);
    }
  }
  if (plan.thresholds.length > 0) {
    lines.push("  thresholds");
    for (const t of plan.thresholds) lines.push(`    ${t.metric}: ${t.expression}`);
  }
  return lines.join("\n");
}

/** Valid but suspicious settings, one sentence each (the CLI prints them as warnings). */
export function planWarnings(plan: Plan): string[] {
  const warnings: string[] = [];
  const p = plan.population;
  const upMs = ((p.clients - 1) / p.arrivalRate) * 1000;
  if (upMs >= plan.durationMs) {
    const started = Math.min(p.clients, Math.ceil((plan.durationMs / 1000) * p.arrivalRate));
    warnings.push(
      `Only ${started} of ${p.clients} clients come up within the ${seconds(plan.durationMs)} run at ${num(p.arrivalRate)}/s: raise the rate or the duration.`,
    );
  }
  return warnings;
}
