// The cluster bus on real TCP: a listener on the bus port for links from other nodes, and one
// outbound link per destination, opened lazily on the first `send` to it.
//
// As in Redis each pair of nodes has two connections, one each way: a node writes only on its
// outbound links and reads only on its inbound ones. Addresses are the nodes' client addresses
// ("ip:port"); the bus of "ip:port" is at ip:(port + 10000), Redis's convention. The first frame on
// an outbound link is a hello with our address, so the receiver knows who sends (frame.ts).
//
// A link that fails is dropped with whatever it had buffered, as Redis frees a link and its send
// buffer: the protocol's PINGs and timeouts cope with lost messages, and replication resyncs. A
// new connection is tried at the next send once a backoff has passed (100 ms doubling to 1 s),
// so a dead peer costs one connect attempt per backoff, not one per message. A peer that connects
// to us is up: its backoff is cleared, so a restarted node hears our PONGs at once. A connect
// that has not completed within the node timeout is abandoned, as Redis frees a link stuck
// connecting for node_timeout.

import { connect, createServer, type Server, type Socket } from "node:net";
import type { NodeId } from "../core/machine.js";
import type { ClusterMsg } from "../core/cluster/types.js";
import { listen } from "./clients.js";
import { decodeHello, decodeMessage, FrameReader, helloFrame, messageFrame } from "./frame.js";
import type { NodeLog } from "./log.js";

/** Redis's CLUSTER_PORT_INCR. */
export const BUS_PORT_OFFSET = 10000;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 1000;
/**
 * A link with this much unsent data is dropped: its peer is not reading (paused, or gone without
 * a reset). Redis's cluster-link-sendbuf-limit is off by default; an unbounded buffer is not.
 */
const LINK_BUFFER_BYTES_MAX = 256 * 1024 * 1024;
/** An inbound connection that has not said hello within this long is dropped. */
const HELLO_TIMEOUT_MS = 5_000;

interface OutLink {
  socket: Socket | null;
  /** Connected at least once since the last failure (for logging transitions only). */
  up: boolean;
  /** Failed connects in a row; the first is logged, later ones are not. */
  failures: number;
  backoffMs: number;
  /** No new connection before this time (ms). */
  retryAtMs: number;
}

export class Bus {
  private readonly server: Server;
  private readonly links = new Map<NodeId, OutLink>();
  private readonly inbound = new Set<Socket>();
  /** The frame of the last message sent: a broadcast sends one message object to many nodes. */
  private lastMsg: ClusterMsg | null = null;
  private lastFrame: Buffer | null = null;
  private stopped = false;
  /** Messages dropped because their link was down (backing off) or their address unusable. */
  dropped = 0;

  constructor(
    private readonly self: NodeId,
    private readonly connectTimeoutMs: number,
    private readonly onMessage: (from: NodeId, msg: ClusterMsg) => void,
    private readonly log: NodeLog,
  ) {
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  listen(host: string, port: number): Promise<void> {
    return listen(this.server, host, port);
  }

  send(to: NodeId, msg: ClusterMsg): void {
    if (this.stopped || to === this.self) return;
    let link = this.links.get(to);
    if (link === undefined) {
      link = { socket: null, up: false, failures: 0, backoffMs: BACKOFF_MIN_MS, retryAtMs: 0 };
      this.links.set(to, link);
    }
    if (link.socket === null) {
      if (Date.now() < link.retryAtMs) {
        this.dropped += 1;
        return;
      }
      link.socket = this.open(to, link);
      if (link.socket === null) {
        this.dropped += 1;
        return;
      }
    }
    if (msg !== this.lastMsg) {
      this.lastMsg = msg;
      this.lastFrame = messageFrame(msg);
    }
    const socket = link.socket;
    socket.write(this.lastFrame as Buffer);
    if (socket.writableLength > LINK_BUFFER_BYTES_MAX) {
      this.log.event("warn", "bus-link-overflow", { to, bytes: socket.writableLength });
      socket.destroy();
    }
  }

  stopAccepting(): void {
    this.server.close();
  }

  /** Closes every link, in and out. */
  close(): void {
    this.stopped = true;
    for (const link of this.links.values()) link.socket?.destroy();
    for (const s of this.inbound) s.destroy();
  }

  /** Starts connecting (writes queue in the socket until it connects). Null for an unusable address. */
  private open(to: NodeId, link: OutLink): Socket | null {
    const target = busTarget(to);
    if (target === null) {
      this.log.event("warn", "bus-bad-address", { to });
      link.retryAtMs = Number.POSITIVE_INFINITY;
      return null;
    }
    const socket = connect({ host: target.host, port: target.port, noDelay: true });
    socket.write(helloFrame(this.self));
    const connectTimer = setTimeout(() => socket.destroy(), this.connectTimeoutMs);
    socket.on("connect", () => {
      clearTimeout(connectTimer);
      link.up = true;
      link.failures = 0;
      link.backoffMs = BACKOFF_MIN_MS;
      this.log.event("info", "bus-link-up", { to, dir: "out" });
    });
    socket.on("data", () => {}); // nothing is sent back on an outbound link
    socket.on("error", () => {}); // reported by "close"
    socket.on("close", (hadError: boolean) => {
      clearTimeout(connectTimer);
      if (link.socket !== socket) return;
      link.socket = null;
      if (this.stopped) return;
      if (link.up) this.log.event("info", "bus-link-down", { to, dir: "out", error: hadError });
      else if (link.failures === 0) this.log.event("info", "bus-connect-failed", { to, port: target.port });
      if (!link.up) link.failures += 1;
      link.up = false;
      link.retryAtMs = Date.now() + link.backoffMs;
      link.backoffMs = Math.min(BACKOFF_MAX_MS, link.backoffMs * 2);
    });
    return socket;
  }

  private accept(socket: Socket): void {
    this.inbound.add(socket);
    const peer = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    const reader = new FrameReader();
    let from: NodeId | null = null;
    const helloTimer = setTimeout(() => {
      this.log.event("warn", "bus-bad-frame", { peer, error: "no hello" });
      socket.destroy();
    }, HELLO_TIMEOUT_MS);
    const drop = (error: string) => {
      this.log.event("warn", "bus-bad-frame", { peer, from, error });
      socket.destroy();
    };
    socket.on("data", (chunk: Buffer) => {
      reader.push(chunk);
      for (;;) {
        const payload = reader.next();
        if (payload === null) break;
        if (from === null) {
          const hello = decodeHello(payload);
          if (!hello.ok) return drop(hello.error);
          from = hello.from;
          clearTimeout(helloTimer);
          const back = this.links.get(from);
          if (back !== undefined && back.socket === null) back.retryAtMs = 0;
          this.log.event("info", "bus-link-up", { from, dir: "in", peer });
          continue;
        }
        const decoded = decodeMessage(payload);
        if (!decoded.ok) return drop(decoded.error);
        this.onMessage(from, decoded.msg);
        if (socket.destroyed) return;
      }
      if (reader.error !== null) drop(reader.error);
    });
    socket.on("error", () => {}); // reported by "close"
    socket.on("close", () => {
      clearTimeout(helloTimer);
      this.inbound.delete(socket);
      if (from !== null && !this.stopped) this.log.event("info", "bus-link-down", { from, dir: "in" });
    });
  }
}

/** Where the bus of node address "ip:port" listens, or null when the address has no port. */
export function busTarget(address: NodeId): { host: string; port: number } | null {
  const colon = address.lastIndexOf(":");
  if (colon <= 0) return null;
  let host = address.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const portText = address.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText) + BUS_PORT_OFFSET;
  return port <= 65535 ? { host, port } : null;
}
