// The client port: what redis-cli, redis-benchmark, ioredis and node-redis connect to.
//
// Per connection a RequestParser (core/resp) turns bytes into commands with Redis's limits and
// error texts; each command goes to the node as a `client` input, named by the peer's "ip:port"
// (as CLIENT LIST's addr= shows it) with a request id increasing per connection. Replies and
// pushes come back as RESP values and are encoded in the client's protocol.
//
// Limits, after redis-server's (`ClientLimits`): maxclients refuses connections beyond it with
// Redis's error; `timeout` closes idle clients but subscribers and blocked ones; a query buffer
// over client-query-buffer-limit closes the connection; a subscriber whose unsent output breaks
// client-output-buffer-limit's pubsub class (hard, or soft for longer than its seconds) is
// disconnected. A normal connection whose unsent output is above OUTPUT_PAUSE_BYTES stops being
// read until it drains, and one above OUTPUT_BYTES_MAX is closed. Faultline: Redis keeps reading
// such a client and lets its output grow (normal clients have no output limit by default);
// pausing the reader bounds memory without dropping the client.
//
// With a TLS port (tls.ts) the same connections arrive over node:tls; tls-auth-clients decides
// whether a client must present a certificate signed by the CA.

import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, TLSSocket } from "node:tls";
import type { ClientId } from "../core/machine.js";
import { Resp, RequestParser, RespWriter, type Protocol, type RespValue } from "../core/resp/codec.js";
import type { NodeLog } from "./log.js";
import { type LoadedTls, opensslReason } from "./tls.js";

/** Hard and soft limits of client-output-buffer-limit's class; 0 switches one off. */
export interface OutputBufferLimit {
  readonly hardBytes: number;
  readonly softBytes: number;
  /** How long output may stay at or above the soft limit before the client is disconnected. */
  readonly softSeconds: number;
}

/** The per-client limits, with redis-server's directive names in the comments. */
export interface ClientLimits {
  /** maxclients: connections beyond this (bus links included) are refused. */
  readonly maxclients: number;
  /** timeout: idle clients are closed after this many seconds; 0 never. */
  readonly idleTimeoutS: number;
  /** client-query-buffer-limit. */
  readonly queryBufferBytesMax: number;
  /** client-output-buffer-limit pubsub. */
  readonly pubsub: OutputBufferLimit;
}

/** redis-server 7.0's defaults. */
export const CLIENT_LIMITS_DEFAULT: ClientLimits = {
  maxclients: 10_000,
  idleTimeoutS: 0,
  queryBufferBytesMax: 1024 * 1024 * 1024,
  pubsub: { hardBytes: 32 * 1024 * 1024, softBytes: 8 * 1024 * 1024, softSeconds: 60 },
};

/** What the client port listens with besides the node: limits, a TLS port, the bus's connection count. */
export interface ClientPortOptions {
  readonly limits: ClientLimits;
  /** The TLS port and what its listener presents, or null for none. */
  readonly tls: { readonly port: number; readonly loaded: LoadedTls } | null;
  /** Bus connections open now: maxclients counts them, as redis-server does in cluster mode. */
  readonly clusterConnections: () => number;
}

const PLAIN_PORT: ClientPortOptions = { limits: CLIENT_LIMITS_DEFAULT, tls: null, clusterConnections: () => 0 };

/** redis-server's reply to a connection over maxclients, in cluster mode; then it closes. */
export const MAXCLIENTS_ERROR = "-ERR max number of clients + cluster connections reached\r\n";
/** A TLS handshake on the client port that has not completed within this long is dropped. */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/** How often idle clients are looked for (Redis's clientsCron visits each client about once a second). */
const IDLE_SWEEP_MS = 1_000;
/** Stop reading a connection with this much output not yet written to the kernel. */
const OUTPUT_PAUSE_BYTES = 4 * 1024 * 1024;
/** Close a connection with this much unsent output (a subscriber that never reads). */
const OUTPUT_BYTES_MAX = 256 * 1024 * 1024;
/** Redis's tcp-keepalive default, in ms. */
const KEEPALIVE_MS = 300_000;
/** How long shutdown waits for connections to flush before destroying them. */
const CLOSE_GRACE_MS = 2_000;

/** What the client port asks of the node it serves. */
export interface ClientHandler {
  /**
   * One request. `nowMs` is the wall clock read once for the batch it arrived in (as Redis reads
   * the time once per event loop turn, not per command): a clock read costs as much as a GET.
   */
  request(client: ClientId, reqId: number, args: string[], nowMs: number): void;
  closed(client: ClientId): void;
  /** The protocol the node's session for `client` speaks (2 until HELLO 3). */
  protocolOf(client: ClientId): Protocol;
  /** Whether `client` must still authenticate (requirepass): its requests get Redis's pre-AUTH limits. */
  authRequired(client: ClientId): boolean;
  /** Whether `client` is subscribed to anything (the pubsub output class; `timeout` spares it). */
  subscribed(client: ClientId): boolean;
  /** Whether `client` waits in a blocking command (`timeout` spares it). */
  blocked(client: ClientId): boolean;
}

interface Conn {
  readonly id: ClientId;
  readonly socket: Socket;
  readonly parser: RequestParser<string>;
  /** Encoded replies and pushes not handed to the socket yet (see `ClientPort.write`). */
  out: Buffer[];
  reqIdNext: number;
  /** QUIT, a protocol error or a limit: no more requests are read; the socket ends after its output. */
  closing: boolean;
  /** Reading paused for backpressure. */
  paused: boolean;
  /** Last read or write (ms, on the sweep's coarse clock), for `timeout`. */
  lastInteractionMs: number;
  /** Since when the output has been at or above the pubsub soft limit (ms), or null. */
  softLimitSinceMs: number | null;
}

/**
 * Output is coalesced, as Redis's reply buffers are: what the node answers while a connection's
 * input is being handled is encoded into one buffer and written once the turn's reads are done, and what
 * arrives at other times (replies released by an fsync, pub/sub messages to other clients) is
 * queued on its connection and written once per turn of the event loop. One `socket.write` per
 * batch instead of one per reply is most of the difference under pipelining.
 */
export class ClientPort {
  private readonly server: Server;
  private readonly conns = new Map<ClientId, Conn>();
  /** Replies to `current`, the connection whose input is being handled. */
  private readonly writer = new RespWriter(16 * 1024);
  private current: Conn | null = null;
  /** Replies and pushes to other connections, one `take` each. */
  private readonly scratch = new RespWriter(16 * 1024);
  /** Connections with `out` queued, written by `flushQueued` (scheduled once per turn). */
  private queued: Conn[] = [];
  private flushScheduled = false;
  private immediateScheduled = false;
  /** The TLS port's listener, when there is one. */
  private readonly tlsServer: Server | null = null;
  private readonly limits: ClientLimits;
  /** Wall-clock ms as of the last idle sweep: what `lastInteractionMs` is stamped with. */
  private clockMs = Date.now();
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly handler: ClientHandler,
    private readonly log: NodeLog,
    private readonly options: ClientPortOptions = PLAIN_PORT,
  ) {
    this.limits = options.limits;
    const socketOptions = { noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_MS };
    this.server = createServer(socketOptions, (socket) => this.admit(socket));
    const tls = options.tls;
    if (tls !== null) {
      this.tlsServer = createTlsServer({ ...tls.loaded.clientPort, ...socketOptions, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, (socket) => this.admit(socket));
      this.tlsServer.on("tlsClientError", (e: Error, socket: TLSSocket) => {
        this.log.event("warn", "client-tls-error", { client: `${normalizeIp(socket.remoteAddress) ?? "?"}:${socket.remotePort ?? "?"}`, error: opensslReason(e) });
      });
    }
  }

  /** Listens on `port` (0: no plain-text port, as redis-server's `port 0`) and on the TLS port if any. */
  async listen(host: string, port: number): Promise<void> {
    if (port !== 0) await listen(this.server, host, port);
    if (this.tlsServer !== null && this.options.tls !== null) await listen(this.tlsServer, host, this.options.tls.port);
    if (this.limits.idleTimeoutS > 0) {
      this.sweepTimer = setInterval(() => this.closeIdle(), IDLE_SWEEP_MS);
      this.sweepTimer.unref();
    }
  }

  /** Sends a reply or push (see the class comment for when). A client that is gone is ignored (its closing was or will be reported). */
  write(client: ClientId, value: RespValue): void {
    const c = this.conns.get(client);
    if (c === undefined || c.socket.destroyed) return;
    if (c === this.current) {
      this.writer.write(value, this.handler.protocolOf(client));
      return;
    }
    c.out.push(takeBuffer(this.scratch.write(value, this.handler.protocolOf(client))));
    if (c.out.length === 1) this.queued.push(c);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flushQueued());
    }
  }

  /** Closes after what was sent to it so far (QUIT). */
  close(client: ClientId): void {
    const c = this.conns.get(client);
    if (c === undefined) return;
    this.flush(c);
    c.closing = true;
    c.socket.end();
  }

  stopAccepting(): void {
    this.server.close();
    this.tlsServer?.close();
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
  }

  /** Ends every connection, and destroys those that have not closed within the grace period. */
  async closeAll(): Promise<void> {
    const closing = [...this.conns.values()].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.socket.destroyed) return resolve();
          const timer = setTimeout(() => c.socket.destroy(), CLOSE_GRACE_MS);
          c.socket.once("close", () => {
            clearTimeout(timer);
            resolve();
          });
          c.closing = true;
          c.socket.end();
        }),
    );
    await Promise.all(closing);
  }

  /**
   * A new connection, plain or TLS (handshake done): refused over maxclients, as redis-server does
   * (its error, then closed), or over tls-auth-clients optional with a certificate the CA did not
   * sign; else accepted.
   */
  private admit(socket: Socket): void {
    socket.on("error", () => {}); // a refused socket's reset; accept() reports the others
    const peer = `${normalizeIp(socket.remoteAddress) ?? "?"}:${socket.remotePort ?? "?"}`;
    if (socket instanceof TLSSocket && !socket.authorized && Object.keys(socket.getPeerCertificate()).length > 0) {
      this.log.event("warn", "client-tls-error", { client: peer, error: `certificate refused: ${String(socket.authorizationError)}` });
      socket.destroy();
      return;
    }
    if (this.conns.size + this.options.clusterConnections() >= this.limits.maxclients) {
      this.log.event("info", "client-rejected", { client: peer, reason: "maxclients", maxclients: this.limits.maxclients });
      socket.end(MAXCLIENTS_ERROR);
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
      return;
    }
    this.accept(socket);
  }

  private accept(socket: Socket): void {
    const ip = normalizeIp(socket.remoteAddress);
    const port = socket.remotePort;
    if (ip === null || port === undefined) {
      socket.destroy(); // closed before we saw it
      return;
    }
    const c: Conn = { id: `${ip}:${port}`, socket, parser: new RequestParser({}, latin1), out: [], reqIdNext: 1, closing: false, paused: false, lastInteractionMs: this.clockMs, softLimitSinceMs: null };
    this.conns.set(c.id, c);
    this.log.event("info", "client-connect", { client: c.id });
    if (!(socket instanceof TLSSocket)) socket.once("data", (chunk: Buffer) => this.refuseTlsOnPlainPort(c, chunk));
    socket.on("data", (chunk: Buffer) => this.onData(c, chunk));
    socket.on("drain", () => {
      if (c.paused && !c.closing) {
        c.paused = false;
        socket.resume();
      }
    });
    socket.on("error", (e: Error) => this.log.event("debug", "client-error", { client: c.id, error: e.message }));
    socket.on("close", () => {
      this.conns.delete(c.id);
      this.log.event("info", "client-close", { client: c.id });
      this.handler.closed(c.id);
    });
  }

  private onData(c: Conn, chunk: Buffer): void {
    if (c.closing) return;
    c.lastInteractionMs = this.clockMs;
    c.parser.feed(chunk);
    this.current = c;
    const nowMs = Date.now();
    try {
      for (;;) {
        if (c.closing) return;
        // Redis's tighter limits for a client that has not authenticated yet (requirepass).
        c.parser.authRequired = this.handler.authRequired(c.id);
        const args = c.parser.next();
        if (args === null) break;
        this.handler.request(c.id, c.reqIdNext++, args, nowMs);
      }
      const error = c.parser.error;
      if (error !== null) {
        // Redis answers the protocol error and closes (setProtocolError: CLIENT_CLOSE_AFTER_REPLY).
        this.log.event("warn", "client-protocol-error", { client: c.id, error });
        this.writer.write(Resp.error(error), 2);
        this.close(c.id);
      } else if (c.parser.bufferedBytes > this.limits.queryBufferBytesMax) {
        this.log.event("warn", "client-query-buffer-limit", { client: c.id, bytes: c.parser.bufferedBytes });
        c.closing = true;
        c.socket.destroy();
      }
    } finally {
      if (c.closing) this.flush(c);
      else this.defer(c);
      this.current = null;
    }
  }

  /**
   * Queues what `c`'s batch answered, to be written with every other connection's once this turn
   * of the event loop has read every socket that was ready (setImmediate runs after the poll
   * phase). Writing each connection's replies as soon as its batch ran woke the client's process
   * once per connection; writing them back to back wakes it once, while it is still busy with
   * the first. Measured with redis-benchmark, 50 clients: server CPU per request -P 1 6.3–7.1 →
   * 5.2–5.5 µs, -P 16 1.48–1.69 → 1.38–1.47 µs.
   */
  private defer(c: Conn): void {
    if (this.writer.byteLength === 0) return;
    c.out.push(takeBuffer(this.writer));
    if (c.out.length === 1) this.queued.push(c);
    if (!this.immediateScheduled) {
      this.immediateScheduled = true;
      setImmediate(() => {
        this.immediateScheduled = false;
        this.flushQueued();
      });
    }
  }

  /** Hands `c`'s queued output, then what was answered in its current batch, to its socket in one write. */
  private flush(c: Conn): void {
    const batch = c === this.current && this.writer.byteLength > 0 ? takeBuffer(this.writer) : null;
    if (c.out.length === 0 && batch === null) return;
    if (c.socket.destroyed || c.socket.writableEnded) {
      c.out = [];
      return;
    }
    if (batch !== null) c.out.push(batch);
    c.socket.write(c.out.length === 1 ? (c.out[0] as Buffer) : Buffer.concat(c.out));
    c.out = [];
    this.checkOutput(c);
  }

  /** Writes every connection's queued output (scheduled by `write`). */
  private flushQueued(): void {
    this.flushScheduled = false;
    const queued = this.queued;
    this.queued = [];
    for (const c of queued) this.flush(c);
  }

  /**
   * client-output-buffer-limit pubsub for a subscriber with `pending` bytes unsent: disconnects it
   * (returning true) over the hard limit, or over the soft one for longer than its seconds.
   */
  private checkPubsubOutput(c: Conn, pending: number): boolean {
    const limit = this.limits.pubsub;
    if (c.softLimitSinceMs === null && (limit.softBytes === 0 || pending < limit.softBytes) && (limit.hardBytes === 0 || pending < limit.hardBytes)) return false;
    const verdict = outputLimitVerdict(limit, pending, Date.now(), c.softLimitSinceMs);
    c.softLimitSinceMs = verdict.softSinceMs;
    if (verdict.broken === null) return false;
    this.log.event("warn", "client-output-limit", { client: c.id, bytes: pending, class: "pubsub", limit: verdict.broken });
    c.closing = true;
    c.socket.destroy();
    return true;
  }

  /**
   * A TLS ClientHello (a handshake record, 0x16 0x03) as a plain-text connection's first bytes: a
   * TLS client on the plain port. It would wait for a ServerHello forever; it is told by the close.
   */
  private refuseTlsOnPlainPort(c: Conn, chunk: Buffer): void {
    if (chunk[0] !== 0x16 || chunk[1] !== 0x03) return;
    this.log.event("warn", "client-protocol-error", { client: c.id, error: "a TLS handshake on the plain-text port" });
    c.closing = true;
    c.socket.destroy();
  }

  /** `timeout`: closes clients idle for longer, but subscribers and blocked ones (as Redis's clientsCronHandleTimeout). */
  private closeIdle(): void {
    this.clockMs = Date.now();
    const idleMsMax = this.limits.idleTimeoutS * 1000;
    for (const c of this.conns.values()) {
      if (c.closing || this.clockMs - c.lastInteractionMs <= idleMsMax || this.handler.blocked(c.id) || this.handler.subscribed(c.id)) continue;
      this.log.event("info", "client-idle-timeout", { client: c.id, idleS: this.limits.idleTimeoutS });
      c.closing = true;
      c.socket.destroy();
    }
  }

  private checkOutput(c: Conn): void {
    const pending = c.socket.writableLength;
    c.lastInteractionMs = this.clockMs;
    if ((pending > 0 || c.softLimitSinceMs !== null) && this.handler.subscribed(c.id) && this.checkPubsubOutput(c, pending)) return;
    if (pending > OUTPUT_BYTES_MAX) {
      this.log.event("warn", "client-output-limit", { client: c.id, bytes: pending });
      c.closing = true;
      c.socket.destroy();
    } else if (pending > OUTPUT_PAUSE_BYTES && !c.paused) {
      c.paused = true;
      c.socket.pause();
    }
  }
}

/**
 * Redis's checkClientOutputBufferLimits for one client: whether `bytes` of unsent output breaks
 * `limit` at `nowMs` ("hard", "soft" or null), given since when it has been at or above the soft
 * limit, and that time as it is now (null when below).
 */
export function outputLimitVerdict(limit: OutputBufferLimit, bytes: number, nowMs: number, softSinceMs: number | null): { readonly broken: "hard" | "soft" | null; readonly softSinceMs: number | null } {
  if (limit.hardBytes > 0 && bytes >= limit.hardBytes) return { broken: "hard", softSinceMs };
  if (limit.softBytes === 0 || bytes < limit.softBytes) return { broken: null, softSinceMs: null };
  if (softSinceMs === null) return { broken: null, softSinceMs: nowMs };
  return { broken: nowMs - softSinceMs > limit.softSeconds * 1000 ? "soft" : null, softSinceMs };
}

/** Commands that can leave a client waiting for its reply (Redis's CLIENT_BLOCKED): the "blocking" flag, and WAIT. */

/**
 * What `writer` holds, copied into a Buffer, and the writer cleared. Small Buffers come from
 * Node's pool; a Uint8Array would be turned into a Buffer by the socket anyway, at the cost of
 * a malloc for its backing store.
 */
function takeBuffer(writer: RespWriter): Buffer {
  const view = writer.view();
  const out = Buffer.allocUnsafe(view.length);
  out.set(view);
  writer.clear();
  return out;
}

/**
 * Arguments up to this long are decoded in JS (see `latin1`): measured, a loop of
 * String.fromCharCode costs about 6–8 ns a byte, Buffer#toString("latin1") about 50 ns whatever the length.
 */
const LATIN1_LOOP_BYTES_MAX = 6;
/** Arguments up to this long are interned (see `latin1`). */
const INTERN_BYTES_MAX = 12;
/**
 * Short arguments decoded lately, in a small direct-mapped cache (a slot per length, first and
 * last byte): what `latin1` hands out again when the bytes match.
 */
const INTERN_SLOTS = 256;
const interned: string[] = Array.from({ length: INTERN_SLOTS }, () => "");

/** The Buffer over the parser's current bytes (the parser reuses one buffer while it can). */
let latin1Of: Uint8Array | null = null;
let latin1Buffer: Buffer = Buffer.alloc(0);

/**
 * An argument as a byte string (core/keyspace/bytes.ts `bytesToByteString`), decoded straight from
 * the parser's buffer: Node's latin1 decoding maps each byte to the char of the same code.
 *
 * A short argument equal to the last one of its length is returned as that same string: command
 * names and option words repeat request after request, and a string V8 has seen before carries
 * its hash, so the command table's lookup does not hash it again, and no new string is made.
 */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n > 0 && n <= INTERN_BYTES_MAX) {
    const slot = (n * 31 + (bytes[start] as number) * 7 + (bytes[end - 1] as number)) & (INTERN_SLOTS - 1);
    const last = interned[slot] as string;
    let i = 0;
    if (last.length === n) while (i < n && last.charCodeAt(i) === bytes[start + i]) i++;
    if (i === n) return last;
    let out: string;
    if (n <= LATIN1_LOOP_BYTES_MAX) {
      out = "";
      for (let k = start; k < end; k++) out += String.fromCharCode(bytes[k] as number);
    } else {
      out = latin1Slice(bytes, start, end);
    }
    interned[slot] = out;
    return out;
  }
  return latin1Slice(bytes, start, end);
}

function latin1Slice(bytes: Uint8Array, start: number, end: number): string {
  if (bytes !== latin1Of) {
    latin1Of = bytes;
    latin1Buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  return latin1Buffer.toString("latin1", start, end);
}

/** "::ffff:127.0.0.1" (an IPv4 peer on a dual-stack socket) as "127.0.0.1". */
function normalizeIp(ip: string | undefined): string | null {
  if (ip === undefined) return null;
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}

/** Starts listening, or rejects with the bind error (EADDRINUSE, EACCES). */
export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once("error", onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off("error", onError);
      resolve();
    });
  });
}
