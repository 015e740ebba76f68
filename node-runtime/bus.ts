// The cluster bus on real TCP: a listener on the bus port for links from other nodes, and one
// outbound link per destination, opened lazily on the first `send` to it.
//
// As in Redis each pair of nodes has two connections, one each way: a node writes ClusterMsgs
// only on its outbound links and reads them only on its inbound ones. Addresses are the nodes'
// client addresses ("ip:port"); the bus of "ip:port" is at ip:(port + 10000), Redis's convention.
// Each connection opens with a handshake (frame.ts): the dialer's hello says who sends, and with a
// bus secret (cluster-bus-secret) both sides prove they hold it before any ClusterMsg goes either
// way; until then the outbound side queues what the node sends. With tls-cluster both sides also
// present certificates signed by the CA (tls.ts), so the bus is mutually authenticated TLS.
//
// A link that fails is dropped with whatever it had buffered, as Redis frees a link and its send
// buffer: the protocol's PINGs and timeouts cope with lost messages, and replication resyncs. A
// new connection is tried at the next send once a backoff has passed (100 ms doubling to 1 s),
// so a dead peer costs one connect attempt per backoff, not one per message. A peer that connects
// to us (and passes the handshake) is up: its backoff is cleared, so a restarted node hears our
// PONGs at once. A connect that has not completed within the node timeout is abandoned, as Redis
// frees a link stuck connecting for node_timeout.

import { randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { connect as tlsConnect, createServer as tlsCreateServer, type ConnectionOptions, type TlsOptions } from "node:tls";
import type { NodeId } from "../core/machine.js";
import type { ClusterMsg } from "../core/cluster/types.js";
import { listen } from "./clients.js";
import { decodeMessage, DialerHandshake, FrameReader, type HandshakeStep, ListenerHandshake, messageFrame, NONCE_BYTES } from "./frame.js";
import type { NodeLog } from "./log.js";
import { opensslReason } from "./tls.js";

/** Redis's CLUSTER_PORT_INCR. */
export const BUS_PORT_OFFSET = 10000;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 1000;
/**
 * A link with this much unsent data is dropped: its peer is not reading (paused, or gone without
 * a reset). Redis's cluster-link-sendbuf-limit is off by default; an unbounded buffer is not.
 */
const LINK_BUFFER_BYTES_MAX = 256 * 1024 * 1024;
/** A connection whose handshake (TLS, hello, secret) has not completed within this long is dropped. */
const HANDSHAKE_TIMEOUT_MS = 5_000;

/** How the bus authenticates its links. */
export interface BusSecurity {
  /** tls-cluster yes: TLS both ways, each side presenting a certificate signed by the CA. */
  readonly tls: { readonly server: TlsOptions; readonly client: ConnectionOptions } | null;
  /** cluster-bus-secret: both sides prove they hold it on every connection. */
  readonly secret: Buffer | null;
}

const PLAIN: BusSecurity = { tls: null, secret: null };

interface OutLink {
  socket: Socket | null;
  /** The current connection's handshake; ClusterMsgs are written once it is ready. */
  handshake: DialerHandshake | null;
  /** Frames sent before the handshake completed, written when it does. */
  queued: Buffer[];
  queuedBytes: number;
  /** Handshake completed at least once since the last failure (for logging transitions only). */
  up: boolean;
  /** Failed connects in a row; the first is logged, later ones are not. */
  failures: number;
  /** The last authentication or TLS failure logged, so a peer refused again and again is logged once. */
  lastRefusal: string | null;
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
    private readonly security: BusSecurity = PLAIN,
  ) {
    if (security.tls === null) this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    else {
      this.server = tlsCreateServer({ ...security.tls.server, handshakeTimeout: HANDSHAKE_TIMEOUT_MS, noDelay: true }, (socket) => this.accept(socket));
      this.server.on("tlsClientError", (e: Error, socket: Socket) => {
        this.log.event("warn", "bus-tls-refused", { peer: peerOf(socket), error: opensslReason(e) });
      });
    }
  }

  listen(host: string, port: number): Promise<void> {
    return listen(this.server, host, port);
  }

  /** Bus connections open now, both ways (maxclients counts them, as Redis does in cluster mode). */
  get connectionCount(): number {
    let out = this.inbound.size;
    for (const link of this.links.values()) if (link.socket !== null) out += 1;
    return out;
  }

  send(to: NodeId, msg: ClusterMsg): void {
    if (this.stopped || to === this.self) return;
    let link = this.links.get(to);
    if (link === undefined) {
      link = { socket: null, handshake: null, queued: [], queuedBytes: 0, up: false, failures: 0, lastRefusal: null, backoffMs: BACKOFF_MIN_MS, retryAtMs: 0 };
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
    const frame = this.lastFrame as Buffer;
    const socket = link.socket;
    if (link.handshake?.ready === true) socket.write(frame);
    else {
      link.queued.push(frame);
      link.queuedBytes += frame.length;
    }
    const unsent = socket.writableLength + link.queuedBytes;
    if (unsent > LINK_BUFFER_BYTES_MAX) {
      this.log.event("warn", "bus-link-overflow", { to, bytes: unsent });
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

  /** Starts connecting (the hello queues in the socket until it connects). Null for an unusable address. */
  private open(to: NodeId, link: OutLink): Socket | null {
    const target = busTarget(to);
    if (target === null) {
      this.log.event("warn", "bus-bad-address", { to });
      link.retryAtMs = Number.POSITIVE_INFINITY;
      return null;
    }
    const tls = this.security.tls;
    const socket = tls === null ? connect({ host: target.host, port: target.port, noDelay: true }) : tlsConnect({ ...tls.client, host: target.host, port: target.port }).setNoDelay(true);
    const handshake = new DialerHandshake(this.self, to, this.security.secret, randomBytes(NONCE_BYTES));
    link.handshake = handshake;
    link.queued = [];
    link.queuedBytes = 0;
    socket.write(handshake.hello());
    const reader = new FrameReader();
    // Connecting is bounded by the node timeout, the handshake after it by HANDSHAKE_TIMEOUT_MS.
    let timer = setTimeout(() => socket.destroy(), this.connectTimeoutMs);
    let refusal: string | null = null;
    const refuse = (type: "bus-auth-failed" | "bus-tls-refused" | "bus-bad-frame", error: string) => {
      refusal = error;
      if (link.lastRefusal !== error) this.log.event("warn", type, { to, error });
      link.lastRefusal = error;
      socket.destroy();
    };
    const ready = () => {
      link.up = true;
      link.failures = 0;
      link.lastRefusal = null;
      link.backoffMs = BACKOFF_MIN_MS;
      this.log.event("info", "bus-link-up", { to, dir: "out" });
      for (const frame of link.queued) socket.write(frame);
      link.queued = [];
      link.queuedBytes = 0;
    };
    let connected = false;
    socket.on(tls === null ? "connect" : "secureConnect", () => {
      clearTimeout(timer);
      connected = true;
      if (handshake.ready) return ready();
      timer = setTimeout(() => refuse("bus-auth-failed", `no handshake answer within ${HANDSHAKE_TIMEOUT_MS} ms`), HANDSHAKE_TIMEOUT_MS);
    });
    socket.on("data", (chunk: Buffer) => {
      reader.push(chunk);
      for (let payload = reader.next(); payload !== null && !socket.destroyed; payload = reader.next()) {
        const step: HandshakeStep = handshake.receive(payload);
        if (step.send !== null) socket.write(step.send);
        if (step.kind === "failed") return refuse(step.auth ? "bus-auth-failed" : "bus-bad-frame", step.error);
        if (step.kind === "ready") {
          clearTimeout(timer);
          ready();
        }
      }
      if (reader.error !== null) refuse("bus-bad-frame", reader.error);
    });
    socket.on("error", (e: Error) => {
      if (tls !== null && isTlsFailure(e)) refuse("bus-tls-refused", opensslReason(e));
      // others are reported by "close"
    });
    socket.on("close", (hadError: boolean) => {
      clearTimeout(timer);
      if (link.socket !== socket) return;
      link.socket = null;
      link.handshake = null;
      link.queued = [];
      link.queuedBytes = 0;
      if (this.stopped) return;
      if (link.up) this.log.event("info", "bus-link-down", { to, dir: "out", error: hadError });
      else if (refusal === null && connected) refuse("bus-auth-failed", "closed by the listener during the handshake");
      else if (refusal === null && link.failures === 0) this.log.event("info", "bus-connect-failed", { to, port: target.port });
      if (!link.up) link.failures += 1;
      link.up = false;
      link.retryAtMs = Date.now() + link.backoffMs;
      link.backoffMs = Math.min(BACKOFF_MAX_MS, link.backoffMs * 2);
    });
    return socket;
  }

  private accept(socket: Socket): void {
    this.inbound.add(socket);
    const peer = peerOf(socket);
    const reader = new FrameReader();
    const handshake = new ListenerHandshake(this.self, this.security.secret, randomBytes(NONCE_BYTES));
    let from: NodeId | null = null;
    /** Refused: the refusal is on its way and nothing more is read. */
    let refused = false;
    const timer = setTimeout(() => {
      if (refused) return void socket.destroy();
      const error = handshake.from === null ? "no hello" : `no handshake within ${HANDSHAKE_TIMEOUT_MS} ms`;
      this.log.event("warn", handshake.from === null ? "bus-bad-frame" : "bus-auth-failed", { peer, from: handshake.from, error });
      socket.destroy();
    }, HANDSHAKE_TIMEOUT_MS);
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
          const step = handshake.receive(payload);
          if (step.kind === "failed") {
            this.log.event("warn", step.auth ? "bus-auth-failed" : "bus-bad-frame", { peer, from: handshake.from, error: step.error });
            // The refusal tells the dialer why; nothing more is read from this connection, and
            // the timer destroys it if the dialer does not close its side.
            refused = true;
            socket.pause();
            if (step.send !== null) socket.end(step.send);
            else socket.destroy();
            return;
          }
          if (step.send !== null) socket.write(step.send);
          if (step.kind === "more") continue;
          from = handshake.from as NodeId;
          clearTimeout(timer);
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
      clearTimeout(timer);
      this.inbound.delete(socket);
      if (from !== null && !this.stopped) this.log.event("info", "bus-link-down", { from, dir: "in" });
    });
  }
}

/** "ip:port" of the remote end, for logs. */
function peerOf(socket: Socket): string {
  return `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
}

/**
 * Whether a link's error is TLS refusing it (a certificate the CA did not sign, an alert from the
 * peer) rather than the network: OpenSSL's ERR_SSL_* and node's ERR_TLS_*, and X509 verification
 * codes (SELF_SIGNED_CERT_IN_CHAIN, CERT_HAS_EXPIRED…), where errno codes are one word (ECONNRESET).
 */
function isTlsFailure(e: Error): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  if (typeof code !== "string") return false;
  return /^ERR_(SSL|TLS)_/.test(code) || (!code.startsWith("ERR_") && code.includes("_"));
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
