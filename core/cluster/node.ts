// A Redis Cluster node as a pure state machine: the cluster bus (MEET, PING/PONG with gossip,
// FAIL, UPDATE, failover auth, MFSTART), failure detection (PFAIL → FAIL by failure reports from
// a majority of slot-owning masters), replica elections and promotion, epochs and slot ownership,
// manual failover, replica migration, cluster state, and the keyed commands that clients send.
//
// The rules follow redis/redis `cluster_legacy.c` (see ../shared/REDIS-CLUSTER-NOTES.md); function
// names echo Redis's so the two can be read side by side. Where Faultline differs on purpose the
// comment says "Faultline:" and core/cluster/README.md lists the differences.
//
// Durable state (nodes.conf): the node's name, currentEpoch, lastVoteEpoch and the nodes table with
// roles, configEpochs and slots. It is written whole, with fsync, and every message or reply that
// depends on a change (a vote, a bumped epoch, a promotion) waits for that write (`after`).

import { assert, assertNever, type Effect, type Input, type Machine, type MachineInit, type NodeId, type PersistId, type Prng, type Recovered } from "../machine.js";
import { randomInt } from "../prng.js";
import type { Json } from "../trace.js";
import { Resp, type RespValue } from "../resp/codec.js";
import { bulk, bytesToByteString, byteStringToText } from "../keyspace/bytes.js";
import { Aof } from "./aof.js";
import { Replication } from "./data.js";
import { type ClusterView, clusterInfo, clusterNodes, clusterReplicas, clusterShards, clusterSlots, endpointOf, movedTarget, type NodeView } from "./format.js";
import { info as infoText, type InfoView } from "./info.js";
import { Server, type ServerHost, type Session, type Settings } from "./server.js";
import { keySlot, SLOTS, SlotSet } from "./slots.js";
import {
  type BusMsg,
  CLUSTER_CONST,
  type ClusterConfig,
  type ClusterHealth,
  type ClusterMsg,
  type ClusterRep,
  type ClusterReq,
  FLAG,
  type Gossip,
  type Header,
  MFLAG,
  type MigrateMsg,
  type ReplMsg,
} from "./types.js";

type Fx = Effect<ClusterMsg, ClusterRep>[];

const CONFIG_FILE = "nodes.conf";
const TIMER_CRON = "cron";
/** Fires at the earliest deadline of a blocked client (BLPOP, WAIT). */
const TIMER_CLIENTS = "clients";
/** One per MIGRATE in flight: "migrate:<token>". */
const TIMER_MIGRATE = "migrate:";
/**
 * "Not set", for times where Redis uses 0 (ping_sent, orphaned_time, mf_end). Redis's clock is
 * the Unix epoch and never reads 0; a local clock here may, so 0 would be a real time. An integer
 * far below any local time keeps the fields small integers for V8.
 */
const NEVER = -(2 ** 30);
const TIMER_FAILOVER = "failover";

/** What this node knows about one node of the cluster (itself included). */
export class NodeRec {
  // Field order is object layout: what gossip and the cron read for every node comes first, so one
  // cache line serves them (1000 nodes hold a million of these records between them). Times are
  // whole milliseconds (Redis's mstime), which V8 keeps inline; a fractional time would be stored
  // as a pointer to a boxed number, one more cache miss per read.
  flags: number;
  /** Local time a PING to it was sent and not yet answered (NEVER: none pending). */
  pingSentMs = NEVER;
  pongReceivedMs = 0;
  /** The PING being built when this node was last put in its gossip. */
  gossipMark = 0;
  /** Masters that reported it PFAIL or FAIL, with the local time of their latest report (null: none). */
  failReports: Map<string, number> | null = null;
  /** Where to reach it; null once another node took its address (NOADDR). */
  address: NodeId | null;
  /** The last gossip entry made for it, reused while its key below still matches (entries are immutable). */
  gossip: Gossip | null = null;
  gossipFlags = 0;
  gossipPingS = 0;
  gossipPongS = 0;
  /** Local time anything last arrived from it. */
  dataReceivedMs: number;
  /** When the current link to it was created (link recycling waits node_timeout after this). */
  linkCreatedMs: number;
  readonly name: string;
  /** Its master, for a replica. */
  master: NodeRec | null = null;
  configEpoch = 0;
  /** The slots this node believes it serves (kept equal to the slot table's view). */
  slots: SlotSet = SlotSet.EMPTY;
  failTimeMs = 0;
  /** Last time this node voted for a replica of this (master) node. Volatile, as in Redis. */
  votedTimeMs = 0;
  replOffset = 0;
  /** The replica priority it announced (Faultline: carried in headers; lower wins ties). */
  priority = 0;
  /** When it became a master with slots and no working replica (NEVER: not orphaned). */
  orphanedTimeMs = NEVER;
  /** Scratch for countOkReplicas: how many of this master's replicas are not failing, valid while okReplicasMark is current. */
  okReplicas = 0;
  okReplicasMark = 0;

  constructor(name: string, address: NodeId | null, flags: number, nowMs: number) {
    this.flags = flags;
    this.address = address;
    this.name = name;
    this.dataReceivedMs = nowMs;
    this.linkCreatedMs = nowMs;
  }
}

/** Why a replica is not failing over now (logged once per reason change, as Redis does). */
type CantFailover = "none" | "data-age" | "waiting-delay" | "expired" | "waiting-votes";

/** Why a master refused a FAILOVER_AUTH_REQUEST (Redis sends no negative reply; we trace it). */
export type VoteRefusal =
  | "not-a-master-with-slots"
  | "old-epoch"
  | "already-voted"
  | "requester-is-master"
  | "master-not-failed"
  | "voted-recently"
  | "stale-slots";

/**
 * Memory figures only a host can read (core/ has no process or allocator to ask): INFO memory's
 * used_memory, used_memory_rss and total_system_memory, in bytes.
 */
export interface HostMemory {
  readonly usedBytes: number;
  readonly rssBytes: number;
  readonly totalSystemBytes: number;
}

export interface ClusterNodeInit extends MachineInit<ClusterConfig> {
  /**
   * Reads the host's memory figures; called at start, on each cron tick and by INFO. The simulator
   * supplies none, so INFO memory shows zeros there and traces stay the same on every machine.
   */
  readonly hostMemory?: () => HostMemory;
}

export class ClusterNode implements Machine<ClusterMsg, ClusterReq, ClusterRep> {
  readonly address: NodeId;
  private readonly config: ClusterConfig;
  private readonly rng: Prng;
  private readonly hostMemory: (() => HostMemory) | null;

  // ---- durable (nodes.conf) ----
  /** This node's 40-hex name. */
  private name = "";
  currentEpoch = 0;
  lastVoteEpoch = 0;
  /** Every known node by name, this one included. Insertion order is deterministic. */
  private readonly nodes = new Map<string, NodeRec>();
  /** The same records as a list, for random picks (kept in step with `nodes`). */
  private nodeList: NodeRec[] = [];
  private myself!: NodeRec;
  /** Who serves each slot, as far as this node knows. */
  private readonly owner: (NodeRec | null)[] = new Array<NodeRec | null>(SLOTS).fill(null);

  // ---- volatile ----
  /** Handshakes in progress, by address: MEET or PING sent, waiting for a PONG that names the node. */
  private readonly handshakes = new Map<NodeId, { startedMs: number; meet: boolean; sentMs: number }>();
  /** The address of the master a bootstrap asked to replicate, until that node is known. */
  private replicaOfAddress: NodeId | null = null;
  state: ClusterHealth = "fail";
  /** When this node last found itself among a minority of masters (-Infinity: never). */
  private amongMinorityMs = -Infinity;
  private startedMs = 0;
  private cronIteration = 0;
  private persistIdNext: PersistId = 0;
  /** Bumped by each countOkReplicas, so stale per-record counts read as zero. */
  private okReplicasMark = 0;
  /** Counts PINGs built, to mark nodes already in the one being built (Redis: last_in_ping_gossip). */
  private pingsBuilt = 0;
  /** The currentEpoch last announced in an `epoch` trace event (once durable). */
  private visibleEpoch = 0;
  /**
   * The config changed in a way Redis fsyncs (epochs, votes, slots, roles): it is saved before this
   * step ends, and everything the step sends waits for that save (Redis writes bus messages after
   * beforeSleep has saved nodes.conf).
   */
  private configDirty = false;
  /** The config changed in a way Redis saves without fsync (nodes met, FAIL flags): saved at the next cron. */
  private configLazy = false;
  /** Replica election. */
  /**
   * When the current election's request goes (or went) out. -Infinity: no election yet. (Redis
   * starts from 0 on a Unix-epoch clock, which is "long ago"; local clocks here start near 0.)
   */
  private failoverAuthTimeMs = -Infinity;
  private failoverAuthSent = false;
  private failoverAuthRank = 0;
  private failoverAuthEpoch = 0;
  private readonly failoverAuthVoters = new Set<string>();
  private cantFailoverReason: CantFailover = "none";
  /** Manual failover (both sides). mfEndMs NEVER: none in progress. */
  private mfEndMs = NEVER;
  private mfCanStart = false;
  private mfReplica: NodeRec | null = null;
  private mfMasterOffset = -1;
  /** Data persistence by slot range (aof.ts). */
  private readonly aof: Aof;
  /** appendfsync always: the fsync this step's replies wait for (null: none). */
  private replyGate: PersistId | null = null;
  /** Clients: sessions, dispatch, transactions, blocking (server.ts). */
  private server!: Server;
  /** Open slot migrations on this node (CLUSTER SETSLOT MIGRATING / IMPORTING): slot → the other node. */
  private readonly migrating = new Map<number, NodeRec>();
  private readonly importing = new Map<number, NodeRec>();
  /** The armed deadline of TIMER_CLIENTS (NEVER: none). */
  private clientsTimerMs = NEVER;
  /** MIGRATEs in flight, by the server's token. */
  private readonly migrations = new Map<number, { readonly keys: readonly string[]; readonly copy: boolean }>();
  /** Bus messages by type, for CLUSTER INFO. */
  private readonly sentByType = new Map<string, number>();
  private readonly receivedByType = new Map<string, number>();
  /** How many nodes are PFAIL, recounted each cron (may run high in between): PINGs append them all when nonzero. */
  private pfailCount = 0;
  private replication!: Replication;
  /** Bumped whenever the slot table changes, so observers can cache views of it. */
  slotsVersion = 0;
  /** Effects of the step in progress (replication's send callback writes here). */
  private fx: Fx = [];
  /** used_memory once the node was set up, before any data was loaded (used_memory_startup). */
  private memoryStartupBytes = 0;
  /** The highest used_memory seen, sampled each cron tick and by INFO as Redis's serverCron does. */
  private memoryPeakBytes = 0;

  constructor(init: ClusterNodeInit) {
    this.address = init.id;
    // Our own copy: CONFIG SET changes it (replication reads the same object).
    this.config = { ...init.config };
    this.aof = new Aof(this.config, () => this.persistIdNext++);
    this.rng = init.rng;
    this.hostMemory = init.hostMemory ?? null;
  }

  // ---- the machine ------------------------------------------------------------------------------

  step(input: Input<ClusterMsg, ClusterReq>, localMs: number): Fx {
    // Whole milliseconds, as Redis's mstime(): every time this node stores is an integer.
    const nowMs = Math.floor(localMs);
    const fx: Fx = [];
    this.fx = fx;
    switch (input.kind) {
      case "start":
        this.onStart(input.recovered, nowMs, fx);
        break;
      case "message":
        if (isBusMsg(input.msg)) {
          const type = REDIS_MSG_NAME[input.msg.type];
          this.receivedByType.set(type, (this.receivedByType.get(type) ?? 0) + 1);
          this.onBusMessage(input.from, input.msg, nowMs, fx);
        } else if (input.msg.type === "migrate" || input.msg.type === "migrate-reply") {
          this.onMigrateMessage(input.from, input.msg, nowMs);
        } else {
          this.onReplMessage(input.from, input.msg, nowMs, fx);
        }
        break;
      case "timer":
        if (input.name === TIMER_CRON) this.clusterCron(nowMs, fx);
        else if (input.name === TIMER_FAILOVER) this.handleReplicaFailover(nowMs, fx);
        else if (input.name === TIMER_CLIENTS) this.clientsTimerMs = NEVER;
        else if (input.name.startsWith(TIMER_MIGRATE)) this.migrateTimedOut(Number(input.name.slice(TIMER_MIGRATE.length)), nowMs);
        break;
      case "client":
        this.server.request(input.client, input.reqId, input.req.cmd, nowMs, input.req.asking === true);
        break;
      case "client-closed":
        this.server.closed(input.client);
        break;
      case "persisted":
        this.aof.persisted(input.id, fx); // the runner releases what waited for it
        break;
      default:
        assertNever(input, "input");
    }
    if (this.server !== undefined && this.server.blockedCount > 0) this.serveBlocked(nowMs, fx);
    for (const e of fx) {
      if (e.kind === "send" && isBusMsg(e.msg)) {
        const type = REDIS_MSG_NAME[e.msg.type];
        this.sentByType.set(type, (this.sentByType.get(type) ?? 0) + 1);
      }
    }
    if (this.replyGate !== null) {
      // appendfsync always: no reply of this step leaves before the AOF's fsync (durable before visible).
      const gate = this.replyGate;
      this.replyGate = null;
      for (let i = 0; i < fx.length; i++) {
        const e = fx[i] as Fx[number];
        if (e.kind === "reply" && e.after === undefined) fx[i] = { ...e, after: gate };
      }
    }
    const out = this.configDirty ? this.saveAndGate(fx) : fx;
    if (this.currentEpoch !== this.visibleEpoch && input.kind !== "start") {
      // Every change of currentEpoch is saved in the step that makes it; announce it once durable.
      this.visibleEpoch = this.currentEpoch;
      out.push({ kind: "trace", event: { type: "epoch", currentEpoch: this.currentEpoch }, after: this.persistIdNext - 1 });
    }
    return out;
  }

  /**
   * Saves the config and makes every send and trace of this step that does not already wait for a
   * persist wait for this one. Persists go first so their ids stay increasing in admission order.
   */
  private saveAndGate(fx: Fx): Fx {
    const persists: Fx = fx.filter((e) => e.kind === "persist");
    const id = this.saveConfig(persists);
    const out: Fx = persists;
    for (const e of fx) {
      if (e.kind === "persist") continue;
      if ((e.kind === "send" || e.kind === "trace") && e.after === undefined) out.push({ ...e, after: id });
      else out.push(e);
    }
    return out;
  }

  // ---- start and recovery -----------------------------------------------------------------------

  private onStart(recovered: Recovered | null, nowMs: number, fx: Fx): void {
    this.startedMs = nowMs;
    const saved = recovered?.files[CONFIG_FILE]?.records.at(-1);
    if (saved !== undefined && isSavedConfig(saved)) this.load(saved, nowMs);
    else this.fresh(nowMs);
    this.visibleEpoch = this.currentEpoch;
    this.replication = new Replication(
      this.config,
      () => this.randomName(),
      (to, msg) => this.send(to, msg),
      (keys) => this.server.touched(keys),
      (cmds) => {
        const id = this.aof.log(cmds, this.fx);
        if (id !== null) this.replyGate = id;
      },
      () => this.aof.rewriteAll(this.replication.data, this.fx),
    );
    this.server = new Server(this.serverHost(), this.replication);
    this.memoryStartupBytes = this.sampleMemory()?.usedBytes ?? 0;
    if (this.aof.enabled) {
      const r = this.aof.recover(recovered, this.replication.data, nowMs);
      fx.push({ kind: "trace", event: { type: "data-recovered", keys: r.keys, records: r.records, tornFiles: [...r.tornFiles] } });
    }
    if (this.myself.master?.address !== undefined && this.myself.master.address !== null) {
      this.replication.follow(this.myself.master.address, nowMs);
    }
    fx.push({
      kind: "trace",
      event: { type: "recovered", fresh: saved === undefined, name: this.name, currentEpoch: this.currentEpoch, lastVoteEpoch: this.lastVoteEpoch, configEpoch: this.myself.configEpoch, role: this.role() },
    });
    this.traceState(fx);
    const saveId = this.saveConfig(fx);
    if (this.myself.flags & FLAG.master && this.myself.slots.size > 0) {
      fx.push({ kind: "trace", event: { type: "claim", epoch: this.myself.configEpoch, slots: this.myself.slots.toString() }, after: saveId });
    }
    // The slot table a restarted node comes back with, for checkers that follow each node's view.
    if (saved !== undefined) {
      for (const n of this.nodeList) {
        if (n.slots.size > 0) fx.push({ kind: "trace", event: { type: "slots-owner", owner: n.address, name: n.name, epoch: n.configEpoch, slots: n.slots.toString(), from: "loaded" } });
      }
    }
    // Every known node gets a PING at once (Redis: on connecting each link); handshakes a MEET.
    // A preformed cluster is already running: its nodes count as just heard from, and the cron's
    // pinging takes over, as in a cluster that has been up for a while.
    const preformed = saved === undefined && this.config.bootstrap?.preformed !== undefined;
    for (const n of this.nodeList) {
      if (n === this.myself || n.address === null) continue;
      // Last PONGs spread over the past half node timeout, as in a cluster that has been up a while.
      if (preformed) n.pongReceivedMs = nowMs - randomInt(this.rng, Math.max(1, Math.floor(this.config.nodeTimeoutMs / 2)));
      else this.sendPing(n.address, "ping", n, nowMs, fx);
    }
    for (const [address, h] of this.handshakes) this.sendPing(address, h.meet ? "meet" : "ping", null, nowMs, fx);
    // Stagger crons so nodes started together do not tick in lockstep.
    fx.push({ kind: "set-timer", name: TIMER_CRON, atMs: nowMs + 1 + randomInt(this.rng, this.config.cronMs) });
  }

  private fresh(nowMs: number): void {
    const pre = this.config.bootstrap?.preformed;
    if (pre !== undefined) return this.preformed(pre, nowMs);
    this.name = this.randomName();
    this.myself = this.addNode(this.name, this.address, FLAG.master | FLAG.myself | (this.config.nofailover ? FLAG.nofailover : 0), nowMs);
    const b = this.config.bootstrap;
    if (b === null) return;
    if (b.slots.length > 0) {
      this.myself.configEpoch = b.configEpoch;
      this.currentEpoch = Math.max(this.currentEpoch, b.configEpoch);
      this.assignSlots(SlotSet.fromRanges(b.slots), this.myself);
    }
    this.replicaOfAddress = b.replicaOf;
    for (const a of b.meet) if (a !== this.address) this.handshakes.set(a, { startedMs: nowMs, meet: true, sentMs: nowMs });
  }

  private preformed(pre: NonNullable<NonNullable<ClusterConfig["bootstrap"]>["preformed"]>, nowMs: number): void {
    this.name = pre.name;
    const byAddress = new Map<NodeId, NodeRec>();
    for (const e of pre.nodes) {
      const me = e.name === pre.name;
      const n = this.addNode(e.name, e.address, (e.replicaOf === null ? FLAG.master : FLAG.replica) | (me ? FLAG.myself : 0), nowMs);
      n.configEpoch = e.configEpoch;
      if (e.slots.length > 0) this.assignSlots(sharedSlotSet(e.slots), n);
      this.currentEpoch = Math.max(this.currentEpoch, e.configEpoch);
      byAddress.set(e.address, n);
      if (me) this.myself = n;
    }
    assert(this.myself !== undefined, "the preformed table names this node");
    if (this.config.nofailover) this.myself.flags |= FLAG.nofailover;
    for (const e of pre.nodes) {
      if (e.replicaOf === null) continue;
      const r = byAddress.get(e.address) as NodeRec;
      r.master = byAddress.get(e.replicaOf) ?? null;
      if (r.master !== null) r.master.flags |= FLAG.migrateTo;
    }
  }

  private load(saved: SavedConfig, nowMs: number): void {
    this.name = saved.name;
    this.currentEpoch = saved.currentEpoch;
    this.lastVoteEpoch = saved.lastVoteEpoch;
    for (const s of saved.nodes) {
      const n = this.addNode(s.name, s.address, s.flags & ~(FLAG.pfail | FLAG.handshake | FLAG.meet), nowMs);
      n.configEpoch = s.configEpoch;
      if (n.flags & FLAG.fail) n.failTimeMs = nowMs;
    }
    this.myself = this.nodes.get(saved.name) as NodeRec;
    assert(this.myself !== undefined, "nodes.conf names this node");
    this.myself.flags |= FLAG.myself;
    for (const s of saved.nodes) {
      const n = this.nodes.get(s.name) as NodeRec;
      if (s.master !== null) n.master = this.nodes.get(s.master) ?? null;
      if (s.slots !== "") this.assignSlots(SlotSet.parse(s.slots), n);
    }
    this.replicaOfAddress = saved.replicaOfAddress;
  }

  // ---- the cluster bus --------------------------------------------------------------------------

  private onBusMessage(from: NodeId, msg: BusMsg, nowMs: number, fx: Fx): void {
    const h = msg.h;
    if (h.sender === this.name) return; // our own message came back through a stale address
    let sender = this.nodes.get(h.sender);
    if (sender === undefined && msg.type === "pong") sender = this.completeHandshake(from, h, nowMs, fx);
    if (sender !== undefined) this.updateFromHeader(sender, h, nowMs);
    switch (msg.type) {
      case "ping":
      case "meet":
      case "pong":
        this.onPingPongMeet(from, msg, sender, nowMs, fx);
        break;
      case "fail":
        if (sender !== undefined) this.onFail(msg.about, nowMs, fx);
        break;
      case "update":
        if (sender !== undefined) this.onUpdate(msg.about, msg.configEpoch, msg.slots, nowMs, fx);
        break;
      case "failover-auth-request":
        if (sender !== undefined) this.onFailoverAuthRequest(from, sender, h, nowMs, fx);
        break;
      case "failover-auth-ack":
        if (sender !== undefined) this.onFailoverAuthAck(sender, h, nowMs, fx);
        break;
      case "mfstart":
        if (sender !== undefined) this.onMfStart(from, sender, nowMs, fx);
        break;
      case "publish":
      case "publishshard":
        if (sender !== undefined) this.server.deliver(msg.channel, msg.message, msg.type === "publishshard");
        break;
      default:
        assertNever(msg, "bus message");
    }
    if (this.myself.master !== null && this.myself.master.flags & FLAG.fail) this.handleReplicaFailover(nowMs, fx);
  }

  /** Epochs, offset and liveness from any header of a known node (clusterProcessPacket). */
  private updateFromHeader(sender: NodeRec, h: Header, nowMs: number): void {
    if (h.currentEpoch > this.currentEpoch) {
      this.currentEpoch = h.currentEpoch;
      this.configDirty = true;
    }
    if (h.configEpoch > sender.configEpoch) {
      sender.configEpoch = h.configEpoch;
      this.configDirty = true;
    }
    sender.replOffset = h.offset;
    sender.priority = h.priority;
    sender.dataReceivedMs = nowMs;
  }

  private onPingPongMeet(from: NodeId, msg: BusMsg & { type: "ping" | "pong" | "meet" }, known: NodeRec | undefined, nowMs: number, fx: Fx): void {
    const h = msg.h;
    // A MEET from a stranger starts a handshake with it (Redis adds it under a random name), even
    // when one of ours to that address is under way: ours may have been lost, and a handshake that
    // is never answered would leave us deaf to a node that already knows us.
    if (known === undefined && msg.type === "meet") {
      this.handshakes.set(from, { startedMs: nowMs, meet: false, sentMs: nowMs });
      this.sendPing(from, "ping", null, nowMs, fx);
    }
    if (msg.type !== "pong") this.sendPing(from, "pong", known ?? null, nowMs, fx);
    if (known === undefined) return;
    const sender = known;
    if (sender.address !== from) this.setAddress(sender, from);

    if (msg.type === "pong") {
      sender.pongReceivedMs = nowMs;
      sender.pingSentMs = NEVER;
      if (sender.flags & FLAG.pfail) {
        sender.flags &= ~FLAG.pfail;
        fx.push({ kind: "trace", event: { type: "pfail-cleared", about: from, name: sender.name } });
        this.updateState(nowMs, fx);
      } else if (sender.flags & FLAG.fail) {
        this.clearNodeFailureIfNeeded(sender, nowMs, fx);
      }
    }

    // Role changes.
    if (h.master === null) {
      this.setNodeAsMaster(sender);
    } else {
      if (sender.flags & FLAG.master) {
        // A master turned into a replica: it serves nothing any more.
        this.assignSlots(sender.slots, null);
        sender.flags = (sender.flags & ~(FLAG.master | FLAG.migrateTo)) | FLAG.replica;
        this.configDirty = true;
        this.updateState(nowMs, fx);
      }
      const master = this.nodes.get(h.master);
      if (master !== undefined && sender.master !== master) {
        sender.master = master;
        master.flags |= FLAG.migrateTo;
        this.configLazy = true;
      }
    }

    // Slots: the sender's claims (a replica reports its master's).
    const senderMaster = h.master === null ? sender : (this.nodes.get(h.master) ?? null);
    if (senderMaster !== null && senderMaster.slots !== h.slots && !senderMaster.slots.equals(h.slots)) {
      if (h.master === null) this.updateSlotsConfigWith(sender, h.configEpoch, h.slots, nowMs, fx);
      // Stale claims get an UPDATE naming the node with the newer configEpoch.
      for (const slot of h.slots) {
        const o = this.owner[slot] ?? null;
        if (o === null || o === senderMaster) continue;
        if (o.configEpoch > h.configEpoch) {
          this.sendUpdate(from, o, fx);
          break;
        }
      }
    } else if (senderMaster !== null && senderMaster.slots !== h.slots) {
      senderMaster.slots = h.slots; // equal sets: keep the sender's object so the next check is O(1)
    }

    if (h.master === null && this.myself.flags & FLAG.master && h.configEpoch === this.myself.configEpoch) {
      this.handleConfigEpochCollision(sender, nowMs, fx);
    }

    this.processGossip(msg.gossip, sender, nowMs, fx);

    // Manual failover: the paused master tells its replica its offset.
    if (this.mfEndMs !== NEVER && this.myself.master === sender && h.mflags & MFLAG.paused && this.mfMasterOffset === -1) {
      this.mfMasterOffset = h.offset;
      fx.push({ kind: "trace", event: { type: "mf-master-offset", offset: h.offset } });
      this.handleManualFailover(nowMs, fx);
    }
  }

  /** A PONG from an address we were shaking hands with names the node there. */
  private completeHandshake(from: NodeId, h: Header, nowMs: number, fx: Fx): NodeRec | undefined {
    if (!this.handshakes.has(from)) return undefined;
    this.handshakes.delete(from);
    // Another name at this address is gone (a wiped node came back under a new name).
    const previous = this.nodeAt(from);
    if (previous !== undefined && previous !== this.myself) this.setAddress(previous, null);
    const n = this.addNode(h.sender, from, h.master === null ? FLAG.master : FLAG.replica, nowMs);
    n.pongReceivedMs = nowMs;
    fx.push({ kind: "trace", event: { type: "handshake", about: from, name: h.sender } });
    this.configLazy = true;
    if (this.replicaOfAddress === from && n.name !== this.name) {
      this.replicaOfAddress = null;
      this.clusterSetMaster(n, nowMs, fx);
    }
    return n;
  }

  private processGossip(entries: readonly Gossip[], sender: NodeRec, nowMs: number, fx: Fx): void {
    const senderIsMaster = (sender.flags & FLAG.master) !== 0;
    for (const g of entries) {
      const node = this.nodes.get(g.name);
      if (node === undefined) {
        // A node we do not know: shake hands, unless it has no address or is being met already.
        if (!(g.flags & FLAG.noaddr) && g.address !== this.address && !this.handshakes.has(g.address) && this.nodeAt(g.address) === undefined) {
          this.handshakes.set(g.address, { startedMs: nowMs, meet: false, sentMs: nowMs });
          this.sendPing(g.address, "ping", null, nowMs, fx);
        }
        continue;
      }
      if (node === this.myself) continue;
      if (senderIsMaster) {
        if (g.flags & (FLAG.pfail | FLAG.fail)) {
          if (node.failReports === null) node.failReports = new Map();
          if (!node.failReports.has(sender.name)) fx.push({ kind: "trace", event: { type: "failure-report", about: node.address, name: node.name, by: sender.address } });
          node.failReports.set(sender.name, nowMs);
          this.markNodeAsFailingIfNeeded(node, nowMs, fx);
        } else if (node.failReports !== null) {
          node.failReports.delete(sender.name);
          if (node.failReports.size === 0) node.failReports = null;
        }
      }
      // Someone heard from it recently: no need to ping it ourselves yet (clusterProcessGossipSection).
      if (!(g.flags & (FLAG.pfail | FLAG.fail)) && node.pingSentMs === NEVER && this.failureReportCount(node, nowMs) === 0) {
        const pongMs = g.pongReceivedS * 1000;
        if (pongMs <= nowMs + 500 && pongMs > node.pongReceivedMs) node.pongReceivedMs = pongMs;
      }
      if (node.flags & (FLAG.fail | FLAG.noaddr) && !(g.flags & FLAG.noaddr) && node.address !== g.address && this.nodeAt(g.address) === undefined) {
        this.setAddress(node, g.address);
      }
    }
  }

  // ---- failure detection --------------------------------------------------------------------------

  private failureReportCount(node: NodeRec, nowMs: number): number {
    const reports = node.failReports;
    if (reports === null) return 0;
    const validityMs = this.config.nodeTimeoutMs * 2;
    for (const [by, at] of reports) if (nowMs - at > validityMs) reports.delete(by);
    if (reports.size === 0) node.failReports = null;
    return reports.size;
  }

  /** Slot-owning masters: the electorate for FAIL and for failover votes. */
  private clusterSize(): number {
    let size = 0;
    for (const n of this.nodeList) if (n.flags & FLAG.master && n.slots.size > 0) size += 1;
    return size;
  }

  private quorum(): number {
    return Math.floor(this.clusterSize() / 2) + 1;
  }

  private markNodeAsFailingIfNeeded(node: NodeRec, nowMs: number, fx: Fx): void {
    if (!(node.flags & FLAG.pfail) || node.flags & FLAG.fail) return;
    let failures = this.failureReportCount(node, nowMs);
    if (this.myself.flags & FLAG.master) failures += 1;
    const needed = this.quorum();
    if (failures < needed) return;
    node.flags = (node.flags & ~FLAG.pfail) | FLAG.fail;
    node.failTimeMs = nowMs;
    fx.push({ kind: "trace", event: { type: "fail", about: node.address, name: node.name, reports: failures, needed } });
    // Everyone is told, even by a replica: the reports came from masters anyway.
    const h = this.header(0);
    for (const n of this.nodeList) {
      if (n !== this.myself && n.address !== null && !(n.flags & (FLAG.handshake | FLAG.noaddr))) {
        fx.push({ kind: "send", to: n.address, msg: { type: "fail", h, about: node.name } });
      }
    }
    this.updateState(nowMs, fx);
    this.configLazy = true;
  }

  private onFail(about: string, nowMs: number, fx: Fx): void {
    const failing = this.nodes.get(about);
    if (failing === undefined || failing === this.myself || failing.flags & FLAG.fail) return;
    failing.flags = (failing.flags & ~FLAG.pfail) | FLAG.fail;
    failing.failTimeMs = nowMs;
    fx.push({ kind: "trace", event: { type: "fail", about: failing.address, name: failing.name, via: "message" } });
    this.updateState(nowMs, fx);
    this.configLazy = true;
  }

  private clearNodeFailureIfNeeded(node: NodeRec, nowMs: number, fx: Fx): void {
    const servesSlots = node.flags & FLAG.master && node.slots.size > 0;
    // A master with slots clears FAIL only once nobody took over in 2 × node_timeout.
    if (servesSlots && nowMs - node.failTimeMs <= this.config.nodeTimeoutMs * 2) return;
    node.flags &= ~FLAG.fail;
    fx.push({ kind: "trace", event: { type: "fail-cleared", about: node.address, name: node.name } });
    this.updateState(nowMs, fx);
    this.configLazy = true;
  }

  // ---- slots, epochs, roles -------------------------------------------------------------------------

  /** Gives `slots` to `to` (null: unassigned), updating every affected node's slot set once. */
  private assignSlots(slots: Iterable<number>, to: NodeRec | null): void {
    if (slots instanceof SlotSet && to !== null && to.slots.size === 0 && this.allUnowned(slots)) {
      // Fast path (start-up): share the immutable set instead of building a copy.
      for (const [lo, hi] of slots.ranges()) for (let s = lo; s <= hi; s++) this.owner[s] = to;
      to.slots = slots;
      this.slotsVersion += 1;
      return;
    }
    const lost = new Map<NodeRec, number[]>();
    const gained: number[] = [];
    for (const s of slots) {
      const prev = this.owner[s] ?? null;
      if (prev === to) continue;
      if (prev !== null) {
        const l = lost.get(prev);
        if (l === undefined) lost.set(prev, [s]);
        else l.push(s);
      }
      this.owner[s] = to;
      gained.push(s);
    }
    for (const [n, ss] of lost) n.slots = n.slots.without(ss);
    if (to !== null && gained.length > 0) to.slots = to.slots.with(gained);
    if (gained.length > 0) this.slotsVersion += 1;
  }

  private allUnowned(slots: SlotSet): boolean {
    for (const [lo, hi] of slots.ranges()) for (let s = lo; s <= hi; s++) if (this.owner[s] !== null) return false;
    return true;
  }

  /** A master's claims in a header or UPDATE win over owners with a smaller configEpoch. */
  private updateSlotsConfigWith(sender: NodeRec, senderConfigEpoch: number, slots: SlotSet, nowMs: number, fx: Fx): void {
    if (sender === this.myself) return;
    const curMaster = this.myself.flags & FLAG.master ? this.myself : this.myself.master;
    let newMaster: NodeRec | null = null;
    const taken: number[] = [];
    let ourSlotsLost = 0;
    const dirtySlots: number[] = [];
    for (const s of slots) {
      const o = this.owner[s] ?? null;
      if (o === sender) continue;
      // A slot being imported here is the operator's business (redis-cli fixes it), not gossip's.
      if (this.importing.has(s)) continue;
      if (o === null || o.configEpoch < senderConfigEpoch) {
        if (o === this.myself && this.replication.data.countKeysInSlot(s) > 0) dirtySlots.push(s);
        if (o !== null && o === curMaster) {
          newMaster = sender;
          ourSlotsLost += 1;
        }
        taken.push(s);
      }
    }
    if (taken.length === 0) return;
    const from = taken.map((s) => this.owner[s]?.address ?? null);
    const lostHere = new Set(taken.filter((s) => this.owner[s] === this.myself));
    this.assignSlots(taken, sender);
    if (lostHere.size > 0) this.server.slotsLost((s) => lostHere.has(s), nowMs);
    fx.push({ kind: "trace", event: { type: "slots-owner", owner: sender.address, name: sender.name, epoch: senderConfigEpoch, slots: SlotSet.of(taken).toString(), from: firstDistinct(from) } });
    this.configDirty = true;
    this.updateState(nowMs, fx);
    if (newMaster !== null && curMaster !== null && curMaster.slots.size === 0) {
      // We (or our master) lost every slot to the sender: follow it (how a failed-over master rejoins).
      fx.push({ kind: "trace", event: { type: "demoted", to: sender.address, lost: ourSlotsLost } });
      this.clusterSetMaster(sender, nowMs, fx);
    } else {
      // Keys of slots we lost but still hold are deleted, and replicas told (delKeysInSlot).
      for (const slot of dirtySlots) {
        const keys = this.replication.data.deleteKeysInSlot(slot);
        this.server.touched(keys);
        if (this.myself.flags & FLAG.master) this.replication.feed(keys.map((k) => ["DEL", k]));
      }
    }
  }

  private setNodeAsMaster(n: NodeRec): void {
    if (n.flags & FLAG.master && n.master === null) return;
    n.flags = (n.flags & ~FLAG.replica) | FLAG.master;
    n.master = null;
    this.configDirty = true;
  }

  /** This node becomes a replica of `master` (clusterSetMaster). */
  private clusterSetMaster(master: NodeRec, nowMs: number, fx: Fx): void {
    assert(master !== this.myself, "a node cannot replicate itself");
    if (this.myself.flags & FLAG.master) {
      this.assignSlots(this.myself.slots, null);
      this.myself.flags = (this.myself.flags & ~(FLAG.master | FLAG.migrateTo)) | FLAG.replica;
    }
    this.myself.master = master;
    master.flags |= FLAG.migrateTo;
    this.resetManualFailover(fx);
    if (master.address !== null) this.replication.follow(master.address, nowMs);
    this.configDirty = true;
    this.traceState(fx);
    this.updateState(nowMs, fx);
  }

  private handleConfigEpochCollision(sender: NodeRec, nowMs: number, fx: Fx): void {
    // Only the node with the smaller name bumps, so exactly one of the two moves.
    if (sender.name <= this.name) return;
    this.currentEpoch += 1;
    this.myself.configEpoch = this.currentEpoch;
    const id = this.saveConfig(fx);
    fx.push({ kind: "trace", event: { type: "config-epoch-collision", with: sender.address, configEpoch: this.myself.configEpoch }, after: id });
    fx.push({ kind: "trace", event: { type: "claim", epoch: this.myself.configEpoch, slots: this.myself.slots.toString() }, after: id });
    void nowMs;
  }

  private onUpdate(about: string, configEpoch: number, slots: SlotSet, nowMs: number, fx: Fx): void {
    const n = this.nodes.get(about);
    if (n === undefined || n.configEpoch >= configEpoch) return;
    if (n.flags & FLAG.replica) this.setNodeAsMaster(n);
    n.configEpoch = configEpoch;
    this.configDirty = true;
    this.updateSlotsConfigWith(n, configEpoch, slots, nowMs, fx);
  }

  private sendUpdate(to: NodeId, about: NodeRec, fx: Fx): void {
    fx.push({ kind: "send", to, msg: { type: "update", h: this.header(0), about: about.name, configEpoch: about.configEpoch, slots: about.slots } });
  }

  // ---- PING and gossip -----------------------------------------------------------------------------

  private header(mflags: number): Header {
    const m = this.myself.flags & FLAG.master ? this.myself : this.myself.master;
    return {
      sender: this.name,
      currentEpoch: this.currentEpoch,
      configEpoch: m?.configEpoch ?? 0,
      offset: this.replication.offset,
      slots: m?.slots ?? SlotSet.EMPTY,
      master: this.myself.master?.name ?? null,
      flags: this.myself.flags,
      state: this.state,
      mflags,
      priority: this.config.replicaPriority,
    };
  }

  /** Sends PING, PONG or MEET with a gossip section (clusterSendPing). `node` is the receiver's record. */
  private sendPing(to: NodeId, type: "ping" | "pong" | "meet", node: NodeRec | null, nowMs: number, fx: Fx): void {
    const total = this.nodeList.length;
    let fresh = total - 2;
    let wanted = Math.max(CLUSTER_CONST.gossipMin, Math.floor(total / 10));
    if (wanted > fresh) wanted = fresh;
    const gossip: Gossip[] = [];
    const mark = ++this.pingsBuilt;
    let iterations = wanted * 3;
    while (fresh > 0 && gossip.length < wanted && iterations-- > 0) {
      const n = this.nodeList[randomInt(this.rng, total)] as NodeRec;
      if (n === this.myself || n === node || n.gossipMark === mark) continue;
      if (n.flags & (FLAG.pfail | FLAG.handshake | FLAG.noaddr)) continue; // PFAIL nodes are appended below
      n.gossipMark = mark;
      fresh -= 1;
      gossip.push(gossipOf(n));
    }
    if (this.pfailCount > 0) for (const n of this.nodeList) if (n.flags & FLAG.pfail && n !== node) gossip.push(gossipOf(n));
    if (type === "ping" && node !== null) node.pingSentMs = nowMs;
    let mflags = 0;
    if (this.mfEndMs !== NEVER && this.myself.flags & FLAG.master && node !== null && node === this.mfReplica) mflags |= MFLAG.paused;
    fx.push({ kind: "send", to, msg: { type, h: this.header(mflags), gossip } });
  }

  /** PONG to every node (after a promotion or epoch change), or to the replicas of my master. */
  private broadcastPong(localReplicasOnly: boolean, nowMs: number, fx: Fx, after?: PersistId): void {
    for (const n of this.nodeList) {
      if (n === this.myself || n.address === null || n.flags & (FLAG.handshake | FLAG.noaddr)) continue;
      if (localReplicasOnly && !(n.flags & FLAG.replica && n.master !== null && n.master === this.myself.master)) continue;
      if (after === undefined) this.sendPing(n.address, "pong", n, nowMs, fx);
      else fx.push({ kind: "send", to: n.address, msg: { type: "pong", h: this.header(0), gossip: [] }, after });
    }
  }

  // ---- cron ----------------------------------------------------------------------------------------

  private clusterCron(nowMs: number, fx: Fx): void {
    fx.push({ kind: "set-timer", name: TIMER_CRON, atMs: nowMs + this.config.cronMs });
    this.cronIteration += 1;
    this.sampleMemory();
    const nt = this.config.nodeTimeoutMs;
    let updateState = false;

    // Handshakes time out; the ones still open are retried (Redis re-sends on a fresh link), at
    // least once before they expire.
    const handshakeTimeoutMs = Math.max(nt, 1000);
    const handshakeRetryMs = Math.min(1000, handshakeTimeoutMs / 3);
    for (const [address, h] of [...this.handshakes]) {
      if (nowMs - h.startedMs > handshakeTimeoutMs) this.handshakes.delete(address);
      else if (nowMs - h.sentMs >= handshakeRetryMs) {
        h.sentMs = nowMs;
        this.sendPing(address, h.meet ? "meet" : "ping", null, nowMs, fx);
      }
    }

    // About once a second, ping the node with the oldest PONG among five random ones.
    if (this.cronIteration % 10 === 0 && this.nodeList.length > 1) {
      let oldest: NodeRec | null = null;
      for (let i = 0; i < 5; i++) {
        const n = this.nodeList[randomInt(this.rng, this.nodeList.length)] as NodeRec;
        if (n === this.myself || n.pingSentMs !== NEVER || n.address === null || n.flags & (FLAG.handshake | FLAG.noaddr)) continue;
        if (oldest === null || n.pongReceivedMs < oldest.pongReceivedMs) oldest = n;
      }
      if (oldest !== null && oldest.address !== null) this.sendPing(oldest.address, "ping", oldest, nowMs, fx);
    }

    let orphanedMasters = 0;
    let maxReplicas = 0;
    let myMasterReplicas = 0;
    const isReplica = (this.myself.flags & FLAG.replica) !== 0;
    if (isReplica) this.countOkReplicas();
    // One pass over the nodes (at 1000 nodes each pass is a thousand cache misses, ten times a second).
    let pfail = 0;
    for (const n of this.nodeList) {
      if (isReplica) {
        // Orphaned masters' clocks, for replica migration (only replicas migrate, so only they track).
        const c = this.okReplicasOf(n);
        const orphaned = c === 0 && n.flags & FLAG.master && n.flags & FLAG.migrateTo && n.slots.size > 0;
        if (!orphaned) {
          if (n.orphanedTimeMs !== NEVER) n.orphanedTimeMs = NEVER;
        } else if (n.orphanedTimeMs === NEVER) n.orphanedTimeMs = nowMs;
        if (n.flags & FLAG.master && !(n.flags & FLAG.fail)) {
          if (orphaned) orphanedMasters += 1;
          if (c > maxReplicas) maxReplicas = c;
          if (n === this.myself.master) myMasterReplicas = c;
        }
      }
      if (n.flags & FLAG.pfail) pfail += 1;
      if (n === this.myself || n.address === null || n.flags & (FLAG.noaddr | FLAG.handshake)) continue;
      // Recycle a link whose PING has waited half the node timeout with nothing at all arriving.
      if (n.pingSentMs !== NEVER && nowMs - n.linkCreatedMs > nt && nowMs - n.pingSentMs > nt / 2 && nowMs - n.dataReceivedMs > nt / 2) {
        n.linkCreatedMs = nowMs;
        fx.push({ kind: "trace", event: { type: "link-recycled", about: n.address } });
        const pending = n.pingSentMs;
        this.sendPing(n.address, "ping", n, nowMs, fx);
        n.pingSentMs = pending; // a reconnection keeps the old ping's time (Redis: old_ping_sent)
      }
      if (n.pingSentMs === NEVER && nowMs - n.pongReceivedMs > nt / 2) {
        this.sendPing(n.address, "ping", n, nowMs, fx);
        continue;
      }
      if (this.mfEndMs !== NEVER && this.myself.flags & FLAG.master && this.mfReplica === n) {
        this.sendPing(n.address, "ping", n, nowMs, fx);
        continue;
      }
      if (n.pingSentMs === NEVER) continue;
      const delay = Math.min(nowMs - n.pingSentMs, nowMs - n.dataReceivedMs);
      if (delay > nt && !(n.flags & (FLAG.pfail | FLAG.fail))) {
        n.flags |= FLAG.pfail;
        pfail += 1;
        this.pfailCount += 1; // PINGs later in this loop carry it
        fx.push({ kind: "trace", event: { type: "pfail", about: n.address, name: n.name, silentMs: delay } });
        updateState = true;
      }
    }
    this.pfailCount = pfail;

    this.aof.cron(nowMs, this.replication.data, fx);
    if (!isReplica) {
      // Active expiry (Redis's activeExpireCycle on serverCron); replicas wait for the master's DELs.
      const r = this.replication.data.activeExpire(nowMs, this.rng, CLUSTER_CONST.activeExpireBudget);
      if (r.expired > 0) {
        this.replication.feed(r.propagate);
        this.server.touched(r.propagate.map((c) => c[1] as string));
      }
    }
    this.manualFailoverCheckTimeout(nowMs, fx);
    if (isReplica) {
      this.handleManualFailover(nowMs, fx);
      if (this.mfEndMs === NEVER || this.mfCanStart) this.handleReplicaFailover(nowMs, fx);
      if (orphanedMasters > 0 && maxReplicas >= 2 && myMasterReplicas === maxReplicas && this.config.allowReplicaMigration) {
        this.handleReplicaMigration(myMasterReplicas, nowMs, fx);
      }
    }
    if (updateState || this.state === "fail") this.updateState(nowMs, fx);
    this.replication.cron(nowMs);
    if (this.configLazy && !this.configDirty) this.saveConfig(fx);
  }

  /** Counts, per master, the replicas that are not failing; read them with okReplicasOf. */
  private countOkReplicas(): void {
    const mark = ++this.okReplicasMark;
    for (const n of this.nodeList) {
      const m = n.master;
      if (m === null || !(n.flags & FLAG.replica) || n.flags & (FLAG.pfail | FLAG.fail)) continue;
      if (m.okReplicasMark !== mark) {
        m.okReplicasMark = mark;
        m.okReplicas = 0;
      }
      m.okReplicas += 1;
    }
  }

  private okReplicasOf(n: NodeRec): number {
    return n.okReplicasMark === this.okReplicasMark ? n.okReplicas : 0;
  }

  // ---- cluster state -----------------------------------------------------------------------------

  private updateState(nowMs: number, fx: Fx): void {
    const isMaster = (this.myself.flags & FLAG.master) !== 0;
    // A master that just started waits before it may accept writes as OK.
    if (isMaster && this.state === "fail" && nowMs - this.startedMs < CLUSTER_CONST.writableDelayMs) return;
    let next: ClusterHealth = "ok";
    let size = 0;
    let reachable = 0;
    // Every slot has one owner in the table and owners' sets mirror it, so the slots served by
    // non-FAIL owners add up to 16384 exactly when coverage is full.
    let covered = 0;
    for (const n of this.nodeList) {
      if (n.slots.size === 0) continue;
      if (!(n.flags & FLAG.fail)) covered += n.slots.size;
      if (!(n.flags & FLAG.master)) continue;
      size += 1;
      if (!(n.flags & (FLAG.fail | FLAG.pfail))) reachable += 1;
    }
    if (this.config.requireFullCoverage && covered < SLOTS) next = "fail";
    if (reachable < Math.floor(size / 2) + 1) {
      next = "fail";
      this.amongMinorityMs = nowMs;
    }
    if (next === this.state) return;
    const rejoinMs = Math.min(CLUSTER_CONST.rejoinDelayMaxMs, Math.max(CLUSTER_CONST.rejoinDelayMinMs, this.config.nodeTimeoutMs));
    if (next === "ok" && isMaster && nowMs - this.amongMinorityMs < rejoinMs) return;
    this.state = next;
    fx.push({ kind: "trace", event: { type: "cluster-state", state: next, reachable, size } });
  }

  // ---- replica election -------------------------------------------------------------------------

  /** Sibling replicas ahead of this one: greater offset, or equal offset and a better (lower) priority. */
  private replicaRank(): number {
    const master = this.myself.master;
    if (master === null) return 0;
    const mine = this.replication.offset;
    let rank = 0;
    for (const n of this.nodeList) {
      if (n === this.myself || n.master !== master || !(n.flags & FLAG.replica) || n.flags & FLAG.nofailover) continue;
      if (n.replOffset > mine || (n.replOffset === mine && n.priority > 0 && n.priority < this.config.replicaPriority)) rank += 1;
    }
    return rank;
  }

  private handleReplicaFailover(nowMs: number, fx: Fx): void {
    const master = this.myself.master;
    const nt = this.config.nodeTimeoutMs;
    const manual = this.mfEndMs !== NEVER && this.mfCanStart;
    const nofailover = this.config.nofailover || this.config.replicaPriority === 0;
    if (!(this.myself.flags & FLAG.replica) || master === null || (!(master.flags & FLAG.fail) && !manual) || (nofailover && !manual) || master.slots.size === 0) {
      this.cantFailoverReason = "none";
      return;
    }
    let dataAgeMs = this.replication.dataAgeMs(nowMs);
    if (dataAgeMs > nt) dataAgeMs -= nt;
    const factor = this.config.replicaValidityFactor;
    if (factor > 0 && !manual && dataAgeMs > this.config.replPingPeriodMs + nt * factor) {
      this.logCantFailover("data-age", fx, { dataAgeMs });
      return;
    }
    const authTimeoutMs = Math.max(nt * 2, 2000);
    const authRetryMs = authTimeoutMs * 2;
    if (nowMs - this.failoverAuthTimeMs > authRetryMs) {
      // Schedule an election: a random delay so replicas do not collide, plus one second per rank.
      this.failoverAuthRank = manual ? 0 : this.replicaRank();
      this.failoverAuthTimeMs = manual ? nowMs : nowMs + 500 + randomInt(this.rng, 500) + this.failoverAuthRank * 1000;
      this.failoverAuthSent = false;
      this.failoverAuthVoters.clear();
      fx.push({ kind: "trace", event: { type: "failover-start", master: master.address, rank: this.failoverAuthRank, delayMs: this.failoverAuthTimeMs - nowMs, offset: this.replication.offset, manual } });
      fx.push({ kind: "set-timer", name: TIMER_FAILOVER, atMs: this.failoverAuthTimeMs });
      // Tell the sibling replicas our offset so they rank themselves right.
      this.broadcastPong(true, nowMs, fx);
      return;
    }
    if (!this.failoverAuthSent && !manual) {
      const rank = this.replicaRank();
      if (rank > this.failoverAuthRank) {
        this.failoverAuthTimeMs += (rank - this.failoverAuthRank) * 1000;
        this.failoverAuthRank = rank;
        fx.push({ kind: "set-timer", name: TIMER_FAILOVER, atMs: this.failoverAuthTimeMs });
        fx.push({ kind: "trace", event: { type: "failover-rank", rank, delayMs: this.failoverAuthTimeMs - nowMs } });
      }
    }
    if (nowMs < this.failoverAuthTimeMs) {
      this.logCantFailover("waiting-delay", fx, {});
      return;
    }
    if (nowMs - this.failoverAuthTimeMs > authTimeoutMs) {
      this.logCantFailover("expired", fx, {});
      return;
    }
    if (!this.failoverAuthSent) {
      this.currentEpoch += 1;
      this.failoverAuthEpoch = this.currentEpoch;
      this.failoverAuthSent = true;
      const id = this.saveConfig(fx);
      fx.push({ kind: "trace", event: { type: "vote-request", epoch: this.failoverAuthEpoch, master: master.address }, after: id });
      const h = this.header(manual ? MFLAG.forceAck : 0);
      for (const n of this.nodeList) {
        if (n === this.myself || n.address === null || n.flags & (FLAG.handshake | FLAG.noaddr)) continue;
        fx.push({ kind: "send", to: n.address, msg: { type: "failover-auth-request", h }, after: id });
      }
      fx.push({ kind: "set-timer", name: TIMER_FAILOVER, atMs: this.failoverAuthTimeMs + authTimeoutMs + 1 });
      return;
    }
    const needed = this.quorum();
    if (this.failoverAuthVoters.size >= needed) {
      if (this.myself.configEpoch < this.failoverAuthEpoch) this.myself.configEpoch = this.failoverAuthEpoch;
      this.failoverReplaceYourMaster(nowMs, fx, "election");
    } else {
      this.logCantFailover("waiting-votes", fx, { votes: this.failoverAuthVoters.size, needed });
    }
  }

  private logCantFailover(reason: CantFailover, fx: Fx, extra: Record<string, Json>): void {
    if (reason === this.cantFailoverReason) return;
    this.cantFailoverReason = reason;
    fx.push({ kind: "trace", event: { type: "failover-wait", reason, ...extra } });
  }

  private onFailoverAuthRequest(from: NodeId, node: NodeRec, h: Header, nowMs: number, fx: Fx): void {
    const refusal = this.voteRefusal(node, h, nowMs);
    if (refusal !== null) {
      fx.push({ kind: "trace", event: { type: "vote-refused", for: from, epoch: h.currentEpoch, reason: refusal } });
      return;
    }
    const master = node.master as NodeRec;
    this.lastVoteEpoch = this.currentEpoch;
    master.votedTimeMs = nowMs;
    const id = this.saveConfig(fx);
    const after = this.config.bugs.voteBeforePersist ? undefined : id;
    const vote = { type: "vote", for: from, epoch: this.currentEpoch, master: master.address } as const;
    const ack: ClusterMsg = { type: "failover-auth-ack", h: this.header(0) };
    fx.push(after === undefined ? { kind: "trace", event: vote } : { kind: "trace", event: vote, after });
    fx.push(after === undefined ? { kind: "send", to: from, msg: ack } : { kind: "send", to: from, msg: ack, after });
  }

  /** Every reason a master withholds its vote (clusterSendFailoverAuthIfNeeded), or null to vote. */
  voteRefusal(node: NodeRec, h: Header, nowMs: number): VoteRefusal | null {
    if (!(this.myself.flags & FLAG.master) || this.myself.slots.size === 0) return "not-a-master-with-slots";
    if (h.currentEpoch < this.currentEpoch) return "old-epoch";
    if (this.lastVoteEpoch === this.currentEpoch) return "already-voted";
    const master = node.master;
    if (node.flags & FLAG.master || master === null) return "requester-is-master";
    if (!(master.flags & FLAG.fail) && !(h.mflags & MFLAG.forceAck)) return "master-not-failed";
    if (nowMs - master.votedTimeMs < this.config.nodeTimeoutMs * 2 && master.votedTimeMs !== 0) return "voted-recently";
    for (const s of h.slots) {
      const o = this.owner[s] ?? null;
      if (o !== null && o.configEpoch > h.configEpoch) return "stale-slots";
    }
    return null;
  }

  private onFailoverAuthAck(sender: NodeRec, h: Header, nowMs: number, fx: Fx): void {
    // Faultline: votes are counted once per voter, so a duplicated ACK cannot make a quorum.
    if (!(sender.flags & FLAG.master) || sender.slots.size === 0 || h.currentEpoch < this.failoverAuthEpoch) return;
    if (this.failoverAuthVoters.has(sender.name)) return;
    this.failoverAuthVoters.add(sender.name);
    fx.push({ kind: "trace", event: { type: "vote-received", from: sender.address, epoch: h.currentEpoch, votes: this.failoverAuthVoters.size } });
    this.handleReplicaFailover(nowMs, fx);
  }

  /** Promotion: take over the master's slots under our new configEpoch and tell everyone. */
  private failoverReplaceYourMaster(nowMs: number, fx: Fx, how: "election" | "takeover"): void {
    const old = this.myself.master;
    if (old === null) return;
    this.myself.flags = (this.myself.flags & ~FLAG.replica) | FLAG.master;
    this.myself.master = null;
    this.replication.promote(this.randomName());
    this.assignSlots(old.slots, this.myself);
    this.resetManualFailover(fx);
    const id = this.saveConfig(fx);
    this.failoverAuthTimeMs = -Infinity;
    fx.push({ kind: "cancel-timer", name: TIMER_FAILOVER });
    fx.push({ kind: "trace", event: { type: "promoted", replaced: old.address, epoch: this.myself.configEpoch, how, slots: this.myself.slots.toString() }, after: id });
    fx.push({ kind: "trace", event: { type: "claim", epoch: this.myself.configEpoch, slots: this.myself.slots.toString() }, after: id });
    this.traceState(fx);
    this.updateState(nowMs, fx);
    this.broadcastPong(false, nowMs, fx, id);
  }

  /** TAKEOVER: a new configEpoch without votes, if ours is not already the greatest and unique. */
  private bumpConfigEpochWithoutConsensus(fx: Fx): void {
    let max = this.currentEpoch; // clusterGetMaxEpoch: currentEpoch counts too
    for (const n of this.nodeList) if (n.configEpoch > max) max = n.configEpoch;
    if (this.myself.configEpoch === 0 || this.myself.configEpoch !== max) {
      this.currentEpoch += 1;
      this.myself.configEpoch = this.currentEpoch;
      fx.push({ kind: "trace", event: { type: "epoch-bump", configEpoch: this.myself.configEpoch, reason: "takeover" } });
    }
  }

  // ---- manual failover and replica migration ---------------------------------------------------------

  private onMfStart(from: NodeId, sender: NodeRec, nowMs: number, fx: Fx): void {
    if (sender.master !== this.myself || !(this.myself.flags & FLAG.master)) return;
    this.resetManualFailover(fx);
    this.mfEndMs = nowMs + CLUSTER_CONST.mfTimeoutMs;
    this.mfReplica = sender;
    fx.push({ kind: "trace", event: { type: "mf-paused", replica: from } });
    this.sendPing(from, "ping", sender, nowMs, fx);
  }

  private handleManualFailover(nowMs: number, fx: Fx): void {
    if (this.mfEndMs === NEVER || this.mfCanStart || this.mfMasterOffset === -1) return;
    if (this.mfMasterOffset === this.replication.offset) {
      this.mfCanStart = true;
      fx.push({ kind: "trace", event: { type: "mf-caught-up", offset: this.mfMasterOffset } });
      this.handleReplicaFailover(nowMs, fx);
    }
  }

  private manualFailoverCheckTimeout(nowMs: number, fx: Fx): void {
    if (this.mfEndMs !== NEVER && this.mfEndMs < nowMs) {
      fx.push({ kind: "trace", event: { type: "mf-timeout" } });
      this.resetManualFailover(fx);
    }
  }

  private resetManualFailover(fx: Fx): void {
    if (this.mfEndMs !== NEVER && this.myself.flags & FLAG.master) fx.push({ kind: "trace", event: { type: "mf-unpaused" } });
    this.mfEndMs = NEVER;
    this.mfCanStart = false;
    this.mfReplica = null;
    this.mfMasterOffset = -1;
  }

  private handleReplicaMigration(myMasterReplicas: number, nowMs: number, fx: Fx): void {
    if (this.state !== "ok" || myMasterReplicas <= this.config.migrationBarrier) return;
    this.countOkReplicas();
    let target: NodeRec | null = null;
    let candidate = this.myself;
    for (const n of this.nodeList) {
      if (!(n.flags & FLAG.master) || n.flags & (FLAG.fail | FLAG.pfail)) continue;
      const c = this.okReplicasOf(n);
      if (c === 0 && target === null && n.slots.size > 0 && n.flags & FLAG.migrateTo) target = n;
      if (c === myMasterReplicas) {
        for (const r of this.nodeList) if (r.master === n && r.flags & FLAG.replica && r.name < candidate.name) candidate = r;
      }
    }
    if (target === null || candidate !== this.myself || this.config.nofailover) return;
    if (target.orphanedTimeMs === NEVER || nowMs - target.orphanedTimeMs <= 5000) return;
    fx.push({ kind: "trace", event: { type: "replica-migration", to: target.address } });
    this.clusterSetMaster(target, nowMs, fx);
  }

  // ---- clients -------------------------------------------------------------------------------------

  /** Sends a message, counting bus messages by type for CLUSTER INFO. */
  private send(to: NodeId, msg: ClusterMsg): void {
    this.fx.push({ kind: "send", to, msg });
  }

  /** What the client server (server.ts) may ask of this node. */
  private serverHost(): ServerHost {
    const node = this;
    return {
      route: (slot, keys, write, session, nowMs, migrate) => this.route(slot, keys, write, session, nowMs, migrate === true),
      clusterCommand: (args, _session, nowMs) => this.clusterCommand(args, nowMs, this.fx),
      info: (sections, nowMs) => infoText(sections, this.infoView(nowMs)),
      writesPaused: () => this.mfEndMs !== NEVER && (this.myself.flags & FLAG.master) !== 0,
      isReplica: () => (this.myself.flags & FLAG.replica) !== 0,
      broadcastPublish: (channel, message, shard) => this.broadcastPublish(channel, message, shard),
      requestAcks: () => this.replication.requestAcks(),
      migrate: (args, token, nowMs) => this.migrate(args, token, nowMs),
      get settings() {
        return node.settings();
      },
      get requirepass() {
        return node.config.requirepass;
      },
      emit: (e) => {
        this.fx.push(e);
      },
    };
  }

  /** After any input: answer blocked clients whose wait is over, and keep the deadline timer armed. */
  private serveBlocked(nowMs: number, fx: Fx): void {
    this.server.tick(nowMs);
    const next = this.server.nextDeadline();
    if (next !== null && next !== this.clientsTimerMs) {
      this.clientsTimerMs = next;
      fx.push({ kind: "set-timer", name: TIMER_CLIENTS, atMs: next });
    }
  }

  /**
   * Where a command on `slot` runs (getNodeByQuery): null here, or the redirect or refusal. The
   * order of checks is Redis 7.0's: unbound slot, cluster down, migration (ASK / TRYAGAIN),
   * importing with ASKING, READONLY reads on a replica, MOVED.
   */
  private route(slot: number, keys: readonly string[], write: boolean, session: Session, nowMs: number, migrate: boolean): RespValue | null {
    const o = this.owner[slot] ?? null;
    if (o === null) return Resp.error("CLUSTERDOWN Hash slot not served");
    if (this.state === "fail") return Resp.error("CLUSTERDOWN The cluster is down");
    const migratingTo = o === this.myself && this.migrating.size > 0 ? this.migrating.get(slot) : undefined;
    const importing = this.importing.size > 0 && this.importing.has(slot);
    // MIGRATE runs where the slot is migrating or importing, whatever keys are left (Redis's exception).
    if (migrate && (migratingTo !== undefined || importing)) return null;
    if (migratingTo !== undefined || importing) {
      let missing = 0;
      for (const k of keys) if (!this.hasKey(k, nowMs)) missing += 1;
      if (migratingTo !== undefined && missing > 0) {
        if (missing < keys.length) return Resp.error("TRYAGAIN Multiple keys request during rehashing of slot");
        return Resp.error(`ASK ${slot} ${this.endpoint(migratingTo)}`);
      }
      if (importing && session.asking) {
        if (keys.length > 1 && missing > 0) return Resp.error("TRYAGAIN Multiple keys request during rehashing of slot");
        return null;
      }
    }
    if (o !== this.myself) {
      const replicaRead = !write && session.readonly && this.myself.master === o;
      if (!replicaRead) return Resp.error(`MOVED ${slot} ${this.endpoint(o)}`);
      return null;
    }
    if (write && !this.hasRecentMajority(nowMs)) {
      // Faultline: a master that has not heard from a majority of slot owners within node_timeout
      // refuses writes, even before its cron has marked them PFAIL (a resumed, paused master).
      this.updateState(nowMs, this.fx);
      return Resp.error("CLUSTERDOWN The cluster is down (no majority heard within node timeout)");
    }
    return null;
  }

  private endpoint(n: NodeRec): string {
    return n.address === null ? ":0" : movedTarget(endpointOf(n.address));
  }

  /** Whether a majority of slot-owning masters (this one included) sent anything within node_timeout. */
  private hasRecentMajority(nowMs: number): boolean {
    let size = 0;
    let heard = 0;
    for (const n of this.nodeList) {
      if (!(n.flags & FLAG.master) || n.slots.size === 0) continue;
      size += 1;
      if (n === this.myself || nowMs - n.dataReceivedMs <= this.config.nodeTimeoutMs) heard += 1;
    }
    return heard >= Math.floor(size / 2) + 1;
  }

  /** PUBLISH goes to every node the bus reaches; SPUBLISH to this shard (master and replicas). */
  private broadcastPublish(channel: string, message: string, shard: boolean): void {
    const h = this.header(0);
    const master = this.myself.flags & FLAG.master ? this.myself : this.myself.master;
    for (const n of this.nodeList) {
      if (n === this.myself || n.address === null || n.flags & (FLAG.handshake | FLAG.noaddr)) continue;
      if (shard && n !== master && n.master !== master) continue;
      this.send(n.address, { type: shard ? "publishshard" : "publish", h, channel, message });
    }
  }

  private clusterCommand(args: readonly string[], nowMs: number, fx: Fx): RespValue {
    const sub = (args[0] ?? "").toLowerCase();
    const argErr = (): RespValue => Resp.error(`ERR wrong number of arguments for 'cluster|${sub}' command`);
    switch (sub) {
      case "myid":
        return bulk(this.name);
      case "keyslot":
        return Resp.integer(keySlot(args[1] as string));
      case "nodes":
        return Resp.verbatim("txt", clusterNodes(this.clusterView(nowMs)));
      case "slots":
        return clusterSlots(this.clusterView(nowMs));
      case "shards":
        return clusterShards(this.clusterView(nowMs));
      case "info":
        return Resp.verbatim("txt", clusterInfo(this.clusterView(nowMs)));
      case "replicas":
      case "slaves": {
        const n = this.nodes.get(args[1] as string);
        if (n === undefined) return Resp.error(`ERR Unknown node ${byteStringToText(args[1] as string)}`);
        if (n.flags & FLAG.replica) return Resp.error("ERR The specified node is not a master");
        return clusterReplicas(this.clusterView(nowMs), n.name) ?? Resp.array([]);
      }
      case "countkeysinslot": {
        const slot = parseSlot(args[1] as string);
        if (slot === null) return Resp.error("ERR Invalid slot");
        return Resp.integer(this.replication.data.countKeysInSlot(slot));
      }
      case "getkeysinslot": {
        const slot = parseSlot(args[1] as string);
        const count = /^\d{1,15}$/.test(args[2] as string) ? Number(args[2]) : null;
        if (count === null) return Resp.error("ERR Invalid number of keys");
        if (slot === null) return Resp.error("ERR Invalid slot");
        return Resp.array(this.replication.data.getKeysInSlot(slot, count).map(bulk));
      }
      case "count-failure-reports": {
        const n = this.nodes.get(args[1] as string);
        return n === undefined ? Resp.error(`ERR Unknown node ${byteStringToText(args[1] as string)}`) : Resp.integer(this.failureReportCount(n, nowMs));
      }
      case "failover":
        if (args.length > 2) return Resp.error("ERR syntax error");
        return this.clusterFailover((args[1] ?? "").toUpperCase(), nowMs, fx);
      case "addslots":
      case "delslots":
      case "addslotsrange":
      case "delslotsrange":
        return this.clusterAddDelSlots(sub, args.slice(1), nowMs, fx, argErr);
      case "setslot":
        return this.clusterSetSlot(args.slice(1), nowMs, fx);
      case "meet":
        return this.clusterMeet(args.slice(1), nowMs, fx);
      case "replicate":
        return this.clusterReplicate(args[1] as string, nowMs, fx);
      case "forget":
        return this.clusterForget(args[1] as string, fx);
      case "reset": {
        const mode = (args[1] ?? "soft").toLowerCase();
        if (args.length > 2 || (mode !== "soft" && mode !== "hard")) return Resp.error("ERR syntax error");
        return this.clusterReset(mode === "hard", nowMs, fx);
      }
      case "help":
        return Resp.array(CLUSTER_HELP.map((l) => Resp.simple(l)));
      case "set-config-epoch": {
        const epoch = /^\d{1,15}$/.test(args[1] as string) ? Number(args[1]) : null;
        if (epoch === null) return Resp.error("ERR Invalid config epoch specified: " + byteStringToText(args[1] as string));
        if (this.nodeList.length > 1) return Resp.error("ERR The user can assign a config epoch only when the node does not know any other node.");
        if (this.myself.configEpoch !== 0) return Resp.error("ERR Node config epoch is already non-zero");
        this.myself.configEpoch = epoch;
        if (this.currentEpoch < epoch) this.currentEpoch = epoch;
        this.configDirty = true;
        return Resp.ok;
      }
      default:
        return Resp.error(`ERR unknown subcommand '${byteStringToText(args[0] ?? "")}'. Try CLUSTER HELP.`);
    }
  }

  /**
   * MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw] [KEYS k…]: ships
   * the keys to the node at host:port as RESTORE-ASKING would, deleting them here once it says OK.
   */
  private migrate(args: readonly string[], token: number, nowMs: number): RespValue | null {
    let copy = false;
    let replace = false;
    let keys: string[] = [args[3] as string];
    for (let i = 6; i < args.length; i++) {
      const opt = (args[i] as string).toLowerCase();
      if (opt === "copy") copy = true;
      else if (opt === "replace") replace = true;
      else if (opt === "auth" && i + 1 < args.length) i += 1;
      else if (opt === "auth2" && i + 2 < args.length) i += 2;
      else if (opt === "keys") {
        if (args[3] !== "") return Resp.error("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string");
        keys = args.slice(i + 1) as string[];
        break;
      } else return Resp.error("ERR syntax error");
    }
    const timeoutArg = args[5] as string;
    if (!/^-?\d{1,15}$/.test(timeoutArg) || !/^\d{1,15}$/.test(args[4] as string)) return Resp.error("ERR value is not an integer or out of range");
    if (args[4] !== "0") return Resp.error("ERR Target instance replied with error: ERR SELECT is not allowed in cluster mode");
    const port = /^\d{1,5}$/.test(args[2] as string) ? Number(args[2]) : -1;
    if (port < 0 || port > 65535) return Resp.error("IOERR error or timeout connecting to the client");
    const entries: { key: string; payload: string; ttlMs: number }[] = [];
    for (const key of keys) {
      const e = this.replication.data.inspect(key);
      if (e === undefined || !this.hasKey(key, nowMs)) continue;
      const dump = this.replication.data.exec(["DUMP", key], nowMs).reply;
      if (dump.type !== "bulk") continue;
      entries.push({ key, payload: bytesToByteString(dump.value), ttlMs: e.expireAtMs === null ? 0 : Math.max(1, e.expireAtMs - nowMs) });
    }
    if (entries.length === 0) return Resp.simple("NOKEY");
    const to = addressOf(byteStringToText(args[1] as string), port);
    const timeoutMs = Number(timeoutArg) <= 0 ? 1000 : Number(timeoutArg);
    this.migrations.set(token, { keys: entries.map((e) => e.key), copy });
    this.send(to, { type: "migrate", id: token, entries, replace });
    this.fx.push({ kind: "set-timer", name: TIMER_MIGRATE + token, atMs: nowMs + timeoutMs });
    return null;
  }

  private onMigrateMessage(from: NodeId, msg: MigrateMsg, nowMs: number): void {
    if (msg.type === "migrate") {
      // The target: RESTORE-ASKING each key in order, stopping at the first error, as Redis's pipeline reports it.
      let error: string | null = null;
      for (const e of msg.entries) {
        const r = this.replication.data.exec(["RESTORE", e.key, String(e.ttlMs), e.payload, ...(msg.replace ? ["REPLACE"] : [])], nowMs);
        if (r.reply.type === "error") {
          error = r.reply.value;
          break;
        }
        this.replication.feed(r.propagate);
        this.server.touched(r.touched);
      }
      this.send(from, { type: "migrate-reply", id: msg.id, error });
      return;
    }
    const m = this.migrations.get(msg.id);
    if (m === undefined) return; // timed out already
    this.migrations.delete(msg.id);
    this.fx.push({ kind: "cancel-timer", name: TIMER_MIGRATE + msg.id });
    if (msg.error !== null) return this.server.finishExternal(msg.id, Resp.error(`ERR Target instance replied with error: ${msg.error}`), nowMs);
    if (!m.copy) {
      const r = this.replication.data.exec(["DEL", ...m.keys], nowMs);
      this.replication.feed(r.propagate);
      this.server.touched(r.touched);
    }
    this.server.finishExternal(msg.id, Resp.ok, nowMs);
  }

  private migrateTimedOut(token: number, nowMs: number): void {
    if (!this.migrations.delete(token)) return;
    this.server.finishExternal(token, Resp.error("IOERR error or timeout reading to target instance"), nowMs);
  }

  /** Whether `key` exists here and has not expired (a lookup without side effects). */
  private hasKey(key: string, nowMs: number): boolean {
    const e = this.replication.data.inspect(key);
    return e !== undefined && (e.expireAtMs === null || nowMs <= e.expireAtMs);
  }

  /** CLUSTER ADDSLOTS / DELSLOTS / ADDSLOTSRANGE / DELSLOTSRANGE, all-or-nothing as Redis checks them. */
  private clusterAddDelSlots(sub: string, args: readonly string[], nowMs: number, fx: Fx, argErr: () => RespValue): RespValue {
    const range = sub.endsWith("range");
    const add = sub.startsWith("add");
    if (args.length === 0 || (range && args.length % 2 !== 0)) return argErr();
    const slots: number[] = [];
    const seen = new Set<number>();
    for (let i = 0; i < args.length; i += range ? 2 : 1) {
      const lo = parseSlot(args[i] as string);
      const hi = range ? parseSlot(args[i + 1] as string) : lo;
      if (lo === null || hi === null) return Resp.error("ERR Invalid or out of range slot");
      if (range && lo > hi) return Resp.error(`ERR start slot number ${lo} is greater than end slot number ${hi}`);
      for (let s = lo; s <= hi; s++) {
        const owner = this.owner[s] ?? null;
        if (add && owner !== null) return Resp.error(`ERR Slot ${s} is already busy`);
        if (!add && owner === null) return Resp.error(`ERR Slot ${s} is already unassigned`);
        if (seen.has(s)) return Resp.error(`ERR Slot ${s} specified multiple times`);
        seen.add(s);
        slots.push(s);
      }
    }
    if (add) {
      for (const s of slots) this.importing.delete(s); // Redis: adding a slot clears its importing state
      this.assignSlots(slots, this.myself);
      fx.push({ kind: "trace", event: { type: "slot-assigned", owner: this.address, epoch: this.myself.configEpoch, slots: SlotSet.of(slots).toString() } });
    } else {
      const lost = new Set(slots.filter((s) => this.owner[s] === this.myself));
      this.assignSlots(slots, null);
      fx.push({ kind: "trace", event: { type: "slot-assigned", owner: null, epoch: 0, slots: SlotSet.of(slots).toString() } });
      if (lost.size > 0) this.server.slotsLost((s) => lost.has(s), nowMs);
    }
    this.configDirty = true;
    this.updateState(nowMs, fx);
    return Resp.ok;
  }

  /** CLUSTER SETSLOT slot MIGRATING|IMPORTING node | STABLE | NODE node (Redis 7.0's checks and texts). */
  private clusterSetSlot(args: readonly string[], nowMs: number, fx: Fx): RespValue {
    if (this.myself.flags & FLAG.replica) return Resp.error("ERR Please use SETSLOT only with masters.");
    const slot = parseSlot(args[0] as string);
    if (slot === null) return Resp.error("ERR Invalid or out of range slot");
    const action = (args[1] ?? "").toLowerCase();
    const target = args[2] === undefined ? undefined : this.nodes.get(args[2]);
    const argc = args.length;
    if ((action === "migrating" || action === "importing" || action === "node") && argc === 3) {
      if (action === "migrating") {
        if (this.owner[slot] !== this.myself) return Resp.error(`ERR I'm not the owner of hash slot ${slot}`);
        if (target === undefined) return Resp.error(`ERR I don't know about node ${byteStringToText(args[2] as string)}`);
        if (target.flags & FLAG.replica) return Resp.error("ERR Target node is not a master");
        this.migrating.set(slot, target);
      } else if (action === "importing") {
        if (this.owner[slot] === this.myself) return Resp.error(`ERR I'm already the owner of hash slot ${slot}`);
        if (target === undefined) return Resp.error(`ERR I don't know about node ${byteStringToText(args[2] as string)}`);
        if (target.flags & FLAG.replica) return Resp.error("ERR Target node is not a master");
        this.importing.set(slot, target);
      } else {
        if (target === undefined) return Resp.error(`ERR Unknown node ${byteStringToText(args[2] as string)}`);
        if (target.flags & FLAG.replica) return Resp.error("ERR Target node is not a master");
        const keys = this.replication.data.countKeysInSlot(slot);
        if (this.owner[slot] === this.myself && target !== this.myself && keys !== 0) {
          return Resp.error(`ERR Can't assign hashslot ${slot} to a different node while I still hold keys for this hash slot.`);
        }
        if (keys === 0) this.migrating.delete(slot);
        if (target === this.myself && this.importing.has(slot)) {
          // The end of an import: a new configEpoch so this ownership wins over the source's.
          this.importing.delete(slot);
          this.bumpConfigEpochWithoutConsensus(fx);
        }
        const lostHere = this.owner[slot] === this.myself && target !== this.myself;
        this.assignSlots([slot], target);
        fx.push({ kind: "trace", event: { type: "slot-assigned", owner: target.address, epoch: target.configEpoch, slots: String(slot) } });
        if (target === this.myself) fx.push({ kind: "trace", event: { type: "claim", epoch: this.myself.configEpoch, slots: this.myself.slots.toString() } });
        if (lostHere) this.server.slotsLost((s) => s === slot, nowMs);
        if (target === this.myself) this.broadcastPong(false, nowMs, fx);
      }
    } else if (action === "stable" && argc === 2) {
      this.migrating.delete(slot);
      this.importing.delete(slot);
    } else {
      return Resp.error("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP");
    }
    this.configDirty = true;
    this.updateState(nowMs, fx);
    return Resp.ok;
  }

  /** CLUSTER MEET ip port [cport]: start a handshake with that address. */
  private clusterMeet(args: readonly string[], nowMs: number, fx: Fx): RespValue {
    if (args.length < 2 || args.length > 3) return Resp.error("ERR wrong number of arguments for 'cluster|meet' command");
    const port = /^\d{1,5}$/.test(args[1] as string) ? Number(args[1]) : null;
    if (port === null || port > 65535) return Resp.error(`ERR Invalid TCP base port specified: ${byteStringToText(args[1] as string)}`);
    const host = byteStringToText(args[0] as string);
    const address = addressOf(host, port);
    if (address === this.address) return Resp.ok;
    if (!this.handshakes.has(address)) {
      this.handshakes.set(address, { startedMs: nowMs, meet: true, sentMs: nowMs });
      this.sendPing(address, "meet", null, nowMs, fx);
    }
    return Resp.ok;
  }

  /** CLUSTER REPLICATE node: become its replica (an empty master, or a replica switching masters). */
  private clusterReplicate(name: string, nowMs: number, fx: Fx): RespValue {
    const n = this.nodes.get(name);
    if (n === undefined) return Resp.error(`ERR Unknown node ${byteStringToText(name)}`);
    if (n === this.myself) return Resp.error("ERR Can't replicate myself");
    if (n.flags & FLAG.replica) return Resp.error("ERR I can only replicate a master, not a replica.");
    if (this.myself.flags & FLAG.master && (this.myself.slots.size > 0 || this.replication.data.size > 0)) {
      return Resp.error("ERR To set a master the node must be empty and without assigned slots.");
    }
    this.clusterSetMaster(n, nowMs, fx);
    return Resp.ok;
  }

  /**
   * CLUSTER RESET [SOFT|HARD] (clusterReset): a replica becomes an empty master, every slot is
   * unassigned, every other node forgotten; HARD also zeroes the epochs and takes a new name.
   */
  private clusterReset(hard: boolean, nowMs: number, fx: Fx): RespValue {
    if (this.myself.flags & FLAG.master && this.replication.data.size > 0) return Resp.error("ERR CLUSTER RESET can't be called with master nodes containing keys");
    if (this.myself.flags & FLAG.replica) {
      this.replication.promote(this.randomName());
      this.replication.data.clear();
      this.myself.flags = (this.myself.flags & ~FLAG.replica) | FLAG.master;
      this.myself.master = null;
    }
    this.resetManualFailover(fx);
    this.migrating.clear();
    this.importing.clear();
    const mine = new Set(this.myself.slots);
    const all: number[] = [];
    for (let s = 0; s < SLOTS; s++) if (this.owner[s] !== null) all.push(s);
    this.assignSlots(all, null);
    if (mine.size > 0) this.server.slotsLost((s) => mine.has(s), nowMs);
    this.handshakes.clear();
    for (const n of this.nodeList) if (n !== this.myself) this.nodes.delete(n.name);
    this.nodeList = [this.myself];
    if (hard) {
      this.currentEpoch = 0;
      this.lastVoteEpoch = 0;
      this.visibleEpoch = 0;
      const flags = this.myself.flags;
      this.nodes.clear();
      this.name = this.randomName();
      this.myself = this.addNode(this.name, this.address, flags, nowMs);
      this.nodeList = [this.myself];
    }
    this.failoverAuthTimeMs = -Infinity;
    this.failoverAuthSent = false;
    this.failoverAuthVoters.clear();
    this.configDirty = true;
    fx.push({ kind: "trace", event: { type: "cluster-reset", hard, name: this.name } });
    this.traceState(fx);
    this.updateState(nowMs, fx);
    return Resp.ok;
  }

  /** CLUSTER FORGET node: drop it from the table (Redis also blacklists it for 60 s; we do not yet). */
  private clusterForget(name: string, fx: Fx): RespValue {
    const n = this.nodes.get(name);
    if (n === undefined) return Resp.error(`ERR Unknown node ${byteStringToText(name)}`);
    if (n === this.myself) return Resp.error("ERR I tried hard but I can't forget myself...");
    if (this.myself.flags & FLAG.replica && this.myself.master === n) return Resp.error("ERR Can't forget my master!");
    this.assignSlots([...n.slots], null);
    for (const r of this.nodeList) if (r.master === n) r.master = null;
    this.nodes.delete(n.name);
    this.nodeList = this.nodeList.filter((r) => r !== n);
    fx.push({ kind: "trace", event: { type: "forget", about: n.address, name: n.name } });
    this.configDirty = true;
    return Resp.ok;
  }

  /** This node's table as CLUSTER NODES / SLOTS / SHARDS / INFO print it. */
  private clusterView(nowMs: number): ClusterView {
    const views = new Map<NodeRec, NodeView>();
    const viewOf = (n: NodeRec): NodeView => {
      let v = views.get(n);
      if (v === undefined) {
        const master = n.flags & FLAG.master ? n : n.master;
        const offset = n === this.myself ? this.replication.offset : n.replOffset;
        v = {
          name: n.name,
          endpoint: n.address === null ? null : endpointOf(n.address),
          flags: n.flags,
          masterName: n.master?.name ?? null,
          pingSentMs: n.pingSentMs === NEVER ? 0 : n.pingSentMs,
          pongReceivedMs: n.pongReceivedMs,
          configEpoch: master?.configEpoch ?? n.configEpoch,
          linkConnected: n === this.myself || (n.address !== null && !(n.flags & (FLAG.pfail | FLAG.fail | FLAG.handshake))),
          slots: n.flags & FLAG.master ? n.slots : SlotSet.EMPTY,
          replOffset: offset,
          health: n.flags & FLAG.fail ? "failed" : n === this.myself && this.replication.state === "loading" ? "loading" : "online",
        };
        views.set(n, v);
      }
      return v;
    };
    let slotsPfail = 0;
    let slotsFail = 0;
    for (let s = 0; s < SLOTS; s++) {
      const o = this.owner[s] ?? null;
      if (o === null) continue;
      if (o.flags & FLAG.fail) slotsFail += 1;
      else if (o.flags & FLAG.pfail) slotsPfail += 1;
    }
    void nowMs;
    const byName = (m: Map<number, NodeRec>): Map<number, string> => new Map([...m].map(([slot, n]) => [slot, n.name] as const));
    return {
      nodes: this.nodeList.map(viewOf),
      myself: viewOf(this.myself),
      migrating: byName(this.migrating),
      importing: byName(this.importing),
      state: this.state,
      currentEpoch: this.currentEpoch,
      sent: this.sentByType,
      received: this.receivedByType,
      slotsPfail,
      slotsFail,
    };
  }

  /** The host's memory figures (null without a host probe), raising the peak to them. */
  private sampleMemory(): HostMemory | null {
    if (this.hostMemory === null) return null;
    const m = this.hostMemory();
    if (m.usedBytes > this.memoryPeakBytes) this.memoryPeakBytes = m.usedBytes;
    return m;
  }

  private infoView(nowMs: number): InfoView {
    const r = this.replication;
    const m = this.sampleMemory();
    const master = this.myself.master;
    const stats = this.server.pubsub.stats();
    const common = {
      replicas: r.replicaAcks().map(([address, offset]) => {
        const e = endpointOf(address);
        return { ip: e.ip, port: e.port, state: "online" as const, offset, lagS: 0 };
      }),
      replid: r.replid,
      replid2: r.replid2,
      masterReplOffset: r.offset,
      secondReplOffset: r.secondReplidOffset,
      backlog: { sizeBytes: this.config.replBacklogBytes, ...r.backlogInfo() },
    };
    const masterEp = master?.address === undefined || master.address === null ? null : endpointOf(master.address);
    const replication: InfoView["replication"] =
      this.myself.flags & FLAG.replica
        ? {
            ...common,
            role: "replica",
            masterHost: masterEp?.ip ?? "?",
            masterPort: masterEp?.port ?? 0,
            linkUp: r.state === "connected",
            lastIoSecondsAgo: r.state === "connected" ? Math.floor((nowMs - r.lastInteractionMs) / 1000) : -1,
            transfer: r.state === "loading" ? { totalBytes: 0, readBytes: 0, lastIoSecondsAgo: Math.floor((nowMs - r.lastInteractionMs) / 1000) } : null,
            readReplOffset: r.offset,
            replOffset: r.offset,
            linkDownSeconds: r.state === "connected" ? -1 : Math.floor((nowMs - r.downSinceMs) / 1000),
            priority: this.config.replicaPriority,
            readOnly: true,
            announced: true,
          }
        : { ...common, role: "master" };
    const h = this.config.host;
    return {
      server: {
        faultlineVersion: h.faultlineVersion,
        runId: this.name,
        tcpPort: endpointOf(this.address).port,
        processId: h.processId,
        os: h.os,
        archBits: 64,
        multiplexingApi: h.multiplexingApi,
        executable: h.executable,
        configFile: h.configFile,
        hz: Math.round(1000 / this.config.cronMs),
        nowUs: nowMs * 1000,
        uptimeS: Math.floor((nowMs - this.startedMs) / 1000),
      },
      clients: { connected: this.server.clientCount, clusterConnections: 2 * (this.nodeList.length - 1), max: 10000, blocked: this.server.blockedCount, inTimeoutTable: 0 },
      memory: {
        usedBytes: m?.usedBytes ?? 0,
        rssBytes: m?.rssBytes ?? 0,
        peakBytes: this.memoryPeakBytes,
        startupBytes: this.memoryStartupBytes,
        totalSystemBytes: m?.totalSystemBytes ?? 0,
        maxmemoryBytes: 0,
        maxmemoryPolicy: "noeviction",
        replicationBacklogBytes: r.backlogInfo().histlen,
        clientsNormalBytes: 0,
        clientsReplicasBytes: 0,
      },
      persistence: { loading: null, changesSinceLastSave: 0, lastSaveTimeS: Math.floor(this.startedMs / 1000), aof: null },
      stats: {
        connectionsReceived: this.server.connectionsReceived,
        commandsProcessed: this.server.commandsProcessed,
        opsPerSec: 0,
        netInputBytes: 0,
        netOutputBytes: 0,
        netReplInputBytes: 0,
        netReplOutputBytes: 0,
        inputKbps: 0,
        outputKbps: 0,
        inputReplKbps: 0,
        outputReplKbps: 0,
        rejectedConnections: 0,
        syncFull: 0,
        syncPartialOk: 0,
        syncPartialErr: 0,
        expiredKeys: r.data.expiredKeys,
        evictedKeys: 0,
        keyspaceHits: this.server.keyspaceHits,
        keyspaceMisses: this.server.keyspaceMisses,
        pubsubChannels: stats.channels,
        pubsubPatterns: stats.patterns,
        pubsubShardChannels: stats.shardChannels,
        readsProcessed: this.server.commandsProcessed,
        writesProcessed: this.server.commandsProcessed,
      },
      replication,
      cpu: { sysUs: 0, userUs: 0 },
      errors: new Map(),
      keyspace: { keys: r.data.size, expires: r.data.expiresCount, avgTtlMs: 0 },
    };
  }

  /** CONFIG GET/SET over this node's settings, by redis.conf name. */
  private settings(): Settings {
    const c = this.config as { -readonly [K in keyof ClusterConfig]: ClusterConfig[K] };
    const ints: Record<string, [keyof ClusterConfig, number]> = {
      "cluster-node-timeout": ["nodeTimeoutMs", 1],
      "cluster-replica-validity-factor": ["replicaValidityFactor", 0],
      "cluster-migration-barrier": ["migrationBarrier", 0],
      "repl-ping-replica-period": ["replPingPeriodMs", 1],
      "repl-backlog-size": ["replBacklogBytes", 1],
      "replica-priority": ["replicaPriority", 0],
    };
    const bools: Record<string, keyof ClusterConfig> = {
      "cluster-require-full-coverage": "requireFullCoverage",
      "cluster-allow-replica-migration": "allowReplicaMigration",
      "cluster-replica-no-failover": "nofailover",
    };
    const fixed: Record<string, string> = { "cluster-enabled": "yes", save: "", appendonly: "no", appendfsync: "everysec", databases: "1", port: String(endpointOf(this.address).port) };
    const unit = (k: string): number => (k === "repl-ping-replica-period" ? 1000 : 1);
    return {
      names: () => [...Object.keys(ints), ...Object.keys(bools), "requirepass", ...Object.keys(fixed)],
      get: (name) => {
        const i = ints[name];
        if (i !== undefined) return String((c[i[0]] as number) / unit(name));
        const b = bools[name];
        if (b !== undefined) return c[b] ? "yes" : "no";
        if (name === "requirepass") return c.requirepass;
        return fixed[name];
      },
      set: (name, value) => {
        const i = ints[name];
        if (i !== undefined) {
          if (!/^\d{1,15}$/.test(value) || Number(value) < i[1]) return "argument couldn't be parsed into an integer";
          (c as Record<string, unknown>)[i[0]] = Number(value) * unit(name);
          return null;
        }
        const b = bools[name];
        if (b !== undefined) {
          const v = value.toLowerCase();
          if (v !== "yes" && v !== "no") return "argument must be 'yes' or 'no'";
          (c as Record<string, unknown>)[b] = v === "yes";
          return null;
        }
        if (name === "requirepass") {
          c.requirepass = value;
          return null;
        }
        return fixed[name] !== undefined ? "can't set immutable config" : "unknown";
      },
    };
  }

  private clusterFailover(option: string, nowMs: number, fx: Fx): RespValue {
    if (option !== "" && option !== "FORCE" && option !== "TAKEOVER") return Resp.error("ERR syntax error");
    if (this.myself.flags & FLAG.master) return Resp.error("ERR You should send CLUSTER FAILOVER to a replica");
    const master = this.myself.master;
    if (master === null || master.address === null) return Resp.error("ERR I'm a replica but my master is unknown to me");
    if (option === "" && master.flags & FLAG.fail) return Resp.error("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE");
    this.resetManualFailover(fx);
    this.mfEndMs = nowMs + CLUSTER_CONST.mfTimeoutMs;
    fx.push({ kind: "trace", event: { type: "mf-start", option: option === "" ? "default" : option.toLowerCase() } });
    if (option === "TAKEOVER") {
      // No votes: a unilateral new configEpoch, then promotion.
      this.bumpConfigEpochWithoutConsensus(fx);
      this.failoverReplaceYourMaster(nowMs, fx, "takeover");
    } else if (option === "FORCE") {
      this.mfCanStart = true;
      this.handleReplicaFailover(nowMs, fx);
    } else {
      fx.push({ kind: "send", to: master.address, msg: { type: "mfstart", h: this.header(0) } });
    }
    return Resp.ok;
  }

  // ---- replication messages ------------------------------------------------------------------------

  private onReplMessage(from: NodeId, msg: ReplMsg, nowMs: number, fx: Fx): void {
    const wasLoading = this.replication.state;
    this.replication.onMessage(from, msg, nowMs);
    if (wasLoading !== this.replication.state && this.replication.state === "connected") {
      fx.push({ kind: "trace", event: { type: "repl-connected", master: from, offset: this.replication.offset } });
    }
    if (this.mfEndMs !== NEVER && !this.mfCanStart) this.handleManualFailover(nowMs, fx);
  }

  // ---- helpers -------------------------------------------------------------------------------------

  private addNode(name: string, address: NodeId | null, flags: number, nowMs: number): NodeRec {
    const n = new NodeRec(name, address, flags, nowMs);
    this.nodes.set(name, n);
    this.nodeList.push(n);
    return n;
  }

  private nodeAt(address: NodeId): NodeRec | undefined {
    for (const n of this.nodeList) if (n.address === address) return n;
    return undefined;
  }

  private setAddress(n: NodeRec, address: NodeId | null): void {
    n.address = address;
    n.gossip = null;
    if (address === null) n.flags |= FLAG.noaddr;
    else n.flags &= ~FLAG.noaddr;
    this.configLazy = true;
  }

  private randomName(): string {
    let s = "";
    for (let i = 0; i < 40; i++) s += "0123456789abcdef"[randomInt(this.rng, 16)];
    return s;
  }

  private role(): "master" | "replica" {
    return this.myself.flags & FLAG.master ? "master" : "replica";
  }

  private traceState(fx: Fx): void {
    fx.push({
      kind: "trace",
      event: { type: "state", role: this.role(), master: this.myself.master?.address ?? null, currentEpoch: this.currentEpoch, configEpoch: this.myself.configEpoch, slots: this.myself.slots.size },
    });
  }

  /** Writes nodes.conf (whole, fsynced) and returns the persist id gated effects wait for. */
  private saveConfig(fx: Fx): PersistId {
    this.configDirty = false;
    this.configLazy = false;
    const id = this.persistIdNext++;
    const record: SavedConfig = {
      name: this.name,
      currentEpoch: this.currentEpoch,
      lastVoteEpoch: this.lastVoteEpoch,
      replicaOfAddress: this.replicaOfAddress,
      nodes: this.nodeList.map((n) => ({
        name: n.name,
        address: n.address,
        flags: n.flags & (FLAG.master | FLAG.replica | FLAG.fail | FLAG.noaddr | FLAG.nofailover | FLAG.migrateTo),
        master: n.master?.name ?? null,
        configEpoch: n.configEpoch,
        slots: n.slots.toString(),
      })),
    };
    fx.push({ kind: "persist", id, file: CONFIG_FILE, op: "write", record: record as unknown as Json, sync: true });
    return id;
  }

  // ---- inspection (checkers and tests only) --------------------------------------------------------

  inspect(): ClusterInspection {
    return {
      name: this.name,
      role: this.role(),
      master: this.myself.master?.address ?? null,
      currentEpoch: this.currentEpoch,
      lastVoteEpoch: this.lastVoteEpoch,
      configEpoch: this.myself.configEpoch,
      state: this.state,
      slots: this.myself.slots.size,
      offset: this.replication.offset,
      replState: this.replication.state,
      keys: this.replication.data.size,
      slotsVersion: this.slotsVersion,
    };
  }

  /** This node's view of who owns which slots: "owner-address@epoch:ranges" joined by spaces. */
  slotMap(): string {
    const parts: string[] = [];
    let start = 0;
    for (let s = 1; s <= SLOTS; s++) {
      const a = this.owner[start] ?? null;
      const b = s < SLOTS ? (this.owner[s] ?? null) : undefined;
      if (b === a) continue;
      parts.push(`${start}-${s - 1}=${a === null ? "-" : (a.address ?? a.name)}`);
      start = s;
    }
    return parts.join(" ");
  }

  /** Per slot, the configEpoch of its owner in this node's view (-1 unassigned). */
  slotEpochs(): Int32Array {
    const out = new Int32Array(SLOTS);
    for (let s = 0; s < SLOTS; s++) out[s] = this.owner[s]?.configEpoch ?? -1;
    return out;
  }

  /** How this node sees another, by address (tests). */
  view(address: NodeId): { flags: number; reports: number; configEpoch: number; role: string } | null {
    const n = this.nodeAt(address);
    if (n === undefined) return null;
    return { flags: n.flags, reports: n.failReports?.size ?? 0, configEpoch: n.configEpoch, role: n.flags & FLAG.master ? "master" : "replica" };
  }

  /** Whether this node serves the key's slot as a master. */
  servesKey(key: string): boolean {
    return this.owner[keySlot(key)] === this.myself && (this.myself.flags & FLAG.master) !== 0;
  }

  /** Whether a client must still authenticate (requirepass): the host's parser then applies Redis's pre-AUTH limits. */
  clientAuthRequired(client: string): boolean {
    return this.server !== undefined && this.server.authRequiredFor(client);
  }

  /** Whether a client is subscribed to anything: a host's idle `timeout` and pubsub output limits ask. */
  clientSubscribed(client: string): boolean {
    return this.server !== undefined && this.server.subscribedClient(client);
  }

  /** Whether a client waits in a blocking command (or a held write): a host's idle `timeout` spares it. */
  clientBlocked(client: string): boolean {
    return this.server !== undefined && this.server.blockedClient(client);
  }

  /** The RESP protocol a client negotiated (HELLO), for the host's encoder; 2 before HELLO. */
  clientProtocol(client: string): 2 | 3 {
    return this.server === undefined ? 2 : this.server.protocolOf(client);
  }

  /** The list at `key` (empty when absent or not a list): for checkers. */
  list(key: string): readonly string[] {
    const e = this.replication.data.inspect(key);
    return e === undefined || typeof e.value === "string" || e.value.kind !== "list" ? [] : e.value.items.toArray();
  }
}

export interface ClusterInspection {
  readonly name: string;
  readonly role: "master" | "replica";
  readonly master: NodeId | null;
  readonly currentEpoch: number;
  readonly lastVoteEpoch: number;
  readonly configEpoch: number;
  readonly state: ClusterHealth;
  readonly slots: number;
  readonly offset: number;
  readonly replState: string;
  readonly keys: number;
  readonly slotsVersion: number;
}

interface SavedConfig {
  readonly name: string;
  readonly currentEpoch: number;
  readonly lastVoteEpoch: number;
  readonly replicaOfAddress: NodeId | null;
  readonly nodes: readonly {
    readonly name: string;
    readonly address: NodeId | null;
    readonly flags: number;
    readonly master: string | null;
    readonly configEpoch: number;
    readonly slots: string;
  }[];
}

function isSavedConfig(v: Json): v is SavedConfig & Json {
  return typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as { name?: unknown }).name === "string" && Array.isArray((v as { nodes?: unknown }).nodes);
}

/** Sets for the same ranges are shared between nodes of one process (they are immutable). */
const slotSetMemo = new Map<string, SlotSet>();

function sharedSlotSet(ranges: readonly (readonly [number, number])[]): SlotSet {
  const key = ranges.map(([a, b]) => `${a}-${b}`).join(",");
  let set = slotSetMemo.get(key);
  if (set === undefined) {
    set = SlotSet.fromRanges(ranges);
    if (slotSetMemo.size < 100_000) slotSetMemo.set(key, set);
  }
  return set;
}

function isBusMsg(m: ClusterMsg): m is BusMsg {
  return "h" in m;
}

function gossipOf(n: NodeRec): Gossip {
  const pingSentS = n.pingSentMs === NEVER ? 0 : Math.floor(n.pingSentMs / 1000);
  const pongReceivedS = Math.floor(n.pongReceivedMs / 1000);
  // The key is checked on the record itself, so a reused entry is never read here; setAddress drops it.
  if (n.gossip !== null && n.gossipFlags === n.flags && n.gossipPingS === pingSentS && n.gossipPongS === pongReceivedS) return n.gossip;
  n.gossipFlags = n.flags;
  n.gossipPingS = pingSentS;
  n.gossipPongS = pongReceivedS;
  n.gossip = { name: n.name, address: n.address ?? "", pingSentS, pongReceivedS, flags: n.flags };
  return n.gossip;
}

/** Bus message types by the names CLUSTER INFO prints (clusterGetMessageTypeString). */
const REDIS_MSG_NAME: Readonly<Record<BusMsg["type"], string>> = {
  ping: "ping",
  pong: "pong",
  meet: "meet",
  fail: "fail",
  publish: "publish",
  publishshard: "publishshard",
  "failover-auth-request": "auth-req",
  "failover-auth-ack": "auth-ack",
  update: "update",
  mfstart: "mfstart",
};

/** CLUSTER HELP: Redis 7.0's lines for the subcommands served here. */
const CLUSTER_HELP: readonly string[] = [
  "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "ADDSLOTS <slot> [<slot> ...]",
  "    Assign slots to current node.",
  "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
  "    Assign slots which are between <start-slot> and <end-slot> to current node.",
  "COUNT-FAILURE-REPORTS <node-id>",
  "    Return number of failure reports for <node-id>.",
  "COUNTKEYSINSLOT <slot>",
  "    Return the number of keys in <slot>.",
  "DELSLOTS <slot> [<slot> ...]",
  "    Delete slots information from current node.",
  "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
  "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
  "FAILOVER [FORCE|TAKEOVER]",
  "    Promote current replica node to being a master.",
  "FORGET <node-id>",
  "    Remove a node from the cluster.",
  "GETKEYSINSLOT <slot> <count>",
  "    Return key names stored by current node in a slot.",
  "INFO",
  "    Return information about the cluster.",
  "KEYSLOT <key>",
  "    Return the hash slot for <key>.",
  "MEET <ip> <port> [<bus-port>]",
  "    Connect nodes into a working cluster.",
  "MYID",
  "    Return the node id.",
  "NODES",
  "    Return cluster configuration seen by node. Output format:",
  "    <id> <ip:port@bus-port[,hostname]> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
  "REPLICATE <node-id>",
  "    Configure current node as replica to <node-id>.",
  "RESET [HARD|SOFT]",
  "    Reset current node (default: soft).",
  "SET-CONFIG-EPOCH <epoch>",
  "    Set config epoch of current node.",
  "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
  "    Set slot state.",
  "REPLICAS <node-id>",
  "    Return <node-id> replicas.",
  "SLOTS",
  "    Return information about slots range mappings. Each range is made of:",
  "    start, end, master and replicas IP addresses, ports and ids",
  "SHARDS",
  "    Return information about slot range mappings and the nodes associated with them.",
  "HELP",
  "    Print this help.",
];

/** The node address behind host:port ("n2" 6379 is the simulator's n2; see format.ts endpointOf). */
function addressOf(host: string, port: number): NodeId {
  return port === 6379 && !host.includes(".") && !host.includes(":") ? host : `${host}:${port}`;
}

/** A slot number argument (0..16383), or null. */
function parseSlot(arg: string): number | null {
  if (!/^\d{1,5}$/.test(arg)) return null;
  const n = Number(arg);
  return n < SLOTS ? n : null;
}

function firstDistinct(xs: readonly (string | null)[]): Json {
  return [...new Set(xs)].slice(0, 8) as Json;
}
