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
import { Keyspace } from "../keyspace/keyspace.js";
import { keySlot } from "./slots.js";
import { CLUSTER_CONST, type ClusterConfig, type ReplEntry, type ReplMsg, type SnapshotEntry } from "./types.js";

/** Bytes of a command as RESP encodes it: what replication offsets count. Arguments are byte strings. */
export function respSize(cmd: readonly string[]): number {
  let n = 3 + digits(cmd.length);
  for (const a of cmd) n += 5 + digits(a.length) + a.length;
  return n;
}

/** Decimal digits of a length (`String(n).length` without making the string: this runs per write). */
function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/**
 * The master's newest writes, oldest first, bounded in bytes: entries and their offsets in two
 * arrays (one object per write, not two). Trimming advances `head`; the arrays are compacted once
 * the dead part is half of them, so a write costs O(1) amortized.
 */
class Backlog {
  private entries: ReplEntry[] = [];
  private offsets: number[] = [];
  private head = 0;
  /** Bytes of the live entries. */
  bytes = 0;

  push(offset: number, entry: ReplEntry): void {
    this.entries.push(entry);
    this.offsets.push(offset);
    this.bytes += entry.size;
  }

  /** Drops the oldest entries while above `maxBytes`, always keeping the newest. */
  trim(maxBytes: number): void {
    while (this.bytes > maxBytes && this.entries.length - this.head > 1) {
      this.bytes -= (this.entries[this.head] as ReplEntry).size;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.offsets = this.offsets.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.entries = [];
    this.offsets = [];
    this.head = 0;
    this.bytes = 0;
  }

  /** The offset of the oldest live entry, or null when empty. */
  firstOffset(): number | null {
    return this.head < this.offsets.length ? (this.offsets[this.head] as number) : null;
  }

  /** The live entries at or after `offset`. */
  from(offset: number): ReplEntry[] {
    const out: ReplEntry[] = [];
    for (let i = this.head; i < this.entries.length; i++) if ((this.offsets[i] as number) >= offset) out.push(this.entries[i] as ReplEntry);
    return out;
  }
}

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
  readonly data = new Keyspace(undefined, keySlot);
  /** The replication id of the history this node's data belongs to. */
  replid: string;
  /** The previous replication id and the first offset not covered by it (PSYNC2). */
  replid2 = "0".repeat(40);
  secondReplidOffset = -1;
  /** Bytes of replication stream this node's data reflects. */
  offset = 0;

  /** Master side: the newest writes, bounded by replBacklogBytes. */
  private readonly backlog = new Backlog();
  /**
   * Whether the backlog exists. As in Redis (createReplicationBacklog), a master creates it when
   * the first replica asks to sync, and a replica when it starts following; until then a master
   * keeps no history, so a node with no replicas spends no memory on one.
   */
  private backlogActive = false;
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
  private loadingPairs: SnapshotEntry[] = [];

  constructor(
    private readonly config: ClusterConfig,
    newReplid: () => string,
    private readonly send: ReplSend,
    /** Keys a replica's stream or resync changed (WATCH sees them). */
    private readonly applied: (keys: readonly string[]) => void = () => {},
    /** Writes that changed this node's data, master or replica alike: what the AOF appends. */
    private readonly logged: (cmds: readonly (readonly string[])[]) => void = () => {},
    /** A full resync replaced the whole dataset. */
    private readonly resynced: () => void = () => {},
  ) {
    this.replid = newReplid();
  }

  get isReplica(): boolean {
    return this.masterAddress !== null;
  }

  /**
   * Master: appends what a command propagated to the backlog and streams it to every replica, in
   * one message (so a transaction reaches a replica whole).
   */
  feed(cmds: readonly (readonly string[])[]): void {
    if (cmds.length === 0) return;
    this.logged(cmds);
    const at = this.offset;
    if (!this.backlogActive && this.replicas.size === 0) {
      // No replica and no history to keep: only the offset moves.
      for (const cmd of cmds) this.offset += respSize(cmd);
      return;
    }
    const entries: ReplEntry[] | null = this.replicas.size > 0 ? [] : null;
    for (const cmd of cmds) {
      const entry: ReplEntry = { cmd, size: respSize(cmd) };
      entries?.push(entry);
      if (this.backlogActive) this.backlog.push(this.offset, entry);
      this.offset += entry.size;
    }
    this.backlog.trim(this.config.replBacklogBytes);
    if (entries !== null) for (const to of this.replicas.keys()) this.send(to, { type: "stream", offset: at, entries });
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
    this.backlogActive = true;
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
        this.backlog.clear();
        this.state = "loading";
        return;
      case "snapshot":
        if (this.state === "loading") this.loadingPairs.push(...msg.entries);
        return;
      case "snapshot-end":
        if (this.state !== "loading") return;
        for (const e of this.loadingPairs) this.data.restoreEntry(e.key, e.payload, e.expireAtMs, nowMs);
        this.loadingPairs = [];
        this.state = "connected";
        this.resynced();
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
        this.logged(msg.entries.map((e) => e.cmd));
        for (const e of msg.entries) {
          const name = e.cmd[0];
          // MULTI/EXEC frame a transaction in the stream; the message already delivers it whole.
          if (name !== "MULTI" && name !== "EXEC") this.applied(this.data.exec(e.cmd, nowMs).touched);
          this.backlog.push(this.offset, e);
          this.offset += e.size;
        }
        this.backlog.trim(this.config.replBacklogBytes);
        return;
      case "repl-ping":
        // A master ahead of us with nothing arriving lost our stream (a broken connection): resync.
        if (this.state === "connected" && msg.offset !== this.offset) {
          this.linkDown(nowMs);
          this.connect(nowMs);
        }
        return;
      case "repl-getack":
        if (this.state === "connected") {
          this.ackSentMs = nowMs;
          this.send(from, { type: "repl-ack", offset: this.offset });
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

  /** The backlog for INFO: the offset of its first byte and how many bytes it holds. */
  backlogInfo(): { active: boolean; firstByteOffset: number; histlen: number } {
    return { active: this.backlogActive, firstByteOffset: (this.backlog.firstOffset() ?? this.offset) + 1, histlen: this.backlog.bytes };
  }

  /** Master: asks every replica for an ack now (REPLCONF GETACK, for WAIT). */
  requestAcks(): void {
    for (const to of this.replicas.keys()) this.send(to, { type: "repl-getack" });
  }

  /** Replicas and the offsets they acknowledged, by address (for WAIT and inspection). */
  replicaAcks(): [NodeId, number][] {
    return [...this.replicas].map(([a, r]) => [a, r.ackOffset]);
  }

  private onPsync(from: NodeId, replid: string, offset: number, nowMs: number): void {
    if (this.masterAddress !== null) return; // a replica does not serve sub-replicas here
    const first = this.backlog.firstOffset() ?? this.offset;
    const sameHistory = replid === this.replid || (replid === this.replid2 && offset <= this.secondReplidOffset);
    this.replicas.set(from, { ackOffset: offset, ackMs: nowMs });
    // Without a backlog there is no history to continue from (Redis: need_full_resync); the
    // backlog starts now, after the snapshot this replica is about to load.
    const hadBacklog = this.backlogActive;
    this.backlogActive = true;
    if (hadBacklog && sameHistory && offset >= first && offset <= this.offset) {
      this.send(from, { type: "continue", replid: this.replid, offset });
      const entries = this.backlog.from(offset);
      if (entries.length > 0) this.send(from, { type: "stream", offset, entries });
      return;
    }
    this.send(from, { type: "fullresync", replid: this.replid, offset: this.offset });
    const entries = this.data.snapshot();
    for (let i = 0; i < entries.length; i += CLUSTER_CONST.snapshotChunk) {
      this.send(from, { type: "snapshot", entries: entries.slice(i, i + CLUSTER_CONST.snapshotChunk) });
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
