/**
 * Digest authentication of requests (RFC 3261 §22, RFC 7616, RFC 8760):
 * - no credentials for our realm (none at all, or only for another realm), an algorithm we did not
 *   offer, or a nonce we did not issue → 401 with one WWW-Authenticate per configured algorithm, in
 *   the configured order (RFC 8760: most preferred first), each with qop="auth";
 * - unknown user → 403, like a wrong password: 404 would tell a scanner which users exist, and a
 *   client treats both as "this account cannot register" anyway;
 * - wrong response (password) → 403;
 * - right password on an expired nonce → 401 with stale=true (RFC 7616 §3.3: retry without
 *   asking the user again). Staleness is only disclosed to someone who knows the password;
 * - authenticated as another user than the To user → 403 (one may only register oneself).
 * Nonces are stateless (nonce.ts): nothing is stored per challenge.
 */
import { getHeaderLines } from "../../protocol/sip/headers.js";
import {
  digestAlgorithm,
  formatDigestChallenge,
  parseDigestCredentials,
  verifyDigestCredentials,
  type DigestCredentials,
} from "../../protocol/sip/digest.js";
import type { HeaderList } from "../../protocol/sip/message.js";
import type { Clock } from "../../time/clock.js";
import type { IncomingRequest } from "../core/incoming-request.js";
import type { DigestAlgorithmName, ResolvedAuthOptions } from "../options.js";
import { CredentialStore } from "./credential-store.js";
import { NonceService } from "./nonce.js";

const QOP = ["auth"];

export class DigestAuthenticator {
  private readonly nonces: NonceService;
  private readonly credentials: CredentialStore;
  private readonly realm: string;
  private readonly algorithms: readonly DigestAlgorithmName[];

  constructor(opts: ResolvedAuthOptions, clock: Clock) {
    this.realm = opts.realm;
    this.algorithms = opts.algorithms;
    this.nonces = new NonceService(clock, opts.realm, opts.nonceLifetimeMs);
    this.credentials = new CredentialStore(opts.users, opts.passwordTemplate);
  }

  /**
   * True when the request carries valid credentials of `toUser`; otherwise the request has been
   * answered (401 or 403) and the caller stops.
   */
  authorize(req: IncomingRequest, toUser: string): boolean {
    const creds = this.credentialsForRealm(req);
    if (creds === null) return this.challenge(req, false);
    const algorithm = digestAlgorithm(creds.algorithm);
    if (algorithm === null || !this.algorithms.includes(algorithm as DigestAlgorithmName)) return this.challenge(req, false);
    const nonce = this.nonces.check(creds.nonce);
    if (nonce === "invalid") return this.challenge(req, false);
    const password = this.credentials.passwordFor(creds.username);
    if (password === undefined || !verifyDigestCredentials(creds, { password, method: req.method, body: req.message.body })) {
      return this.forbid(req);
    }
    if (nonce === "stale") return this.challenge(req, true);
    if (!sameUser(creds.username, toUser)) return this.forbid(req);
    return true;
  }

  private credentialsForRealm(req: IncomingRequest): DigestCredentials | null {
    for (const value of getHeaderLines(req.message, "Authorization")) {
      const creds = parseDigestCredentials(value);
      if (creds !== null && creds.realm === this.realm) return creds;
    }
    return null;
  }

  private challenge(req: IncomingRequest, stale: boolean): false {
    const nonce = this.nonces.issue();
    const headers: HeaderList = this.algorithms.map((algorithm) => [
      "WWW-Authenticate",
      formatDigestChallenge({ realm: this.realm, nonce, algorithm, qop: QOP, stale }),
    ]);
    req.respond(401, "Unauthorized", headers);
    return false;
  }

  private forbid(req: IncomingRequest): false {
    req.respond(403, "Forbidden");
    return false;
  }
}

/** IMS clients authenticate as `user@domain` (private identity); plain clients as `user`. */
function sameUser(username: string, toUser: string): boolean {
  return username === toUser || (username.length > toUser.length && username.startsWith(toUser) && username[toUser.length] === "@");
}
