/**
 * Human summaries of a compiled Plan (printed by `cpm-load validate` and before a run) and the
 * warnings worth knowing before starting: things that are valid but probably not what was meant.
 */
import { warmupPeriods } from "../metrics/aggregator.js";
import type { PeerPlan, Plan, SizePlan, StepPlan } from "./plan.js";

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
    case "invite":
      return `invite(to ${describePeer(step.to)}${step.subject === undefined ? "" : `, subject "${step.subject}"`})`;
    case "send": {
      const every = step.count > 1 ? ` every ${seconds(step.intervalMs)}` : "";
      const extras = [step.contentType, `chunks ${describeBytes(step.chunkSize)}`, ...(step.imdn ? ["imdn"] : [])].join(", ");
      return `send(${step.count} × ${describeSize(step.size)}${every}, ${extras})`;
    }
    case "reinvite":
      return step.renewMsrp ? "reinvite(new MSRP connection)" : "reinvite";
    case "bye":
      return step.by === "caller" ? "bye" : "bye(by callee)";
    case "largeMessage":
      return `largeMessage(to ${describePeer(step.to)}, ${describeSize(step.size)}, chunks ${describeBytes(step.chunkSize)}, ${step.contentType}${step.failureReport === "partial" ? ", Failure-Report partial" : ""})`;
  }
}

function describePeer(peer: PeerPlan): string {
  return peer.kind === "index" ? `client ${peer.index}` : peer.kind;
}

/** Bytes in the units the scenario language uses (1024-based), exact when possible. */
export function describeBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${num(bytes / (1024 * 1024))}MB`;
  if (bytes >= 1024) return `${num(bytes / 1024)}KB`;
  return `${bytes}B`;
}

function describeSize(size: SizePlan): string {
  return size.kind === "fixed" ? describeBytes(size.bytes) : `${describeBytes(size.minBytes)}–${describeBytes(size.maxBytes)}`;
}

/** A multi-line description of what the plan will do. */
export function describePlan(plan: Plan): string {
  const p = plan.population;
  const lines = [
    `scenario ${plan.name}${plan.description ? ` — ${plan.description.trim()}` : ""}`,
    `  duration    ${seconds(plan.durationMs)}, seed ${plan.seed}${plan.warmupMs > 0 ? `, warm-up ${seconds(warmupPeriods(plan.warmupMs) * 1000)} (its latencies left out of the summary)` : ""}`,
    `  population  ${p.clients} clients, ${num(p.arrivalRate)}/s (all up after ${seconds((p.clients / p.arrivalRate) * 1000)}), users ${p.userTemplate}@${p.domain}, password ${p.passwordTemplate}`,
    `  register    expires ${p.registerExpires}s, refresh at ${Math.round(p.refreshFraction * 100)}% of the granted lifetime, ${p.unregisterAtEnd ? "unregister at the end" : "stay registered at the end"}`,
    ...(p.answer
      ? [
          `  answer      ${p.answer.delayMs > 0 ? `accept after ${seconds(p.answer.delayMs)}` : "accept at once"}` +
            `${p.answer.rejectProbability > 0 ? `, reject ${num(p.answer.rejectProbability * 100)}% with ${p.answer.rejectStatus}` : ""}` +
            `${p.answer.reply === "echo" ? ", echo every message" : ""}`,
        ]
      : []),
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
  const peers = plan.scenarios
    .filter((s) => s.weight > 0)
    .flatMap((s) => s.steps)
    .flatMap((step) => (step.kind === "invite" || step.kind === "largeMessage" ? [step.to] : []));
  if (peers.length > 0 && p.clients < 2) {
    warnings.push(`Sessions need a second client to call, but the population has only ${p.clients}: raise population.clients to 2 or more.`);
  }
  return warnings;
}
