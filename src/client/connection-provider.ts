/**
 * Connection models (ARCHITECTURE.md "Connection models"):
 * - per-client: every client opens its own socket (a TCP connection or a connected UDP socket),
 *   like a handset behind a P-CSCF. Incoming messages on it are the client's.
 * - shared: a worker's clients share `sharedConnections` TCP connections (client index mod N) or
 *   one UDP socket, like an S-CSCF/AS trunk; incoming messages are demultiplexed (demux.ts).
 * Over UDP the link layer also retransmits requests (udp-retransmit.ts).
 */
import type { ConnectionModel, SipTransportName } from "../config/run-config.js";
import { ExitCode, UserError } from "../errors.js";
import type { MetricsSink } from "../metrics/sink.js";
import type { SipMessage } from "../protocol/sip/message.js";
import type { Clock } from "../time/clock.js";
import { Demux, cseqMethod, topBranch } from "./demux.js";
import { TransportError, type ClientLink, type ConnectionProvider, type LinkEndpoint, type LinkOwner } from "./link.js";
import { TcpSipConnection, UdpSipSocket, type SipSocket, type SocketHandlers } from "./sip-socket.js";
import { UdpRetransmitter, requestKey } from "./udp-retransmit.js";

export interface ConnectionProviderOptions {
  model: ConnectionModel;
  transport: SipTransportName;
  target: { host: string; port: number };
  /** TCP connections per worker in the shared model (UDP always shares one socket). */
  sharedConnections: number;
  metrics: MetricsSink;
  clock: Clock;
}

/** Kernel buffer for the one UDP socket a whole worker shares. */
const SHARED_UDP_BUFFER_BYTES = 4 * 1024 * 1024;
/** How long the UDP reachability probe waits for an ICMP "port unreachable". */
const UDP_PROBE_MS = 200;

function unreachable(target: { host: string; port: number }, transport: SipTransportName, cause: string): UserError {
  return new UserError(
    `Cannot reach the SIP target ${target.host}:${target.port} over ${transport.toUpperCase()} (${cause}): start the target or fix --target.`,
    ExitCode.runFailed,
  );
}

export async function createConnectionProvider(opts: ConnectionProviderOptions): Promise<ConnectionProvider> {
  if (!Number.isInteger(opts.target.port) || opts.target.port <= 0 || opts.target.port > 65535) {
    throw new UserError(`The SIP target port ${opts.target.port} is not a port number: pass --target host:port with a port from 1 to 65535.`);
  }
  const provider = opts.model === "shared" ? new SharedProvider(opts) : new PerClientProvider(opts);
  await provider.open();
  return provider;
}

// -------------------------------------------------------------------------------------------------
// Shared plumbing

/** Feeds incoming messages of one socket to the retransmitter (UDP) and on to `deliver`. */
function socketHandlers(
  retransmitter: () => UdpRetransmitter | undefined,
  deliver: (message: SipMessage, data: string) => void,
  onClose: (error: Error) => void,
): SocketHandlers {
  return {
    onMessage(message, data) {
      const rt = retransmitter();
      if (rt !== undefined && message.kind === "response") {
        const branch = topBranch(message);
        if (branch !== undefined) rt.onResponse(branch, cseqMethod(message), message.status);
      }
      deliver(message, data);
    },
    onClose,
  };
}

async function probeUdp(opts: ConnectionProviderOptions): Promise<void> {
  const socket = await UdpSipSocket.open(opts.target, opts.metrics, { onMessage() {}, onClose() {} }).catch((e: unknown) => {
    throw unreachable(opts.target, "udp", e instanceof Error ? e.message : String(e));
  });
  try {
    // RFC 5626 keep-alive ping: harmless to any SIP server, and a closed port answers with ICMP.
    socket.send("\r\n\r\n");
    await new Promise((resolve) => setTimeout(resolve, UDP_PROBE_MS));
    if (socket.lastError?.code === "ECONNREFUSED") throw unreachable(opts.target, "udp", "port unreachable");
  } finally {
    await socket.close();
  }
}

/** What both models' links read from the socket they send on; `released` ends the link alone. */
abstract class SocketLink {
  released = false;
  constructor(protected readonly socket: SipSocket) {}

  get protocol() {
    return this.socket.protocol;
  }
  get localAddress() {
    return this.socket.localAddress;
  }
  get localPort() {
    return this.socket.localPort;
  }
  get closed() {
    return this.released || this.socket.closed;
  }
}

// -------------------------------------------------------------------------------------------------
// Per-client

class PerClientLink extends SocketLink implements ClientLink {
  constructor(
    socket: SipSocket,
    private readonly retransmitter: UdpRetransmitter | undefined,
    private readonly onRelease: (link: PerClientLink) => void,
  ) {
    super(socket);
  }

  send(data: string): boolean {
    if (this.released) return false;
    if (this.retransmitter !== undefined) {
      const key = requestKey(data);
      if (key !== undefined) this.retransmitter.track(key.method, key.branch, data);
    }
    return this.socket.send(data);
  }

  forget(branch: string, method: string): void {
    this.retransmitter?.cancel(branch, method);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.retransmitter?.close();
    this.onRelease(this);
    await this.socket.close();
  }
}

class PerClientProvider implements ConnectionProvider {
  readonly model = "per-client" as const;
  readonly transport: SipTransportName;
  readonly target: { host: string; port: number };
  private readonly links = new Set<PerClientLink>();
  private closed = false;

  constructor(private readonly opts: ConnectionProviderOptions) {
    this.transport = opts.transport;
    this.target = opts.target;
  }

  async open(): Promise<void> {
    if (this.transport === "udp") return probeUdp(this.opts);
    // One probe connection tells an unreachable target apart before any client starts.
    const probe = await TcpSipConnection.connect(this.target, this.opts.metrics, { onMessage() {}, onClose() {} }).catch((e: unknown) => {
      throw unreachable(this.target, "tcp", e instanceof Error ? e.message : String(e));
    });
    await probe.close();
  }

  async attach(_owner: LinkOwner, endpoint: LinkEndpoint): Promise<ClientLink> {
    if (this.closed) throw new TransportError("the connection provider is closed");
    let link: PerClientLink | undefined;
    let retransmitter: UdpRetransmitter | undefined;
    const handlers = socketHandlers(
      () => retransmitter,
      (message, data) => endpoint.onMessage(message, data),
      (error) => {
        if (link !== undefined && !link.released) endpoint.onClosed(error);
      },
    );
    const socket: SipSocket =
      this.transport === "tcp"
        ? await TcpSipConnection.connect(this.target, this.opts.metrics, handlers)
        : await UdpSipSocket.open(this.target, this.opts.metrics, handlers);
    if (socket.protocol === "UDP") retransmitter = new UdpRetransmitter(this.opts.clock, (data) => socket.send(data));
    link = new PerClientLink(socket, retransmitter, (l) => this.links.delete(l));
    if (this.closed) {
      await link.release();
      throw new TransportError("the connection provider is closed");
    }
    this.links.add(link);
    return link;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.links].map((l) => l.release()));
  }
}

// -------------------------------------------------------------------------------------------------
// Shared

interface SharedConnection {
  socket: SipSocket;
  retransmitter: UdpRetransmitter | undefined;
  endpoints: Set<LinkEndpoint>;
}

class SharedLink extends SocketLink implements ClientLink {
  constructor(
    private readonly conn: SharedConnection,
    private readonly endpoint: LinkEndpoint,
    private readonly demux: Demux<LinkEndpoint>,
    private readonly owner: LinkOwner,
  ) {
    // The connection's socket when the client attached (a reconnect gives later clients a new one).
    super(conn.socket);
  }

  send(data: string): boolean {
    if (this.released) return false;
    const key = requestKey(data);
    if (key !== undefined) {
      this.demux.noteRequest(key.branch, key.method, this.endpoint);
      this.conn.retransmitter?.track(key.method, key.branch, data);
    }
    return this.socket.send(data);
  }

  forget(branch: string, method: string): void {
    this.conn.retransmitter?.cancel(branch, method);
    this.demux.forgetRequest(branch, method);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.conn.endpoints.delete(this.endpoint);
    this.demux.removeUser(this.owner.contactUser, this.endpoint);
    this.demux.removeUser(this.owner.aorUser, this.endpoint);
  }
}

class SharedProvider implements ConnectionProvider {
  readonly model = "shared" as const;
  readonly transport: SipTransportName;
  readonly target: { host: string; port: number };
  readonly demux: Demux<LinkEndpoint>;
  private readonly connections: SharedConnection[] = [];
  private readonly reconnecting = new Map<SharedConnection, Promise<void>>();
  private closed = false;

  constructor(private readonly opts: ConnectionProviderOptions) {
    this.transport = opts.transport;
    this.target = opts.target;
    this.demux = new Demux<LinkEndpoint>(opts.clock);
  }

  private deliver = (message: SipMessage, data: string): void => {
    const endpoint = this.demux.route(message);
    if (endpoint !== undefined) endpoint.onMessage(message, data);
  };

  async open(): Promise<void> {
    if (this.transport === "udp") {
      await probeUdp(this.opts);
      const conn: SharedConnection = { socket: undefined as unknown as SipSocket, retransmitter: undefined, endpoints: new Set() };
      conn.socket = await UdpSipSocket.open(this.target, this.opts.metrics, this.handlersFor(conn), { bufferBytes: SHARED_UDP_BUFFER_BYTES });
      conn.retransmitter = new UdpRetransmitter(this.opts.clock, (data) => conn.socket.send(data));
      this.connections.push(conn);
      return;
    }
    const count = Math.max(1, Math.floor(this.opts.sharedConnections));
    try {
      for (let i = 0; i < count; i++) {
        const conn: SharedConnection = { socket: undefined as unknown as SipSocket, retransmitter: undefined, endpoints: new Set() };
        await this.connectTcp(conn);
        this.connections.push(conn);
      }
    } catch (e) {
      await this.close();
      throw unreachable(this.target, "tcp", e instanceof Error ? e.message : String(e));
    }
  }

  /** (Re)opens a shared TCP connection; its clients learn of a loss and re-attach when they next act. */
  private async connectTcp(conn: SharedConnection): Promise<void> {
    const holder: { socket?: SipSocket } = {};
    const handlers = socketHandlers(
      () => undefined,
      this.deliver,
      (error) => {
        if (holder.socket !== conn.socket) return; // a replaced socket's late close
        const endpoints = [...conn.endpoints];
        conn.endpoints.clear();
        for (const endpoint of endpoints) endpoint.onClosed(error);
      },
    );
    holder.socket = await TcpSipConnection.connect(this.target, this.opts.metrics, handlers);
    conn.socket = holder.socket;
  }

  private handlersFor(conn: SharedConnection): SocketHandlers {
    return socketHandlers(
      () => conn.retransmitter,
      this.deliver,
      (error) => {
        conn.retransmitter?.close();
        const endpoints = [...conn.endpoints];
        conn.endpoints.clear();
        for (const endpoint of endpoints) endpoint.onClosed(error);
      },
    );
  }

  async attach(owner: LinkOwner, endpoint: LinkEndpoint): Promise<ClientLink> {
    if (this.closed || this.connections.length === 0) throw new TransportError("the connection provider is closed");
    const conn = this.connections[owner.index % this.connections.length]!;
    if (conn.socket.closed) {
      // The target dropped this shared connection: open it again, once for all its clients.
      let reconnect = this.reconnecting.get(conn);
      if (reconnect === undefined) {
        reconnect = this.connectTcp(conn).finally(() => this.reconnecting.delete(conn));
        this.reconnecting.set(conn, reconnect);
      }
      await reconnect;
      if (this.closed) {
        await conn.socket.close();
        throw new TransportError("the connection provider is closed");
      }
    }
    conn.endpoints.add(endpoint);
    this.demux.addUser(owner.contactUser, endpoint);
    if (owner.aorUser !== owner.contactUser) this.demux.addUser(owner.aorUser, endpoint);
    return new SharedLink(conn, endpoint, this.demux, owner);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.demux.close();
    for (const conn of this.connections) {
      conn.retransmitter?.close();
      conn.endpoints.clear();
    }
    await Promise.all(this.connections.map((c) => c.socket.close()));
  }
}
