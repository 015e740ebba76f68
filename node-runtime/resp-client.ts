// A small RESP2 client over node:net, for the admin commands (`faultline cluster …`, `faultline
// local …`): one connection, requests pipelined in order, each with a deadline. It speaks to any
// Redis-compatible node, ours or redis-server, with core/resp's encoder and reply parser.
//
// It is not a general client: no reconnects, no redirections, no pub/sub. An admin tool talks to
// one node at a time and wants to know at once when that node is unreachable.

import { connect, type Socket } from "node:net";
import { encodeRequest, ReplyParser, type RespValue } from "../core/resp/codec.js";

/** How long a connect may take before the node counts as unreachable. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** The default deadline of one command (MIGRATE brings its own, longer one). */
export const COMMAND_TIMEOUT_MS = 10_000;

/** The node could not be reached, dropped the connection, or did not answer in time. */
export class ConnectionError extends Error {}

/** A command's arguments: text (sent as UTF-8) or bytes (keys, which are byte strings). */
export type Arg = string | Uint8Array;

/** The node answered with an error reply; `reply` is its text (`ERR …`, `MOVED …`). */
export class ReplyError extends Error {
  constructor(
    readonly address: string,
    readonly command: readonly Arg[],
    readonly reply: string,
  ) {
    super(`${address}: ${describeCommand(command)}: ${reply}`);
  }
}

/** The first words of a command, for messages. */
function describeCommand(command: readonly Arg[]): string {
  const words = command.slice(0, 3).map((a) => (typeof a === "string" ? a : "<key>"));
  return words.join(" ") + (command.length > 3 ? " …" : "");
}

interface Pending {
  readonly resolve: (v: RespValue) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class RespClient {
  private readonly parser = new ReplyParser();
  /** Requests sent and not yet answered, oldest first: replies arrive in request order. */
  private readonly pending: Pending[] = [];
  private closedWith: Error | null = null;

  private constructor(
    /** "host:port", as messages name the node. */
    readonly address: string,
    private readonly socket: Socket,
  ) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (e) => this.fail(new ConnectionError(`${address}: ${e.message}`)));
    socket.on("close", () => this.fail(new ConnectionError(`${address}: connection closed by the node`)));
  }

  /** Connects to host:port; rejects with a ConnectionError saying why (refused, timeout…). */
  static connect(host: string, port: number, timeoutMs = CONNECT_TIMEOUT_MS): Promise<RespClient> {
    const address = `${host}:${port}`;
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectionError(`cannot connect to ${address}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new RespClient(address, socket));
      });
      socket.once("error", (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const hint = e.code === "ECONNREFUSED" ? " (is a node running there?)" : "";
        reject(new ConnectionError(`cannot connect to ${address}: ${e.code ?? e.message}${hint}`));
      });
    });
  }

  /** Sends one command; resolves with its reply, an error reply included (as a value). */
  call(command: readonly Arg[], timeoutMs = COMMAND_TIMEOUT_MS): Promise<RespValue> {
    if (this.closedWith !== null) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // A late reply would be taken for the next request's: the connection is unusable now.
        this.fail(new ConnectionError(`${this.address}: no reply to ${describeCommand(command)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.push({ resolve, reject, timer });
      this.socket.write(encodeRequest(command));
    });
  }

  /** Sends one command; an error reply rejects with a ReplyError. */
  async ok(command: readonly Arg[], timeoutMs = COMMAND_TIMEOUT_MS): Promise<RespValue> {
    const v = await this.call(command, timeoutMs);
    if (v.type === "error") throw new ReplyError(this.address, command, v.value);
    return v;
  }

  /** A command whose reply is text (CLUSTER NODES, CLUSTER INFO, INFO); an error rejects. */
  async text(command: readonly Arg[], timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
    return textOf(await this.ok(command, timeoutMs));
  }

  close(): void {
    this.fail(new ConnectionError(`${this.address}: connection closed`));
  }

  private onData(chunk: Buffer): void {
    this.parser.feed(chunk);
    for (let v = this.parser.next(); v !== null; v = this.parser.next()) {
      const p = this.pending.shift();
      if (p === undefined) return this.fail(new ConnectionError(`${this.address}: a reply nobody asked for`));
      clearTimeout(p.timer);
      p.resolve(v);
    }
    if (this.parser.error !== null) this.fail(new ConnectionError(`${this.address}: protocol error in a reply: ${this.parser.error}`));
  }

  /** Ends the connection; every request still waiting rejects with `e`. */
  private fail(e: Error): void {
    if (this.closedWith !== null) return;
    this.closedWith = e;
    this.socket.destroy();
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(e);
    }
  }
}

/** A bulk, verbatim or simple reply as text; anything else is an unexpected reply. */
export function textOf(v: RespValue): string {
  if (v.type === "bulk" || v.type === "verbatim") return Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength).toString("utf8");
  if (v.type === "simple") return v.value;
  throw new Error(`expected text, got a reply of type ${v.type}`);
}

/** An integer reply as a number. */
export function integerOf(v: RespValue): number {
  if (v.type === "integer") return Number(v.value);
  throw new Error(`expected an integer, got a reply of type ${v.type}`);
}

/** An array of bulk strings as their bytes (CLUSTER GETKEYSINSLOT: keys go back out unchanged). */
export function bulksOf(v: RespValue): Uint8Array[] {
  if (v.type !== "array") throw new Error(`expected an array, got a reply of type ${v.type}`);
  return v.value.map((e) => {
    if (e.type !== "bulk") throw new Error(`expected bulk strings, got a ${e.type}`);
    return e.value;
  });
}
