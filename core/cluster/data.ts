// The keyspace and replication of one cluster node.
//
// Replication follows Redis: a master numbers every write by the bytes of its RESP encoding (the
// replication offset), keeps the latest writes in a bounded backlog and streams them to its
// replicas. A replica asks with PSYNC replid offset; the master continues from the backlog when
// it can (its own replication id, or the previous one up to the offset where it changed — PSYNC2)
// and otherwise sends a full resync: a snapshot, an end marker, then the live stream. Promotion
// shifts the replication id, so a demoted master that took writes its replica never saw cannot
// continue and is made to resync in full — that is where asynchronous replication loses writes.

import type { NodeId } from "../machine.js";
import { utf8ByteLength } from "../resp/codec.js";
import type { Json } from "../trace.js";
import { CLUSTER_CONST, type ClusterConfig, type ReplEntry, type ReplMsg } from "./types.js";

type Value = { readonly kind: "string"; readonly value: string } | { readonly kind: "list"; readonly items: string[] };

/** The commands this keyspace knows, by name: the index of the key argument and whether it writes. */
export const DATA_COMMANDS: Readonly<Record<string, { readonly write: boolean; readonly arity: number }>> = {
  GET: { write: false, arity: 2 },
  SET: { write: true, arity: 3 },
  DEL: { write: true, arity: 2 },
  RPUSH: { write: true, arity: -3 },
  LRANGE: { write: false, arity: 4 },
  LLEN: { write: false, arity: 2 },
};

/** Bytes of a command as RESP encodes it: what replication offsets count. */
export function respSize(cmd: readonly string[]): number {
  let n = 3 + String(cmd.length).length;
  for (const a of cmd) {
    const bytes = utf8ByteLength(a); // RESP lengths count bytes, not UTF-16 code units
    n += 5 + String(bytes).length + bytes;
  }
  return n;
}

export type Applied = { readonly ok: Json } | { readonly err: string };

export class Keyspace {
  private readonly map = new Map<string, Value>();

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }

  /** Runs a command known to DATA_COMMANDS with the right arity. */
  apply(cmd: readonly string[]): Applied {
    const name = (cmd[0] as string).toUpperCase();
    const key = cmd[1] as string;
    const v = this.map.get(key);
    switch (name) {
      case "GET":
        if (v === undefined) return { ok: null };
        return v.kind === "string" ? { ok: v.value } : WRONGTYPE;
      case "SET":
        this.map.set(key, { kind: "string", value: cmd[2] as string });
        return { ok: "OK" };
      case "DEL":
        return { ok: this.map.delete(key) ? 1 : 0 };
      case "RPUSH": {
        if (v !== undefined && v.kind !== "list") return WRONGTYPE;
        const list = v ?? { kind: "list" as const, items: [] };
        list.items.push(...cmd.slice(2));
        this.map.set(key, list);
        return { ok: list.items.length };
      }
      case "LLEN":
        if (v === undefined) return { ok: 0 };
        return v.kind === "list" ? { ok: v.items.length } : WRONGTYPE;
      case "LRANGE": {
        if (v === undefined) return { ok: [] };
        if (v.kind !== "list") return WRONGTYPE;
        const n = v.items.length;
        let start = Number(cmd[2]);
        let stop = Number(cmd[3]);
        if (!Number.isInteger(start) || !Number.isInteger(stop)) return { err: "ERR value is not an integer or out of range" };
        if (start < 0) start = Math.max(0, n + start);
        if (stop < 0) stop = n + stop;
        if (stop < 0 || start > stop || start >= n) return { ok: [] };
        return { ok: v.items.slice(start, Math.min(stop, n - 1) + 1) };
      }
      default:
        return { err: `ERR unknown command '${name}'` };
    }
  }

  /** Keys whose slot `inSlot` accepts are dropped (a node that lost slots it still had keys in). */
  dropWhere(inSlot: (key: string) => boolean): number {
    let n = 0;
    for (const key of [...this.map.keys()]) {
      if (inSlot(key)) {
        this.map.delete(key);
        n += 1;
      }
    }
    return n;
  }

  /** Serializable pairs for a full resync, in key order (deterministic). */
  snapshot(): [string, string[]][] {
    return [...this.map.keys()].sort().map((k) => {
      const v = this.map.get(k) as Value;
      return [k, v.kind === "string" ? ["s", v.value] : ["l", ...v.items]];
    });
  }

  load(pairs: readonly (readonly [string, readonly string[]])[]): void {
    for (const [k, enc] of pairs) {
      if (enc[0] === "s") this.map.set(k, { kind: "string", value: enc[1] ?? "" });
      else this.map.set(k, { kind: "list", items: enc.slice(1) });
    }
  }

  /** Inspection for checkers: the items of a list (empty when absent). */
  list(key: string): readonly string[] {
    const v = this.map.get(key);
    return v?.kind === "list" ? v.items : [];
  }

  keys(): string[] {
    return [...this.map.keys()].sort();
  }
}

const WRONGTYPE: Applied = { err: "WRONGTYPE Operation against a key holding the wrong kind of value" };

interface ReplicaLink {
  /** The offset the replica last acknowledged (REPLCONF ACK). */
  ackOffset: number;
  ackMs: number;
}

/** Replication effects go out through this callback (the node turns them into `send` effects). */
export type ReplSend = (to: NodeId, msg: ReplMsg) => void;

/**
 * Both sides of replication. A node is a master (streams to `replicas`) or a replica of
 * `masterAddress` (applies what it receives); `promote` and `follow` switch.
 */
export class Replication {
  readonly data = new Keyspace();
  /** The replication id of the history this node's data belongs to. */
  replid: string;
  /** The previous replication id and the first offset not covered by it (PSYNC2). */
  replid2 = "0".repeat(40);
  secondReplidOffset = -1;
  /** Bytes of replication stream this node's data reflects. */
  offset = 0;

  /** Master side: the newest writes, oldest first, bounded by replBacklogBytes. */
  private backlog: { readonly offset: number; readonly entry: ReplEntry }[] = [];
  private backlogBytes = 0;
  private readonly replicas = new Map<NodeId, ReplicaLink>();

  /** Replica side. */
  masterAddress: NodeId | null = null;
  state: "none" | "connecting" | "loading" | "connected" = "none";
  /** Local time of the last message from the master (its data age counts from here). */
  lastInteractionMs = 0;
  /** When the link to the master went down (or this node became a replica). */
  downSinceMs = 0;
  private psyncSentMs = -Infinity;
  private ackSentMs = -Infinity;
  private pingSentMs = -Infinity;
  private loadingPairs: (readonly [string, readonly string[]])[] = [];

  constructor(
    private readonly config: ClusterConfig,
    newReplid: () => string,
    private readonly send: ReplSend,
  ) {
    this.replid = newReplid();
  }

  get isReplica(): boolean {
    return this.masterAddress !== null;
  }

  /** Master: applies a client write, appends it to the backlog and streams it to every replica. */
  write(cmd: readonly string[]): Applied {
    const r = this.data.apply(cmd);
    if ("err" in r) return r;
    const entry: ReplEntry = { cmd, size: respSize(cmd) };
    const at = this.offset;
    this.offset += entry.size;
    this.backlog.push({ offset: at, entry });
    this.backlogBytes += entry.size;
    while (this.backlogBytes > this.config.replBacklogBytes && this.backlog.length > 1) {
      this.backlogBytes -= (this.backlog.shift() as { entry: ReplEntry }).entry.size;
    }
    for (const to of this.replicas.keys()) this.send(to, { type: "stream", offset: at, entries: [entry] });
    return r;
  }

  /** This node stops replicating and serves its data as a master with a new replication id. */
  promote(newReplid: string): void {
    this.replid2 = this.replid;
    this.secondReplidOffset = this.offset;
    this.replid = newReplid;
    this.masterAddress = null;
    this.state = "none";
    this.loadingPairs = [];
  }

  /** This node replicates `address` from now on (its data stays until the master says otherwise). */
  follow(address: NodeId, nowMs: number): void {
    if (this.masterAddress === address) return;
    this.masterAddress = address;
    this.replicas.clear();
    this.state = "connecting";
    this.downSinceMs = nowMs;
    this.psyncSentMs = -Infinity;
    this.connect(nowMs);
  }

  /** Periodic work: reconnecting, acks, the master's pings, replication timeouts. */
  cron(nowMs: number): void {
    if (this.masterAddress !== null) {
      if (this.state !== "connecting" && nowMs - this.lastInteractionMs > CLUSTER_CONST.replTimeoutMs) this.linkDown(nowMs);
      if (this.state === "connecting" && nowMs - this.psyncSentMs >= 1000) this.connect(nowMs);
      if (this.state === "connected" && nowMs - this.ackSentMs >= CLUSTER_CONST.replAckMs) {
        this.ackSentMs = nowMs;
        this.send(this.masterAddress, { type: "repl-ack", offset: this.offset });
      }
      return;
    }
    if (nowMs - this.pingSentMs >= this.config.replPingPeriodMs) {
      this.pingSentMs = nowMs;
      for (const to of this.replicas.keys()) this.send(to, { type: "repl-ping", offset: this.offset });
    }
  }

  /** Handles a replication message; returns false if it was not one this side expects. */
  onMessage(from: NodeId, msg: ReplMsg, nowMs: number): void {
    if (msg.type === "psync") return this.onPsync(from, msg.replid, msg.offset, nowMs);
    if (msg.type === "repl-ack") {
      const r = this.replicas.get(from);
      if (r !== undefined) {
        r.ackOffset = Math.max(r.ackOffset, msg.offset);
        r.ackMs = nowMs;
      } else if (this.masterAddress === null) {
        // An ack from a replica this master does not know: it restarted (or never saw the PSYNC).
        this.send(from, { type: "repl-reset" });
      }
      return;
    }
    // Everything else flows master → replica, and only from the master we follow.
    if (from !== this.masterAddress) return;
    this.lastInteractionMs = nowMs;
    switch (msg.type) {
      case "fullresync":
        this.data.clear();
        this.loadingPairs = [];
        this.replid = msg.replid;
        this.replid2 = "0".repeat(40);
        this.secondReplidOffset = -1;
        this.offset = msg.offset;
        this.backlog = [];
        this.backlogBytes = 0;
        this.state = "loading";
        return;
      case "snapshot":
        if (this.state === "loading") this.loadingPairs.push(...msg.pairs);
        return;
      case "snapshot-end":
        if (this.state !== "loading") return;
        this.data.load(this.loadingPairs);
        this.loadingPairs = [];
        this.state = "connected";
        return;
      case "continue":
        if (msg.replid !== this.replid) {
          this.replid2 = this.replid;
          this.secondReplidOffset = this.offset;
          this.replid = msg.replid;
        }
        this.state = "connected";
        return;
      case "stream":
        if (this.state !== "connected") return;
        if (msg.offset !== this.offset) {
          // A gap or a repeat: the stream is no longer the master's; start over with PSYNC.
          this.linkDown(nowMs);
          this.connect(nowMs);
          return;
        }
        for (const e of msg.entries) {
          this.data.apply(e.cmd);
          this.backlog.push({ offset: this.offset, entry: e });
          this.backlogBytes += e.size;
          this.offset += e.size;
        }
        while (this.backlogBytes > this.config.replBacklogBytes && this.backlog.length > 1) {
          this.backlogBytes -= (this.backlog.shift() as { entry: ReplEntry }).entry.size;
        }
        return;
      case "repl-ping":
        // A master ahead of us with nothing arriving lost our stream (a broken connection): resync.
        if (this.state === "connected" && msg.offset !== this.offset) {
          this.linkDown(nowMs);
          this.connect(nowMs);
        }
        return;
      case "repl-reset":
        this.linkDown(nowMs);
        this.connect(nowMs);
        return;
      default:
        return;
    }
  }

  /** Replicas and the offsets they acknowledged, by address (for WAIT and inspection). */
  replicaAcks(): [NodeId, number][] {
    return [...this.replicas].map(([a, r]) => [a, r.ackOffset]);
  }

  private onPsync(from: NodeId, replid: string, offset: number, nowMs: number): void {
    if (this.masterAddress !== null) return; // a replica does not serve sub-replicas here
    const first = this.backlog[0]?.offset ?? this.offset;
    const sameHistory = replid === this.replid || (replid === this.replid2 && offset <= this.secondReplidOffset);
    this.replicas.set(from, { ackOffset: offset, ackMs: nowMs });
    if (sameHistory && offset >= first && offset <= this.offset) {
      this.send(from, { type: "continue", replid: this.replid, offset });
      const entries = this.backlog.filter((b) => b.offset >= offset);
      if (entries.length > 0) this.send(from, { type: "stream", offset, entries: entries.map((b) => b.entry) });
      return;
    }
    this.send(from, { type: "fullresync", replid: this.replid, offset: this.offset });
    const pairs = this.data.snapshot();
    for (let i = 0; i < pairs.length; i += CLUSTER_CONST.snapshotChunk) {
      this.send(from, { type: "snapshot", pairs: pairs.slice(i, i + CLUSTER_CONST.snapshotChunk) });
    }
    this.send(from, { type: "snapshot-end" });
  }

  private connect(nowMs: number): void {
    if (this.masterAddress === null) return;
    this.psyncSentMs = nowMs;
    this.state = "connecting";
    this.send(this.masterAddress, { type: "psync", replid: this.replid, offset: this.offset });
  }

  private linkDown(nowMs: number): void {
    if (this.state !== "connecting") this.downSinceMs = nowMs;
    this.state = "connecting";
    this.loadingPairs = [];
  }

  /** Data age for the election's validity check, as Redis computes it. */
  dataAgeMs(nowMs: number): number {
    return this.state === "connected" ? nowMs - this.lastInteractionMs : nowMs - this.downSinceMs;
  }
}
