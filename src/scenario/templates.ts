/**
 * Validation of the user and password templates of a population. Expansion itself lives with the
 * clients (execution/user-names.ts); this checks, once at load time, that a template only uses
 * placeholders the expander knows and yields valid SIP user parts, so a typo such as `{idx}` is a
 * scenario error and not 10,000 REGISTERs for the literal user "{idx}".
 *
 * Placeholders: `{index}` 0-based client index, `{n}` 1-based, `{user}` (password only) the
 * expanded user name; an optional `:<width>` (`{index:06}`, `{n:4}`) zero-pads.
 */

/** RFC 3261 `user` characters that need no escaping (unreserved + user-unreserved). */
const USER_CHARS = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/]*$/;
const TOKEN = /\{([^{}]*)\}/g;
const PLACEHOLDER = /^(index|n|user)(?::(\d{1,2}))?$/;

export type TemplateKind = "user" | "password";

/** Every problem with the template (empty when it is valid), each as the end of a sentence. */
export function checkTemplate(template: string, kind: TemplateKind): string[] {
  const problems: string[] = [];
  const allowed = kind === "user" ? "{index}, {n}" : "{index}, {n}, {user}";
  const literals: string[] = [];
  let last = 0;
  for (const match of template.matchAll(TOKEN)) {
    literals.push(template.slice(last, match.index));
    last = match.index + match[0].length;
    const placeholder = PLACEHOLDER.exec(match[1]!);
    if (!placeholder || (kind === "user" && placeholder[1] === "user")) {
      problems.push(`has an unknown placeholder '${match[0]}': use ${allowed}, optionally zero-padded like {index:06}`);
    }
  }
  literals.push(template.slice(last));
  const literal = literals.join("");
  if (/[{}]/.test(literal)) problems.push(`has an unmatched '{' or '}': placeholders look like {index} or {n:04}`);
  if (kind === "user") {
    if (!USER_CHARS.test(literal.replace(/[{}]/g, ""))) {
      problems.push("contains characters not allowed in a SIP user name: use letters, digits and - _ . ! ~ * ' ( ) & = + $ , ; ? /");
    }
  } else if (/[\r\n]/.test(literal)) {
    problems.push("contains a line break: use a single-line password");
  }
  return problems;
}

/** True when a user template gives each client its own name ({index} or {n} in it). */
export function userTemplateIsPerClient(template: string): boolean {
  return /\{(index|n)(:\d+)?\}/.test(template);
}
