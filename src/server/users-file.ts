/**
 * SIPp-style users file (injection file): one `user;password` per line, `;` separated (further
 * fields are ignored), `#` comment lines and blank lines skipped, and an optional first line naming
 * the SIPp read mode (SEQUENTIAL, RANDOM, USER) so the same file feeds SIPp and cpm-load.
 */
import type { UserCredential } from "../config/run-config.js";
import { UserError } from "../errors.js";

const SIPP_MODES = new Set(["SEQUENTIAL", "RANDOM", "USER"]);

export function parseUsersFile(text: string, fileName: string): UserCredential[] {
  const users: UserCredential[] = [];
  const lines = text.split(/\r?\n/);
  let seenContent = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.length === 0 || line.startsWith("#")) continue;
    const first = !seenContent;
    seenContent = true;
    if (first && SIPP_MODES.has(line.split(/[;,\s]/)[0]!.toUpperCase())) continue;
    const fields = line.split(";");
    const user = fields[0]!.trim();
    const password = fields[1]?.trim();
    if (user.length === 0 || password === undefined) {
      throw new UserError(`${fileName}:${i + 1}: expected "user;password" but found "${line.slice(0, 60)}": fix that line (fields are separated by semicolons).`);
    }
    users.push({ user, password });
  }
  if (users.length === 0) {
    throw new UserError(`${fileName} holds no users: add lines of the form "user;password".`);
  }
  return users;
}
