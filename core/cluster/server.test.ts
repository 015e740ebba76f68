// Server (the client side of a node) against Redis 7.0's networking.c, server.c processCommand,
// multi.c, blocked.c, replication.c and config.c: exact replies and error texts, command by
// command. The node is a fake ServerHost (routing verdicts, settings and pauses chosen by each
// test; effects recorded); replication is a real Replication whose sends are recorded, with a
// replica "r1" attached by a PSYNC when a test needs acks or the stream.

import { describe, expect, it } from "vitest";
import type { NodeId } from "../machine.js";
import { type Plain, plain } from "../keyspace/plain.js";
import { Resp, type RespValue } from "../resp/codec.js";
import { Replication } from "./data.js";
import { type ClientEffect, Server, type ServerHost, type Session, type Settings } from "./server.js";
import { keySlot } from "./slots.js";
import { CLUSTER_DEFAULTS, type ReplMsg } from "./types.js";

const OK = { simple: "OK" };
const QUEUED = { simple: "QUEUED" };
const PONG = { simple: "PONG" };
const NULL_ARRAY = { nullArray: true };
const NOAUTH = { err: "NOAUTH Authentication required." };
const WRONGPASS = { err: "WRONGPASS invalid username-password pair or user is disabled." };
const EXECABORT = { err: "EXECABORT Transaction discarded because of previous errors." };
const CROSSSLOT = { err: "CROSSSLOT Keys in request don't hash to the same slot" };
const SYNTAX = { err: "ERR syntax error" };
const NOT_INTEGER = { err: "ERR value is not an integer or out of range" };
const BAD_NAME = { err: "ERR Client names cannot contain spaces, newlines or special characters." };
const HELLO_NOAUTH = {
  err: "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
};
const WAIT_ON_REPLICA = {
  err: "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
};
const arity = (name: string): Plain => ({ err: `ERR wrong number of arguments for '${name}' command` });
const subscribedOnly = (name: string): Plain => ({ err: `ERR Can't execute '${name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context` });

/** Keys in one slot (a hash tag) and a key in another slot. */
const [A, B, C] = ["{t}a", "{t}b", "{t}c"];
const ELSEWHERE = "other";

/** CONFIG's settings: an integer, a yes/no, a password and an immutable one, in this order. */
class FakeSettings implements Settings {
  readonly values = new Map<string, string>([
    ["maxmemory", "0"],
    ["appendonly", "no"],
    ["requirepass", ""],
    ["port", "6379"],
  ]);

  names(): readonly string[] {
    return [...this.values.keys()];
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  set(name: string, value: string): string | null {
    if (name === "port") return "can't set immutable config";
    if (name === "maxmemory" && !/^\d+$/.test(value)) return "argument couldn't be parsed into an integer";
    if (name === "appendonly" && value !== "yes" && value !== "no") return "argument must be 'yes' or 'no'";
    this.values.set(name, value);
    return null;
  }
}

/** The node as the server sees it: verdicts and flags set by the test, everything recorded. */
class FakeHost implements ServerHost {
  readonly settings = new FakeSettings();
  get requirepass(): string {
    return this.settings.get("requirepass") ?? "";
  }
  readonly effects: ClientEffect[] = [];
  readonly routed: { slot: number; keys: string[]; write: boolean; asking: boolean }[] = [];
  readonly published: [string, string, boolean][] = [];
  acksRequested = 0;
  /** MIGRATE's immediate answer; null makes the server wait for finishExternal(token). */
  migrateReply: RespValue | null = Resp.simple("NOKEY");
  readonly migrations: { args: string[]; token: number }[] = [];
  paused = false;
  replica = false;
  /** The routing verdict for a request; null runs it here. */
  verdict: (slot: number, keys: readonly string[], write: boolean) => RespValue | null = () => null;

  route(slot: number, keys: readonly string[], write: boolean, session: Session): RespValue | null {
    this.routed.push({ slot, keys: [...keys], write, asking: session.asking });
    return this.verdict(slot, keys, write);
  }
  clusterCommand(args: readonly string[]): RespValue {
    return Resp.simple(`cluster ${args.join(" ")}`);
  }
  info(sections: readonly string[]): string {
    return `# info ${sections.join(" ")}\r\n`;
  }
  writesPaused(): boolean {
    return this.paused;
  }
  isReplica(): boolean {
    return this.replica;
  }
  broadcastPublish(channel: string, message: string, shard: boolean): void {
    this.published.push([channel, message, shard]);
  }
  migrate(args: readonly string[], token: number): RespValue | null {
    this.migrations.push({ args: [...args], token });
    return this.migrateReply;
  }
  requestAcks(): void {
    this.acksRequested += 1;
  }
  emit(effect: ClientEffect): void {
    this.effects.push(effect);
  }
}

/** A server over a fake host and a real Replication, with a clock and request ids. */
class Harness {
  readonly host = new FakeHost();
  readonly sent: { to: NodeId; msg: ReplMsg }[] = [];
  readonly repl = new Replication(CLUSTER_DEFAULTS, () => "a".repeat(40), (to, msg) => this.sent.push({ to, msg }));
  readonly server = new Server(this.host, this.repl);
  now = 1_000_000;
  private reqIdNext = 1;

  /** Sends a request; returns its id. */
  send(client: string, args: readonly string[], asking = false): number {
    const id = this.reqIdNext++;
    this.server.request(client, id, args, this.now, asking);
    return id;
  }

  /** The reply to request `id`, or undefined while there is none. */
  replyTo(client: string, id: number): Plain | undefined {
    const found = this.host.effects.filter((e) => e.kind === "reply" && e.client === client && e.reqId === id);
    expect(found.length, `replies to ${client}#${id}`).toBeLessThanOrEqual(1);
    const e = found[0];
    return e === undefined || e.kind !== "reply" ? undefined : plain(e.value);
  }

  /** Sends a request and returns its reply (undefined when it blocked). */
  call(client: string, args: readonly string[], asking = false): Plain | undefined {
    return this.replyTo(client, this.send(client, args, asking));
  }

  /** Pushes to `client` so far, as plain data. */
  pushes(client: string): Plain[] {
    return this.host.effects.flatMap((e) => (e.kind === "push" && e.client === client ? [plain(e.value)] : []));
  }

  /** The request ids of `client`'s replies, in the order they left. */
  replyOrder(client: string): number[] {
    return this.host.effects.flatMap((e) => (e.kind === "reply" && e.client === client ? [e.reqId] : []));
  }

  /** Attaches replica "r1" (PSYNC ? -1, as a new replica sends) and forgets what was sent so far. */
  attachReplica(): void {
    this.repl.onMessage("r1", { type: "psync", replid: "?", offset: -1 }, this.now);
    this.sent.length = 0;
  }

  ack(offset = this.repl.offset): void {
    this.repl.onMessage("r1", { type: "repl-ack", offset }, this.now);
  }

  /** The commands streamed to the replica, one array per stream message. */
  streamed(): string[][][] {
    return this.sent.flatMap((s) => (s.msg.type === "stream" ? [s.msg.entries.map((e) => [...e.cmd])] : []));
  }
}

/** A RESP map's keys, as plain data. */
function mapKeys(v: Plain | undefined): Plain[] {
  return (v as { map: [Plain, Plain][] }).map.map(([k]) => k);
}

// ---------------------------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------------------------

describe("dispatch", () => {
  it("answers unknown commands, unknown subcommands and wrong arities with processCommand's texts", () => {
    const long = "x".repeat(200);
    const table: [string[], Plain][] = [
      [["NOSUCH"], { err: "ERR unknown command 'NOSUCH', with args beginning with: " }],
      [["nosuch", "a", "b c", ""], { err: "ERR unknown command 'nosuch', with args beginning with: 'a' 'b c' '' " }],
      // Arguments are quoted until 128 characters are used; each is cut to what is left.
      [["nosuch", long, "more"], { err: `ERR unknown command 'nosuch', with args beginning with: '${"x".repeat(128)}' ` }],
      [["nosuch", "ab", long], { err: `ERR unknown command 'nosuch', with args beginning with: 'ab' '${"x".repeat(123)}' ` }],
      [["CLIENT", "NOPE"], { err: "ERR unknown subcommand 'NOPE'. Try CLIENT HELP." }],
      [["config", "rewrite"], { err: "ERR unknown subcommand 'rewrite'. Try CONFIG HELP." }],
      [["GET"], arity("get")],
      [["ECHO"], arity("echo")],
      [["ECHO", "a", "b"], arity("echo")],
      [["PING", "a", "b"], arity("ping")],
      [["SELECT"], arity("select")],
      [["CLIENT"], arity("client")],
      [["CLIENT", "SETNAME"], arity("client|setname")],
      [["client", "getname", "x"], arity("client|getname")],
      [["CONFIG", "GET"], arity("config|get")],
      [["CONFIG", "SET", "maxmemory"], arity("config|set")],
      [["WAIT", "1"], arity("wait")],
      [["MULTI", "x"], arity("multi")],
      [["RESET", "now"], arity("reset")],
    ];
    const h = new Harness();
    for (const [args, expected] of table) expect(h.call("c", args), args.join(" ")).toEqual(expected);
  });

  it("PING, ECHO and SELECT", () => {
    const table: [string[], Plain][] = [
      [["PING"], PONG],
      [["ping", "hello"], "hello"],
      [["PING", ""], ""],
      [["ECHO", "a b\r\n"], "a b\r\n"],
      [["SELECT", "0"], OK],
      [["SELECT", "1"], { err: "ERR SELECT is not allowed in cluster mode" }],
      [["SELECT", "-1"], { err: "ERR SELECT is not allowed in cluster mode" }],
      [["SELECT", "2147483647"], { err: "ERR SELECT is not allowed in cluster mode" }],
      // getIntFromObjectOrReply comes first: not a long, or out of a C int's range.
      [["SELECT", "x"], NOT_INTEGER],
      [["SELECT", "00"], NOT_INTEGER],
      [["SELECT", "-0"], NOT_INTEGER],
      [["SELECT", " 0"], NOT_INTEGER],
      [["SELECT", "99999999999999999999"], NOT_INTEGER],
      [["SELECT", "2147483648"], { err: "ERR value is out of range, value must between -2147483648 and 2147483647" }],
      [["SELECT", "-2147483649"], { err: "ERR value is out of range, value must between -2147483648 and 2147483647" }],
    ];
    const h = new Harness();
    for (const [args, expected] of table) expect(h.call("c", args), args.join(" ")).toEqual(expected);
  });

  it("before AUTH only AUTH, HELLO, QUIT and RESET run; lookup and arity errors come first", () => {
    const h = new Harness();
    h.host.settings.values.set("requirepass", "pw");
    const table: [string[], Plain][] = [
      [["GET", "k"], NOAUTH],
      [["PING"], NOAUTH],
      [["CLIENT", "ID"], NOAUTH],
      [["MULTI"], NOAUTH],
      [["SUBSCRIBE", "ch"], NOAUTH],
      [["CONFIG", "GET", "*"], NOAUTH],
      [["NOSUCH"], { err: "ERR unknown command 'NOSUCH', with args beginning with: " }],
      [["GET"], arity("get")],
      [["HELLO"], HELLO_NOAUTH],
      [["AUTH", "wrong"], WRONGPASS],
      [["GET", "k"], NOAUTH], // a failed AUTH changes nothing
      [["RESET"], { simple: "RESET" }],
      [["AUTH", "pw"], OK],
      [["GET", "k"], null],
      [["PING"], PONG],
    ];
    for (const [args, expected] of table) expect(h.call("c", args), args.join(" ")).toEqual(expected);
    expect(h.call("q", ["QUIT"])).toEqual(OK);
  });

  it("authentication follows the password: set later, connected clients keep their access; cleared, nobody needs AUTH", () => {
    const h = new Harness();
    expect(h.call("early", ["PING"])).toEqual(PONG);
    h.host.settings.values.set("requirepass", "pw");
    expect(h.call("early", ["PING"])).toEqual(PONG);
    expect(h.call("late", ["PING"])).toEqual(NOAUTH);
    h.host.settings.values.set("requirepass", "");
    // authRequired() asks whether the default user has a password now.
    expect(h.call("late", ["PING"])).toEqual(PONG);
    // HELLO alone checks the connection's own flag, as Redis 7.0 does.
    expect(h.call("late", ["HELLO"])).toEqual(HELLO_NOAUTH);
  });

  it("RESP2 subscribed mode allows only (P|S)(UN)SUBSCRIBE, PING, QUIT and RESET; RESP3 allows everything", () => {
    const h = new Harness();
    expect(h.call("c2", ["SUBSCRIBE", "ch"])).toEqual({ push: ["subscribe", "ch", 1] });
    const refused: [string[], string][] = [
      [["GET", "k"], "get"],
      [["CLIENT", "ID"], "client|id"],
      [["PUBSUB", "NUMPAT"], "pubsub|numpat"],
      [["MULTI"], "multi"],
      [["EXEC"], "exec"],
      [["PUBLISH", "ch", "m"], "publish"],
      [["AUTH", "x"], "auth"],
      [["HELLO", "3"], "hello"],
    ];
    for (const [args, name] of refused) expect(h.call("c2", args), args.join(" ")).toEqual(subscribedOnly(name));
    // Unknown commands and wrong arities are refused as such first.
    expect(h.call("c2", ["NOSUCH"])).toEqual({ err: "ERR unknown command 'NOSUCH', with args beginning with: " });
    expect(h.call("c2", ["GET"])).toEqual(arity("get"));
    // PING answers as a message would: ["pong", argument or ""].
    expect(h.call("c2", ["PING"])).toEqual(["pong", ""]);
    expect(h.call("c2", ["PING", "hi"])).toEqual(["pong", "hi"]);
    expect(h.call("c2", ["PSUBSCRIBE", "p*"])).toEqual({ push: ["psubscribe", "p*", 2] });
    expect(h.call("c2", ["SSUBSCRIBE", A])).toEqual({ push: ["ssubscribe", A, 1] });
    expect(h.call("c2", ["UNSUBSCRIBE"])).toEqual({ push: ["unsubscribe", "ch", 1] });
    expect(h.call("c2", ["PUNSUBSCRIBE"])).toEqual({ push: ["punsubscribe", "p*", 0] });
    // Still subscribed to a shard channel.
    expect(h.call("c2", ["GET", "k"])).toEqual(subscribedOnly("get"));
    expect(h.call("c2", ["SUNSUBSCRIBE"])).toEqual({ push: ["sunsubscribe", A, 0] });
    expect(h.call("c2", ["GET", "k"])).toEqual(null);

    expect(mapKeys(h.call("c3", ["HELLO", "3"]))).toContain("proto");
    expect(h.call("c3", ["SUBSCRIBE", "ch"])).toEqual({ push: ["subscribe", "ch", 1] });
    expect(h.call("c3", ["GET", "k"])).toEqual(null);
    expect(h.call("c3", ["PING"])).toEqual(PONG);
    expect(h.call("c3", ["MULTI"])).toEqual(OK);
    expect(h.call("c3", ["PING"])).toEqual(QUEUED);
    expect(h.call("c3", ["EXEC"])).toEqual([PONG]);
  });

  it("tells the host which clients are subscribed or blocked (what `timeout` spares), from what the node did, not what was asked", () => {
    const h = new Harness();
    expect([h.server.subscribedClient("s"), h.server.blockedClient("s")]).toEqual([false, false]);
    h.call("s", ["SUBSCRIBE", "ch"]);
    h.call("p", ["PSUBSCRIBE", "n*"]);
    h.call("x", ["SSUBSCRIBE", A]);
    expect(["s", "p", "x"].map((c) => h.server.subscribedClient(c))).toEqual([true, true, true]);
    h.call("s", ["UNSUBSCRIBE"]);
    h.call("p", ["RESET"]);
    expect(["s", "p", "x"].map((c) => h.server.subscribedClient(c))).toEqual([false, false, true]);
    // A SUBSCRIBE the node queues inside MULTI subscribes nobody until EXEC.
    h.call("m", ["MULTI"]);
    h.call("m", ["SUBSCRIBE", "ch"]);
    expect(h.server.subscribedClient("m")).toBe(false);
    // BLPOP on an empty list blocks; answered at once it does not; the push that serves it unblocks.
    h.call("b", ["RPUSH", A, "v"]);
    expect(h.call("b", ["BLPOP", A, "0"])).toEqual([A, "v"]);
    expect(h.server.blockedClient("b")).toBe(false);
    h.send("b", ["BLPOP", A, "0"]);
    expect(h.server.blockedClient("b")).toBe(true);
    h.call("other", ["RPUSH", A, "w"]);
    expect(h.server.blockedClient("b")).toBe(false);
    expect(h.server.blockedClient("nobody")).toBe(false);
  });

  it("routing comes before the subscribed-mode gate: a key elsewhere is redirected, not refused", () => {
    const h = new Harness();
    h.host.verdict = (slot) => (slot === keySlot(ELSEWHERE) ? Resp.error(`MOVED ${slot} n2:6379`) : null);
    h.call("c", ["SUBSCRIBE", "ch"]);
    expect(h.call("c", ["GET", ELSEWHERE])).toEqual({ err: `MOVED ${keySlot(ELSEWHERE)} n2:6379` });
    expect(h.call("c", ["GET", A])).toEqual(subscribedOnly("get"));
  });

  it("ASKING lasts for the next command only, keyless or not, or for a whole transaction (resetClient)", () => {
    const h = new Harness();
    expect(h.call("c", ["ASKING"])).toEqual(OK);
    expect(h.call("c", ["PING"])).toEqual(PONG); // uses it up
    h.call("c", ["GET", A]);
    h.call("c", ["ASKING"]);
    h.call("c", ["MULTI"]);
    h.call("c", ["GET", A]);
    h.call("c", ["GET", B]);
    h.call("c", ["EXEC"]);
    h.call("c", ["GET", A]);
    expect(h.host.routed.map((r) => r.asking)).toEqual([false, true, true, true, false]);
  });

  it("routes keyed commands with their slot, keys and write flag; keyless ones are not routed; keys in two slots are CROSSSLOT", () => {
    const h = new Harness();
    expect(h.call("c", ["MSET", A, "1", B, "2"])).toEqual(OK);
    expect(h.call("c", ["MGET", A, C])).toEqual(["1", null]);
    expect(h.call("c", ["PING"])).toEqual(PONG);
    expect(h.call("c", ["GET", A], true)).toEqual("1");
    expect(h.host.routed).toEqual([
      { slot: keySlot(A), keys: [A, B], write: true, asking: false },
      { slot: keySlot(A), keys: [A, C], write: false, asking: false },
      { slot: keySlot(A), keys: [A], write: false, asking: true },
    ]);
    expect(h.call("c", ["MGET", A, ELSEWHERE])).toEqual(CROSSSLOT);
    expect(h.host.routed).toHaveLength(3);
  });

  it("QUIT answers OK, then closes the connection and forgets it", () => {
    const h = new Harness();
    expect(h.call("c", ["CLIENT", "ID"])).toBe(1);
    const id = h.send("c", ["QUIT"]);
    expect(h.host.effects.slice(-2)).toEqual([
      { kind: "reply", client: "c", reqId: id, value: Resp.ok },
      { kind: "close", client: "c" },
    ]);
    expect(h.server.clientCount).toBe(0);
    // The same client id connecting again is a new connection.
    expect(h.call("c", ["CLIENT", "ID"])).toBe(2);
  });

  it("RESET drops MULTI, WATCH, subscriptions, the name, RESP3, READONLY and authentication, and answers RESET", () => {
    const h = new Harness();
    h.host.settings.values.set("requirepass", "pw");
    expect(mapKeys(h.call("c", ["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "me"]))).toHaveLength(7);
    expect(h.call("c", ["READONLY"])).toEqual(OK);
    expect(h.call("c", ["SUBSCRIBE", "ch"])).toEqual({ push: ["subscribe", "ch", 1] });
    expect(h.call("c", ["WATCH", A])).toEqual(OK);
    expect(h.call("c", ["MULTI"])).toEqual(OK);
    expect(h.call("c", ["SET", A, "1"])).toEqual(QUEUED);
    const before = h.call("c", ["CLIENT", "INFO"]);
    expect(before).toEqual(QUEUED);
    expect(h.call("c", ["RESET"])).toEqual({ simple: "RESET" });
    // No unsubscribe notices: RESET unsubscribes silently.
    expect(h.pushes("c")).toEqual([]);
    expect(h.call("c", ["CLIENT", "INFO"])).toEqual(NOAUTH);
    expect(h.call("c", ["AUTH", "pw"])).toEqual(OK);
    const line = h.call("c", ["CLIENT", "INFO"]) as string;
    expect(line).toContain(" name= ");
    expect(line).toContain(" flags=N ");
    expect(line).toContain(" sub=0 psub=0 ssub=0 multi=-1 ");
    expect(line).toMatch(/ resp=2\n$/);
    expect(h.call("c", ["EXEC"])).toEqual({ err: "ERR EXEC without MULTI" });
    expect(h.call("p", ["AUTH", "pw"])).toEqual(OK);
    expect(h.call("p", ["PUBLISH", "ch", "m"])).toBe(0);
    // The WATCH is gone too: a change to A does not fail the next transaction.
    expect(h.call("p", ["SET", A, "2"])).toEqual(OK);
    h.call("c", ["MULTI"]);
    h.call("c", ["GET", A]);
    expect(h.call("c", ["EXEC"])).toEqual(["2"]);
  });
});

// ---------------------------------------------------------------------------------------------
// HELLO and AUTH
// ---------------------------------------------------------------------------------------------

describe("HELLO", () => {
  const reply = (proto: number, id: number, role = "master"): Plain => ({
    map: [
      ["server", "redis"],
      ["version", "7.0.15"],
      ["proto", proto],
      ["id", id],
      ["mode", "cluster"],
      ["role", role],
      ["modules", []],
    ],
  });

  it("answers the connection's context; switches protocol; refuses other versions and bad options", () => {
    const h = new Harness();
    const table: [string[], Plain][] = [
      [["HELLO"], reply(2, 1)],
      [["HELLO", "3"], reply(3, 1)],
      [["HELLO"], reply(3, 1)],
      [["HELLO", "2"], reply(2, 1)],
      [["HELLO", "4"], { err: "NOPROTO unsupported protocol version" }],
      [["HELLO", "1"], { err: "NOPROTO unsupported protocol version" }],
      [["HELLO", "0"], { err: "NOPROTO unsupported protocol version" }],
      [["HELLO", "-3"], { err: "NOPROTO unsupported protocol version" }],
      [["HELLO", "99999999999999999"], { err: "NOPROTO unsupported protocol version" }],
      [["HELLO", "x"], { err: "ERR Protocol version is not an integer or out of range" }],
      [["HELLO", "03"], { err: "ERR Protocol version is not an integer or out of range" }],
      [["HELLO", "3.0"], { err: "ERR Protocol version is not an integer or out of range" }],
      [["HELLO", "99999999999999999999"], { err: "ERR Protocol version is not an integer or out of range" }],
      [["HELLO", "3", "SETNAME"], { err: "ERR Syntax error in HELLO option 'SETNAME'" }],
      [["HELLO", "3", "AUTH", "default"], { err: "ERR Syntax error in HELLO option 'AUTH'" }],
      [["HELLO", "3", "bogus"], { err: "ERR Syntax error in HELLO option 'bogus'" }],
      [["HELLO", "3", "SETNAME", "a b"], BAD_NAME],
      // Refused options leave the protocol as it was.
      [["HELLO"], reply(2, 1)],
      [["HELLO", "3", "setname", "conn"], reply(3, 1)],
      [["CLIENT", "GETNAME"], "conn"],
      // AUTH with no password configured: the default user accepts any password.
      [["HELLO", "2", "AUTH", "default", "anything"], reply(2, 1)],
      [["HELLO", "2", "AUTH", "alice", "anything"], WRONGPASS],
    ];
    for (const [args, expected] of table) expect(h.call("c", args), args.join(" ")).toEqual(expected);
    expect(h.call("d", ["HELLO"])).toEqual(reply(2, 2));
    h.host.replica = true;
    expect(h.call("d", ["HELLO", "3"])).toEqual(reply(3, 2, "replica"));
  });

  it("with a password: AUTH inside HELLO authenticates (or fails) before anything else is changed", () => {
    const h = new Harness();
    h.host.settings.values.set("requirepass", "pw");
    const table: [string[], Plain][] = [
      [["HELLO", "3"], HELLO_NOAUTH],
      [["HELLO", "3", "AUTH", "default", "bad"], WRONGPASS],
      [["HELLO", "3", "AUTH", "alice", "pw"], WRONGPASS],
      // The name is checked in option order, before authentication is required...
      [["HELLO", "3", "SETNAME", "a b"], BAD_NAME],
      // ...but (unlike Redis 7.0, which sets it first) a valid name is set only once authenticated.
      [["HELLO", "3", "SETNAME", "early"], HELLO_NOAUTH],
      [["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "me"], reply(3, 1)],
      [["CLIENT", "GETNAME"], "me"],
      [["GET", "k"], null],
    ];
    for (const [args, expected] of table) expect(h.call("c", args), args.join(" ")).toEqual(expected);
    // AUTH succeeds, then a bad name is refused: the connection stays authenticated, in RESP2.
    expect(h.call("d", ["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "bad name"])).toEqual(BAD_NAME);
    expect(h.call("d", ["HELLO"])).toEqual(reply(2, 2));
  });
});

describe("AUTH", () => {
  it("without a password configured: the one-argument form is an error; the default user accepts any password", () => {
    const h = new Harness();
    const table: [string[], Plain][] = [
      [["AUTH", "x"], { err: "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?" }],
      [["AUTH", "default", "x"], OK],
      [["AUTH", "alice", "x"], WRONGPASS],
      [["AUTH", "a", "b", "c"], SYNTAX],
      [["AUTH"], arity("auth")],
    ];
    for (const [args, expected] of table) expect(h.call("c", args), args.join(" ")).toEqual(expected);
  });

  it("with a password: one or two arguments, only the default user", () => {
    const table: [string[], Plain][] = [
      [["AUTH", "pw"], OK],
      [["AUTH", "bad"], WRONGPASS],
      [["AUTH", "default", "pw"], OK],
      [["AUTH", "DEFAULT", "pw"], WRONGPASS],
      [["AUTH", "default", "bad"], WRONGPASS],
      [["AUTH", "alice", "pw"], WRONGPASS],
      [["AUTH", "", ""], WRONGPASS],
    ];
    for (const [args, expected] of table) {
      const h = new Harness();
      h.host.settings.values.set("requirepass", "pw");
      expect(h.call("c", args), args.join(" ")).toEqual(expected);
      expect(h.call("c", ["PING"]), `PING after ${args.join(" ")}`).toEqual(expected === OK ? PONG : NOAUTH);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// CLIENT
// ---------------------------------------------------------------------------------------------

describe("CLIENT", () => {
  it("SETNAME takes printable ASCII without spaces; an empty name clears it; GETNAME answers null without one", () => {
    const h = new Harness();
    const table: [string[], Plain][] = [
      [["CLIENT", "GETNAME"], null],
      [["CLIENT", "SETNAME", "conn-1"], OK],
      [["CLIENT", "GETNAME"], "conn-1"],
      [["CLIENT", "SETNAME", "!~{}"], OK],
      [["CLIENT", "GETNAME"], "!~{}"],
      [["CLIENT", "SETNAME", "a b"], BAD_NAME],
      [["CLIENT", "SETNAME", "a\nb"], BAD_NAME],
      [["CLIENT", "SETNAME", "tab\t"], BAD_NAME],
      [["CLIENT", "SETNAME", "\x7f"], BAD_NAME],
      [["CLIENT", "SETNAME", "\xc3\xa9"], BAD_NAME], // "é" as UTF-8 bytes
      [["CLIENT", "GETNAME"], "!~{}"],
      [["client", "setname", ""], OK],
      [["CLIENT", "GETNAME"], null],
    ];
    for (const [args, expected] of table) expect(h.call("c", args), JSON.stringify(args)).toEqual(expected);
  });

  it("ID grows with each new connection and stays with the connection", () => {
    const h = new Harness();
    expect(["a", "b", "a", "c", "b"].map((c) => h.call(c, ["CLIENT", "ID"]))).toEqual([1, 2, 1, 3, 2]);
    h.server.closed("a");
    expect(h.call("a", ["CLIENT", "ID"])).toBe(4);
  });

  it("INFO is this connection's CLIENT LIST line, Redis 7.0's fields in order", () => {
    const h = new Harness();
    h.now = 10_000;
    h.call("c", ["PING"]);
    h.now = 13_500;
    h.call("c", ["CLIENT", "SETNAME", "me"]);
    h.now = 15_999;
    expect(h.call("c", ["CLIENT", "INFO"])).toBe(
      "id=1 addr=c laddr=? fd=-1 name=me age=5 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 " +
        "multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|info user=default redir=-1 resp=2\n",
    );
  });

  it("LIST shows each connection's flags (P x b d r, in that order), counts, last command and protocol", () => {
    const h = new Harness();
    h.call("plain", ["GET", A]);
    h.call("multi", ["MULTI"]);
    h.call("multi", ["SET", A, "1"]);
    h.call("multi", ["GET", A]);
    h.send("blocked", ["BLPOP", "list", "0"]);
    h.call("ro", ["READONLY"]);
    h.call("dirty", ["WATCH", B]);
    h.call("plain", ["SET", B, "x"]);
    h.call("subs", ["SUBSCRIBE", "a", "b"]);
    h.call("subs", ["PSUBSCRIBE", "p*"]);
    h.call("subs", ["SSUBSCRIBE", C]);
    h.call("both", ["HELLO", "3"]);
    h.call("both", ["SUBSCRIBE", "a"]);
    h.call("both", ["MULTI"]);
    h.call("both", ["PING"]);
    h.call("both", ["READONLY"]);
    const lines = (h.call("plain", ["CLIENT", "LIST"]) as string).split("\n");
    expect(lines.pop()).toBe("");
    const field = (line: string, name: string): string => (line.split(" ").find((f) => f.startsWith(`${name}=`)) as string).slice(name.length + 1);
    const summary = lines.map((l) => ["id", "addr", "flags", "sub", "psub", "ssub", "multi", "cmd", "resp"].map((f) => field(l, f)).join(" "));
    expect(summary).toEqual([
      "1 plain N 0 0 0 -1 client|list 2",
      "2 multi x 0 0 0 2 get 2",
      "3 blocked b 0 0 0 -1 blpop 2",
      "4 ro r 0 0 0 -1 readonly 2",
      "5 dirty d 0 0 0 -1 watch 2",
      "6 subs P 2 1 1 -1 ssubscribe 2",
      "7 both Px 1 0 0 2 readonly 3",
    ]);
  });

  it("LIST TYPE filters by type; LIST ID lists the ids given, in argument order; other forms are errors", () => {
    const h = new Harness();
    for (const c of ["a", "b", "c"]) h.call(c, ["PING"]);
    h.call("b", ["SUBSCRIBE", "ch"]);
    const ids = (v: Plain | undefined): string[] => (v as string).split("\n").filter((l) => l !== "").map((l) => (l.split(" ")[0] as string).slice(3));
    const table: [string[], Plain | string[]][] = [
      [["CLIENT", "LIST"], ["1", "2", "3"]],
      [["CLIENT", "LIST", "TYPE", "normal"], ["1", "3"]],
      [["CLIENT", "LIST", "type", "PUBSUB"], ["2"]],
      [["CLIENT", "LIST", "TYPE", "master"], []],
      [["CLIENT", "LIST", "TYPE", "replica"], []],
      [["CLIENT", "LIST", "TYPE", "slave"], []],
      [["CLIENT", "LIST", "ID", "3", "1", "3", "99", "0", "-5"], ["3", "1", "3"]],
      [["CLIENT", "LIST", "id", "2"], ["2"]],
      [["CLIENT", "LIST", "TYPE", "bogus"], { err: "ERR Unknown client type 'bogus'" }],
      [["CLIENT", "LIST", "ID", "1", "x"], { err: "ERR Invalid client ID" }],
      [["CLIENT", "LIST", "ID", "01"], { err: "ERR Invalid client ID" }],
      [["CLIENT", "LIST", "ID"], SYNTAX],
      [["CLIENT", "LIST", "TYPE"], SYNTAX],
      [["CLIENT", "LIST", "TYPE", "normal", "ID", "1"], SYNTAX],
      [["CLIENT", "LIST", "foo"], SYNTAX],
    ];
    for (const [args, expected] of table) {
      const got = h.call("a", args);
      expect(typeof got === "string" ? ids(got) : got, args.join(" ")).toEqual(expected);
    }
  });

  it("HELP is Redis 7.0's text", () => {
    const h = new Harness();
    const help = h.call("c", ["CLIENT", "HELP"]) as { simple: string }[];
    expect(help).toHaveLength(48);
    expect(help.slice(0, 3)).toEqual([{ simple: "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" }, { simple: "CACHING (YES|NO)" }, { simple: "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes." }]);
    expect(help.slice(-4)).toEqual([{ simple: "NO-EVICT (ON|OFF)" }, { simple: "    Protect current client connection from eviction." }, { simple: "HELP" }, { simple: "    Print this help." }]);
  });
});

// ---------------------------------------------------------------------------------------------
// CONFIG
// ---------------------------------------------------------------------------------------------

describe("CONFIG", () => {
  it("GET matches glob patterns case-insensitively, each setting once; a plain name is answered as given", () => {
    const h = new Harness();
    const table: [string[], Plain][] = [
      [["CONFIG", "GET", "*"], { map: [["maxmemory", "0"], ["appendonly", "no"], ["requirepass", ""], ["port", "6379"]] }],
      [["CONFIG", "GET", "port"], { map: [["port", "6379"]] }],
      [["CONFIG", "GET", "MAX*"], { map: [["maxmemory", "0"]] }],
      [["CONFIG", "GET", "MaxMemory"], { map: [["MaxMemory", "0"]] }],
      [["CONFIG", "GET", "maxmemory", "MAXMEMORY"], { map: [["maxmemory", "0"]] }],
      [["CONFIG", "GET", "MAXMEMORY", "max*"], { map: [["MAXMEMORY", "0"]] }],
      [["CONFIG", "GET", "*o*", "port", "p?rt"], { map: [["maxmemory", "0"], ["appendonly", "no"], ["port", "6379"]] }],
      [["CONFIG", "GET", "[ap]*"], { map: [["appendonly", "no"], ["port", "6379"]] }],
      [["CONFIG", "GET", "nosuch", "x*"], { map: [] }],
    ];
    for (const [args, expected] of table) expect(h.call("c", args), args.join(" ")).toEqual(expected);
  });

  it("SET sets one or several settings, all or none", () => {
    const h = new Harness();
    const get = (): Plain | undefined => h.call("c", ["CONFIG", "GET", "maxmemory", "appendonly"]);
    const table: [string[], Plain, Plain][] = [
      [["CONFIG", "SET", "maxmemory", "100"], OK, { map: [["maxmemory", "100"], ["appendonly", "no"]] }],
      [["CONFIG", "SET", "MAXMEMORY", "200", "appendonly", "yes"], OK, { map: [["maxmemory", "200"], ["appendonly", "yes"]] }],
      // A refused value in the second pair restores the first (restoreBackupConfig); the error
      // names the setting by its own name.
      [
        ["CONFIG", "SET", "maxmemory", "300", "AppendOnly", "maybe"],
        { err: "ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'" },
        { map: [["maxmemory", "200"], ["appendonly", "yes"]] },
      ],
      // Unknown names, repeated names and immutable settings refuse everything before anything is set.
      [["CONFIG", "SET", "maxmemory", "300", "nosuch", "1"], { err: "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'" }, { map: [["maxmemory", "200"], ["appendonly", "yes"]] }],
      [
        ["CONFIG", "SET", "maxmemory", "300", "MaxMemory", "400"],
        { err: "ERR CONFIG SET failed (possibly related to argument 'MaxMemory') - duplicate parameter" },
        { map: [["maxmemory", "200"], ["appendonly", "yes"]] },
      ],
      // The first problem in argument order wins.
      [
        ["CONFIG", "SET", "maxmemory", "1", "maxmemory", "2", "nosuch", "3"],
        { err: "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter" },
        { map: [["maxmemory", "200"], ["appendonly", "yes"]] },
      ],
      [
        ["CONFIG", "SET", "appendonly", "no", "port", "7000"],
        { err: "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config" },
        { map: [["maxmemory", "200"], ["appendonly", "yes"]] },
      ],
      // An odd number of arguments past the arity check is a syntax error.
      [["CONFIG", "SET", "maxmemory", "1", "appendonly"], SYNTAX, { map: [["maxmemory", "200"], ["appendonly", "yes"]] }],
    ];
    for (const [args, reply, after] of table) {
      expect(h.call("c", args), args.join(" ")).toEqual(reply);
      expect(get(), `after ${args.join(" ")}`).toEqual(after);
    }
  });

  it("SET requirepass takes effect for new connections; RESETSTAT zeroes the stats; HELP is Redis 7.0's text", () => {
    const h = new Harness();
    h.call("c", ["GET", A]);
    expect(h.call("c", ["CONFIG", "SET", "requirepass", "pw"])).toEqual(OK);
    expect(h.call("new", ["GET", A])).toEqual(NOAUTH);
    expect(h.server.commandsProcessed).toBeGreaterThan(0);
    expect(h.call("c", ["CONFIG", "RESETSTAT"])).toEqual(OK);
    expect([h.server.commandsProcessed, h.server.connectionsReceived, h.server.keyspaceHits, h.server.keyspaceMisses]).toEqual([0, 0, 0, 0]);
    expect(h.call("c", ["CONFIG", "HELP"])).toEqual(
      [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Print this help.",
      ].map((simple) => ({ simple })),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// MULTI / EXEC / DISCARD / WATCH
// ---------------------------------------------------------------------------------------------

describe("transactions", () => {
  it("queue commands and answer every reply at EXEC, errors at run time included", () => {
    const h = new Harness();
    const script: [string[], Plain][] = [
      [["MULTI"], OK],
      [["SET", A, "1"], QUEUED],
      [["INCR", A], QUEUED],
      [["LPUSH", A, "x"], QUEUED],
      [["GET", A], QUEUED],
      [["PING"], QUEUED],
      [["ECHO", "e"], QUEUED],
      [["CLIENT", "GETNAME"], QUEUED],
      [["UNWATCH"], QUEUED],
      [["EXEC"], [OK, 2, { err: "WRONGTYPE Operation against a key holding the wrong kind of value" }, "2", PONG, "e", null, OK]],
      [["EXEC"], { err: "ERR EXEC without MULTI" }],
      [["DISCARD"], { err: "ERR DISCARD without MULTI" }],
      [["MULTI"], OK],
      [["INCR", A], QUEUED],
      [["DISCARD"], OK],
      [["GET", A], "2"],
      [["MULTI"], OK],
      [["EXEC"], []],
    ];
    for (const [args, expected] of script) expect(h.call("c", args), args.join(" ")).toEqual(expected);
  });

  it("nested MULTI and WATCH inside MULTI are errors that do not abort the transaction", () => {
    const h = new Harness();
    const script: [string[], Plain][] = [
      [["MULTI"], OK],
      [["MULTI"], { err: "ERR MULTI calls can not be nested" }],
      [["WATCH", A], { err: "ERR WATCH inside MULTI is not allowed" }],
      [["SET", A, "1"], QUEUED],
      [["EXEC"], [OK]],
    ];
    for (const [args, expected] of script) expect(h.call("c", args), args.join(" ")).toEqual(expected);
  });

  it("a command refused while queueing (unknown, arity, CROSSSLOT, redirect) aborts EXEC with EXECABORT", () => {
    const refusals: [string[], Plain][] = [
      [["NOSUCH", "x"], { err: "ERR unknown command 'NOSUCH', with args beginning with: 'x' " }],
      [["CLIENT", "NOPE"], { err: "ERR unknown subcommand 'NOPE'. Try CLIENT HELP." }],
      [["GET"], arity("get")],
      [["MGET", A, ELSEWHERE], CROSSSLOT],
      [["GET", ELSEWHERE], { err: `MOVED ${keySlot(ELSEWHERE)} n2:6379` }],
    ];
    for (const [args, refusal] of refusals) {
      const h = new Harness();
      h.host.verdict = (slot) => (slot === keySlot(ELSEWHERE) ? Resp.error(`MOVED ${slot} n2:6379`) : null);
      expect(h.call("c", ["MULTI"])).toEqual(OK);
      expect(h.call("c", ["SET", A, "1"])).toEqual(QUEUED);
      expect(h.call("c", args), args.join(" ")).toEqual(refusal);
      // Later commands are still answered QUEUED, but nothing runs.
      expect(h.call("c", ["SET", B, "1"])).toEqual(QUEUED);
      expect(h.call("c", ["EXEC"]), args.join(" ")).toEqual(EXECABORT);
      expect(h.call("c", ["MGET", A, B])).toEqual([null, null]);
      expect(h.call("c", ["EXEC"])).toEqual({ err: "ERR EXEC without MULTI" });
    }
  });

  it("EXEC routes the queued keys as one request: keys in two slots are CROSSSLOT, a moved slot redirects; both discard", () => {
    const h = new Harness();
    // Each command alone is routed here; together they span two slots.
    h.call("c", ["MULTI"]);
    expect(h.call("c", ["SET", A, "1"])).toEqual(QUEUED);
    expect(h.call("c", ["SET", ELSEWHERE, "1"])).toEqual(QUEUED);
    expect(h.call("c", ["EXEC"])).toEqual(CROSSSLOT);
    expect(h.call("c", ["EXEC"])).toEqual({ err: "ERR EXEC without MULTI" });
    expect(h.call("c", ["GET", A])).toEqual(null);
    // The slot moves between queueing and EXEC.
    h.call("c", ["MULTI"]);
    h.call("c", ["SET", A, "1"]);
    h.call("c", ["GET", B]);
    h.host.routed.length = 0;
    h.host.verdict = (slot) => Resp.error(`MOVED ${slot} n2:6379`);
    expect(h.call("c", ["EXEC"])).toEqual({ err: `MOVED ${keySlot(A)} n2:6379` });
    expect(h.host.routed).toEqual([{ slot: keySlot(A), keys: [A, B], write: true, asking: false }]);
    expect(h.call("c", ["EXEC"])).toEqual({ err: "ERR EXEC without MULTI" });
  });

  it("WATCH: another connection's write, FLUSHALL or a replicated change fails EXEC with a null array; UNWATCH and EXEC forget the keys", () => {
    const touches: [string, (h: Harness) => void, boolean][] = [
      ["SET by another connection", (h) => h.call("o", ["SET", A, "2"]), true],
      ["a no-op write (DEL of a missing key)", (h) => h.call("o", ["DEL", C]), false],
      ["a write to another key", (h) => h.call("o", ["SET", B, "2"]), false],
      ["FLUSHALL (the key existed)", (h) => h.call("o", ["FLUSHALL"]), true],
      ["the watcher's own write before MULTI", (h) => h.call("w", ["SET", A, "3"]), true],
      ["a change from outside a command (replication)", (h) => h.server.touched([A]), true],
    ];
    for (const [what, touch, fails] of touches) {
      const h = new Harness();
      h.call("w", ["SET", A, "1"]);
      expect(h.call("w", ["WATCH", A, C])).toEqual(OK);
      touch(h);
      h.call("w", ["MULTI"]);
      h.call("w", ["SET", A, "9"]);
      expect(h.call("w", ["EXEC"]), what).toEqual(fails ? NULL_ARRAY : [OK]);
      // The WATCH ended with EXEC: the next transaction runs whatever happens.
      h.call("o", ["SET", A, "5"]);
      h.call("w", ["MULTI"]);
      h.call("w", ["GET", A]);
      expect(h.call("w", ["EXEC"]), `${what}, then again`).toEqual(["5"]);
    }
    const h = new Harness();
    h.call("w", ["WATCH", A]);
    h.call("o", ["SET", A, "1"]);
    expect(h.call("w", ["UNWATCH"])).toEqual(OK);
    h.call("w", ["MULTI"]);
    h.call("w", ["GET", A]);
    expect(h.call("w", ["EXEC"])).toEqual(["1"]);
    // FLUSHALL touches the keys that existed only.
    h.call("w", ["WATCH", C]);
    h.call("o", ["FLUSHALL"]);
    h.call("w", ["MULTI"]);
    h.call("w", ["GET", A]);
    expect(h.call("w", ["EXEC"])).toEqual([null]);
    // DISCARD ends the WATCH too.
    h.call("w", ["WATCH", A]);
    h.call("o", ["SET", A, "2"]);
    h.call("w", ["MULTI"]);
    expect(h.call("w", ["DISCARD"])).toEqual(OK);
    h.call("w", ["MULTI"]);
    h.call("w", ["GET", A]);
    expect(h.call("w", ["EXEC"])).toEqual(["2"]);
  });

  it("WATCH and expiry (multi.c isWatchedKeyExpired / watchedKey.expired)", () => {
    // A key live at WATCH that expires before EXEC fails it, whether or not anyone read it since.
    for (const readByOther of [false, true]) {
      const h = new Harness();
      h.call("w", ["SET", A, "v", "PX", "100"]);
      h.now += 50;
      h.call("w", ["WATCH", A]);
      h.now += 100;
      if (readByOther) expect(h.call("o", ["GET", A])).toEqual(null);
      h.call("w", ["MULTI"]);
      h.call("w", ["SET", A, "new"]);
      expect(h.call("w", ["EXEC"]), `read by another: ${readByOther}`).toEqual(NULL_ARRAY);
    }
    // A key already expired at WATCH is a missing key: removing it changes nothing...
    {
      const h = new Harness();
      h.call("w", ["SET", A, "v", "PX", "100"]);
      h.now += 200;
      h.call("w", ["WATCH", A]);
      expect(h.call("o", ["GET", A])).toEqual(null);
      h.call("w", ["MULTI"]);
      h.call("w", ["SET", A, "new"]);
      expect(h.call("w", ["EXEC"])).toEqual([OK]);
    }
    // ...but writing it does.
    {
      const h = new Harness();
      h.call("w", ["SET", A, "v", "PX", "100"]);
      h.now += 200;
      h.call("w", ["WATCH", A]);
      h.call("o", ["SET", A, "other"]);
      h.call("w", ["MULTI"]);
      h.call("w", ["GET", A]);
      expect(h.call("w", ["EXEC"])).toEqual(NULL_ARRAY);
    }
    // A TTL far in the future does not matter.
    {
      const h = new Harness();
      h.call("w", ["SET", A, "v", "EX", "100"]);
      h.call("w", ["WATCH", A]);
      h.now += 1000;
      h.call("w", ["MULTI"]);
      h.call("w", ["GET", A]);
      expect(h.call("w", ["EXEC"])).toEqual(["v"]);
    }
  });

  it("blocking commands do not block inside a transaction; WAIT answers at once", () => {
    const h = new Harness();
    h.call("c", ["MULTI"]);
    h.call("c", ["BLPOP", A, "0"]);
    h.call("c", ["BRPOP", A, B, "0"]);
    h.call("c", ["WAIT", "5", "0"]);
    h.call("c", ["RPUSH", A, "x"]);
    h.call("c", ["BLPOP", A, "0"]);
    expect(h.call("c", ["EXEC"])).toEqual([NULL_ARRAY, NULL_ARRAY, 0, 1, [A, "x"]]);
    expect(h.server.blockedCount).toBe(0);
  });

  it("replicates a transaction with more than one write as MULTI … EXEC in one stream message, a single write bare", () => {
    const h = new Harness();
    h.attachReplica();
    h.call("c", ["MULTI"]);
    h.call("c", ["SET", A, "1"]);
    h.call("c", ["GET", A]);
    h.call("c", ["RPUSH", B, "x", "y"]);
    h.call("c", ["INCR", C]);
    h.call("c", ["EXEC"]);
    h.call("c", ["MULTI"]);
    h.call("c", ["GET", A]);
    h.call("c", ["DEL", A]);
    h.call("c", ["DEL", A]);
    h.call("c", ["EXEC"]);
    h.call("c", ["MULTI"]);
    h.call("c", ["GET", B]);
    h.call("c", ["EXEC"]);
    h.call("c", ["SET", A, "2"]);
    expect(h.streamed()).toEqual([
      [["MULTI"], ["SET", A, "1"], ["RPUSH", B, "x", "y"], ["INCR", C], ["EXEC"]],
      [["DEL", A]],
      [["SET", A, "2"]],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Blocked clients
// ---------------------------------------------------------------------------------------------

describe("blocking pops", () => {
  it("serve blocked clients first come, first served, one element each", () => {
    const h = new Harness();
    const a = h.send("a", ["BLPOP", A, "0"]);
    const b = h.send("b", ["BRPOP", A, "0"]);
    const c = h.send("c", ["BLPOP", B, A, "0"]);
    expect([h.replyTo("a", a), h.replyTo("b", b), h.replyTo("c", c)]).toEqual([undefined, undefined, undefined]);
    expect(h.server.blockedCount).toBe(3);
    expect(h.call("p", ["RPUSH", A, "1", "2"])).toBe(2);
    expect([h.replyTo("a", a), h.replyTo("b", b), h.replyTo("c", c)]).toEqual([[A, "1"], [A, "2"], undefined]);
    expect(h.call("p", ["LPUSH", A, "3"])).toBe(1);
    expect(h.replyTo("c", c)).toEqual([A, "3"]);
    expect(h.server.blockedCount).toBe(0);
    expect(h.call("p", ["EXISTS", A])).toBe(0);
  });

  it("serve from the first non-empty key at once; when blocked, from the key that received elements first", () => {
    const h = new Harness();
    h.call("p", ["RPUSH", C, "c"]);
    expect(h.call("a", ["BLPOP", A, B, C, "0"])).toEqual([C, "c"]);
    const a = h.send("a", ["BLPOP", A, B, "0"]);
    // B fills before A inside one transaction: the client is served from B (signalKeyAsReady order).
    h.call("p", ["MULTI"]);
    h.call("p", ["RPUSH", B, "b"]);
    h.call("p", ["RPUSH", A, "a"]);
    expect(h.call("p", ["EXEC"])).toEqual([1, 1]);
    expect(h.replyTo("a", a)).toEqual([B, "b"]);
    expect(h.call("p", ["LRANGE", A, "0", "-1"])).toEqual(["a"]);
  });

  it("hold later requests of the blocked connection and answer them after it, in order", () => {
    const h = new Harness();
    const pop = h.send("a", ["BLPOP", A, "0"]);
    const ping = h.send("a", ["PING"]);
    const echo = h.send("a", ["ECHO", "e"]);
    const pop2 = h.send("a", ["BLPOP", A, "0"]);
    const after = h.send("a", ["PING", "after"]);
    expect(h.replyOrder("a")).toEqual([]);
    h.call("p", ["RPUSH", A, "1"]);
    expect(h.replyOrder("a")).toEqual([pop, ping, echo]);
    expect([h.replyTo("a", ping), h.replyTo("a", echo)]).toEqual([PONG, "e"]);
    h.call("p", ["RPUSH", A, "2"]);
    expect(h.replyOrder("a")).toEqual([pop, ping, echo, pop2, after]);
    expect(h.replyTo("a", after)).toEqual("after");
  });

  it("time out through tick: a deadline passes once the clock is beyond it; nextDeadline is the first ms that is", () => {
    const h = new Harness();
    h.now = 1000;
    const long = h.send("a", ["BLPOP", A, "2"]);
    const short = h.send("b", ["BRPOP", A, "0.5"]);
    const forever = h.send("c", ["BLPOP", A, "0"]);
    expect(h.server.nextDeadline()).toBe(1501);
    h.server.tick(1500);
    expect(h.replyTo("b", short)).toBeUndefined();
    h.server.tick(1501);
    expect(h.replyTo("b", short)).toEqual(NULL_ARRAY);
    expect(h.server.nextDeadline()).toBe(3001);
    h.server.tick(3001);
    expect(h.replyTo("a", long)).toEqual(NULL_ARRAY);
    expect(h.server.nextDeadline()).toBeNull();
    expect(h.replyTo("c", forever)).toBeUndefined();
    expect(h.server.blockedCount).toBe(1);
  });

  it("a blocked client whose slot moved is answered with the redirect on tick; ASK and TRYAGAIN keep it waiting", () => {
    const table: [RespValue, Plain | undefined][] = [
      [Resp.error(`MOVED ${keySlot(A)} n2:6379`), { err: `MOVED ${keySlot(A)} n2:6379` }],
      [Resp.error("CLUSTERDOWN Hash slot not served"), { err: "CLUSTERDOWN Hash slot not served" }],
      [Resp.error(`ASK ${keySlot(A)} n2:6379`), undefined],
      [Resp.error("TRYAGAIN Multiple keys request during rehashing of slot"), undefined],
    ];
    for (const [verdict, expected] of table) {
      const h = new Harness();
      const pop = h.send("a", ["BLPOP", A, B, "0"]);
      const next = h.send("a", ["PING"]);
      h.host.verdict = () => verdict;
      h.server.tick(h.now);
      expect(h.replyTo("a", pop), verdict.type === "error" ? verdict.value : "").toEqual(expected);
      expect(h.replyTo("a", next)).toEqual(expected === undefined ? undefined : PONG);
      expect(h.host.routed.at(-1)).toMatchObject({ slot: keySlot(A), keys: [A, B] });
    }
  });

  it("closing a blocked connection forgets it: the next waiter is served", () => {
    const h = new Harness();
    h.send("a", ["BLPOP", A, "0"]);
    h.send("a", ["PING"]);
    const b = h.send("b", ["BLPOP", A, "5"]);
    h.server.closed("a");
    expect(h.server.blockedCount).toBe(1);
    expect(h.server.clientCount).toBe(1);
    h.call("p", ["RPUSH", A, "x"]);
    expect(h.replyTo("b", b)).toEqual([A, "x"]);
    expect(h.host.effects.filter((e) => e.client === "a")).toEqual([]);
    expect(h.server.nextDeadline()).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// WAIT
// ---------------------------------------------------------------------------------------------

describe("WAIT", () => {
  it("refuses on a replica, and refuses bad arguments with getLongFromObject / getTimeoutFromObject's texts", () => {
    const h = new Harness();
    const table: [string[], Plain][] = [
      [["WAIT", "x", "0"], NOT_INTEGER],
      [["WAIT", "01", "0"], NOT_INTEGER],
      [["WAIT", "1.5", "0"], NOT_INTEGER],
      [["WAIT", "99999999999999999999", "0"], NOT_INTEGER],
      [["WAIT", "1", "x"], { err: "ERR timeout is not an integer or out of range" }],
      [["WAIT", "1", "-x"], { err: "ERR timeout is not an integer or out of range" }],
      [["WAIT", "1", "0.5"], { err: "ERR timeout is not an integer or out of range" }],
      [["WAIT", "1", "-1"], { err: "ERR timeout is negative" }],
      [["WAIT", "1", "-0"], { err: "ERR timeout is not an integer or out of range" }],
      // Nothing to wait for: no replica is needed.
      [["WAIT", "0", "0"], 0],
      [["WAIT", "-1", "100"], 0],
    ];
    for (const [args, expected] of table) expect(h.call("c", args), args.join(" ")).toEqual(expected);
    h.host.replica = true;
    expect(h.call("c", ["WAIT", "0", "0"])).toEqual(WAIT_ON_REPLICA);
    expect(h.call("c", ["WAIT", "x", "0"])).toEqual(WAIT_ON_REPLICA);
  });

  it("answers at once when enough replicas acknowledged the connection's offset", () => {
    const h = new Harness();
    h.attachReplica();
    // The replica has acknowledged nothing yet (PSYNC ? -1).
    expect(h.call("c", ["WAIT", "1", "0"])).toBeUndefined();
    h.ack(0);
    h.server.tick(h.now);
    expect(h.call("c", ["SET", A, "1"])).toEqual(OK);
    h.ack();
    expect(h.call("c", ["WAIT", "1", "0"])).toBe(1);
    expect(h.call("c", ["WAIT", "2", "0"])).toBeUndefined();
  });

  it("blocks until a replica acknowledges, asking for acks; later requests wait behind it", () => {
    const h = new Harness();
    h.attachReplica();
    h.call("c", ["SET", A, "1"]);
    const offset = h.repl.offset;
    const w = h.send("c", ["WAIT", "1", "0"]);
    const next = h.send("c", ["GET", A]);
    expect(h.host.acksRequested).toBe(1);
    expect(h.server.blockedCount).toBe(1);
    h.ack(offset - 1);
    h.server.tick(h.now);
    expect(h.replyTo("c", w)).toBeUndefined();
    h.ack(offset);
    h.server.tick(h.now);
    expect(h.replyTo("c", w)).toBe(1);
    expect(h.replyTo("c", next)).toBe("1");
  });

  it("answers the count of acknowledging replicas at its timeout", () => {
    const h = new Harness();
    h.attachReplica();
    h.call("c", ["SET", A, "1"]);
    h.ack();
    h.call("c", ["SET", A, "2"]);
    const w = h.send("c", ["WAIT", "1", "100"]);
    // d never wrote, but WAIT counts from its last command: the offset of everything before it.
    h.call("d", ["PING"]);
    const w2 = h.send("d", ["WAIT", "2", "50"]);
    expect(h.server.nextDeadline()).toBe(h.now + 51);
    h.server.tick(h.now + 50);
    expect(h.replyTo("d", w2)).toBeUndefined();
    h.server.tick(h.now + 51);
    expect(h.replyTo("d", w2)).toBe(0);
    h.server.tick(h.now + 101);
    expect(h.replyTo("c", w)).toBe(0);
  });

  it("waits for the offset after the connection's last command, written or not (c->woff)", () => {
    const h = new Harness();
    h.attachReplica();
    h.ack(0);
    h.call("writer", ["SET", A, "1"]);
    h.call("reader", ["GET", A]);
    const w = h.send("reader", ["WAIT", "1", "0"]);
    expect(h.replyTo("reader", w)).toBeUndefined();
    h.ack();
    h.server.tick(h.now);
    expect(h.replyTo("reader", w)).toBe(1);
    // A connection whose only command came before any write is satisfied by any ack.
    const h2 = new Harness();
    h2.attachReplica();
    h2.ack(0);
    h2.call("early", ["PING"]);
    h2.call("writer", ["SET", A, "1"]);
    expect(h2.call("early", ["WAIT", "1", "0"])).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Pub/sub through the server
// ---------------------------------------------------------------------------------------------

describe("pub/sub", () => {
  it("a SUBSCRIBE's first confirmation answers the request, the others follow as pushes", () => {
    const h = new Harness();
    const id = h.send("s", ["SUBSCRIBE", "a", "b", "a"]);
    expect(h.host.effects).toEqual([
      { kind: "reply", client: "s", reqId: id, value: Resp.push([Resp.bulk("subscribe"), Resp.bulk("a"), Resp.integer(1)]) },
      { kind: "push", client: "s", value: Resp.push([Resp.bulk("subscribe"), Resp.bulk("b"), Resp.integer(2)]) },
      { kind: "push", client: "s", value: Resp.push([Resp.bulk("subscribe"), Resp.bulk("a"), Resp.integer(2)]) },
    ]);
    expect(h.call("s", ["UNSUBSCRIBE"])).toEqual({ push: ["unsubscribe", "a", 1] });
    expect(h.pushes("s").at(-1)).toEqual({ push: ["unsubscribe", "b", 0] });
    // With no subscription, UNSUBSCRIBE still answers once.
    expect(h.call("s", ["UNSUBSCRIBE"])).toEqual({ push: ["unsubscribe", null, 0] });
  });

  it("PUBLISH counts local receivers and hands the message to the bus; deliver() is the bus's way in", () => {
    const h = new Harness();
    h.call("s1", ["SUBSCRIBE", "news"]);
    h.call("s2", ["PSUBSCRIBE", "n*"]);
    h.call("s3", ["SSUBSCRIBE", A]);
    expect(h.call("p", ["PUBLISH", "news", "hi"])).toBe(2);
    expect(h.call("p", ["PUBLISH", "other", "x"])).toBe(0);
    expect(h.call("p", ["SPUBLISH", A, "m"])).toBe(1);
    expect(h.host.published).toEqual([
      ["news", "hi", false],
      ["other", "x", false],
      [A, "m", true],
    ]);
    expect(h.host.routed.map((r) => r.keys)).toEqual([[A], [A]]); // SSUBSCRIBE and SPUBLISH route their channel
    expect(h.server.deliver("news", "from-bus", false)).toBe(2);
    expect(h.server.deliver(A, "from-shard", true)).toBe(1);
    expect(h.host.published).toHaveLength(3);
    expect(h.pushes("s1")).toEqual([{ push: ["message", "news", "hi"] }, { push: ["message", "news", "from-bus"] }]);
    expect(h.pushes("s2")).toEqual([{ push: ["pmessage", "n*", "news", "hi"] }, { push: ["pmessage", "n*", "news", "from-bus"] }]);
    expect(h.pushes("s3")).toEqual([{ push: ["smessage", A, "m"] }, { push: ["smessage", A, "from-shard"] }]);
  });

  it("a closed connection receives nothing", () => {
    const h = new Harness();
    h.call("s", ["SUBSCRIBE", "ch"]);
    h.server.closed("s");
    expect(h.server.deliver("ch", "m", false)).toBe(0);
    expect(h.call("p", ["PUBSUB", "NUMSUB", "ch"])).toEqual(["ch", 0]);
  });
});

// ---------------------------------------------------------------------------------------------
// What the server hands to the node
// ---------------------------------------------------------------------------------------------

describe("delegation to the node", () => {
  it("CLUSTER, INFO and COMMAND answer through the host and the command table", () => {
    const h = new Harness();
    const table: [string[], Plain][] = [
      [["CLUSTER", "MYID"], { simple: "cluster MYID" }],
      [["cluster", "keyslot", "x"], { simple: "cluster keyslot x" }],
      [["INFO"], "# info \r\n"],
      [["INFO", "server", "clients"], "# info server clients\r\n"],
      [["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"], ["a", "b"]],
      [["CLUSTER", "NOPE"], { err: "ERR unknown subcommand 'NOPE'. Try CLUSTER HELP." }],
    ];
    for (const [args, expected] of table) expect(h.call("c", args), args.join(" ")).toEqual(expected);
  });

  it("MIGRATE waits for the node (finishExternal), holding later requests; inside a transaction it cannot wait", () => {
    const h = new Harness();
    h.host.migrateReply = null;
    const m = h.send("c", ["MIGRATE", "n2", "6379", A, "0", "5000"]);
    const next = h.send("c", ["PING"]);
    expect(h.host.migrations).toEqual([{ args: ["MIGRATE", "n2", "6379", A, "0", "5000"], token: 1 }]);
    expect(h.host.routed.at(-1)).toMatchObject({ slot: keySlot(A), keys: [A], write: true });
    expect(h.replyTo("c", m)).toBeUndefined();
    h.server.finishExternal(2, Resp.ok, h.now); // not this one
    expect(h.replyTo("c", m)).toBeUndefined();
    h.server.finishExternal(1, Resp.ok, h.now);
    expect([h.replyTo("c", m), h.replyTo("c", next)]).toEqual([OK, PONG]);
    h.call("c", ["MULTI"]);
    h.call("c", ["MIGRATE", "n2", "6379", A, "0", "5000"]);
    expect(h.call("c", ["EXEC"])).toEqual([{ err: "IOERR MIGRATE cannot wait inside a transaction" }]);
    h.host.migrateReply = Resp.simple("NOKEY");
    expect(h.call("c", ["MIGRATE", "n2", "6379", A, "0", "5000"])).toEqual({ simple: "NOKEY" });
  });

  it("counts keyspace hits and misses for keyed reads, as INFO stats does", () => {
    const h = new Harness();
    h.call("c", ["SET", A, "1"]);
    h.call("c", ["GET", A]);
    h.call("c", ["GET", B]);
    h.call("c", ["EXISTS", B]);
    h.call("c", ["MULTI"]);
    h.call("c", ["GET", A]);
    h.call("c", ["EXEC"]);
    h.call("d", ["PING"]);
    expect([h.server.keyspaceHits, h.server.keyspaceMisses, h.server.connectionsReceived]).toEqual([2, 2, 2]);
  });

  it("slotsLost unsubscribes the lost slots' shard channels with a notice and redirects clients blocked there", () => {
    const h = new Harness();
    expect(h.call("s", ["SSUBSCRIBE", A, ELSEWHERE])).toEqual(CROSSSLOT);
    expect(h.call("s", ["SSUBSCRIBE", A])).toEqual({ push: ["ssubscribe", A, 1] });
    expect(h.call("s", ["SSUBSCRIBE", ELSEWHERE])).toEqual({ push: ["ssubscribe", ELSEWHERE, 2] });
    const pop = h.send("b", ["BLPOP", A, "0"]);
    h.host.verdict = (slot) => (slot === keySlot(A) ? Resp.error(`MOVED ${slot} n2:6379`) : null);
    h.server.slotsLost((slot) => slot === keySlot(A), h.now);
    expect(h.pushes("s")).toEqual([{ push: ["sunsubscribe", A, 1] }]);
    expect(h.replyTo("b", pop)).toEqual({ err: `MOVED ${keySlot(A)} n2:6379` });
  });
});

// ---------------------------------------------------------------------------------------------
// Writes paused by a manual failover
// ---------------------------------------------------------------------------------------------

describe("paused writes", () => {
  it("hold writes (and PUBLISH) until the pause ends, with later requests behind them; reads run", () => {
    const h = new Harness();
    h.host.paused = true;
    const set = h.send("w", ["SET", A, "1"]);
    const ping = h.send("w", ["PING"]);
    const pub = h.send("p", ["PUBLISH", "ch", "m"]);
    expect(h.call("r", ["GET", A])).toEqual(null);
    expect(h.call("r", ["PING"])).toEqual(PONG);
    expect([h.replyTo("w", set), h.replyTo("w", ping), h.replyTo("p", pub)]).toEqual([undefined, undefined, undefined]);
    expect(h.server.nextDeadline()).toBeNull();
    h.server.tick(h.now);
    expect(h.replyTo("w", set)).toBeUndefined();
    h.host.paused = false;
    h.server.tick(h.now);
    expect([h.replyTo("w", set), h.replyTo("w", ping), h.replyTo("p", pub)]).toEqual([OK, PONG, 0]);
    expect(h.call("r", ["GET", A])).toEqual("1");
  });

  it("hold a write before it is queued in MULTI, and EXEC of a transaction that writes", () => {
    const h = new Harness();
    h.call("c", ["MULTI"]);
    expect(h.call("c", ["SET", A, "1"])).toEqual(QUEUED);
    h.host.paused = true;
    expect(h.call("c", ["GET", A])).toEqual(QUEUED);
    const set = h.send("c", ["SET", B, "2"]);
    const exec = h.send("c", ["EXEC"]);
    expect([h.replyTo("c", set), h.replyTo("c", exec)]).toEqual([undefined, undefined]);
    expect(h.call("r", ["MGET", A, B])).toEqual([null, null]);
    // A read-only transaction is not held.
    h.call("r", ["MULTI"]);
    h.call("r", ["GET", A]);
    expect(h.call("r", ["EXEC"])).toEqual([null]);
    h.host.paused = false;
    h.server.tick(h.now);
    expect([h.replyTo("c", set), h.replyTo("c", exec)]).toEqual([QUEUED, [OK, "1", OK]]);
  });

  it("a held write whose slot moved during the pause is redirected when it runs", () => {
    const h = new Harness();
    h.host.paused = true;
    const set = h.send("w", ["SET", A, "1"]);
    h.host.verdict = (slot) => Resp.error(`MOVED ${slot} n2:6379`);
    h.host.paused = false;
    h.server.tick(h.now);
    expect(h.replyTo("w", set)).toEqual({ err: `MOVED ${keySlot(A)} n2:6379` });
  });
});
