// How Raft members talk on real TCP: a listener for links from other members, and one outbound
// link per member, opened on the first `send` to it.
//
// The wire is the cluster bus's (frame.ts): length-prefixed frames with a version byte and a
// CRC-32 of the payload. A connection opens with the dialer's hello (`{"type":"hello","from":
// "<member id>"}`), so the listener knows who sends; every later frame is one RaftMsg as JSON.
// As on the bus, each pair of members has two connections, one each way: a member writes on its
// outbound links and reads on its inbound ones.
//
// What arrives is checked with core/raft/types.ts's `isRaftMsg` before the node sees it: a frame
// whose JSON is not a Raft message is dropped and logged (`raft-bad-frame`, at most once per
// connection per second, with a count), the connection kept. A frame the reader cannot split
// (bad length, version or CRC) leaves the stream unusable: the connection is closed.
//
// Raft copes with lost messages (heartbeats, retries, probes), so a link that fails drops what it
// had buffered. A new connection is tried at the next send once a backoff has passed (100 ms
// doubling to 1 s); a member that connects to us is up, and its backoff is cleared so our next
// message tries at once. A connect that has not completed within `connectTimeoutMs` is abandoned.

import { randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import type { NodeId } from "../core/machine.js";
import { isRaftMsg, type RaftMsg } from "../core/raft/types.js";
import { listen } from "./clients.js";
import { DialerHandshake, encodeFrame, FrameReader, ListenerHandshake, NONCE_BYTES } from "./frame.js";
import type { NodeLog } from "./log.js";

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 1000;
/** A link with this much unsent data is dropped: the member is not reading (stopped, or gone without a reset). */
const LINK_BUFFER_BYTES_MAX = 64 * 1024 * 1024;
/** An inbound connection that has not said hello within this long is closed. */
const HELLO_TIMEOUT_MS = 5_000;
/** Bad frames on one connection are logged at most once per this long (the rest are counted). */
const BAD_FRAME_LOG_INTERVAL_MS = 1_000;

/** Where a member's Raft port is. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** One RaftMsg as a frame. */
export function raftFrame(msg: RaftMsg): Buffer {
  return encodeFrame(Buffer.from(JSON.stringify(msg), "utf8"));
}

/** A frame's payload as a RaftMsg, or why it is not one (the shape is checked field by field). */
export function decodeRaftPayload(payload: Buffer): { ok: true; msg: RaftMsg } | { ok: false; error: string } {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString("utf8"));
  } catch {
    return { ok: false, error: "payload is not JSON" };
  }
  if (isRaftMsg(v)) return { ok: true, msg: v };
  const type = typeof v === "object" && v !== null && "type" in v ? String((v as { type: unknown }).type).slice(0, 40) : null;
  return { ok: false, error: type === null ? "payload is not a Raft message" : `malformed ${JSON.stringify(type)} message` };
}

interface OutLink {
  socket: Socket | null;
  up: boolean;
  /** Failed connects in a row; only the first is logged. */
  failures: number;
  backoffMs: number;
  /** No new connection before this time (ms). */
  retryAtMs: number;
}

export class RaftNet {
  private readonly server: Server;
  private readonly links = new Map<NodeId, OutLink>();
  private readonly inbound = new Set<Socket>();
  /** The frame of the last message sent: a broadcast sends one message object to several members. */
  private lastMsg: RaftMsg | null = null;
  private lastFrame: Buffer | null = null;
  private stopped = false;
  /** Messages dropped because their link was backing off or the member's address is unknown. */
  dropped = 0;
  /** Frames dropped because they were not Raft messages. */
  badFrames = 0;

  constructor(
    private readonly self: NodeId,
    /** The Raft address of a member, or null when it is not known (yet). */
    private readonly addressOf: (id: NodeId) => HostPort | null,
    private readonly connectTimeoutMs: number,
    private readonly onMessage: (from: NodeId, msg: RaftMsg) => void,
    private readonly log: NodeLog,
  ) {
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  listen(host: string, port: number): Promise<void> {
    return listen(this.server, host, port);
  }

  send(to: NodeId, msg: RaftMsg): void {
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
      this.lastFrame = raftFrame(msg);
    }
    const socket = link.socket;
    socket.write(this.lastFrame as Buffer);
    if (socket.writableLength > LINK_BUFFER_BYTES_MAX) {
      this.log.event("warn", "raft-link-overflow", { to, bytes: socket.writableLength });
      socket.destroy();
    }
  }

  stopAccepting(): void {
    this.server.close();
  }

  /** Closes every link, in and out. */
  close(): void {
    this.stopped = true;
    this.server.close();
    for (const link of this.links.values()) link.socket?.destroy();
    for (const s of this.inbound) s.destroy();
  }

  /** Starts connecting; the hello and what follows queue in the socket until it connects. Null: no address. */
  private open(to: NodeId, link: OutLink): Socket | null {
    const target = this.addressOf(to);
    if (target === null) {
      if (link.failures === 0) this.log.event("warn", "raft-unknown-member", { to });
      link.failures += 1;
      link.retryAtMs = Date.now() + BACKOFF_MAX_MS;
      return null;
    }
    const socket = connect({ host: target.host, port: target.port, noDelay: true });
    // Without a secret the hello is the whole handshake: the link is ready at once.
    socket.write(new DialerHandshake(this.self, to, null, randomBytes(NONCE_BYTES)).hello());
    const timer = setTimeout(() => socket.destroy(), this.connectTimeoutMs);
    socket.on("connect", () => {
      clearTimeout(timer);
      link.up = true;
      link.failures = 0;
      link.backoffMs = BACKOFF_MIN_MS;
      this.log.event("info", "raft-link-up", { to, dir: "out" });
    });
    // The listener never writes on our outbound link; anything it sends is ignored.
    socket.on("data", () => {});
    socket.on("error", () => {}); // reported by "close"
    socket.on("close", () => {
      clearTimeout(timer);
      if (link.socket !== socket) return;
      link.socket = null;
      if (this.stopped) return;
      if (link.up) this.log.event("info", "raft-link-down", { to, dir: "out" });
      else if (link.failures === 0) this.log.event("info", "raft-connect-failed", { to, address: `${target.host}:${target.port}` });
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
    const peer = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    const reader = new FrameReader();
    const handshake = new ListenerHandshake(this.self, null, randomBytes(NONCE_BYTES));
    let from: NodeId | null = null;
    let badSinceLog = 0;
    let badLoggedAtMs = -Infinity;
    const timer = setTimeout(() => {
      this.log.event("warn", "raft-bad-frame", { peer, error: "no hello" });
      socket.destroy();
    }, HELLO_TIMEOUT_MS);
    const closeWith = (error: string) => {
      this.log.event("warn", "raft-bad-frame", { peer, from, error, closed: true });
      socket.destroy();
    };
    socket.on("data", (chunk: Buffer) => {
      reader.push(chunk);
      for (let payload = reader.next(); payload !== null; payload = reader.next()) {
        if (from === null) {
          const step = handshake.receive(payload);
          if (step.kind !== "ready") return closeWith(step.kind === "failed" ? step.error : "unexpected handshake");
          from = handshake.from as NodeId;
          clearTimeout(timer);
          const back = this.links.get(from);
          if (back !== undefined && back.socket === null) {
            back.retryAtMs = 0;
            back.backoffMs = BACKOFF_MIN_MS;
          }
          this.log.event("info", "raft-link-up", { from, dir: "in", peer });
          continue;
        }
        const decoded = decodeRaftPayload(payload);
        if (!decoded.ok) {
          this.badFrames += 1;
          badSinceLog += 1;
          const now = Date.now();
          if (now - badLoggedAtMs >= BAD_FRAME_LOG_INTERVAL_MS) {
            this.log.event("warn", "raft-bad-frame", { peer, from, error: decoded.error, dropped: badSinceLog });
            badLoggedAtMs = now;
            badSinceLog = 0;
          }
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
      if (from !== null && !this.stopped) this.log.event("info", "raft-link-down", { from, dir: "in" });
    });
  }
}
