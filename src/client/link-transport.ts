/**
 * The SIP.js `Transport` of a virtual client, over its ClientLink (TCP or UDP, own or shared
 * connection). It follows the state machine of SIP.js's api/transport.d.ts (Disconnected →
 * Connecting → Connected → Disconnecting → Disconnected, onConnect on entering Connected,
 * onDisconnect on leaving it, with an error when the network dropped us).
 *
 * The link is opened by the VirtualClient before the UserAgent exists (the UA's viaHost and
 * Contact need its local address), so connecting is immediate; a lost connection moves the
 * transport to Disconnected and it never reconnects by itself (the client decides).
 *
 * An ACK and a re-INVITE read in one go (one TCP read, so delivered in one synchronous loop) are
 * handed to SIP.js one event-loop turn apart. SIP.js marks the dialog "processing the ACK" until a
 * promise callback runs and answers a re-INVITE arriving meanwhile with 500 + Retry-After (RFC 6337
 * §4.3, meant for an ACK whose offer/answer is still being worked on); without the turn between
 * them the re-INVITE always found the ACK "in progress", though SIP.js had finished with it (an
 * ACK without a body needs no work). Measured: ~1 session in 70 with a re-INVITE right after set-up through the
 * PF, whose ACK to the callee and the forwarded re-INVITE then share a read. Everything that
 * arrives for this client after a held message waits behind it, so the order is kept.
 */
import { EmitterImpl } from "sip.js/lib/api/emitter.js";
import { StateTransitionError } from "sip.js/lib/api/exceptions/state-transition.js";
import type { Transport } from "sip.js/lib/api/transport.js";
import { TransportState } from "sip.js/lib/api/transport-state.js";
import type { Logger } from "sip.js/lib/core/log/logger.js";
import { getHeader } from "../protocol/sip/headers.js";
import type { SipMessage } from "../protocol/sip/message.js";
import { deliverParsed } from "../protocol/sip/sipjs-runtime.js";
import type { ClientLink } from "./link.js";

export interface LinkTransportOptions {
  link: ClientLink;
}

const ALLOWED: Record<TransportState, readonly TransportState[]> = {
  [TransportState.Disconnected]: [TransportState.Connecting],
  [TransportState.Connecting]: [TransportState.Connected, TransportState.Disconnecting, TransportState.Disconnected],
  [TransportState.Connected]: [TransportState.Disconnecting, TransportState.Disconnected],
  [TransportState.Disconnecting]: [TransportState.Connecting, TransportState.Disconnected],
};

export class LinkTransport implements Transport {
  readonly protocol: string;
  onConnect: (() => void) | undefined;
  onDisconnect: ((error?: Error) => void) | undefined;
  onMessage: ((message: string) => void) | undefined;
  private readonly link: ClientLink;
  private _state = TransportState.Disconnected;
  private transitioning = false;
  private readonly _stateChange = new EmitterImpl<TransportState>();
  /** An ACK went to SIP.js in this synchronous run (cleared by a microtask). */
  private ackInRun = false;
  /** Messages held back behind a re-INVITE that followed an ACK in the same run, in order. */
  private held: Array<{ message: SipMessage; data: string }> = [];
  private flushScheduled = false;

  /** SIP.js calls this as `new transportConstructor(logger, transportOptions)`. */
  constructor(_logger: Logger, options: LinkTransportOptions) {
    if (options?.link === undefined) throw new TypeError("LinkTransport needs transportOptions.link");
    this.link = options.link;
    this.protocol = options.link.protocol;
  }

  get state(): TransportState {
    return this._state;
  }

  get stateChange(): EmitterImpl<TransportState> {
    return this._stateChange;
  }

  isConnected(): boolean {
    return this._state === TransportState.Connected;
  }

  connect(): Promise<void> {
    if (this._state === TransportState.Connected) return Promise.resolve();
    try {
      if (this._state !== TransportState.Connecting) this.transition(TransportState.Connecting);
      if (this.link.closed) {
        const error = new Error("The SIP connection is closed.");
        this.transition(TransportState.Disconnected, error);
        return Promise.reject(error);
      }
      this.transition(TransportState.Connected);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  disconnect(): Promise<void> {
    if (this._state === TransportState.Disconnected) return Promise.resolve();
    try {
      if (this._state !== TransportState.Disconnecting) this.transition(TransportState.Disconnecting);
      this.transition(TransportState.Disconnected);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  dispose(): Promise<void> {
    return this.disconnect();
  }

  send(message: string): Promise<void> {
    if (this._state !== TransportState.Connected) return Promise.reject(new Error(`Transport not connected (${this._state}).`));
    if (!this.link.send(message)) return Promise.reject(new Error("The SIP connection is closed."));
    return Promise.resolve();
  }

  /** A message for this client from the connection layer (delivered from the socket event). */
  receive(message: SipMessage, data: string): void {
    if (this.held.length > 0 || (this.ackInRun && isReinvite(message))) {
      this.held.push({ message, data });
      this.scheduleFlush();
      return;
    }
    this.deliver(message, data);
  }

  /** Messages held back behind a re-INVITE (tests, diagnostics). */
  get heldMessages(): number {
    return this.held.length;
  }

  private deliver(message: SipMessage, data: string): void {
    const onMessage = this.onMessage;
    if (this._state !== TransportState.Connected || onMessage === undefined) return;
    deliverParsed(data, message, () => onMessage(data));
    if (message.kind === "request" && message.method === "ACK" && !this.ackInRun) {
      this.ackInRun = true;
      // Queued after SIP.js's own ACK-done callback, so it runs once that one has.
      queueMicrotask(() => (this.ackInRun = false));
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // The next turn: every microtask of this one (SIP.js's ACK processing included) has run.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.held.length > 0) {
      const next = this.held[0]!;
      if (this.ackInRun && isReinvite(next.message)) {
        this.scheduleFlush();
        return;
      }
      this.held.shift();
      this.deliver(next.message, next.data);
    }
  }

  /** The connection under the link is gone. */
  linkClosed(error: Error): void {
    this.held = [];
    if (this._state === TransportState.Connected || this._state === TransportState.Connecting) {
      this.transition(TransportState.Disconnected, error);
    }
  }

  private transition(next: TransportState, error?: Error): void {
    if (this.transitioning) throw new StateTransitionError(`Transport state transition loop detected to ${next}.`);
    if (!ALLOWED[this._state].includes(next)) throw new Error(`Invalid transport state transition from ${this._state} to ${next}`);
    this.transitioning = true;
    const previous = this._state;
    this._state = next;
    try {
      this._stateChange.emit(next);
      if (next === TransportState.Connected) this.onConnect?.();
      if (previous === TransportState.Connected) {
        if (error) this.onDisconnect?.(error);
        else this.onDisconnect?.();
      }
    } finally {
      this.transitioning = false;
    }
  }
}

/** An INVITE within a dialog (its To carries a tag). */
function isReinvite(m: SipMessage): boolean {
  if (m.kind !== "request" || m.method !== "INVITE") return false;
  const to = getHeader(m, "To");
  return to !== undefined && /;\s*tag\s*=/i.test(to);
}
