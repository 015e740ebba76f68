// What every node believes at one point of the trace, rebuilt from the events: role, epochs,
// flags it holds about its peers, its own slot claim and its view of slot owners, Raft term and
// commit index; and what the world does to it (crashed, paused, partitions, clogged links).
//
// `applyEvent` is the one place that knows what each event type means. Records inside the state
// are replaced, never changed in place, so `cloneState` (a checkpoint) copies only the maps.

import type { Json } from "../../core/trace.js";
import { parseRanges, rangesSize, subtract, union, type Ranges, SlotTable } from "./slots.js";
import type { Ev } from "./trace.js";

/** Flags a node holds about a peer (Redis's CLUSTER NODES flags the trace shows). */
export const PEER_FLAG = { pfail: 1, fail: 2, handshake: 4 } as const;

/** One peer as a node sees it. */
export interface Peer {
  /** Its 40-hex name once learned (handshake), else null. */
  readonly name: string | null;
  /** PEER_FLAG bits. */
  readonly flags: number;
  /** Failure reports about it: reporting node → time received. Expiry is not traced, so they stay until cleared. */
  readonly reports: ReadonlyMap<string, number>;
}

/** The slots a master says it serves, with the configEpoch it claims them at. */
export interface Claim {
  readonly epoch: number;
  readonly slots: Ranges;
}

/** A replica's election, from failover-start until promotion (or the next one). */
export interface Election {
  readonly master: string | null;
  readonly startedT: number;
  /** The epoch it asked votes for (vote-request), null before it asks. */
  readonly epoch: number | null;
  readonly votes: number;
  readonly manual: boolean;
  readonly outcome: "running" | "promoted";
}

/** Raft state, for machines that trace it (raft-term, raft-leader, raft-role, raft-commit, ...). */
export interface RaftState {
  readonly term: number | null;
  /** Whom it voted for in `term`. */
  readonly vote: string | null;
  readonly leader: string | null;
  readonly commit: number | null;
  /** The last log index it is known to hold (at recovery, or a commit past it). */
  readonly lastIndex: number | null;
  /** Voters of the latest configuration it announced (raft-config). */
  readonly voters: readonly string[] | null;
}

export type Status = "up" | "crashed" | "paused";

export interface NodeState {
  readonly id: string;
  name: string | null;
  /** What the world does to the process: crash/restart, pause/resume. */
  status: Status;
  /** master/replica for Redis Cluster; follower/candidate/leader for Raft-like machines. */
  role: string | null;
  /** A replica's master (address). */
  master: string | null;
  currentEpoch: number | null;
  configEpoch: number | null;
  lastVoteEpoch: number | null;
  /** The cluster state the node reports (ok/fail). */
  clusterState: string | null;
  /** Replication offset, from the events that carry it (and message headers at `full` detail). */
  offset: number | null;
  claim: Claim | null;
  /** Who owns which slot, as this node sees it. */
  slotView: SlotTable;
  peers: Map<string, Peer>;
  raft: RaftState | null;
  election: Election | null;
  /** Time of the node's latest event. */
  lastT: number | null;
  restarts: number;
}

export interface Partition {
  readonly id: string;
  readonly groups: readonly (readonly string[])[];
  readonly oneWay: boolean;
}

export interface ClusterState {
  /** Server nodes, created in trace order (the header's nodes first). */
  readonly nodes: Map<string, NodeState>;
  readonly partitions: Map<string, Partition>;
  /** Clogged links "from>to": messages held until unclogged. */
  readonly clogs: Set<string>;
  /** How many events have been applied. */
  applied: number;
  /** Time of the last applied event (−Infinity before any). */
  t: number;
}

export function emptyState(nodes: readonly string[]): ClusterState {
  const s: ClusterState = { nodes: new Map(), partitions: new Map(), clogs: new Set(), applied: 0, t: Number.NEGATIVE_INFINITY };
  for (const n of nodes) s.nodes.set(n, freshNode(n));
  return s;
}

function freshNode(id: string): NodeState {
  return {
    id,
    name: null,
    status: "up",
    role: null,
    master: null,
    currentEpoch: null,
    configEpoch: null,
    lastVoteEpoch: null,
    clusterState: null,
    offset: null,
    claim: null,
    slotView: SlotTable.empty,
    peers: new Map(),
    raft: null,
    election: null,
    lastT: null,
    restarts: 0,
  };
}

export function cloneState(s: ClusterState): ClusterState {
  const nodes = new Map<string, NodeState>();
  for (const [id, n] of s.nodes) nodes.set(id, { ...n, peers: new Map(n.peers) });
  return { nodes, partitions: new Map(s.partitions), clogs: new Set(s.clogs), applied: s.applied, t: s.t };
}

const num = (v: Json | undefined): number | null => (typeof v === "number" ? v : null);
const str = (v: Json | undefined): string | null => (typeof v === "string" ? v : null);

/** Event types that belong to clients, not to a server node's state. */
const CLIENT_EVENTS = new Set(["client-op", "client-retry", "client-push"]);

/** Applies one event. Events the viewer does not model change only `applied`, `t` and `lastT`. */
export function applyEvent(s: ClusterState, e: Ev): void {
  s.applied = e.i + 1;
  s.t = e.t;
  if (e.node === null) {
    applyWorldEvent(s, e);
    return;
  }
  if (CLIENT_EVENTS.has(e.type)) return;
  let n = s.nodes.get(e.node);
  if (n === undefined) {
    n = freshNode(e.node);
    s.nodes.set(e.node, n);
  }
  n.lastT = e.t;
  if (e.type === "fault" && (e.f["action"] === "clog" || e.f["action"] === "unclog")) applyClog(s, e.node, e.f);
  else if (e.type === "fault") applyNodeFault(n, e.f);
  else applyNodeEvent(n, e);
}

function applyWorldEvent(s: ClusterState, e: Ev): void {
  if (e.type !== "fault") return;
  const f = e.f;
  if (f["action"] === "partition") {
    const id = str(f["id"]) ?? `p${e.i}`;
    const groups = Array.isArray(f["groups"]) ? (f["groups"] as Json[]).map((g) => (Array.isArray(g) ? g.filter((x): x is string => typeof x === "string") : [])) : [];
    s.partitions.set(id, { id, groups, oneWay: f["oneWay"] === true });
  } else if (f["action"] === "heal") {
    const id = str(f["id"]);
    if (id === null) s.partitions.clear();
    else s.partitions.delete(id);
  } else if (f["action"] === "liveness") {
    s.partitions.clear();
    s.clogs.clear();
  }
}

function applyNodeFault(n: NodeState, f: Readonly<Record<string, Json>>): void {
  switch (f["action"]) {
    case "crash":
      n.status = "crashed";
      if (n.election?.outcome === "running") n.election = null;
      break;
    case "restart":
      n.status = "up";
      n.restarts += 1;
      break;
    case "pause":
      n.status = "paused";
      break;
    case "resume":
      n.status = "up";
      break;
    case "wipe":
      // A new, empty disk: the node comes back as a stranger; only what the world did to it stays.
      Object.assign(n, { ...freshNode(n.id), status: n.status, lastT: n.lastT, restarts: n.restarts });
      break;
  }
}

/** The world's clog events are written on the sending node. */
function applyClog(s: ClusterState, from: string, f: Readonly<Record<string, Json>>): void {
  const to = str(f["to"]);
  if (to === null) return;
  if (f["action"] === "clog") s.clogs.add(`${from}>${to}`);
  else s.clogs.delete(`${from}>${to}`);
}

function applyNodeEvent(n: NodeState, e: Ev): void {
  const f = e.f;
  switch (e.type) {
    case "recovered":
      onRecovered(n, f);
      break;
    case "state":
      onState(n, f);
      break;
    case "epoch":
      n.currentEpoch = num(f["currentEpoch"]) ?? n.currentEpoch;
      break;
    case "epoch-bump":
    case "config-epoch-collision": {
      const c = num(f["configEpoch"]);
      if (c !== null) {
        n.configEpoch = c;
        n.currentEpoch = Math.max(n.currentEpoch ?? 0, c);
      }
      break;
    }
    case "claim":
      onClaim(n, f);
      break;
    case "slots-owner":
    case "slot-assigned":
      onSlotsOwner(n, f);
      break;
    case "promoted":
      n.role = "master";
      n.master = null;
      n.configEpoch = num(f["epoch"]) ?? n.configEpoch;
      if (n.election !== null) n.election = { ...n.election, outcome: "promoted" };
      break;
    case "demoted":
      n.role = "replica";
      n.master = str(f["to"]);
      n.claim = null;
      break;
    case "cluster-state":
      n.clusterState = str(f["state"]);
      break;
    case "cluster-reset":
      n.peers = new Map();
      n.claim = null;
      n.slotView = SlotTable.empty;
      n.role = "master";
      n.master = null;
      break;
    case "repl-connected":
      n.master = str(f["master"]) ?? n.master;
      n.offset = num(f["offset"]) ?? n.offset;
      break;
    case "mf-master-offset":
    case "mf-caught-up":
      break;
    case "failover-start":
      n.offset = num(f["offset"]) ?? n.offset;
      n.election = { master: str(f["master"]), startedT: e.t, epoch: null, votes: 0, manual: f["manual"] === true, outcome: "running" };
      break;
    case "vote-request":
      onVoteRequest(n, f);
      break;
    case "vote-received":
      if (n.election !== null) n.election = { ...n.election, votes: num(f["votes"]) ?? n.election.votes + 1 };
      break;
    case "vote":
      onVote(n, f);
      break;
    case "send":
      onSend(n, e);
      break;
    case "recv":
      onRecv(n, f);
      break;
    case "fault":
      break;
    default:
      if (!applyPeerEvent(n, e.type, f)) applyRaftEvent(n, e.type, f);
  }
}

function onRecovered(n: NodeState, f: Readonly<Record<string, Json>>): void {
  n.name = str(f["name"]) ?? n.name;
  n.currentEpoch = num(f["currentEpoch"]) ?? n.currentEpoch;
  n.configEpoch = num(f["configEpoch"]) ?? n.configEpoch;
  n.lastVoteEpoch = num(f["lastVoteEpoch"]) ?? n.lastVoteEpoch;
  n.role = str(f["role"]) ?? n.role;
  n.status = "up";
  n.election = null;
  // What a restarted node knows of its peers' health is volatile (PFAIL, reports); FAIL is saved.
  for (const [id, p] of n.peers) {
    if (p.flags & PEER_FLAG.pfail || p.reports.size > 0) n.peers.set(id, { ...p, flags: p.flags & ~PEER_FLAG.pfail, reports: new Map() });
  }
  const term = num(f["term"]);
  if (term !== null) n.raft = { ...raftOf(n), term, vote: str(f["votedFor"]) };
}

function onState(n: NodeState, f: Readonly<Record<string, Json>>): void {
  n.role = str(f["role"]) ?? n.role;
  if ("master" in f) n.master = str(f["master"]);
  n.currentEpoch = num(f["currentEpoch"]) ?? n.currentEpoch;
  n.configEpoch = num(f["configEpoch"]) ?? n.configEpoch;
  if (f["slots"] === 0) n.claim = null;
  const term = num(f["term"]);
  if (term !== null || "leader" in f) n.raft = { ...raftOf(n), term: term ?? raftOf(n).term, leader: str(f["leader"]) };
}

function onClaim(n: NodeState, f: Readonly<Record<string, Json>>): void {
  const slots = parseRanges(str(f["slots"]) ?? "");
  const epoch = num(f["epoch"]) ?? n.configEpoch ?? 0;
  n.claim = slots.length === 0 ? null : { epoch, slots };
  n.configEpoch = epoch;
  if (slots.length > 0) n.slotView = n.slotView.assign(slots, n.id);
}

/** `slots-owner` (learned from gossip) and `slot-assigned` (CLUSTER ADDSLOTS/SETSLOT) on node n. */
function onSlotsOwner(n: NodeState, f: Readonly<Record<string, Json>>): void {
  const slots = parseRanges(str(f["slots"]) ?? "");
  const owner = str(f["owner"]);
  n.slotView = n.slotView.assign(slots, owner);
  if (owner === n.id) {
    n.claim = { epoch: num(f["epoch"]) ?? n.claim?.epoch ?? 0, slots: union(n.claim?.slots ?? [], slots) };
  } else if (n.claim !== null) {
    const left = subtract(n.claim.slots, slots);
    n.claim = rangesSize(left) === 0 ? null : { epoch: n.claim.epoch, slots: left };
  }
}

function onVoteRequest(n: NodeState, f: Readonly<Record<string, Json>>): void {
  const epoch = num(f["epoch"]);
  if (epoch !== null) {
    n.currentEpoch = Math.max(n.currentEpoch ?? 0, epoch);
    if (n.election !== null) n.election = { ...n.election, epoch };
    return;
  }
  const term = num(f["term"]);
  if (term !== null) {
    n.role = "candidate";
    n.raft = { ...raftOf(n), term, vote: n.id, leader: null };
  }
}

function onVote(n: NodeState, f: Readonly<Record<string, Json>>): void {
  const epoch = num(f["epoch"]);
  if (epoch !== null) {
    n.lastVoteEpoch = epoch;
    return;
  }
  const term = num(f["term"]);
  if (term !== null) n.raft = { ...raftOf(n), term, vote: str(f["for"]) };
}

/** At `full` detail a cluster bus message's header carries the sender's replication offset. */
function onSend(n: NodeState, e: Ev): void {
  const to = str(e.f["to"]);
  if (to !== null && e.f["msg"] === "meet" && !n.peers.has(to)) n.peers.set(to, { name: null, flags: PEER_FLAG.handshake, reports: new Map() });
  const body = e.f["body"];
  if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body)) return;
  const h = (body as Readonly<Record<string, Json>>)["h"];
  if (h !== undefined && h !== null && typeof h === "object" && !Array.isArray(h)) {
    const offset = num((h as Readonly<Record<string, Json>>)["offset"]);
    if (offset !== null) n.offset = offset;
  }
}

/** A message from a node it does not know yet: a preformed cluster's peers appear this way. */
function onRecv(n: NodeState, f: Readonly<Record<string, Json>>): void {
  const from = str(f["from"]);
  if (from !== null && from !== n.id && !n.peers.has(from)) n.peers.set(from, { name: null, flags: 0, reports: new Map() });
}

/** Events about a peer (`about`): handshake, pfail, fail, failure reports, forget. */
function applyPeerEvent(n: NodeState, type: string, f: Readonly<Record<string, Json>>): boolean {
  const about = str(f["about"]);
  if (about === null) return false;
  const p = n.peers.get(about) ?? { name: null, flags: 0, reports: new Map<string, number>() };
  const name = str(f["name"]) ?? p.name;
  switch (type) {
    case "handshake":
      n.peers.set(about, { ...p, name, flags: p.flags & ~PEER_FLAG.handshake });
      return true;
    case "pfail":
      n.peers.set(about, { ...p, name, flags: p.flags | PEER_FLAG.pfail });
      return true;
    case "pfail-cleared":
      n.peers.set(about, { ...p, name, flags: p.flags & ~PEER_FLAG.pfail });
      return true;
    case "fail":
      n.peers.set(about, { ...p, name, flags: (p.flags & ~PEER_FLAG.pfail) | PEER_FLAG.fail });
      return true;
    case "fail-cleared":
      n.peers.set(about, { ...p, name, flags: p.flags & ~PEER_FLAG.fail, reports: new Map() });
      return true;
    case "failure-report": {
      const by = str(f["by"]);
      if (by === null) return true;
      const reports = new Map(p.reports);
      reports.set(by, num(f["t"]) ?? 0);
      n.peers.set(about, { ...p, name, reports });
      return true;
    }
    case "forget":
      n.peers.delete(about);
      return true;
    default:
      return false;
  }
}

function raftOf(n: NodeState): RaftState {
  return n.raft ?? { term: null, vote: null, leader: null, commit: null, lastIndex: null, voters: null };
}

/** Why a raft-term event moved the term: campaigning means the node voted for itself. */
const CAMPAIGNS = new Set(["campaign", "timeout-now"]);

/** Raft events (and the toy leader election's leader/step-down). */
function applyRaftEvent(n: NodeState, type: string, f: Readonly<Record<string, Json>>): void {
  const r = raftOf(n);
  const term = num(f["term"]);
  switch (type) {
    case "raft-term": {
      const vote = "vote" in f ? str(f["vote"]) : "votedFor" in f ? str(f["votedFor"]) : CAMPAIGNS.has(str(f["why"]) ?? "") ? n.id : null;
      n.raft = { ...r, term: term ?? r.term, vote, leader: null };
      break;
    }
    case "raft-recovered":
      n.status = "up";
      n.raft = { ...r, term: term ?? r.term, vote: str(f["votedFor"]), leader: null, lastIndex: num(f["lastIndex"]) ?? r.lastIndex };
      break;
    case "raft-leader": {
      const leader = str(f["leader"]) ?? n.id;
      n.raft = { ...r, term: term ?? r.term, leader };
      if (leader === n.id) n.role = "leader";
      break;
    }
    case "raft-role":
      n.role = str(f["role"]) ?? n.role;
      n.raft = { ...r, term: term ?? r.term };
      break;
    case "raft-commit": {
      const commit = num(f["commit"]) ?? num(f["commitIndex"]) ?? num(f["index"]) ?? r.commit;
      n.raft = { ...r, commit, lastIndex: commit === null ? r.lastIndex : Math.max(r.lastIndex ?? 0, commit) };
      break;
    }
    case "raft-config":
      n.raft = { ...r, voters: Array.isArray(f["voters"]) ? f["voters"].filter((v): v is string => typeof v === "string") : r.voters };
      break;
    case "leader":
      n.role = "leader";
      n.raft = { ...r, term: term ?? r.term, leader: n.id };
      break;
    case "raft-step-down":
    case "step-down":
      n.role = "follower";
      n.raft = { ...r, term: term ?? r.term, leader: null };
      break;
  }
}
