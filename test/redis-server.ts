// A real redis-server for differential tests: start one on 127.0.0.1 with a free port and a
// temporary directory, talk to it over node:net with our own codec, stop it and clean up.
// Every wait is bounded; a server that does not come up in time fails the test that needed it.

import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket, connect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { ReplyParser, type RespValue, encodeRequest } from "../core/resp/codec.js";

/** The redis-server on PATH, or null when it is not installed. */
export function redisServerPath(): string | null {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, "redis-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const REPLY_TIMEOUT_MS = 10_000;
/** Cluster mode also listens on port + 10000, so a port is drawn below this. */
const CLUSTER_PORT_MAX = 65535 - 10000;
const START_ATTEMPTS = 3;
/** How much of the server's own output is kept for error messages. */
const LOG_CHARS_MAX = 16 * 1024;

export interface RedisServerOptions {
  /** Extra `--name value` arguments, e.g. ["--cluster-enabled", "yes"]. */
  readonly args?: readonly string[];
  /** Also needs port + 10000 free (cluster bus). */
  readonly cluster?: boolean;
}

/** A running redis-server; `stop()` kills it and removes its directory. */
export class RedisServer {
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly child: ChildProcess,
    private readonly log: () => string,
  ) {}

  /** Starts redis-server and waits (bounded) until it answers PING. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const bin = redisServerPath();
    if (bin === null) throw new Error("redis-server not installed: apt-get install redis-server");
    let lastError: unknown = null;
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      const port = await freePort(options.cluster === true);
      const dir = mkdtempSync(join(tmpdir(), "faultline-redis-"));
      const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir, "--logfile", "", ...(options.args ?? [])];
      const child = spawn(bin, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      const keep = (b: Buffer): void => {
        output = (output + b.toString("utf8")).slice(-LOG_CHARS_MAX);
      };
      child.stdout?.on("data", keep);
      child.stderr?.on("data", keep);
      const server = new RedisServer(port, dir, child, () => output);
      process.once("exit", server.killOnExit);
      try {
        await server.waitReady();
        return server;
      } catch (e) {
        lastError = e;
        await server.stop();
      }
    }
    throw new Error(`redis-server did not start: ${String(lastError)}`);
  }

  /** A new client connection (RESP2 until it sends HELLO 3). */
  connect(): Promise<RedisClient> {
    return RedisClient.open(this.port);
  }

  /** If the test process exits without stop() (a crash, a kill), the server goes with it. */
  private readonly killOnExit = (): void => {
    this.child.kill("SIGKILL");
  };

  async stop(): Promise<void> {
    process.removeListener("exit", this.killOnExit);
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
      this.child.kill("SIGTERM");
      if (!(await within(exited, STOP_TIMEOUT_MS))) {
        this.child.kill("SIGKILL");
        await within(exited, STOP_TIMEOUT_MS);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`redis-server exited (${this.child.exitCode}): ${this.log()}`);
      try {
        const c = await RedisClient.open(this.port);
        try {
          const pong = await c.call(["PING"]);
          if (pong.type === "simple" && pong.value === "PONG") return;
        } finally {
          c.close();
        }
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`redis-server not ready after ${START_TIMEOUT_MS} ms: ${this.log()}`);
  }
}

/** One reply: the value as our ReplyParser reads it, and the exact bytes it came in. */
export interface RawReply {
  readonly value: RespValue;
  readonly bytes: Uint8Array;
}

/**
 * A client connection speaking RESP with core/resp's codec. Replies are cut out of the stream
 * byte by byte (the parser gives the same result for any split), so each one's exact bytes are
 * known even when requests are pipelined.
 */
export class RedisClient {
  private parser = new ReplyParser();
  private pending: number[] = [];
  private replies: RawReply[] = [];
  private waiter: (() => void) | null = null;
  private closedWith: string | null = null;
  /** Every byte received on this connection, for readUntilClosed. */
  private received: Buffer[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("close", () => this.onClose("connection closed"));
    socket.on("error", (e) => this.onClose(`socket error: ${e.message}`));
  }

  static open(port: number): Promise<RedisClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.setNoDelay(true);
      socket.once("connect", () => resolve(new RedisClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends commands in one write and returns their replies in order. */
  async pipeline(commands: readonly (readonly (string | Uint8Array)[])[]): Promise<RawReply[]> {
    const chunks = commands.map((c) => encodeRequest(c));
    this.socket.write(concat(chunks));
    return this.read(commands.length);
  }

  /** One command's reply value. */
  async call(args: readonly (string | Uint8Array)[]): Promise<RespValue> {
    const [r] = await this.pipeline([args]);
    return (r as RawReply).value;
  }

  /** Writes raw bytes (malformed requests included). */
  writeRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Everything the server sent on this connection, once it has closed it (bounded wait). */
  async readUntilClosed(): Promise<Uint8Array> {
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    while (this.closedWith === null) {
      if (Date.now() > deadline) throw new Error("the server did not close the connection");
      await this.waitForData(deadline - Date.now());
    }
    return new Uint8Array(Buffer.concat(this.received));
  }

  /** What the server sent within `ms`, and whether it closed the connection meanwhile. */
  async receivedWithin(ms: number): Promise<{ bytes: Uint8Array; closed: boolean }> {
    const deadline = Date.now() + ms;
    while (this.closedWith === null && Date.now() < deadline) await this.waitForData(deadline - Date.now());
    return { bytes: new Uint8Array(Buffer.concat(this.received)), closed: this.closedWith !== null };
  }

  /** Waits for `n` replies (bounded), in order. */
  async read(n: number): Promise<RawReply[]> {
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    while (this.replies.length < n) {
      if (this.closedWith !== null) throw new Error(`redis: ${this.closedWith} after ${this.replies.length} of ${n} replies`);
      if (Date.now() > deadline) throw new Error(`redis: no reply within ${REPLY_TIMEOUT_MS} ms`);
      await this.waitForData(deadline - Date.now());
    }
    return this.replies.splice(0, n);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.received.push(chunk);
    for (const byte of chunk) {
      this.pending.push(byte);
      this.parser.feed(Uint8Array.of(byte));
      const value = this.parser.next();
      if (value !== null) {
        this.replies.push({ value, bytes: Uint8Array.from(this.pending) });
        this.pending = [];
      }
    }
    this.wake();
  }

  private onClose(why: string): void {
    this.closedWith ??= why;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private waitForData(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, ms));
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A port the OS says is free now (and, for cluster mode, port + 10000 too). */
async function freePort(cluster: boolean): Promise<number> {
  for (;;) {
    const port = await listenOnce(0);
    if (!cluster) return port;
    if (port <= CLUSTER_PORT_MAX && (await listenOnce(port + 10000).then(() => true, () => false))) return port;
  }
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(port, "127.0.0.1", () => {
      const address = s.address();
      const bound = typeof address === "object" && address !== null ? address.port : port;
      s.close(() => resolve(bound));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether `p` settles within `ms`. */
function within(p: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void p.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
