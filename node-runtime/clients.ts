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
  readonly parser: RequestParser;
  reqIdNext: number;
  /** QUIT, a protocol error or a limit: no more requests are read; the socket ends after its output. */
  closing: boolean;
  /** Reading paused for backpressure. */
  paused: boolean;
}

export class ClientPort {
  private readonly server: Server;
  private readonly conns = new Map<ClientId, Conn>();
  private readonly writer = new RespWriter(16 * 1024);

  constructor(
    private readonly handler: ClientHandler,
    private readonly log: NodeLog,
  ) {
    this.server = createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_MS }, (socket) => this.accept(socket));
  }

  listen(host: string, port: number): Promise<void> {
    return listen(this.server, host, port);
  }

  /** Writes a reply or push. A client that is gone is ignored (its closing was or will be reported). */
  write(client: ClientId, value: RespValue): void {
    const c = this.conns.get(client);
    if (c === undefined || c.socket.destroyed) return;
    const bytes = this.writer.write(value, this.handler.protocolOf(client)).take();
    c.socket.write(bytes);
    this.checkOutput(c);
  }

  /** Closes after what was written so far (QUIT). */
  close(client: ClientId): void {
    const c = this.conns.get(client);
    if (c === undefined) return;
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
    const c: Conn = { id: `${ip}:${port}`, socket, parser: new RequestParser(), reqIdNext: 1, closing: false, paused: false };
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
    c.socket.cork();
    try {
      for (;;) {
        if (c.closing) return;
        // Redis's tighter limits for a client that has not authenticated yet (requirepass).
        c.parser.authRequired = this.handler.authRequired(c.id);
        const args = c.parser.next();
        if (args === null) break;
        const strings = new Array<string>(args.length);
        for (let i = 0; i < args.length; i++) strings[i] = byteString(args[i] as Uint8Array);
        this.handler.request(c.id, c.reqIdNext++, strings);
      }
      const error = c.parser.error;
      if (error !== null) {
        // Redis answers the protocol error and closes (setProtocolError: CLIENT_CLOSE_AFTER_REPLY).
        this.log.event("warn", "client-protocol-error", { client: c.id, error });
        c.socket.write(this.writer.write(Resp.error(error), 2).take());
        this.close(c.id);
      } else if (c.parser.bufferedBytes > QUERY_BUFFER_BYTES_MAX) {
        this.log.event("warn", "client-query-buffer-limit", { client: c.id, bytes: c.parser.bufferedBytes });
        c.closing = true;
        c.socket.destroy();
      }
    } finally {
      c.socket.uncork();
    }
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
 * The byte string of an argument (core/keyspace/bytes.ts `bytesToByteString`): Node's latin1
 * decoding maps each byte to the char of the same code, natively and without an array per call.
 */
function byteString(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
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
