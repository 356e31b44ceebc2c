/**
 * SIPp-style users files (`--users users.csv`): one `user;password` per line (or SIPp's digest
 * form `user;[authentication username=user password=secret]`); an optional first
 * line SEQUENTIAL, RANDOM or USER (SIPp's injection-file modes); `#` comment lines and blank lines
 * are skipped; fields after the password are ignored so SIPp files with extra columns work.
 * RANDOM shuffles the users with the run's seed (deterministic); SEQUENTIAL and USER keep the order.
 */
import { seededRandom } from "../client/prng.js";
import type { UserCredential } from "./run-config.js";

const USER_PART = /^[A-Za-z0-9\-_.!~*'()&=+$,?/]+$/;

export type UsersOrder = "sequential" | "random";

export type UsersFileParse =
  | { ok: true; order: UsersOrder; users: UserCredential[] }
  | { ok: false; problems: string[] };

/** Parse the text of a users file; problems are sentences prefixed with `file:line:`. */
export function parseUsersFile(text: string, fileName: string): UsersFileParse {
  const problems: string[] = [];
  const users: UserCredential[] = [];
  const firstLine = new Map<string, number>();
  let order: UsersOrder = "sequential";
  let sawContent = false;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    const at = `${fileName}:${i + 1}`;
    if (line === "" || line.startsWith("#")) return;
    if (!sawContent) {
      sawContent = true;
      const mode = /^(SEQUENTIAL|RANDOM|USER)\b(.*)$/i.exec(line);
      if (mode) {
        if (mode[2]!.trim() !== "") {
          problems.push(`${at}: the mode line '${line}' has options cpm-load does not support (such as PRINTF): list every user on its own line`);
        }
        order = mode[1]!.toUpperCase() === "RANDOM" ? "random" : "sequential";
        return;
      }
    }
    const [user = "", second = ""] = line.split(";").map((f) => f.trim());
    // SIPp's own digest form: "user;[authentication username=user password=secret]".
    const keyword = /^\[authentication\s+username=(\S+)\s+password=(\S+?)\s*\]$/i.exec(second);
    if (keyword && keyword[1] !== user) {
      problems.push(`${at}: the authentication username '${keyword[1]}' differs from the user '${user}': cpm-load registers and authenticates with one name, so make them equal`);
      return;
    }
    const password = keyword ? keyword[2]! : second;
    if (user === "" || password === "" || /^\[authentication\b/i.test(password)) {
      problems.push(`${at}: '${line}' is not 'user;password': write one user and its password per line, separated by ';'`);
      return;
    }
    if (!USER_PART.test(user)) {
      problems.push(`${at}: user '${user}' has characters not allowed in a SIP user name: use letters, digits and - _ . ! ~ * ' ( ) & = + $ , ? /`);
      return;
    }
    const previous = firstLine.get(user);
    if (previous !== undefined) {
      problems.push(`${at}: user '${user}' is listed twice (also line ${previous}): each virtual client needs its own user`);
      return;
    }
    firstLine.set(user, i + 1);
    users.push({ user, password });
  });
  if (problems.length === 0 && users.length === 0) problems.push(`${fileName} lists no users: add one 'user;password' line per client`);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, order, users };
}

/** Fisher–Yates with the clients' seeded generator (mulberry32): the same seed gives the same order. */
export function shuffleUsers(users: readonly UserCredential[], seed: number): UserCredential[] {
  const out = [...users];
  const random = seededRandom(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
