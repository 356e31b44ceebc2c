/**
 * A SIP.js Registerer that tells its owner when SIP.js registers on its own: the refresh timer
 * (`register()` from `registered()`) and the 423 Interval Too Brief retry both call
 * `this.register()` without a request delegate, so the owner can supply one (to time and count
 * refreshes, and to keep following a registration through a 423 retry).
 *
 * It also keeps what SIP.js stores per REGISTER when it is the same as last time. The Registerer
 * holds the extra headers of its last request (Contact, Allow) and the Contact values of its last
 * 2xx until the next REGISTER, so every client's copies, new each time, outlived each
 * young-generation GC (with re-registers every 0.5 s, ~1.5 KB per client copied at each scavenge,
 * which is what the scavenge pauses scale with). Equal text is interchangeable: keeping the
 * previous strings changes nothing SIP.js sends or reports. Both members are SIP.js internals; if
 * a SIP.js upgrade renamed them this only stops saving memory.
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

  /** The request's extra headers as last kept (see the module comment). */
  private keptExtraHeaders: string[] | undefined;

  constructor(userAgent: UserAgent, options: RegistererOptions, hooks: RegistererHooks) {
    super(userAgent, options);
    this.hooks = hooks;
    // SIP.js only assigns `_contacts` (from each 2xx) and reads it, never changes it in place.
    const self = this as unknown as { _contacts?: string[] };
    let contacts = self._contacts ?? [];
    Object.defineProperty(this, "_contacts", {
      configurable: true,
      enumerable: true,
      get: () => contacts,
      set: (next: string[]) => {
        if (!sameStrings(contacts, next)) contacts = next;
      },
    });
  }

  override register(options?: RegistererRegisterOptions): Promise<OutgoingRegisterRequest> {
    const hooks = this.hooks;
    const opts = options?.requestDelegate === undefined && hooks !== undefined ? { ...options, ...hooks.internalRegister() } : (options ?? {});
    const sent = super.register(opts);
    this.keepExtraHeaders();
    if (hooks !== undefined) {
      sent.then(
        (request) => hooks.sent(opts, request),
        () => {},
      );
    }
    return sent;
  }

  /**
   * register() has put a new extra-header array on the request and serialised it; nothing changes
   * that array afterwards (unregister() and the next register() assign their own).
   */
  private keepExtraHeaders(): void {
    const request = (this as unknown as { request?: { extraHeaders?: string[] } }).request;
    const current = request?.extraHeaders;
    if (request === undefined || current === undefined) return;
    if (this.keptExtraHeaders !== undefined && sameStrings(this.keptExtraHeaders, current)) request.extraHeaders = this.keptExtraHeaders;
    else this.keptExtraHeaders = current;
  }

  /** Forget the owner (after dispose nothing calls back). */
  detach(): void {
    this.hooks = undefined;
  }
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
