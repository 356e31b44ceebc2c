// WIP: replaced once the codec's digest.ts lands.
import type { Clock } from "../../time/clock.js";
import type { IncomingRequest } from "../core/incoming-request.js";
import type { ResolvedAuthOptions } from "../options.js";

export class DigestAuthenticator {
  constructor(
    readonly opts: ResolvedAuthOptions,
    readonly clock: Clock,
  ) {}

  authorize(req: IncomingRequest, _toUser: string): boolean {
    req.respond(500);
    return false;
  }
}
