/**
 * REGISTER processing (RFC 3261 §10.3) on top of the BindingStore:
 * - no Contact: a query, 200 with the current bindings;
 * - `Contact: *` with `Expires: 0` (and nothing else): remove all bindings; `*` otherwise is 400;
 * - each Contact's expiry: its `expires` parameter, else the Expires header, else the default;
 *   0 removes the binding, 1..minExpires-1 rejects the whole request with 423 + Min-Expires,
 *   above maxExpires is lowered to maxExpires;
 * - same Call-ID with a CSeq below the stored one: 500 (out of order), nothing changes; the same
 *   CSeq (a retransmission that outlived its transaction) gets 200 with the unchanged bindings;
 * - 200 lists every current contact with its remaining expiry (+sip.instance, reg-id and other
 *   parameters kept), a Date header, and the Path of the request when the client supports path.
 *
 * Domains: any AOR is served (a load-test registrar should not refuse users for the host name
 * they were configured with, e.g. SIPp's `sip:user@127.0.0.1`); --domain sets the realm only.
 */
import { getHeader, getHeaderLines, getHeaderValues, formatParams, parseNameAddr, type HeaderParams } from "../../protocol/sip/headers.js";
import type { HeaderList } from "../../protocol/sip/message.js";
import { addressOfRecord as canonicalAor, parseSipUri } from "../../protocol/sip/uri.js";
import type { Clock } from "../../time/clock.js";
import type { IncomingRequest } from "../core/incoming-request.js";
import type { BindingStore, ContactBinding, ContactUpdate } from "./binding-store.js";

export interface RegistrarLimits {
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
}

/** The registered identity of a request: canonical AOR and its user part. */
export interface AddressOfRecord {
  aor: string;
  user: string;
}

/** RFC 3261 §10.3 step 5: the To URI as `sip:user@host` (lowercased host, no port or parameters). */
export function addressOfRecord(toValue: string | undefined): AddressOfRecord | null {
  if (toValue === undefined) return null;
  const to = parseNameAddr(toValue);
  const uri = to === null ? null : parseSipUri(to.uri);
  if (uri === null) return null;
  return { aor: canonicalAor(uri), user: uri.user ?? "" };
}

/** Whole seconds of an Expires value (delta-seconds); null when malformed. */
function parseDeltaSeconds(value: string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const v = value.trim();
  if (!/^\d+$/.test(v)) return null;
  // RFC 3261 §20.19: larger values mean 2**32-1 (then lowered to maxExpires anyway).
  return v.length > 10 ? MAX_DELTA : Math.min(Number(v), MAX_DELTA);
}

const MAX_DELTA = 2 ** 32 - 1;

export class RegisterHandler {
  private dateSecond = -1;
  private dateValue = "";

  constructor(
    private readonly store: BindingStore,
    private readonly limits: RegistrarLimits,
    private readonly clock: Clock,
  ) {}

  /** Process a REGISTER whose sender was already authenticated (or auth is off). */
  handle(req: IncomingRequest, aor: AddressOfRecord): void {
    const m = req.message;
    const expiresHeader = getHeader(m, "Expires");
    const headerExpires = expiresHeader === undefined ? null : parseDeltaSeconds(expiresHeader);
    if (expiresHeader !== undefined && headerExpires === null) {
      req.respond(400, "Bad Request", [["Warning", `399 cpm-serv "Expires is not a number of seconds"`]]);
      return;
    }
    const contactValues = getHeaderValues(m, "Contact");
    if (contactValues.length === 0) {
      this.ok(req, this.store.lookup(aor.aor), []);
      return;
    }
    const updates: ContactUpdate[] = [];
    for (const value of contactValues) {
      const contact = parseNameAddr(value);
      if (contact === null) {
        req.respond(400, "Bad Request", [["Warning", `399 cpm-serv "Contact is malformed"`]]);
        return;
      }
      if (contact.uri === "*") {
        if (contactValues.length !== 1 || headerExpires !== 0) {
          req.respond(400, "Bad Request", [["Warning", `399 cpm-serv "Contact: * needs Expires: 0 and no other Contact"`]]);
          return;
        }
        this.store.removeAll(aor.aor);
        this.ok(req, [], []);
        return;
      }
      const paramExpires = contact.params.expires;
      let expires = paramExpires === undefined ? headerExpires : parseDeltaSeconds(paramExpires);
      // RFC 3261 §10.3 step 6: a malformed expires parameter counts as absent.
      expires ??= headerExpires ?? this.limits.defaultExpires;
      if (expires > 0 && expires < this.limits.minExpires) {
        req.respond(423, "Interval Too Brief", [["Min-Expires", String(this.limits.minExpires)]]);
        return;
      }
      updates.push({
        uri: contact.uri,
        params: withoutExpires(contact.params),
        instanceId: contact.params["+sip.instance"] ?? null,
        regId: contact.params["reg-id"] ?? null,
        expires: Math.min(expires, this.limits.maxExpires),
      });
    }

    const path = getHeaderValues(m, "Path");
    const result = this.store.apply(aor.aor, updates, { callId: req.callId, cseq: req.cseq, flow: req.flow, path });
    if (!result.ok) {
      req.respond(500, "Server Internal Error", [["Warning", `399 cpm-serv "CSeq below the last REGISTER of this Call-ID"`]]);
      return;
    }
    this.ok(req, result.bindings, path);
  }

  private ok(req: IncomingRequest, bindings: ContactBinding[], path: string[]): void {
    const headers: HeaderList = [];
    for (const b of bindings) {
      headers.push(["Contact", `<${b.uri}>${formatParams(b.params)};expires=${this.store.remainingSeconds(b)}`]);
    }
    headers.push(["Date", this.date()]);
    // RFC 3327 §5.3: echo the stored Path only to a client that said it supports path.
    if (path.length > 0 && getHeaderLines(req.message, "Supported").some((s) => /(^|[\s,])path($|[\s,])/i.test(s))) {
      for (const p of path) headers.push(["Path", p]);
    }
    req.respond(200, "OK", headers);
  }

  /** RFC 1123 date, formatted once per second (a 200 SHOULD carry Date, RFC 3261 §10.3 step 8). */
  private date(): string {
    const nowMs = this.clock.nowMs();
    const second = Math.floor(nowMs / 1000);
    if (second !== this.dateSecond) {
      this.dateSecond = second;
      this.dateValue = new Date(second * 1000).toUTCString();
    }
    return this.dateValue;
  }
}

function withoutExpires(params: HeaderParams): HeaderParams {
  if (!("expires" in params)) return params;
  const out: HeaderParams = {};
  for (const k in params) if (k !== "expires") out[k] = params[k]!;
  return out;
}
