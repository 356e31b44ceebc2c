/**
 * Builds, delays and sends responses. Every response carries `Server: CPM-serv/OMA1.0`
 * (PROTOCOL.md [choice]) and the transaction's To-tag. The injected delay (opts.delay) is applied
 * before each final response, never before a retransmission answer, so measured latency equals
 * the injected delay plus the real path, which is what `--delay` exists to check.
 */
import { randomBytes } from "node:crypto";
import { sampleDelayMs, type DelaySpec } from "../../config/durations.js";
import type { HeaderList, SipRequest, SipResponse } from "../../protocol/sip/message.js";
import { createResponse } from "../../protocol/sip/response.js";
import { serializeSipMessage } from "../../protocol/sip/serializer.js";
import type { Clock, TimerHandle } from "../../time/clock.js";
import type { StatsCollector } from "../stats.js";
import type { ServerTransactionTable } from "../transaction/server-transaction-table.js";
import type { Flow } from "../transport/flow.js";
import type { IncomingRequest } from "./incoming-request.js";

export const SERVER_HEADER = "CPM-serv/OMA1.0";
const SERVER_LINE: [string, string] = ["Server", SERVER_HEADER];

export class ResponseSender {
  private readonly pending = new Set<TimerHandle>();
  private readonly tagPrefix = randomBytes(4).toString("hex");
  private tagCounter = 0;

  constructor(
    private readonly clock: Clock,
    private readonly delay: DelaySpec | null,
    private readonly table: ServerTransactionTable,
    private readonly stats: StatsCollector,
  ) {
    // A real clock starts its precise-timer helper thread on the first clock.at (it takes some tens
    // of ms); a no-op timer now makes that happen at server start instead of at the first answer.
    if (delay !== null) clock.at(clock.nowNs(), () => undefined);
  }

  /** Unique per server run; a counter is cheaper than random bytes per response. */
  newTag(): string {
    return `${this.tagPrefix}${(this.tagCounter++).toString(36)}`;
  }

  respond(
    req: IncomingRequest,
    status: number,
    reason: string | undefined,
    extraHeaders: HeaderList | undefined,
    body: Buffer | undefined,
    applyDelay: boolean,
  ): void {
    if (!req.isPending) return;
    const delayMs = applyDelay && status >= 200 && this.delay !== null ? sampleDelayMs(this.delay) : 0;
    if (delayMs <= 0) {
      this.send(req, status, reason, extraHeaders, body);
      return;
    }
    // clock.at, not after: an injected delay is a measured instant, so it must never be shorter than
    // asked (setTimeout can be ~1 ms early) and should not be ~1 ms longer either (see clock.ts).
    const timer = this.clock.at(this.clock.nowNs() + delayMs * 1_000_000, () => {
      this.pending.delete(timer);
      this.send(req, status, reason, extraHeaders, body);
    });
    this.pending.add(timer);
  }

  /** A response outside any transaction (400 to a request that could not be parsed). */
  sendStateless(flow: Flow, request: SipRequest, status: number, reason?: string, extraHeaders?: HeaderList): void {
    const response = this.build(request, status, reason, extraHeaders, undefined, status > 100 ? this.newTag() : null);
    if (flow.send(serializeSipMessage(response))) this.stats.response(status);
  }

  /** Cancel responses still waiting for their injected delay (server shutdown). */
  close(): void {
    for (const timer of this.pending) timer.cancel();
    this.pending.clear();
  }

  private send(req: IncomingRequest, status: number, reason?: string, extraHeaders?: HeaderList, body?: Buffer): void {
    // Re-checked here: during the delay a CANCEL may have answered the request with 487.
    if (!req.isPending) return;
    const response = this.build(req.message, status, reason, extraHeaders, body, status > 100 ? req.toTag : null);
    const bytes = serializeSipMessage(response);
    this.table.recordResponse(req.transaction, status, bytes);
    if (req.flow.send(bytes)) this.stats.response(status);
  }

  private build(
    request: SipRequest,
    status: number,
    reason: string | undefined,
    extraHeaders: HeaderList | undefined,
    body: Buffer | undefined,
    toTag: string | null,
  ): SipResponse {
    // Copied: handlers may pass a shared constant list.
    const headers: HeaderList = extraHeaders === undefined ? [SERVER_LINE] : [...extraHeaders, SERVER_LINE];
    return createResponse(request, status, reason, toTag === null ? { headers, body } : { headers, body, toTag });
  }
}
