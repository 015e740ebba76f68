// Messages, configuration and replies of the cluster node (core/cluster/node.ts).
//
// Addresses and names: the host delivers messages between addresses (`NodeId`: "n1" in the
// simulator, "127.0.0.1:7001" on real sockets). A cluster node's *name* is the 40-hex id it
// draws from its PRNG on first start and keeps in nodes.conf, as Redis does; a wiped node comes
// back with a new name at the same address.

import type { NodeId } from "../machine.js";
import type { RespValue } from "../resp/codec.js";
import type { SlotSet } from "./slots.js";

/** Node flags, as Redis keeps them (a bit set, so headers and gossip carry them compactly). */
export const FLAG = {
  master: 1,
  replica: 2,
  pfail: 4,
  fail: 8,
  myself: 16,
  handshake: 32,
  noaddr: 64,
  meet: 128,
  migrateTo: 256,
  nofailover: 512,
} as const;

/** Manual failover flags in a header. */
export const MFLAG = {
  /** The master has paused its clients for a manual failover (sent to the replica taking over). */
  paused: 1,
  /** A FAILOVER_AUTH_REQUEST that asks masters to vote even though the master is not FAIL. */
  forceAck: 2,
} as const;

export type ClusterHealth = "ok" | "fail";

/** What every cluster bus message carries about its sender. */
export interface Header {
  /** The sender's name. */
  readonly sender: string;
  readonly currentEpoch: number;
  /** The sender's configEpoch; a replica sends its master's. */
  readonly configEpoch: number;
  /** The sender's replication offset. */
  readonly offset: number;
  /** The slots the sender serves; a replica sends its master's. Immutable, shared by reference. */
  readonly slots: SlotSet;
  /** The sender's master's name, or null for a master. */
  readonly master: string | null;
  readonly flags: number;
  readonly state: ClusterHealth;
  readonly mflags: number;
  /** Faultline: the sender's replica priority, so sibling replicas can break rank ties by it. */
  readonly priority: number;
}

/** One gossip entry: what the sender knows of another node. Times are in seconds, as Redis sends them. */
export interface Gossip {
  readonly name: string;
  readonly address: NodeId;
  readonly pingSentS: number;
  readonly pongReceivedS: number;
  readonly flags: number;
}

export type BusMsg =
  | { readonly type: "ping" | "pong" | "meet"; readonly h: Header; readonly gossip: readonly Gossip[] }
  | { readonly type: "fail"; readonly h: Header; readonly about: string }
  | { readonly type: "update"; readonly h: Header; readonly about: string; readonly configEpoch: number; readonly slots: SlotSet }
  | { readonly type: "failover-auth-request"; readonly h: Header }
  | { readonly type: "failover-auth-ack"; readonly h: Header }
  | { readonly type: "mfstart"; readonly h: Header }
  /** PUBLISH travels to every node, SPUBLISH (publishshard) to the slot's shard. */
  | { readonly type: "publish" | "publishshard"; readonly h: Header; readonly channel: string; readonly message: string };

/** One key of a full resync: its DUMP payload (core/keyspace) and absolute expiry. */
export interface SnapshotEntry {
  readonly key: string;
  readonly payload: string;
  readonly expireAtMs: number | null;
}

/** One write in the replication stream. */
export type ReplEntry = { readonly cmd: readonly string[]; readonly size: number };

/**
 * Replication travels on its own link (a separate TCP connection in Redis), so its messages carry
 * no bus header. Offsets count bytes of the stream, as Redis's do.
 */
export type ReplMsg =
  /** Replica → master: PSYNC replid offset (offset = the next byte the replica wants). */
  | { readonly type: "psync"; readonly replid: string; readonly offset: number }
  /** Master → replica: a full resync starts; the snapshot follows, then `snapshot-end`. */
  | { readonly type: "fullresync"; readonly replid: string; readonly offset: number }
  | { readonly type: "snapshot"; readonly entries: readonly SnapshotEntry[] }
  | { readonly type: "snapshot-end" }
  /** Master → replica: a partial resync; the backlog from `offset` follows as stream messages. */
  | { readonly type: "continue"; readonly replid: string; readonly offset: number }
  /** Master → replica: writes starting at byte `offset`. */
  | { readonly type: "stream"; readonly offset: number; readonly entries: readonly ReplEntry[] }
  /** Master → replica, every replPingPeriodMs: keeps the replica's data age fresh. */
  | { readonly type: "repl-ping"; readonly offset: number }
  /** Master → replica: REPLCONF GETACK — ack now (WAIT is waiting). */
  | { readonly type: "repl-getack" }
  /** Replica → master: REPLCONF ACK offset. */
  | { readonly type: "repl-ack"; readonly offset: number }
  /**
   * Master → a replica it does not know (it restarted since): the connection is not what the
   * replica thinks; PSYNC again. Stands for the reset a real replica's socket would see.
   */
  | { readonly type: "repl-reset" };

/**
 * MIGRATE between nodes: the keys as DUMP payloads with their remaining TTL (ms, 0 = none), run on
 * the target as RESTORE-ASKING; the target answers with the first error, or null.
 */
export type MigrateMsg =
  | { readonly type: "migrate"; readonly id: number; readonly entries: readonly { readonly key: string; readonly payload: string; readonly ttlMs: number }[]; readonly replace: boolean }
  | { readonly type: "migrate-reply"; readonly id: number; readonly error: string | null };

export type ClusterMsg = BusMsg | ReplMsg | MigrateMsg;

/** A client request: a command as RESP carries it, every argument a byte string (core/keyspace/bytes.ts). */
export interface ClusterReq {
  readonly cmd: readonly string[];
  /**
   * Sent right after ASKING on the same connection (a client following an ASK redirect pipelines
   * the two; the simulator's clients send them as one request, and get the command's reply).
   */
  readonly asking?: boolean;
}

/** A reply or push to a client: a RESP value (the host encodes it in the client's protocol). */
export type ClusterRep = RespValue;

/** How a node joins the cluster on its first start: what `redis-cli --cluster create` arranges. */
export interface Bootstrap {
  /** Slots this node serves as a master (empty for a replica). */
  readonly slots: readonly (readonly [number, number])[];
  /** Its configEpoch as a master (redis-cli gives masters 1, 2, 3, ...). */
  readonly configEpoch: number;
  /** The address of the master to replicate, for a replica. */
  readonly replicaOf: NodeId | null;
  /** Addresses to MEET. */
  readonly meet: readonly NodeId[];
  /**
   * A cluster that already formed (as if every node restarted from its nodes.conf): this node's
   * name and the whole table. Large simulated clusters start this way, skipping the O(N²)
   * handshakes of forming one by MEET.
   */
  readonly preformed?: {
    readonly name: string;
    readonly nodes: readonly {
      readonly name: string;
      readonly address: NodeId;
      readonly replicaOf: NodeId | null;
      readonly slots: readonly (readonly [number, number])[];
      readonly configEpoch: number;
    }[];
  };
}

export interface ClusterConfig {
  readonly nodeTimeoutMs: number;
  /** 0 disables the data-age check in replica elections. */
  readonly replicaValidityFactor: number;
  readonly migrationBarrier: number;
  readonly allowReplicaMigration: boolean;
  readonly requireFullCoverage: boolean;
  readonly replPingPeriodMs: number;
  readonly replBacklogBytes: number;
  /** Lower wins ties between replicas with equal offsets; 0 never fails over (Redis: replica-priority). */
  readonly replicaPriority: number;
  /** cluster-replica-no-failover. */
  readonly nofailover: boolean;
  /** appendonly: keep the data in per-slot-range append-only files and snapshots (aof.ts). */
  readonly appendonly: boolean;
  readonly appendfsync: "always" | "everysec" | "no";
  /** Slots per persistence file (a divisor of 16384). */
  readonly aofRangeSlots: number;
  /** RESP bytes appended to a range since its snapshot that trigger a rewrite. */
  readonly aofRewriteBytes: number;
  /** requirepass: "" lets every client in; otherwise AUTH (or HELLO … AUTH) first. */
  readonly requirepass: string;
  readonly cronMs: number;
  readonly bootstrap: Bootstrap | null;
  /** What INFO says about the host (core/ cannot ask: no process, no OS). */
  readonly host: HostFacts;
  /** Planted defects, so tests can show the invariant checkers catch them. */
  readonly bugs: {
    /** Send FAILOVER_AUTH_ACK before lastVoteEpoch is durable. */
    readonly voteBeforePersist: boolean;
  };
}

export interface HostFacts {
  readonly faultlineVersion: string;
  readonly processId: number;
  readonly os: string;
  readonly multiplexingApi: string;
  readonly executable: string;
  readonly configFile: string;
}

export const CLUSTER_DEFAULTS: ClusterConfig = {
  nodeTimeoutMs: 15000,
  replicaValidityFactor: 10,
  migrationBarrier: 1,
  allowReplicaMigration: true,
  requireFullCoverage: true,
  replPingPeriodMs: 10000,
  replBacklogBytes: 1 << 20,
  replicaPriority: 100,
  nofailover: false,
  appendonly: false,
  appendfsync: "everysec",
  aofRangeSlots: 1024,
  aofRewriteBytes: 64 * 1024 * 1024,
  requirepass: "",
  cronMs: 100,
  bootstrap: null,
  host: { faultlineVersion: "0.1.0", processId: 0, os: "faultline simulator", multiplexingApi: "simulated", executable: "", configFile: "" },
  bugs: { voteBeforePersist: false },
};

/** Redis's fixed delays. */
export const CLUSTER_CONST = {
  /** A master that was in the minority waits clamp(node_timeout, min, max) before OK again. */
  rejoinDelayMinMs: 500,
  rejoinDelayMaxMs: 5000,
  /** After start a master waits this long before its cluster state may turn OK. */
  writableDelayMs: 2000,
  /** The manual failover window (CLUSTER_MF_TIMEOUT). */
  mfTimeoutMs: 5000,
  /** Pings carry gossip about at least this many nodes (when known). */
  gossipMin: 3,
  /** Replicas ack their offset this often (REPLCONF ACK every second). */
  replAckMs: 1000,
  /** A replica with no word from its master for this long drops the link and reconnects. */
  replTimeoutMs: 60_000,
  /** Snapshot pairs per message. */
  snapshotChunk: 256,
  /** Keys the active expiry cycle may sample per cron tick. */
  activeExpireBudget: 200,
} as const;
