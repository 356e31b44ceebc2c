/**
 * A SIP.js Registerer that tells its owner when SIP.js registers on its own: the refresh timer
 * (`register()` from `registered()`) and the 423 Interval Too Brief retry both call
 * `this.register()` without a request delegate, so the owner can supply one (to time and count
 * refreshes, and to keep following a registration through a 423 retry).
 */
import { Registerer } from "sip.js/lib/api/registerer.js";
import type { RegistererOptions } from "sip.js/lib/api/registerer-options.js";
import type { RegistererRegisterOptions } from "sip.js/lib/api/registerer-register-options.js";
import type { UserAgent } from "sip.js/lib/api/user-agent.js";
import type { OutgoingRegisterRequest } from "sip.js/lib/core/messages/methods/register.js";

export interface RegistererHooks {
  /** SIP.js is about to register by itself: the delegate (and bookkeeping) to use. */
  internalRegister(): RegistererRegisterOptions;
  /** A REGISTER went out (explicit or internal): the request, for timeouts. */
  sent(options: RegistererRegisterOptions, request: OutgoingRegisterRequest): void;
}

export class CpmRegisterer extends Registerer {
  private hooks: RegistererHooks | undefined;

  constructor(userAgent: UserAgent, options: RegistererOptions, hooks: RegistererHooks) {
    super(userAgent, options);
    this.hooks = hooks;
  }

  override register(options?: RegistererRegisterOptions): Promise<OutgoingRegisterRequest> {
    const hooks = this.hooks;
    const opts = options?.requestDelegate === undefined && hooks !== undefined ? { ...options, ...hooks.internalRegister() } : (options ?? {});
    const sent = super.register(opts);
    if (hooks !== undefined) {
      sent.then(
        (request) => hooks.sent(opts, request),
        () => {},
      );
    }
    return sent;
  }

  /** Forget the owner (after dispose nothing calls back). */
  detach(): void {
    this.hooks = undefined;
  }
}
