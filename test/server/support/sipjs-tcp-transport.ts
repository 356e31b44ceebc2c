/**
 * A minimal SIP.js Transport over one real TCP connection (for the PF interop test): connects to
 * the server, frames incoming bytes with our SIP stream framer and hands each message to SIP.js as
 * text; writes what SIP.js sends as is. The client's own transports (src/client/) add connection
 * models and demultiplexing; this test only needs one UA per connection.
 */
import { connect, type Socket } from "node:net";
import { EmitterImpl } from "sip.js/lib/api/emitter.js";
import { TransportState } from "sip.js/lib/api/transport-state.js";
import { SipStreamFramer } from "../../../src/protocol/sip/parser.js";

export interface TcpTransportOptions {
  host: string;
  port: number;
}

export class SipJsTcpTransport {
  readonly protocol = "TCP";
  onConnect: (() => void) | undefined;
  onDisconnect: ((error?: Error) => void) | undefined;
  onMessage: ((message: string) => void) | undefined;
  state = TransportState.Disconnected;
  readonly stateChange = new EmitterImpl<TransportState>();
  private socket: Socket | undefined;

  constructor(
    _logger: unknown,
    private readonly options: TcpTransportOptions,
  ) {}

  isConnected(): boolean {
    return this.state === TransportState.Connected;
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.options.host, port: this.options.port });
      socket.setNoDelay(true);
      const framer = new SipStreamFramer();
      socket.on("data", (chunk: Buffer) => {
        for (const f of framer.push(chunk)) if (f.ok) this.onMessage?.(f.bytes.toString("utf8"));
      });
      socket.once("error", reject);
      socket.on("close", () => {
        if (this.state === TransportState.Disconnected) return;
        this.state = TransportState.Disconnected;
        this.stateChange.emit(this.state);
        this.onDisconnect?.();
      });
      socket.once("connect", () => {
        socket.off("error", reject);
        socket.on("error", () => {});
        this.socket = socket;
        this.state = TransportState.Connected;
        this.stateChange.emit(this.state);
        this.onConnect?.();
        resolve();
      });
    });
  }

  async disconnect(): Promise<void> {
    this.state = TransportState.Disconnected;
    this.socket?.destroy();
    this.stateChange.emit(this.state);
  }

  async dispose(): Promise<void> {
    await this.disconnect();
  }

  async send(message: string): Promise<void> {
    this.socket?.write(message);
  }
}
