// The client port: what redis-cli, redis-benchmark, ioredis and node-redis connect to.
//
// Per connection a RequestParser (core/resp) turns bytes into commands with Redis's limits and
// error texts; each command goes to the node as a `client` input, named by the peer's "ip:port"
// (as CLIENT LIST's addr= shows it) with a request id increasing per connection. Replies and
// pushes come back as RESP values and are encoded in the client's protocol.
//
// Limits, after redis-server's: a query buffer over 1 GB closes the connection
// (client-query-buffer-limit); a connection whose unsent output is above OUTPUT_PAUSE_BYTES
// stops being read until it drains, and one above OUTPUT_BYTES_MAX is closed.
// Faultline: Redis keeps reading such a client and lets its output grow (normal clients have no
// output limit by default); pausing the reader bounds memory without dropping the client.

import { createServer, type Server, type Socket } from "node:net";
import type { ClientId } from "../core/machine.js";
import { Resp, RequestParser, RespWriter, type Protocol, type RespValue } from "../core/resp/codec.js";
import type { NodeLog } from "./log.js";

/** client-query-buffer-limit's default. */
const QUERY_BUFFER_BYTES_MAX = 1024 * 1024 * 1024;
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
  request(client: ClientId, reqId: number, args: string[]): void;
  closed(client: ClientId): void;
  /** The protocol the node's session for `client` speaks (2 until HELLO 3). */
  protocolOf(client: ClientId): Protocol;
  /** Whether `client` must still authenticate (requirepass): its requests get Redis's pre-AUTH limits. */
  authRequired(client: ClientId): boolean;
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
}

/**
 * Output is coalesced, as Redis's reply buffers are: what the node answers while a connection's
 * input is being handled is encoded into one buffer and written once after the batch, and what
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

  constructor(
    private readonly handler: ClientHandler,
    private readonly log: NodeLog,
  ) {
    this.server = createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_MS }, (socket) => this.accept(socket));
  }

  listen(host: string, port: number): Promise<void> {
    return listen(this.server, host, port);
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

  private accept(socket: Socket): void {
    const ip = normalizeIp(socket.remoteAddress);
    const port = socket.remotePort;
    if (ip === null || port === undefined) {
      socket.destroy(); // closed before we saw it
      return;
    }
    const c: Conn = { id: `${ip}:${port}`, socket, parser: new RequestParser({}, latin1), out: [], reqIdNext: 1, closing: false, paused: false };
    this.conns.set(c.id, c);
    this.log.event("info", "client-connect", { client: c.id });
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
    c.parser.feed(chunk);
    this.current = c;
    try {
      for (;;) {
        if (c.closing) return;
        // Redis's tighter limits for a client that has not authenticated yet (requirepass).
        c.parser.authRequired = this.handler.authRequired(c.id);
        const args = c.parser.next();
        if (args === null) break;
        this.handler.request(c.id, c.reqIdNext++, args);
      }
      const error = c.parser.error;
      if (error !== null) {
        // Redis answers the protocol error and closes (setProtocolError: CLIENT_CLOSE_AFTER_REPLY).
        this.log.event("warn", "client-protocol-error", { client: c.id, error });
        this.writer.write(Resp.error(error), 2);
        this.close(c.id);
      } else if (c.parser.bufferedBytes > QUERY_BUFFER_BYTES_MAX) {
        this.log.event("warn", "client-query-buffer-limit", { client: c.id, bytes: c.parser.bufferedBytes });
        c.closing = true;
        c.socket.destroy();
      }
    } finally {
      this.flush(c);
      this.current = null;
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

  private checkOutput(c: Conn): void {
    const pending = c.socket.writableLength;
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

/** Arguments up to this long are decoded in JS (see `latin1`). */
const LATIN1_LOOP_BYTES_MAX = 12;

/** A Buffer over the parser's current backing array, made again only when the parser grows it. */
let latin1Of: Uint8Array | null = null;
let latin1Buffer: Buffer = Buffer.alloc(0);

/**
 * An argument as a byte string (core/keyspace/bytes.ts `bytesToByteString`), decoded straight from
 * the parser's buffer: Node's latin1 decoding maps each byte to the char of the same code.
 */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= LATIN1_LOOP_BYTES_MAX) {
    // Short arguments (command names, small keys and values): cheaper built char by char than
    // through Buffer#toString's layers; V8 keeps strings this short flat.
    let out = "";
    for (let i = start; i < end; i++) out += String.fromCharCode(bytes[i] as number);
    return out;
  }
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
