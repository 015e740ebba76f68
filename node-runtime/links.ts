// Framed links between peers on real TCP: a listener for the links other peers open to us, and one
// outbound link per peer, opened lazily on the first `send` to it. The cluster bus (bus.ts) and the
// Raft members' network (raft-net.ts) are both a `Links`, each with its own messages, addresses and
// log names (`LinkKind`).
//
// Each pair of peers has two connections, one each way: a peer writes messages only on its
// outbound links and reads them only on its inbound ones. The wire is frame.ts's: length-prefixed
// frames (version byte, CRC-32), opened by a handshake. The dialer's hello says who sends (the
// connection's own source port is an ephemeral one); with a secret both sides prove they hold it
// before any message goes either way, and until then the outbound side queues what it is sent.
// With TLS both sides also present certificates signed by the CA, so links are mutually
// authenticated.
//
// A link that fails is dropped with whatever it had buffered, as Redis frees a link and its send
// buffer: both protocols cope with lost messages (the bus's PINGs, timeouts and replication
// resyncs; Raft's heartbeats and retries). A new connection is tried at the next send once a
// backoff has passed (100 ms doubling to 1 s), so a dead peer costs one connect attempt per
// backoff, not one per message. A peer that connects to us and passes the handshake is up: its
// backoff is cleared, so a restarted peer hears from us at once. A connect that has not completed
// within `connectTimeoutMs` is abandoned, and a handshake not done 5 s after connecting is too.
//
// What arrives is split by frame.ts's FrameReader and decoded by the kind; a stream the reader
// cannot split (bad length, version or CRC) is unusable and closed. Log events are the kind's name
// and what happened: `bus-link-up`, `raft-bad-frame`, … (README.md lists them).

import { randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { connect as tlsConnect, createServer as tlsCreateServer, type ConnectionOptions, type TlsOptions } from "node:tls";
import type { NodeId } from "../core/machine.js";
import { listen } from "./clients.js";
import { DialerHandshake, FrameReader, type HandshakeStep, ListenerHandshake, NONCE_BYTES } from "./frame.js";
import type { Level, NodeLog } from "./log.js";
import { opensslReason } from "./tls.js";

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 1000;
/** A connection whose handshake (TLS, hello, secret) has not completed within this long is dropped. */
const HANDSHAKE_TIMEOUT_MS = 5_000;
/** With `badMessage: "drop"`, bad frames on one connection are logged at most once per this long (the rest are counted). */
const BAD_FRAME_LOG_INTERVAL_MS = 1_000;

/** Where a peer listens. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** How links authenticate. */
export interface LinkSecurity {
  /** TLS both ways, each side presenting a certificate signed by the CA. */
  readonly tls: { readonly server: TlsOptions; readonly client: ConnectionOptions } | null;
  /** A shared secret both sides prove they hold on every connection (frame.ts's handshake). */
  readonly secret: Buffer | null;
}

export const PLAIN: LinkSecurity = { tls: null, secret: null };

/** What makes a set of links the cluster bus or the Raft members' network. */
export interface LinkKind<M> {
  /** The first word of every log event's type: "bus" logs bus-link-up, bus-bad-frame, … */
  readonly name: string;
  /** A link with more unsent bytes than this is dropped: its peer is not reading (paused, or gone without a reset). */
  readonly bufferBytesMax: number;
  /**
   * A frame that is not a message: "close" drops the connection (the bus: the peer is broken or
   * another version); "drop" drops the frame and keeps reading, counted in `badFrames` and logged
   * at most once a second per connection with a count.
   */
  readonly badMessage: "close" | "drop";
  /** How a peer without a target is logged (once per streak of failures), and how long until it is looked up again. */
  readonly noTarget: { readonly event: string; readonly retryMs: number };
  /** Where the peer listens, or null when that is not known (yet) or its address is unusable. */
  target(to: NodeId): HostPort | null;
  encode(msg: M): Buffer;
  /** A frame's payload as a message, or why it is not one. */
  decode(payload: Buffer): { ok: true; msg: M } | { ok: false; error: string };
}

interface OutLink {
  socket: Socket | null;
  /** The current connection's handshake; messages are written once it is ready. */
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

export class Links<M> {
  private readonly server: Server;
  private readonly links = new Map<NodeId, OutLink>();
  private readonly inbound = new Set<Socket>();
  /** The frame of the last message sent: a broadcast sends one message object to many peers. */
  private lastMsg: M | null = null;
  private lastFrame: Buffer | null = null;
  private stopped = false;
  /** Messages dropped because their link was down (backing off) or their peer had no target. */
  dropped = 0;
  /** Frames dropped because they were not messages (`badMessage: "drop"`). */
  badFrames = 0;

  constructor(
    private readonly kind: LinkKind<M>,
    private readonly self: NodeId,
    private readonly connectTimeoutMs: number,
    private readonly onMessage: (from: NodeId, msg: M) => void,
    private readonly log: NodeLog,
    private readonly security: LinkSecurity = PLAIN,
  ) {
    if (security.tls === null) this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    else {
      this.server = tlsCreateServer({ ...security.tls.server, handshakeTimeout: HANDSHAKE_TIMEOUT_MS, noDelay: true }, (socket) => this.accept(socket));
      this.server.on("tlsClientError", (e: Error, socket: Socket) => this.note("warn", "tls-refused", { peer: peerOf(socket), error: opensslReason(e) }));
    }
  }

  listen(host: string, port: number): Promise<void> {
    return listen(this.server, host, port);
  }

  /** Connections open now, both ways (the bus's maxclients counts them, as Redis does in cluster mode). */
  get connectionCount(): number {
    let out = this.inbound.size;
    for (const link of this.links.values()) if (link.socket !== null) out += 1;
    return out;
  }

  send(to: NodeId, msg: M): void {
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
      this.lastFrame = this.kind.encode(msg);
    }
    const frame = this.lastFrame as Buffer;
    const socket = link.socket;
    if (link.handshake?.ready === true) socket.write(frame);
    else {
      link.queued.push(frame);
      link.queuedBytes += frame.length;
    }
    const unsent = socket.writableLength + link.queuedBytes;
    if (unsent > this.kind.bufferBytesMax) {
      this.note("warn", "link-overflow", { to, bytes: unsent });
      socket.destroy();
    }
  }

  stopAccepting(): void {
    this.server.close();
  }

  /** Closes every link, in and out, and stops accepting. */
  close(): void {
    this.stopped = true;
    this.server.close();
    for (const link of this.links.values()) link.socket?.destroy();
    for (const s of this.inbound) s.destroy();
  }

  /** One log line whose type is the kind's name and `what`. */
  private note(level: Level, what: string, fields: Readonly<Record<string, string | number | boolean | null>>): void {
    this.log.event(level, `${this.kind.name}-${what}`, fields);
  }

  /** Starts connecting (the hello queues in the socket until it connects). Null for a peer without a target. */
  private open(to: NodeId, link: OutLink): Socket | null {
    const target = this.kind.target(to);
    if (target === null) {
      if (link.failures === 0) this.log.event("warn", this.kind.noTarget.event, { to });
      link.failures += 1;
      link.retryAtMs = Date.now() + this.kind.noTarget.retryMs;
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
    // Connecting is bounded by connectTimeoutMs, the handshake after it by HANDSHAKE_TIMEOUT_MS.
    let timer = setTimeout(() => socket.destroy(), this.connectTimeoutMs);
    let refusal: string | null = null;
    const refuse = (what: "auth-failed" | "tls-refused" | "bad-frame", error: string) => {
      refusal = error;
      if (link.lastRefusal !== error) this.note("warn", what, { to, error });
      link.lastRefusal = error;
      socket.destroy();
    };
    const ready = () => {
      link.up = true;
      link.failures = 0;
      link.lastRefusal = null;
      link.backoffMs = BACKOFF_MIN_MS;
      this.note("info", "link-up", { to, dir: "out" });
      for (const frame of link.queued) socket.write(frame);
      link.queued = [];
      link.queuedBytes = 0;
    };
    let connected = false;
    socket.on(tls === null ? "connect" : "secureConnect", () => {
      clearTimeout(timer);
      connected = true;
      // Without a secret the hello is the whole handshake: the link is ready at once.
      if (handshake.ready) return ready();
      timer = setTimeout(() => refuse("auth-failed", `no handshake answer within ${HANDSHAKE_TIMEOUT_MS} ms`), HANDSHAKE_TIMEOUT_MS);
    });
    // The listener writes on our outbound link only during the handshake.
    socket.on("data", (chunk: Buffer) => {
      reader.push(chunk);
      for (let payload = reader.next(); payload !== null && !socket.destroyed; payload = reader.next()) {
        const step: HandshakeStep = handshake.receive(payload);
        if (step.send !== null) socket.write(step.send);
        if (step.kind === "failed") return refuse(step.auth ? "auth-failed" : "bad-frame", step.error);
        if (step.kind === "ready") {
          clearTimeout(timer);
          ready();
        }
      }
      if (reader.error !== null) refuse("bad-frame", reader.error);
    });
    socket.on("error", (e: Error) => {
      if (tls !== null && isTlsFailure(e)) refuse("tls-refused", opensslReason(e));
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
      if (link.up) this.note("info", "link-down", { to, dir: "out", error: hadError });
      else if (refusal === null && connected) refuse("auth-failed", "closed by the listener during the handshake");
      else if (refusal === null && link.failures === 0) this.note("info", "connect-failed", { to, host: target.host, port: target.port });
      if (!link.up) link.failures += 1;
      link.up = false;
      link.retryAtMs = Date.now() + link.backoffMs;
      link.backoffMs = Math.min(BACKOFF_MAX_MS, link.backoffMs * 2);
    });
    return socket;
  }

  private accept(socket: Socket): void {
    if (this.stopped) return void socket.destroy();
    this.inbound.add(socket);
    const peer = peerOf(socket);
    const reader = new FrameReader();
    const handshake = new ListenerHandshake(this.self, this.security.secret, randomBytes(NONCE_BYTES));
    let from: NodeId | null = null;
    /** Refused: the refusal is on its way and nothing more is read. */
    let refused = false;
    let badSinceLog = 0;
    let badLoggedAtMs = -Infinity;
    const timer = setTimeout(() => {
      if (refused) return void socket.destroy();
      const error = handshake.from === null ? "no hello" : `no handshake within ${HANDSHAKE_TIMEOUT_MS} ms`;
      this.note("warn", handshake.from === null ? "bad-frame" : "auth-failed", { peer, from: handshake.from, error, closed: true });
      socket.destroy();
    }, HANDSHAKE_TIMEOUT_MS);
    const closeWith = (error: string) => {
      this.note("warn", "bad-frame", { peer, from, error, closed: true });
      socket.destroy();
    };
    const dropFrame = (error: string) => {
      this.badFrames += 1;
      badSinceLog += 1;
      const now = Date.now();
      if (now - badLoggedAtMs < BAD_FRAME_LOG_INTERVAL_MS) return;
      this.note("warn", "bad-frame", { peer, from, error, dropped: badSinceLog });
      badLoggedAtMs = now;
      badSinceLog = 0;
    };
    socket.on("data", (chunk: Buffer) => {
      reader.push(chunk);
      for (let payload = reader.next(); payload !== null; payload = reader.next()) {
        if (from === null) {
          const step = handshake.receive(payload);
          if (step.kind === "failed") {
            this.note("warn", step.auth ? "auth-failed" : "bad-frame", { peer, from: handshake.from, error: step.error, closed: true });
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
          if (back !== undefined && back.socket === null) {
            back.retryAtMs = 0;
            back.backoffMs = BACKOFF_MIN_MS;
          }
          this.note("info", "link-up", { from, dir: "in", peer });
          continue;
        }
        const decoded = this.kind.decode(payload);
        if (!decoded.ok) {
          if (this.kind.badMessage === "close") return closeWith(decoded.error);
          dropFrame(decoded.error);
          continue;
        }
        this.onMessage(from, decoded.msg);
        if (socket.destroyed) return;
      }
      if (reader.error !== null) closeWith(reader.error);
    });
    socket.on("error", () => {}); // reported by "close"
    socket.on("close", () => {
      clearTimeout(timer);
      this.inbound.delete(socket);
      if (from !== null && !this.stopped) this.note("info", "link-down", { from, dir: "in" });
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
