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
import { DATA_COMMANDS, Replication } from "./data.js";
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
  type ReplMsg,
} from "./types.js";

type Fx = Effect<ClusterMsg, ClusterRep>[];

const CONFIG_FILE = "nodes.conf";
const TIMER_CRON = "cron";
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

export class ClusterNode implements Machine<ClusterMsg, ClusterReq, ClusterRep> {
  readonly address: NodeId;
  private readonly config: ClusterConfig;
  private readonly rng: Prng;

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
  /** Client requests held while a manual failover pauses writes on this master. */
  private held: { client: string; reqId: number; req: ClusterReq }[] = [];
  /** Clients that sent READONLY. */
  private readonly readonlyClients = new Set<string>();
  /** How many nodes are PFAIL, recounted each cron (may run high in between): PINGs append them all when nonzero. */
  private pfailCount = 0;
  private replication!: Replication;
  /** Bumped whenever the slot table changes, so observers can cache views of it. */
  slotsVersion = 0;
  /** Effects of the step in progress (replication's send callback writes here). */
  private fx: Fx = [];

  constructor(init: MachineInit<ClusterConfig>) {
    this.address = init.id;
    this.config = init.config;
    this.rng = init.rng;
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
        if (isBusMsg(input.msg)) this.onBusMessage(input.from, input.msg, nowMs, fx);
        else this.onReplMessage(input.from, input.msg, nowMs, fx);
        break;
      case "timer":
        if (input.name === TIMER_CRON) this.clusterCron(nowMs, fx);
        else if (input.name === TIMER_FAILOVER) this.handleReplicaFailover(nowMs, fx);
        break;
      case "client":
        this.onClient(input.client, input.reqId, input.req, nowMs, fx);
        break;
      case "persisted":
        break; // the runner releases what waited for it
      default:
        assertNever(input, "input");
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
    this.replication = new Replication(this.config, () => this.randomName(), (to, msg) => this.fx.push({ kind: "send", to, msg }));
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
    let dirtyKeys = false;
    for (const s of slots) {
      const o = this.owner[s] ?? null;
      if (o === sender) continue;
      if (o === null || o.configEpoch < senderConfigEpoch) {
        if (o === this.myself && this.replication.data.size > 0) dirtyKeys = true;
        if (o !== null && o === curMaster) {
          newMaster = sender;
          ourSlotsLost += 1;
        }
        taken.push(s);
      }
    }
    if (taken.length === 0) return;
    const from = taken.map((s) => this.owner[s]?.address ?? null);
    this.assignSlots(taken, sender);
    fx.push({ kind: "trace", event: { type: "slots-owner", owner: sender.address, name: sender.name, epoch: senderConfigEpoch, slots: SlotSet.of(taken).toString(), from: firstDistinct(from) } });
    this.configDirty = true;
    this.updateState(nowMs, fx);
    if (newMaster !== null && curMaster !== null && curMaster.slots.size === 0) {
      // We (or our master) lost every slot to the sender: follow it (how a failed-over master rejoins).
      fx.push({ kind: "trace", event: { type: "demoted", to: sender.address, lost: ourSlotsLost } });
      this.clusterSetMaster(sender, nowMs, fx);
    } else if (dirtyKeys) {
      const mine = this.myself;
      this.replication.data.dropWhere((key) => this.owner[keySlot(key)] !== mine);
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
    if (this.held.length > 0 && this.mfEndMs === NEVER) this.releaseHeld(nowMs, fx);
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

  private onClient(client: string, reqId: number, req: ClusterReq, nowMs: number, fx: Fx): void {
    const reply = (value: ClusterRep): void => {
      fx.push({ kind: "reply", client, reqId, value });
    };
    const cmd = req.cmd;
    const name = (cmd[0] ?? "").toUpperCase();
    if (name === "CLUSTER") return reply(this.clusterCommand(cmd.slice(1), nowMs, fx));
    if (name === "READONLY") {
      this.readonlyClients.add(client);
      return reply({ status: "OK" });
    }
    if (name === "READWRITE") {
      this.readonlyClients.delete(client);
      return reply({ status: "OK" });
    }
    if (name === "PING") return reply({ status: "PONG" });
    const spec = DATA_COMMANDS[name];
    if (spec === undefined) return reply({ err: `ERR unknown command '${cmd[0] ?? ""}'` });
    if (spec.arity > 0 ? cmd.length !== spec.arity : cmd.length < -spec.arity) return reply({ err: `ERR wrong number of arguments for '${name.toLowerCase()}' command` });
    const key = cmd[1] as string;
    const slot = keySlot(key);
    if (this.state === "fail") return reply({ err: "CLUSTERDOWN The cluster is down" });
    const o = this.owner[slot] ?? null;
    if (o === null) return reply({ err: "CLUSTERDOWN Hash slot not served" });
    if (o !== this.myself) {
      const replicaRead = !spec.write && this.readonlyClients.has(client) && this.myself.master === o;
      if (!replicaRead) return reply({ err: `MOVED ${slot} ${o.address ?? "?"}` });
      return reply(toRep(this.replication.data.apply(cmd)));
    }
    if (spec.write && this.mfEndMs !== NEVER) {
      // Writes wait while a manual failover lets the replica catch up (Redis pauses clients).
      if (this.held.length < CLUSTER_CONST.pausedClientsMax) this.held.push({ client, reqId, req });
      else reply({ err: "TRYAGAIN manual failover in progress" });
      return;
    }
    if (spec.write && !this.hasRecentMajority(nowMs)) {
      // Faultline: a master that has not heard from a majority of slot owners within node_timeout
      // refuses writes, even before its cron has marked them PFAIL (a resumed, paused master).
      this.updateState(nowMs, fx);
      return reply({ err: "CLUSTERDOWN The cluster is down (no majority heard within node timeout)" });
    }
    reply(toRep(spec.write ? this.replication.write(cmd) : this.replication.data.apply(cmd)));
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

  private releaseHeld(nowMs: number, fx: Fx): void {
    const held = this.held;
    this.held = [];
    for (const h of held) this.onClient(h.client, h.reqId, h.req, nowMs, fx);
  }

  private clusterCommand(args: readonly string[], nowMs: number, fx: Fx): ClusterRep {
    const sub = (args[0] ?? "").toUpperCase();
    switch (sub) {
      case "MYID":
        return this.name;
      case "KEYSLOT":
        return args.length === 2 ? keySlot(args[1] as string) : { err: "ERR wrong number of arguments for 'cluster|keyslot' command" };
      case "COUNT-FAILURE-REPORTS": {
        const n = this.nodes.get(args[1] ?? "");
        return n === undefined ? { err: `ERR Unknown node ${args[1] ?? ""}` } : this.failureReportCount(n, nowMs);
      }
      case "FAILOVER":
        return this.clusterFailover((args[1] ?? "").toUpperCase(), nowMs, fx);
      default:
        return { err: `ERR unknown subcommand '${args[0] ?? ""}'. Try CLUSTER HELP.` };
    }
  }

  private clusterFailover(option: string, nowMs: number, fx: Fx): ClusterRep {
    if (option !== "" && option !== "FORCE" && option !== "TAKEOVER") return { err: "ERR syntax error" };
    if (this.myself.flags & FLAG.master) return { err: "ERR You should send CLUSTER FAILOVER to a replica" };
    const master = this.myself.master;
    if (master === null || master.address === null) return { err: "ERR I'm a replica but my master is unknown to me" };
    if (option === "" && master.flags & FLAG.fail) return { err: "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE" };
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
    return { status: "OK" };
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

  list(key: string): readonly string[] {
    return this.replication.data.list(key);
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

function toRep(r: { ok: Json } | { err: string }): ClusterRep {
  if ("err" in r) return { err: r.err };
  return r.ok === "OK" ? { status: "OK" } : (r.ok as ClusterRep);
}

function firstDistinct(xs: readonly (string | null)[]): Json {
  return [...new Set(xs)].slice(0, 8) as Json;
}
