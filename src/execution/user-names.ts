/**
 * User names and passwords of virtual clients from the plan's templates: `{index}` is the 0-based
 * global client index, `{n}` the 1-based one, `{user}` the expanded user name (password template
 * only); `{index:06}` / `{n:04}` zero-pad to the given width. When --users gave explicit
 * credentials, client i uses entry i (the population is capped to the file by the config).
 */
import type { UserCredential } from "../config/run-config.js";
import type { PopulationPlan } from "../scenario/plan.js";

const PLACEHOLDER = /\{(index|n|user)(?::(\d+))?\}/g;

export function expandTemplate(template: string, values: { index: number; user?: string }): string {
  return template.replace(PLACEHOLDER, (whole, name: string, width: string | undefined) => {
    let text: string;
    if (name === "index") text = String(values.index);
    else if (name === "n") text = String(values.index + 1);
    else if (values.user !== undefined) text = values.user;
    else return whole;
    // Always zero-pad: a space is not valid in a SIP user part. `{index:06}` and `{index:6}` agree.
    if (width !== undefined) text = text.padStart(Number(width), "0");
    return text;
  });
}

export function credentialsFor(
  index: number,
  population: Pick<PopulationPlan, "userTemplate" | "passwordTemplate">,
  users: readonly UserCredential[] | null,
): UserCredential {
  if (users && users.length > 0) {
    // Wrap rather than fail: the config layer caps the population, this only guards misuse.
    const entry = users[index % users.length]!;
    return { user: entry.user, password: entry.password };
  }
  const user = expandTemplate(population.userTemplate, { index });
  return { user, password: expandTemplate(population.passwordTemplate, { index, user }) };
}
