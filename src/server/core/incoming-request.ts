/**
 * A request as handlers see it: the parsed message, the flow it arrived on (responses and later
 * requests to this peer go there), its server transaction, and `respond()`.
 */
import type { HeaderList, SipRequest } from "../../protocol/sip/message.js";
import type { ServerTransaction } from "../transaction/server-transaction-table.js";
import type { Flow } from "../transport/flow.js";
import type { ResponseSender } from "./response-sender.js";

export class IncomingRequest {
  /** The To-tag of every response in this transaction (RFC 3261 §8.2.6.2), made on first use. */
  private tag: string | null = null;

  constructor(
    readonly message: SipRequest,
    readonly flow: Flow,
    readonly transaction: ServerTransaction,
    private readonly sender: ResponseSender,
    /** Already validated by the core (present, CSeq method = request method). */
    readonly callId: string,
    readonly cseq: number,
  ) {}

  get method(): string {
    return this.message.method;
  }

  get toTag(): string {
    if (this.tag === null) this.tag = this.sender.newTag();
    return this.tag;
  }

  /** True until a final response went out (or was scheduled and then superseded). */
  get isPending(): boolean {
    return this.transaction.state === "proceeding";
  }

  /**
   * Answer the request. Final responses wait for the injected delay first (when configured); a
   * second final response, or one after CANCEL answered the request with 487, is dropped.
   */
  respond(status: number, reason?: string, extraHeaders?: HeaderList, body?: Buffer): void {
    this.sender.respond(this, status, reason, extraHeaders, body, true);
  }

  /**
   * Answer at once, skipping the injected delay: for answers the peer forced (487 after its
   * CANCEL), which a server gives as soon as it sees the CANCEL however slow the request was.
   */
  respondNow(status: number, reason?: string, extraHeaders?: HeaderList, body?: Buffer): void {
    this.sender.respond(this, status, reason, extraHeaders, body, false);
  }
}
