// The client side of a cluster node: connections (sessions), command dispatch, transactions,
// blocked clients and WAIT — what Redis's networking.c, server.c's processCommand, multi.c and
// blocked.c do around the keyspace. The node (node.ts) owns the cluster state and answers routing
// questions through `ServerHost`; the keyspace (core/keyspace) runs the data commands; replication
// (data.ts) carries what they propagate.
//
// Every reply leaves as an effect in the order commands arrived on a connection, except for
// blocked commands (BLPOP, WAIT, writes held by a manual failover), whose replies leave when they
// unblock — later commands on the same connection wait behind them, as a Redis client does.

import type { ClientId, NodeId } from "../machine.js";
import { Resp, type RespValue } from "../resp/codec.js";
import { bulk, byteStringToText } from "../keyspace/bytes.js";
import { globMatch } from "../keyspace/glob.js";
import type { Result } from "../keyspace/keyspace.js";
import type { ListEnd } from "../keyspace/lists.js";
import { isExpiredAt } from "../keyspace/db.js";
import { parseInt64 } from "../keyspace/numbers.js";
import { commandCommand, type CommandEntry, isWrite, keyIndexes, lookupCommand } from "./command-table.js";
import type { Replication } from "./data.js";
import { REDIS_VERSION } from "./info.js";
import { allowedWhileSubscribed, PubSub, subscribedModeError } from "./pubsub.js";
import { keySlot } from "./slots.js";


/** One client connection. */
export class Session {
  /** CLIENT ID: increasing per node incarnation. */
  readonly num: number;
  name = "";
  proto: 2 | 3 = 2;
  authenticated: boolean;
  /** READONLY: reads of the master's slots may be served by this replica. */
  readonly = false;
  /** ASKING: the next command may touch an importing slot. */
  asking = false;
  /**
   * MULTI in progress: the queued commands, whether one was refused (EXECABORT at EXEC), and
   * whether one writes (mstate.cmd_flags: a paused master holds such an EXEC).
   */
  multi: { queue: (readonly string[])[]; aborted: boolean; writes: boolean } | null = null;
  /**
   * WATCHed keys, each with Redis's watchedKey.expired: true when the key had already expired
   * (but was not yet removed) at WATCH time, so removing it is no change. `dirty` once a watched
   * key changed (EXEC then answers a null array).
   */
  watched: Map<string, boolean> | null = null;
  dirty = false;
  /**
   * The replication offset after this client's last command, written or not (Redis's c->woff,
   * set after every call): what WAIT waits for.
   */
  lastWriteOffset = 0;
  /** Requests that arrived while an earlier one was blocked, answered in order once it unblocks. */
  readonly pending: { reqId: number; args: readonly string[]; asking: boolean }[] = [];
  blocked: Blocked | null = null;
  lastCommand = "NULL";
  lastCommandMs: number;

  constructor(
    readonly id: ClientId,
    num: number,
    readonly createdMs: number,
    authenticated: boolean,
  ) {
    this.num = num;
    this.authenticated = authenticated;
    this.lastCommandMs = createdMs;
  }
}

type Blocked =
  | { readonly kind: "pop"; readonly reqId: number; readonly keys: readonly string[]; readonly end: ListEnd; readonly deadlineMs: number | null }
  | { readonly kind: "wait"; readonly reqId: number; readonly replicas: number; readonly offset: number; readonly deadlineMs: number | null }
  | { readonly kind: "paused"; readonly reqId: number; readonly args: readonly string[] }
  /** Touches a key an unfinished MIGRATE is moving: runs once it is done (Redis blocks in MIGRATE). */
  | { readonly kind: "locked"; readonly reqId: number; readonly args: readonly string[] }
  /** Waiting for the node (MIGRATE's target to answer); `token` names the wait. */
  | { readonly kind: "external"; readonly reqId: number; readonly token: number };

/** What the server asks of the node it runs in. */
export interface ServerHost {
  /**
   * Where a command touching `slot` should run: null to run here, or the error that redirects or
   * refuses it (MOVED, ASK, TRYAGAIN, CLUSTERDOWN). `missing` counts the keys absent here and
   * `keys` is their number, for the migrating/importing rules.
   */
  route(slot: number, keys: readonly string[], write: boolean, session: Session, nowMs: number, migrate?: boolean): RespValue | null;
  /** CLUSTER subcommands (args without "CLUSTER"). */
  clusterCommand(args: readonly string[], session: Session, nowMs: number): RespValue;
  /** INFO text for the sections asked. */
  info(sections: readonly string[], nowMs: number): string;
  /** Writes wait: a manual failover paused this master's clients. */
  writesPaused(nowMs: number): boolean;
  isReplica(): boolean;
  /** Sends a PUBLISH / SPUBLISH to the rest of the cluster (every node / this shard). */
  broadcastPublish(channel: string, message: string, shard: boolean): void;
  /**
   * MIGRATE: starts moving keys to another node. Returns the reply when it is already known (an
   * error, NOKEY), or null when the node will call `Server.finishExternal(token, reply)`.
   */
  migrate(args: readonly string[], token: number, nowMs: number): RespValue | null;
  /** Asks replicas for a fresh ack (REPLCONF GETACK), so WAIT need not wait for the next one. */
  requestAcks(): void;
  /** The host's settings the CONFIG command exposes. */
  readonly settings: Settings;
  /** requirepass as it is now ("": none); read on every request, so not through `settings`. */
  readonly requirepass: string;
  /** Replies, pushes and closes leave through here. */
  emit(effect: ClientEffect): void;
}

export type ClientEffect =
  | { readonly kind: "reply"; readonly client: ClientId; readonly reqId: number; readonly value: RespValue }
  | { readonly kind: "push"; readonly client: ClientId; readonly value: RespValue }
  | { readonly kind: "close"; readonly client: ClientId };

/** CONFIG GET/SET: named settings with a parser each. */
export interface Settings {
  names(): readonly string[];
  get(name: string): string | undefined;
  /** null when set; otherwise the reason, as Redis words it after "ERR CONFIG SET failed (possibly related to argument '<name>') - ". */
  set(name: string, value: string): string | null;
}

const OK = Resp.ok;
const QUEUED = Resp.simple("QUEUED");

function err(text: string): RespValue {
  return Resp.error(text);
}

/** Commands that run at once inside MULTI instead of being queued (processCommand's list). */
const NOT_QUEUED = new Set(["exec", "discard", "multi", "watch", "quit", "reset"]);
/** Commands an unauthenticated connection may run. */
const NO_AUTH = new Set(["auth", "hello", "quit", "reset"]);
/**
 * Commands a write pause holds besides writes: those with Redis 7.0's hidden may_replicate flag
 * that the node serves (the command table does not keep that flag).
 */
const MAY_REPLICATE = new Set(["publish", "spublish"]);

/** addReplyHelp: the header, the lines, then HELP's own entry. */
function helpReply(command: string, lines: readonly string[]): RespValue {
  return Resp.array([`${command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`, ...lines, "HELP", "    Print this help."].map(Resp.simple));
}

/** CLIENT HELP: Redis 7.0's text, which lists subcommands the node does not serve. */
const CLIENT_HELP = helpReply("CLIENT", [
  "CACHING (YES|NO)",
  "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
  "GETREDIR",
  "    Return the client ID we are redirecting to when tracking is enabled.",
  "GETNAME",
  "    Return the name of the current connection.",
  "ID",
  "    Return the ID of the current connection.",
  "INFO",
  "    Return information about the current client connection.",
  "KILL <ip:port>",
  "    Kill connection made from <ip:port>.",
  "KILL <option> <value> [<option> <value> [...]]",
  "    Kill connections. Options are:",
  "    * ADDR (<ip:port>|<unixsocket>:0)",
  "      Kill connections made from the specified address",
  "    * LADDR (<ip:port>|<unixsocket>:0)",
  "      Kill connections made to specified local address",
  "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
  "      Kill connections by type.",
  "    * USER <username>",
  "      Kill connections authenticated by <username>.",
  "    * SKIPME (YES|NO)",
  "      Skip killing current connection (default: yes).",
  "LIST [options ...]",
  "    Return information about client connections. Options:",
  "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
  "      Return clients of specified type.",
  "UNPAUSE",
  "    Stop the current client pause, resuming traffic.",
  "PAUSE <timeout> [WRITE|ALL]",
  "    Suspend all, or just write, clients for <timeout> milliseconds.",
  "REPLY (ON|OFF|SKIP)",
  "    Control the replies sent to the current connection.",
  "SETNAME <name>",
  "    Assign the name <name> to the current connection.",
  "UNBLOCK <clientid> [TIMEOUT|ERROR]",
  "    Unblock the specified blocked client.",
  "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
  "         [OPTIN] [OPTOUT] [NOLOOP]",
  "    Control server assisted client side caching.",
  "TRACKINGINFO",
  "    Report tracking status for the current connection.",
  "NO-EVICT (ON|OFF)",
  "    Protect current client connection from eviction.",
]);

/** CONFIG HELP: Redis 7.0's text (REWRITE included, though the node does not serve it). */
const CONFIG_HELP = helpReply("CONFIG", [
  "GET <pattern>",
  "    Return parameters matching the glob-like <pattern> and their values.",
  "SET <directive> <value>",
  "    Set the configuration <directive> to <value>.",
  "RESETSTAT",
  "    Reset statistics reported by the INFO command.",
  "REWRITE",
  "    Rewrite the configuration file.",
]);

export class Server {
  private readonly sessions = new Map<ClientId, Session>();
  /** Clients blocked on a key, in the order they blocked (FIFO service, as Redis). */
  private readonly blockedOnKey = new Map<string, Session[]>();
  private readonly blocked = new Set<Session>();
  /** Sessions watching each key. */
  private readonly watchers = new Map<string, Set<Session>>();
  readonly pubsub = new PubSub();
  private clientNumNext = 1;
  /** MIGRATEs in flight (token → keys) and how many of them hold each key. */
  private readonly migrating = new Map<number, readonly string[]>();
  private readonly lockedKeys = new Map<string, number>();
  private externalNext = 1;
  /** INFO stats. */
  commandsProcessed = 0;
  connectionsReceived = 0;
  keyspaceHits = 0;
  keyspaceMisses = 0;

  constructor(
    private readonly host: ServerHost,
    private readonly repl: Replication,
  ) {}

  get clientCount(): number {
    return this.sessions.size;
  }

  get blockedCount(): number {
    return this.blocked.size;
  }

  /** Whether `client` must still AUTH (requirepass set, not authenticated): hosts apply Redis's pre-AUTH request limits. */
  authRequiredFor(client: ClientId): boolean {
    if (this.host.requirepass === "") return false; // sessions made without one start authenticated
    const s = this.sessions.get(client);
    return s === undefined ? this.host.requirepass !== "" : this.authRequired(s);
  }

  /** Whether `client` has a subscription of any kind (Redis's pubsub client class): `timeout` spares it. */
  subscribedClient(client: ClientId): boolean {
    return this.pubsub.hasSubscribers && this.pubsub.count(client) + this.pubsub.shardCount(client) > 0;
  }

  /**
   * Whether `client` waits in a command (BLPOP, BRPOP, WAIT, MIGRATE, or a write held by a
   * failover's pause or a key being migrated): Redis's CLIENT_BLOCKED, which `timeout` spares.
   */
  blockedClient(client: ClientId): boolean {
    return (this.sessions.get(client)?.blocked ?? null) !== null;
  }

  /** The RESP protocol `client` negotiated with HELLO (2 until then): how the host encodes its replies. */
  protocolOf(client: ClientId): 2 | 3 {
    return this.sessions.get(client)?.proto ?? 2;
  }

  sessionsInOrder(): Session[] {
    return [...this.sessions.values()];
  }

  // ---- input ----------------------------------------------------------------------------------

  /** A request from `client`. Requests queue behind a blocked one on the same connection. */
  request(client: ClientId, reqId: number, args: readonly string[], nowMs: number, asking = false): void {
    const s = this.session(client, nowMs);
    if (s.blocked !== null || s.pending.length > 0) {
      s.pending.push({ reqId, args, asking });
      return;
    }
    if (asking) s.asking = true;
    this.run(s, reqId, args, nowMs);
  }

  /** The connection closed: forget its state, unblock nothing (there is nobody to answer). */
  closed(client: ClientId): void {
    const s = this.sessions.get(client);
    if (s === undefined) return;
    this.unblock(s);
    this.unwatchAll(s);
    this.pubsub.dropClient(client);
    this.sessions.delete(client);
  }

  /**
   * After any input: answer WAITs that have their acks, time out WAITs and pops, redirect pops
   * whose slot left, run writes a pause held. A deadline passes once `nowMs` is beyond it, as
   * Redis's timeout table checks `timeout < now`.
   */
  tick(nowMs: number): void {
    for (const s of [...this.blocked]) {
      const b = s.blocked;
      if (b === null) continue;
      if (b.kind === "wait") {
        const acked = this.acked(b.offset);
        if (acked >= b.replicas || (b.deadlineMs !== null && nowMs > b.deadlineMs)) this.finishBlocked(s, Resp.integer(acked), nowMs);
      } else if (b.kind === "pop") {
        if (b.deadlineMs !== null && nowMs > b.deadlineMs) this.finishBlocked(s, Resp.nullArray, nowMs);
        else if (!this.stillServed(s, b.keys, nowMs)) continue;
      } else if (b.kind === "locked" && !this.locks(s, b.args)) {
        // The MIGRATE moving its keys is done: run it now (it will likely be redirected with ASK).
        this.unblock(s);
        this.run(s, b.reqId, b.args, nowMs);
        this.drain(s, nowMs);
      } else if (b.kind === "paused" && !this.host.writesPaused(nowMs)) {
        // A manual failover ended: run the held write now (it may be redirected by then).
        this.unblock(s);
        this.run(s, b.reqId, b.args, nowMs);
        this.drain(s, nowMs);
      }
    }
  }

  /** Keys an unfinished MIGRATE moves: commands on them wait (Redis's MIGRATE blocks the server). */
  private lock(token: number, keys: readonly string[]): void {
    this.migrating.set(token, keys);
    for (const k of keys) this.lockedKeys.set(k, (this.lockedKeys.get(k) ?? 0) + 1);
  }

  private unlock(token: number): void {
    const keys = this.migrating.get(token);
    if (keys === undefined) return;
    this.migrating.delete(token);
    for (const k of keys) {
      const n = (this.lockedKeys.get(k) ?? 1) - 1;
      if (n === 0) this.lockedKeys.delete(k);
      else this.lockedKeys.set(k, n);
    }
  }

  /** Whether running `args` (EXEC: the session's queue) would touch a key a MIGRATE is moving. */
  private locks(s: Session, args: readonly string[]): boolean {
    if (this.lockedKeys.size === 0) return false;
    const cmds = (args[0] ?? "").toLowerCase() === "exec" ? (s.multi?.queue ?? []) : [args];
    for (const cmd of cmds) {
      const found = lookupCommand(cmd);
      if ("error" in found) continue;
      for (const i of keyIndexes(found.entry, cmd)) if (this.lockedKeys.has(cmd[i] as string)) return true;
    }
    return false;
  }

  /** Answers a command that waited on the node (MIGRATE); the node has done its effects. */
  finishExternal(token: number, value: RespValue, nowMs: number): void {
    this.unlock(token);
    for (const s of this.blocked) {
      const b = s.blocked;
      if (b !== null && b.kind === "external" && b.token === token) {
        this.finishBlocked(s, value, nowMs);
        return;
      }
    }
  }

  /** When `tick` next has a timeout to answer (the first ms past the earliest deadline), or null. */
  nextDeadline(): number | null {
    let next: number | null = null;
    for (const s of this.blocked) {
      const d = s.blocked !== null && (s.blocked.kind === "pop" || s.blocked.kind === "wait") ? s.blocked.deadlineMs : null;
      if (d !== null && (next === null || d < next)) next = d;
    }
    return next === null ? null : next + 1;
  }

  /** A published message arrived over the bus (or from a local PUBLISH). Returns local receivers. */
  deliver(channel: string, message: string, shard: boolean): number {
    const { deliveries, receivers } = shard ? this.pubsub.spublish(channel, message) : this.pubsub.publish(channel, message);
    for (const d of deliveries) this.host.emit({ kind: "push", client: d.client, value: d.msg });
    return receivers;
  }

  /** Slots this node stopped serving: shard channels in them are unsubscribed; blocked clients redirected. */
  slotsLost(lost: (slot: number) => boolean, nowMs: number): void {
    for (const d of this.pubsub.dropShardSlots(lost, keySlot)) this.host.emit({ kind: "push", client: d.client, value: d.msg });
    this.tick(nowMs);
  }

  /** Keys changed outside a client command (replication, slot deletion): WATCH sees them. */
  touched(keys: readonly string[]): void {
    for (const k of keys) this.touch(k);
  }

  // ---- one command -------------------------------------------------------------------------------

  private session(client: ClientId, nowMs: number): Session {
    let s = this.sessions.get(client);
    if (s === undefined) {
      s = new Session(client, this.clientNumNext++, nowMs, this.host.requirepass === "");
      this.sessions.set(client, s);
      this.connectionsReceived += 1;
    }
    return s;
  }

  private reply(s: Session, reqId: number, value: RespValue): void {
    this.host.emit({ kind: "reply", client: s.id, reqId, value });
  }

  /**
   * Runs one request to its reply (or to blocking), with processCommand's checks in its order:
   * lookup and arity, authentication, routing (getNodeByQuery; for EXEC over the queued
   * commands), the RESP2 subscribed-mode gate, the write pause, then queueing inside MULTI or
   * running. A refusal flags an open transaction (flagTransaction), except that EXEC's routing
   * refusal discards it.
   */
  private run(s: Session, reqId: number, args: readonly string[], nowMs: number): void {
    const found = lookupCommand(args);
    this.runCommand(s, reqId, found, args, nowMs);
    // resetClient: ASKING lasts for the next command, or a whole transaction.
    if (s.multi === null && ("error" in found || found.entry.name !== "asking")) s.asking = false;
  }

  private runCommand(s: Session, reqId: number, found: ReturnType<typeof lookupCommand>, args: readonly string[], nowMs: number): void {
    this.commandsProcessed += 1;
    s.lastCommandMs = nowMs;
    if ("error" in found) return this.refuse(s, reqId, found.error);
    const entry = found.entry;
    const name = entry.root;
    s.lastCommand = entry.name;
    if (this.authRequired(s) && !NO_AUTH.has(name)) return this.refuse(s, reqId, err("NOAUTH Authentication required."));
    if (name === "exec") {
      const refusal = this.routeExec(s, nowMs);
      if (refusal !== null) {
        this.discard(s);
        return this.reply(s, reqId, refusal);
      }
    } else {
      const refusal = this.routeCommand(s, entry, args, nowMs);
      if (refusal !== null) return this.refuse(s, reqId, refusal);
    }
    if (s.proto === 2 && this.subscribed(s) && !allowedWhileSubscribed(name)) return this.refuse(s, reqId, err(subscribedModeError(entry.name)));
    const writes = mayReplicate(entry, name) || (name === "exec" && s.multi?.writes === true);
    if (writes && this.host.writesPaused(nowMs)) {
      // CLUSTER FAILOVER paused writes (CLIENT_PAUSE_WRITE): hold this one until the pause ends.
      this.block(s, { kind: "paused", reqId, args });
      return;
    }
    if ((s.multi === null || name === "exec") && this.locks(s, args)) {
      this.block(s, { kind: "locked", reqId, args });
      return;
    }
    if (s.multi !== null && !NOT_QUEUED.has(name)) {
      // queueMultiCommand keeps nothing once the transaction cannot run.
      if (!s.multi.aborted && !s.dirty) {
        s.multi.queue.push(args);
        s.multi.writes ||= mayReplicate(entry, name);
      }
      return this.reply(s, reqId, QUEUED);
    }
    if (name === "exec") {
      this.exec(s, reqId, nowMs);
    } else {
      const value = this.execute(s, entry, name, args, nowMs, false, reqId);
      if (value !== null) this.reply(s, reqId, value);
    }
    s.lastWriteOffset = this.repl.offset;
  }

  /** rejectCommand: answers `error` and flags an open transaction, so EXEC answers EXECABORT. */
  private refuse(s: Session, reqId: number, error: RespValue): void {
    if (s.multi !== null) s.multi.aborted = true;
    this.reply(s, reqId, error);
  }

  /** authRequired: the default user has a password and this connection has not authenticated. */
  private authRequired(s: Session): boolean {
    return !s.authenticated && this.host.requirepass !== "";
  }

  /** CLIENT_PUBSUB: the connection has a subscription of any kind. */
  private subscribed(s: Session): boolean {
    if (!this.pubsub.hasSubscribers) return false; // most nodes, most of the time
    return this.pubsub.count(s.id) + this.pubsub.shardCount(s.id) > 0;
  }

  /** discardTransaction: drops MULTI and the WATCHes. */
  private discard(s: Session): void {
    s.multi = null;
    this.unwatchAll(s);
  }

  /** The routing verdict for a command: null to run here, or the error to answer. */
  private routeCommand(s: Session, entry: CommandEntry, args: readonly string[], nowMs: number): RespValue | null {
    const idx = keyIndexes(entry, args);
    if (idx.length === 0) return null;
    const keys = idx.map((i) => args[i] as string);
    const slot = keySlot(keys[0] as string);
    for (let i = 1; i < keys.length; i++) {
      if (keySlot(keys[i] as string) !== slot) return err("CROSSSLOT Keys in request don't hash to the same slot");
    }
    const asking = s.asking;
    if (entry.name === "restore-asking") s.asking = true; // Redis's CMD_ASKING flag
    const verdict = this.host.route(slot, keys, isWrite(entry), s, nowMs, entry.name === "migrate");
    s.asking = asking;
    return verdict;
  }

  /**
   * Runs a command that routing accepted. Returns its reply, or null when the command blocked or
   * answered itself. `inExec`: a transaction is running it (blocking commands do not block).
   */
  private execute(s: Session, entry: CommandEntry, name: string, args: readonly string[], nowMs: number, inExec: boolean, reqId: number): RespValue | null {
    switch (name) {
      case "ping":
        if (args.length > 2) return err("ERR wrong number of arguments for 'ping' command");
        if (s.proto === 2 && this.subscribed(s)) return Resp.array([bulk("pong"), bulk(args[1] ?? "")]);
        return args.length === 2 ? bulk(args[1] as string) : Resp.simple("PONG");
      case "echo":
        return bulk(args[1] as string);
      case "select": {
        // getIntFromObjectOrReply (a long, then a C int's range), then cluster mode's refusal.
        const db = parseInt64(args[1] as string);
        if (db === null) return err("ERR value is not an integer or out of range");
        if (db < INT_MIN || db > INT_MAX) return err(`ERR value is out of range, value must between ${INT_MIN} and ${INT_MAX}`);
        return db === 0n ? OK : err("ERR SELECT is not allowed in cluster mode");
      }
      case "quit":
        this.host.emit({ kind: "reply", client: s.id, reqId, value: OK });
        this.host.emit({ kind: "close", client: s.id });
        this.closed(s.id);
        return null;
      case "reset":
        this.resetSession(s);
        return Resp.simple("RESET");
      case "auth":
        return this.auth(s, args.slice(1));
      case "hello":
        return this.hello(s, args);
      case "client":
        return this.clientCommand(s, args, nowMs);
      case "command":
        return commandCommand(args.slice(1));
      case "info":
        return Resp.verbatim("txt", this.host.info(args.slice(1), nowMs));
      case "config":
        return this.configCommand(args);
      case "readonly":
        s.readonly = true;
        return OK;
      case "readwrite":
        s.readonly = false;
        return OK;
      case "asking":
        s.asking = true;
        return OK;
      case "multi":
        if (s.multi !== null) return err("ERR MULTI calls can not be nested");
        s.multi = { queue: [], aborted: false, writes: false };
        return OK;
      case "discard":
        if (s.multi === null) return err("ERR DISCARD without MULTI");
        this.discard(s);
        return OK;
      case "watch":
        if (s.multi !== null) return err("ERR WATCH inside MULTI is not allowed");
        for (const k of args.slice(1)) this.watch(s, k, nowMs);
        return OK;
      case "unwatch":
        this.unwatchAll(s);
        return OK;
      case "wait":
        return this.wait(s, args, nowMs, inExec, reqId);
      case "cluster":
        return this.host.clusterCommand(args.slice(1), s, nowMs);
      case "subscribe":
      case "psubscribe":
      case "ssubscribe":
      case "unsubscribe":
      case "punsubscribe":
      case "sunsubscribe":
        return this.subscription(s, name, args.slice(1), reqId);
      case "publish":
      case "spublish": {
        const shard = name === "spublish";
        const receivers = this.deliver(args[1] as string, args[2] as string, shard);
        this.host.broadcastPublish(args[1] as string, args[2] as string, shard);
        return Resp.integer(receivers);
      }
      case "pubsub":
        return this.pubsub.command(args.slice(1));
      case "migrate": {
        const token = this.externalNext++;
        const value = this.host.migrate(args, token, nowMs);
        if (value !== null || inExec) return value ?? Resp.error("IOERR MIGRATE cannot wait inside a transaction");
        this.block(s, { kind: "external", reqId, token });
        this.lock(token, keyIndexes(entry, args).map((i) => args[i] as string));
        return null;
      }
      default:
        return this.data(s, entry, args, nowMs, inExec, reqId);
    }
  }

  /** A keyspace command: run it, replicate what it changed, wake blocked clients, answer. */
  private data(s: Session, entry: CommandEntry, args: readonly string[], nowMs: number, inExec: boolean, reqId: number): RespValue | null {
    if (isWrite(entry) && this.host.isReplica()) return err("READONLY You can't write against a read only replica.");
    const r = this.repl.data.exec(args, nowMs);
    this.account(entry, r);
    this.afterData(r, nowMs);
    if (r.block !== undefined && !inExec) {
      this.block(s, { kind: "pop", reqId, keys: r.block.keys, end: r.block.end, deadlineMs: r.block.deadlineMs });
      return null;
    }
    return r.reply;
  }

  private account(entry: CommandEntry, r: Result): void {
    if (!entry.readOnly || entry.firstKey === 0) return;
    if (r.reply.type === "null" || (r.reply.type === "integer" && r.reply.value === 0 && entry.name === "exists")) this.keyspaceMisses += 1;
    else if (r.reply.type !== "error") this.keyspaceHits += 1;
  }

  /** Replicates a command's effects and lets WATCH and blocked clients see them. */
  private afterData(r: Result, nowMs: number): void {
    if (r.propagate.length > 0 && !this.host.isReplica()) this.repl.feed(r.propagate);
    for (const k of r.touched) this.touch(k);
    if (r.touched.length > 0) this.serveBlocked(r.touched, nowMs);
  }

  // ---- transactions ------------------------------------------------------------------------------

  /**
   * EXEC of an open transaction that routing accepted: fails if a command was refused while
   * queueing (EXECABORT) or a watched key changed or expired since WATCH (a null array);
   * otherwise runs the queue and answers every reply.
   */
  private exec(s: Session, reqId: number, nowMs: number): void {
    const multi = s.multi;
    if (multi === null) return this.reply(s, reqId, err("ERR EXEC without MULTI"));
    const dirty = s.dirty || this.watchedKeyExpired(s, nowMs);
    this.discard(s);
    if (multi.aborted) return this.reply(s, reqId, err("EXECABORT Transaction discarded because of previous errors."));
    if (dirty) return this.reply(s, reqId, Resp.nullArray);
    const replies: RespValue[] = [];
    const propagated: (readonly string[])[] = [];
    const touched: string[] = [];
    for (const args of multi.queue) {
      const found = lookupCommand(args);
      if ("error" in found) {
        replies.push(found.error);
        continue;
      }
      const entry = found.entry;
      const name = entry.name.split("|")[0] as string;
      if (entry.flags.includes("write") && this.host.isReplica()) {
        replies.push(err("READONLY You can't write against a read only replica."));
        continue;
      }
      if (!isDataCommand(name)) {
        replies.push(this.execute(s, entry, name, args, nowMs, true, reqId) ?? Resp.null);
        continue;
      }
      const r = this.repl.data.exec(args, nowMs);
      this.account(entry, r);
      replies.push(r.reply);
      propagated.push(...r.propagate);
      touched.push(...r.touched);
    }
    // A transaction's writes reach replicas as one MULTI … EXEC, as Redis propagates them.
    const stream = propagated.length > 1 ? [["MULTI"], ...propagated, ["EXEC"]] : propagated;
    this.afterData({ reply: Resp.null, dirty: 0, propagate: stream, touched }, nowMs);
    this.reply(s, reqId, Resp.array(replies));
  }

  /**
   * getNodeByQuery for EXEC: the queued commands' keys must share a slot, which is routed as
   * one request (the slot may have moved since they were queued). Null without MULTI.
   */
  private routeExec(s: Session, nowMs: number): RespValue | null {
    if (s.multi === null) return null;
    let slot: number | null = null;
    const keys: string[] = [];
    let write = false;
    for (const args of s.multi.queue) {
      const found = lookupCommand(args);
      if ("error" in found) continue;
      write ||= isWrite(found.entry);
      for (const i of keyIndexes(found.entry, args)) {
        const k = args[i] as string;
        const ks = keySlot(k);
        if (slot !== null && ks !== slot) return err("CROSSSLOT Keys in request don't hash to the same slot");
        slot = ks;
        keys.push(k);
      }
    }
    if (slot === null) return null;
    return this.host.route(slot, keys, write, s, nowMs);
  }

  private watch(s: Session, key: string, nowMs: number): void {
    if (s.watched === null) s.watched = new Map();
    if (s.watched.has(key)) return;
    s.watched.set(key, this.keyExpired(key, nowMs));
    let set = this.watchers.get(key);
    if (set === undefined) {
      set = new Set();
      this.watchers.set(key, set);
    }
    set.add(s);
  }

  private unwatchAll(s: Session): void {
    if (s.watched !== null) {
      for (const k of s.watched.keys()) {
        const set = this.watchers.get(k);
        set?.delete(s);
        if (set?.size === 0) this.watchers.delete(k);
      }
    }
    s.watched = null;
    s.dirty = false;
  }

  /**
   * touchWatchedKey: `key` changed, so its watchers' EXEC will fail — except for a watcher that
   * saw it already expired and now sees it removed, which is no logical change.
   */
  private touch(key: string): void {
    if (this.watchers.size === 0) return;
    const set = this.watchers.get(key);
    if (set === undefined) return;
    const removed = this.repl.data.inspect(key) === undefined;
    for (const s of set) {
      if (removed && s.watched?.get(key) === true) s.watched.set(key, false);
      else s.dirty = true;
    }
  }

  /** isWatchedKeyExpired: a key watched while live has expired since (nobody touched it yet). */
  private watchedKeyExpired(s: Session, nowMs: number): boolean {
    if (s.watched === null) return false;
    for (const [key, expiredAtWatch] of s.watched) if (!expiredAtWatch && this.keyExpired(key, nowMs)) return true;
    return false;
  }

  /** keyIsExpired: the key is still stored but past its TTL (read without expiring it). */
  private keyExpired(key: string, nowMs: number): boolean {
    const entry = this.repl.data.inspect(key);
    return entry !== undefined && isExpiredAt(entry.expireAtMs, nowMs);
  }

  // ---- blocking ----------------------------------------------------------------------------------

  private block(s: Session, b: Blocked): void {
    s.blocked = b;
    this.blocked.add(s);
    if (b.kind === "pop") {
      for (const k of b.keys) {
        const list = this.blockedOnKey.get(k);
        if (list === undefined) this.blockedOnKey.set(k, [s]);
        else list.push(s);
      }
    }
  }

  private unblock(s: Session): void {
    const b = s.blocked;
    if (b === null) return;
    s.blocked = null;
    this.blocked.delete(s);
    if (b.kind !== "pop") return;
    for (const k of b.keys) {
      const list = this.blockedOnKey.get(k);
      if (list === undefined) continue;
      const i = list.indexOf(s);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.blockedOnKey.delete(k);
    }
  }

  /** Answers a blocked command and runs what queued behind it. */
  private finishBlocked(s: Session, value: RespValue, nowMs: number): void {
    const b = s.blocked;
    if (b === null) return;
    this.unblock(s);
    this.reply(s, b.reqId, value);
    this.drain(s, nowMs);
  }

  private drain(s: Session, nowMs: number): void {
    while (s.blocked === null && s.pending.length > 0 && this.sessions.get(s.id) === s) {
      const next = s.pending.shift() as { reqId: number; args: readonly string[]; asking: boolean };
      if (next.asking) s.asking = true;
      this.run(s, next.reqId, next.args, nowMs);
    }
  }

  /**
   * Serves clients blocked on `keys`, key by key in the order they changed, first come first
   * served, while the list has elements. A client is served from the key being served, not the
   * first of its keys holding a list (serveClientsBlockedOnListKey).
   */
  private serveBlocked(keys: readonly string[], nowMs: number): void {
    if (this.blockedOnKey.size === 0) return;
    const queue = [...keys];
    for (let i = 0; i < queue.length; i++) {
      const key = queue[i] as string;
      const waiting = this.blockedOnKey.get(key);
      if (waiting === undefined) continue;
      for (const s of [...waiting]) {
        const b = s.blocked;
        if (b === null || b.kind !== "pop") continue;
        const r = this.repl.data.serveBlockedPop([key], b.end, nowMs);
        if (r === null) continue;
        this.repl.feed(r.propagate);
        for (const k of r.touched) this.touch(k);
        this.finishBlocked(s, r.reply, nowMs);
      }
    }
  }

  /** A blocked pop whose slot moved away is answered with the redirect (Redis 7 unblocks it). */
  private stillServed(s: Session, keys: readonly string[], nowMs: number): boolean {
    const b = s.blocked;
    if (b === null || keys.length === 0) return true;
    const refusal = this.host.route(keySlot(keys[0] as string), keys, true, s, nowMs);
    if (refusal === null || refusal.type !== "error") return true;
    // An ASK/TRYAGAIN during migration keeps the client waiting, as Redis does; anything else answers.
    if (/^(ASK|TRYAGAIN) /.test(refusal.value)) return true;
    this.finishBlocked(s, refusal, nowMs);
    return false;
  }

  // ---- WAIT --------------------------------------------------------------------------------------

  private acked(offset: number): number {
    let n = 0;
    for (const [, ack] of this.repl.replicaAcks()) if (ack >= offset) n += 1;
    return n;
  }

  private wait(s: Session, args: readonly string[], nowMs: number, inExec: boolean, reqId: number): RespValue | null {
    if (this.host.isReplica()) return err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
    // getLongFromObjectOrReply (a negative count is satisfied at once), then
    // getTimeoutFromObjectOrReply in milliseconds.
    const replicas = parseInt64(args[1] as string);
    if (replicas === null) return err("ERR value is not an integer or out of range");
    const timeout = parseInt64(args[2] as string);
    if (timeout === null) return err("ERR timeout is not an integer or out of range");
    if (timeout < 0n) return err("ERR timeout is negative");
    const acked = this.acked(s.lastWriteOffset);
    if (acked >= replicas || inExec) return Resp.integer(acked);
    this.block(s, { kind: "wait", reqId, replicas: Number(replicas), offset: s.lastWriteOffset, deadlineMs: timeout === 0n ? null : nowMs + Number(timeout) });
    this.host.requestAcks();
    return null;
  }

  // ---- connection commands -----------------------------------------------------------------------

  private resetSession(s: Session): void {
    s.multi = null;
    this.unwatchAll(s);
    this.pubsub.dropClient(s.id);
    s.readonly = false;
    s.asking = false;
    s.name = "";
    s.proto = 2;
    s.authenticated = this.host.requirepass === "";
  }

  private auth(s: Session, args: readonly string[]): RespValue {
    if (args.length > 2) return err("ERR syntax error");
    const pass = this.host.requirepass;
    const [user, given] = args.length === 2 ? [args[0] as string, args[1] as string] : ["default", args[0] as string];
    if (args.length === 1 && pass === "") return err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    if (user === "default" && (pass === "" || given === pass)) {
      s.authenticated = true;
      return OK;
    }
    return err("WRONGPASS invalid username-password pair or user is disabled.");
  }

  private hello(s: Session, args: readonly string[]): RespValue {
    let proto: 2 | 3 = s.proto;
    let i = 1;
    if (args.length > 1) {
      const v = parseInt64(args[1] as string);
      if (v === null) return err("ERR Protocol version is not an integer or out of range");
      if (v !== 2n && v !== 3n) return err("NOPROTO unsupported protocol version");
      proto = v === 2n ? 2 : 3;
      i = 2;
    }
    let name: string | null = null;
    for (; i < args.length; i++) {
      const opt = (args[i] as string).toLowerCase();
      const more = args.length - i - 1;
      if (opt === "auth" && more >= 2) {
        const r = this.auth(s, [args[i + 1] as string, args[i + 2] as string]);
        if (r.type === "error") return r;
        i += 2;
      } else if (opt === "setname" && more >= 1) {
        name = args[i + 1] as string;
        if (!validClientName(name)) return err("ERR Client names cannot contain spaces, newlines or special characters.");
        i += 1;
      } else {
        return err(`ERR Syntax error in HELLO option '${byteStringToText(args[i] as string)}'`);
      }
    }
    // Redis 7.0's words (7.2 added "<proto>" after HELLO). Unlike 7.0, which sets a SETNAME name
    // before this check, the name is set only once the connection is authenticated (as 7.2).
    if (!s.authenticated) return err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    if (name !== null) s.name = name;
    s.proto = proto;
    return Resp.map([
      [bulk("server"), bulk("redis")],
      [bulk("version"), bulk(REDIS_VERSION)],
      [bulk("proto"), Resp.integer(proto)],
      [bulk("id"), Resp.integer(s.num)],
      [bulk("mode"), bulk("cluster")],
      [bulk("role"), bulk(this.host.isReplica() ? "replica" : "master")],
      [bulk("modules"), Resp.array([])],
    ]);
  }

  private clientCommand(s: Session, args: readonly string[], nowMs: number): RespValue {
    const sub = (args[1] ?? "").toLowerCase();
    switch (sub) {
      case "setname":
        if (!validClientName(args[2] as string)) return err("ERR Client names cannot contain spaces, newlines or special characters.");
        s.name = args[2] as string;
        return OK;
      case "getname":
        return s.name === "" ? Resp.null : bulk(s.name);
      case "id":
        return Resp.integer(s.num);
      case "info":
        return Resp.verbatim("txt", this.clientLine(s, nowMs));
      case "help":
        return CLIENT_HELP;
      case "list":
        return this.clientList(args, nowMs);
      default:
        return err(`ERR unknown subcommand '${byteStringToText(args[1] ?? "")}'. Try CLIENT HELP.`);
    }
  }

  /**
   * CLIENT LIST [TYPE type | ID id ...]: every connection in connection order; with TYPE those of
   * that type (this node's connections are all normal or pubsub); with ID the ones named, in
   * argument order (an ID named twice is listed twice, an unknown one skipped).
   */
  private clientList(args: readonly string[], nowMs: number): RespValue {
    let text = "";
    if (args.length === 4 && (args[2] as string).toLowerCase() === "type") {
      const type = (args[3] as string).toLowerCase();
      if (!CLIENT_TYPES.has(type)) return err(`ERR Unknown client type '${byteStringToText(args[3] as string)}'`);
      for (const c of this.sessions.values()) if ((this.subscribed(c) ? "pubsub" : "normal") === type) text += this.clientLine(c, nowMs);
    } else if (args.length > 3 && (args[2] as string).toLowerCase() === "id") {
      for (const a of args.slice(3)) {
        const id = parseInt64(a);
        if (id === null) return err("ERR Invalid client ID");
        for (const c of this.sessions.values()) if (BigInt(c.num) === id) text += this.clientLine(c, nowMs);
      }
    } else if (args.length !== 2) {
      return err("ERR syntax error");
    } else {
      for (const c of this.sessions.values()) text += this.clientLine(c, nowMs);
    }
    return Resp.verbatim("txt", text);
  }

  /** One CLIENT LIST line, with Redis 7.0's fields and flags in its order. */
  private clientLine(c: Session, nowMs: number): string {
    const flags = (this.subscribed(c) ? "P" : "") + (c.multi !== null ? "x" : "") + (c.blocked !== null ? "b" : "") + (c.dirty ? "d" : "") + (c.readonly ? "r" : "") || "N";
    const age = Math.max(0, Math.floor((nowMs - c.createdMs) / 1000));
    const idle = Math.max(0, Math.floor((nowMs - c.lastCommandMs) / 1000));
    const subs = this.pubsub.subscriptionsOf(c.id);
    return (
      `id=${c.num} addr=${c.id} laddr=? fd=-1 name=${byteStringToText(c.name)} age=${age} idle=${idle} flags=${flags} db=0 ` +
      `sub=${subs.channels} psub=${subs.patterns} ssub=${subs.shard} multi=${c.multi === null ? -1 : c.multi.queue.length} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 ` +
      `obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=${c.lastCommand} user=default redir=-1 resp=${c.proto}\n`
    );
  }

  private configCommand(args: readonly string[]): RespValue {
    const sub = (args[1] ?? "").toLowerCase();
    const settings = this.host.settings;
    if (sub === "get") {
      // Redis 7.0 answers in its config dict's (hash) order; this answers pattern by pattern, in
      // the settings' order within one. A name without glob characters is looked up
      // case-insensitively and answered as given ("CONFIG GET MaxMemory" answers "MaxMemory").
      const out: [RespValue, RespValue][] = [];
      const seen = new Set<string>();
      for (const pattern of args.slice(2)) {
        const lower = pattern.toLowerCase();
        if (!/[[*?]/.test(pattern)) {
          const value = settings.get(lower);
          if (value === undefined || seen.has(lower)) continue;
          seen.add(lower);
          out.push([bulk(pattern), bulk(value)]);
          continue;
        }
        for (const name of settings.names()) {
          if (seen.has(name) || !globMatch(lower, name)) continue;
          seen.add(name);
          out.push([bulk(name), bulk(settings.get(name) ?? "")]);
        }
      }
      return Resp.map(out);
    }
    if (sub === "set") return this.configSet(args);
    if (sub === "help") return CONFIG_HELP;
    if (sub === "resetstat") {
      this.commandsProcessed = 0;
      this.connectionsReceived = 0;
      this.keyspaceHits = 0;
      this.keyspaceMisses = 0;
      return OK;
    }
    return err(`ERR unknown subcommand '${byteStringToText(args[1] ?? "")}'. Try CONFIG HELP.`);
  }

  /**
   * CONFIG SET name value [name value ...], all or nothing as Redis 7.0 does it: the first unknown
   * or repeated name refuses the whole command; a value refused restores the ones already set.
   */
  private configSet(args: readonly string[]): RespValue {
    if (args.length % 2 !== 0) return err("ERR syntax error");
    const settings = this.host.settings;
    const names: string[] = [];
    for (let i = 2; i < args.length; i += 2) {
      const given = args[i] as string;
      const name = given.toLowerCase();
      if (settings.get(name) === undefined) return err(`ERR Unknown option or number of arguments for CONFIG SET - '${byteStringToText(given)}'`);
      if (names.includes(name)) return err(`ERR CONFIG SET failed (possibly related to argument '${byteStringToText(given)}') - duplicate parameter`);
      names.push(name);
    }
    const old = names.map((name) => settings.get(name) as string);
    for (let j = 0; j < names.length; j++) {
      const name = names[j] as string;
      const why = settings.set(name, args[3 + 2 * j] as string);
      if (why !== null) {
        for (let k = 0; k <= j; k++) settings.set(names[k] as string, old[k] as string);
        return err(`ERR CONFIG SET failed (possibly related to argument '${name}') - ${why}`);
      }
    }
    return OK;
  }

  private subscription(s: Session, name: string, names: readonly string[], reqId: number): RespValue | null {
    const kind = name === "psubscribe" || name === "punsubscribe" ? "pattern" : name === "ssubscribe" || name === "sunsubscribe" ? "shard" : "channel";
    const replies = name.includes("unsubscribe") ? this.pubsub.unsubscribe(s.id, kind, names) : this.pubsub.subscribe(s.id, kind, names);
    // Each confirmation is its own message: the first answers the request, the rest follow as pushes.
    replies.forEach((value, i) => {
      if (i === 0) this.reply(s, reqId, value);
      else this.host.emit({ kind: "push", client: s.id, value });
    });
    return null;
  }
}

/** Commands the keyspace runs (everything the server does not handle itself). */
function isDataCommand(name: string): boolean {
  return !SERVER_COMMANDS.has(name);
}

const SERVER_COMMANDS = new Set([
  "ping", "echo", "select", "quit", "reset", "auth", "hello", "client", "command", "info", "config", "readonly", "readwrite", "asking",
  "multi", "discard", "watch", "unwatch", "wait", "cluster", "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe",
  "sunsubscribe", "publish", "spublish", "pubsub", "exec", "migrate",
]);

/** Writes and may_replicate commands: what CLIENT_PAUSE_WRITE holds. */
function mayReplicate(entry: CommandEntry, name: string): boolean {
  return isWrite(entry) || MAY_REPLICATE.has(name);
}

/** getClientTypeByName's names. */
const CLIENT_TYPES: ReadonlySet<string> = new Set(["normal", "slave", "replica", "pubsub", "master"]);

/** A C int's range: SELECT's index is read with getIntFromObjectOrReply. */
const INT_MIN = -(2n ** 31n);
const INT_MAX = 2n ** 31n - 1n;

/** Redis allows client names of printable ASCII without spaces. */
function validClientName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}


export type { NodeId };
