// toy-leader: a small leader election (Raft's, without a log) that exercises the harness.
//
// It exists so the simulator, the scenarios and the checkers have a real protocol to drive before
// the cluster and Raft machines land: randomized timeouts from the node's PRNG, a durable vote
// persisted with fsync before the vote leaves (through the runner's gate), heartbeats, optional
// check-quorum step-down, and a leader-only key-value map whose writes are acknowledged after
// their append is durable. It is not replicated storage; data lives on whichever node took it.
//
// `bugs` plants known defects so tests can show the checkers catch them.

import {
  type Effect,
  type Input,
  type Machine,
  type MachineInit,
  type NodeId,
  type PersistId,
  type Prng,
  type Recovered,
} from "../machine.js";
import { randomBetween } from "../prng.js";
import type { Json } from "../trace.js";

export interface ToyLeaderConfig {
  /** A follower that hears no leader for a time drawn from this range starts an election. */
  readonly electionTimeoutMs: readonly [number, number];
  readonly heartbeatMs: number;
  /** A leader that has not heard from a majority within the longest election timeout steps down. */
  readonly checkQuorum: boolean;
  /** Acknowledge a put only after its append is fsynced (else after the page-cache write). */
  readonly syncWrites: boolean;
  readonly bugs: {
    /** Send the vote before the vote is durable: a crash can then make a node vote twice in a term. */
    readonly voteBeforePersist: boolean;
  };
}

export const TOY_LEADER_DEFAULTS: ToyLeaderConfig = {
  electionTimeoutMs: [150, 300],
  heartbeatMs: 50,
  checkQuorum: true,
  syncWrites: true,
  bugs: { voteBeforePersist: false },
};

export type ToyLeaderMsg =
  | { readonly type: "vote-request"; readonly term: number }
  | { readonly type: "vote"; readonly term: number; readonly granted: boolean }
  | { readonly type: "heartbeat"; readonly term: number }
  | { readonly type: "heartbeat-ack"; readonly term: number };

export type ToyLeaderReq = { readonly op: "put"; readonly key: string; readonly value: string } | { readonly op: "get"; readonly key: string };

export type ToyLeaderRep =
  | { readonly ok: true; readonly value: string | null }
  | { readonly ok: false; readonly error: "not-leader"; readonly leader: NodeId | null };

export type ToyRole = "follower" | "candidate" | "leader";

type Fx = Effect<ToyLeaderMsg, ToyLeaderRep>[];

const VOTE_FILE = "vote";
const DATA_FILE = "data";
const TIMER_ELECTION = "election";
const TIMER_HEARTBEAT = "heartbeat";

export class ToyLeader implements Machine<ToyLeaderMsg, ToyLeaderReq, ToyLeaderRep> {
  private readonly id: NodeId;
  private readonly peers: readonly NodeId[];
  private readonly config: ToyLeaderConfig;
  private readonly rng: Prng;

  /** Durable: the latest term this node has seen. */
  private term = 0;
  /** Durable: whom this node voted for in `term`, if anyone. */
  private votedFor: NodeId | null = null;

  /** Volatile: role and the leader this node follows (null when it knows none). */
  private role: ToyRole = "follower";
  private leader: NodeId | null = null;
  /** Volatile, candidate only: nodes that granted their vote this term. */
  private readonly votes = new Set<NodeId>();
  /** Volatile, leader only: local time each peer last acknowledged a heartbeat of this term. */
  private readonly lastAckMs = new Map<NodeId, number>();
  /** Volatile: when this node became leader (check-quorum grace period starts there). */
  private leaderSinceMs = 0;
  /** Volatile: the key-value map, rebuilt from the data file on start. */
  private readonly data = new Map<string, string>();
  /** Volatile: the next persist id (the runner is rebuilt on restart, so ids restart too). */
  private persistIdNext: PersistId = 0;
  /** Volatile: the persist that last recorded term and vote; a vote reply waits for it. */
  private votePersistId: PersistId | undefined;

  constructor(init: MachineInit<ToyLeaderConfig>) {
    this.id = init.id;
    this.peers = init.peers;
    this.config = init.config;
    this.rng = init.rng;
  }

  /** Inspection hook for checkers and expectations; never used by the protocol. */
  inspect(): { role: ToyRole; term: number; votedFor: NodeId | null; leader: NodeId | null; keys: number } {
    return { role: this.role, term: this.term, votedFor: this.votedFor, leader: this.leader, keys: this.data.size };
  }

  step(input: Input<ToyLeaderMsg, ToyLeaderReq>, nowMs: number): Fx {
    const fx: Fx = [];
    switch (input.kind) {
      case "start":
        this.onStart(input.recovered, nowMs, fx);
        break;
      case "message":
        this.onMessage(input.from, input.msg, nowMs, fx);
        break;
      case "timer":
        if (input.name === TIMER_ELECTION) this.onElectionTimeout(nowMs, fx);
        else if (input.name === TIMER_HEARTBEAT) this.onHeartbeatTimer(nowMs, fx);
        break;
      case "client":
        this.onClient(input.client, input.reqId, input.req, fx);
        break;
      case "persisted":
        break; // The runner releases whatever waited on it.
    }
    return fx;
  }

  private onStart(recovered: Recovered | null, nowMs: number, fx: Fx): void {
    const vote = recovered?.files[VOTE_FILE]?.records.at(-1);
    if (isVoteRecord(vote)) {
      this.term = vote.term;
      this.votedFor = vote.votedFor;
    }
    const data = recovered?.files[DATA_FILE];
    for (const r of data?.records ?? []) if (isPutRecord(r)) this.data.set(r.key, r.value);
    fx.push({
      kind: "trace",
      event: {
        type: "recovered",
        fresh: recovered === null,
        term: this.term,
        votedFor: this.votedFor,
        keys: this.data.size,
        tornTail: data?.tornTail ?? false,
      },
    });
    this.traceState(fx);
    this.resetElectionTimer(nowMs, fx);
  }

  private onMessage(from: NodeId, msg: ToyLeaderMsg, nowMs: number, fx: Fx): void {
    // Term handling happens once, here; role-specific handling follows.
    if (msg.term > this.term) this.becomeFollower(msg.term, msg.type === "heartbeat" ? from : null, nowMs, fx);
    switch (msg.type) {
      case "vote-request":
        this.onVoteRequest(from, msg.term, nowMs, fx);
        break;
      case "vote":
        this.onVote(from, msg.term, msg.granted, nowMs, fx);
        break;
      case "heartbeat":
        this.onHeartbeat(from, msg.term, nowMs, fx);
        break;
      case "heartbeat-ack":
        if (this.role === "leader" && msg.term === this.term) this.lastAckMs.set(from, nowMs);
        break;
    }
  }

  private onVoteRequest(from: NodeId, term: number, nowMs: number, fx: Fx): void {
    const grant = term === this.term && (this.votedFor === null || this.votedFor === from);
    if (!grant) {
      fx.push({ kind: "send", to: from, msg: { type: "vote", term: this.term, granted: false } });
      return;
    }
    const fresh = this.votedFor === null;
    if (fresh) {
      this.votedFor = from;
      this.persistVote(fx);
    }
    // The vote (and the event recording that it was cast) leaves only once it is durable; a
    // repeated request gets the same answer, which waits too if the vote is still in flight.
    const after = this.config.bugs.voteBeforePersist ? undefined : this.votePersistId;
    const vote: ToyLeaderMsg = { type: "vote", term, granted: true };
    if (fresh) fx.push(after === undefined ? { kind: "trace", event: { type: "vote", term, for: from } } : { kind: "trace", event: { type: "vote", term, for: from }, after });
    fx.push(after === undefined ? { kind: "send", to: from, msg: vote } : { kind: "send", to: from, msg: vote, after });
    this.resetElectionTimer(nowMs, fx);
  }

  private onVote(from: NodeId, term: number, granted: boolean, nowMs: number, fx: Fx): void {
    if (this.role !== "candidate" || term !== this.term || !granted) return;
    this.votes.add(from);
    if (this.votes.size >= this.majority()) this.becomeLeader(nowMs, fx);
  }

  private onHeartbeat(from: NodeId, term: number, nowMs: number, fx: Fx): void {
    if (term < this.term) {
      // Tell the stale leader about the newer term so it steps down.
      fx.push({ kind: "send", to: from, msg: { type: "heartbeat-ack", term: this.term } });
      return;
    }
    if (this.role !== "follower" || this.leader !== from) {
      this.role = "follower";
      this.leader = from;
      this.traceState(fx);
    }
    fx.push({ kind: "send", to: from, msg: { type: "heartbeat-ack", term: this.term } });
    this.resetElectionTimer(nowMs, fx);
  }

  private onElectionTimeout(nowMs: number, fx: Fx): void {
    if (this.role === "leader") return;
    this.term += 1;
    this.votedFor = this.id;
    this.role = "candidate";
    this.leader = null;
    this.votes.clear();
    this.votes.add(this.id);
    const persisted = this.persistVote(fx);
    fx.push({ kind: "trace", event: { type: "vote-request", term: this.term } });
    this.traceState(fx);
    for (const peer of this.peers) {
      if (peer !== this.id) fx.push({ kind: "send", to: peer, msg: { type: "vote-request", term: this.term }, after: persisted });
    }
    if (this.votes.size >= this.majority()) this.becomeLeader(nowMs, fx);
    else this.resetElectionTimer(nowMs, fx);
  }

  private onHeartbeatTimer(nowMs: number, fx: Fx): void {
    if (this.role !== "leader") return;
    if (this.config.checkQuorum && !this.hasQuorumContact(nowMs)) {
      fx.push({ kind: "trace", event: { type: "step-down", term: this.term, reason: "lost-quorum" } });
      this.role = "follower";
      this.leader = null;
      this.traceState(fx);
      this.resetElectionTimer(nowMs, fx);
      return;
    }
    this.broadcastHeartbeat(fx);
    fx.push({ kind: "set-timer", name: TIMER_HEARTBEAT, atMs: nowMs + this.config.heartbeatMs });
  }

  private onClient(client: string, reqId: number, req: ToyLeaderReq, fx: Fx): void {
    if (this.role !== "leader") {
      fx.push({ kind: "reply", client, reqId, value: { ok: false, error: "not-leader", leader: this.leader } });
      return;
    }
    if (req.op === "get") {
      fx.push({ kind: "reply", client, reqId, value: { ok: true, value: this.data.get(req.key) ?? null } });
      return;
    }
    this.data.set(req.key, req.value);
    const id = this.persistIdNext++;
    fx.push({ kind: "persist", id, file: DATA_FILE, op: "append", record: { key: req.key, value: req.value }, sync: this.config.syncWrites });
    fx.push({ kind: "reply", client, reqId, value: { ok: true, value: req.value }, after: id });
  }

  private becomeFollower(term: number, leader: NodeId | null, nowMs: number, fx: Fx): void {
    const wasLeader = this.role === "leader";
    this.term = term;
    this.votedFor = null;
    this.role = "follower";
    this.leader = leader;
    this.persistVote(fx);
    if (wasLeader) fx.push({ kind: "trace", event: { type: "step-down", term, reason: "higher-term" } });
    this.traceState(fx);
    this.resetElectionTimer(nowMs, fx);
  }

  private becomeLeader(nowMs: number, fx: Fx): void {
    this.role = "leader";
    this.leader = this.id;
    this.leaderSinceMs = nowMs;
    this.lastAckMs.clear();
    fx.push({ kind: "cancel-timer", name: TIMER_ELECTION });
    fx.push({ kind: "trace", event: { type: "leader", term: this.term } });
    this.traceState(fx);
    this.broadcastHeartbeat(fx);
    fx.push({ kind: "set-timer", name: TIMER_HEARTBEAT, atMs: nowMs + this.config.heartbeatMs });
  }

  private broadcastHeartbeat(fx: Fx): void {
    for (const peer of this.peers) if (peer !== this.id) fx.push({ kind: "send", to: peer, msg: { type: "heartbeat", term: this.term } });
  }

  private hasQuorumContact(nowMs: number): boolean {
    const windowMs = this.config.electionTimeoutMs[1];
    if (nowMs - this.leaderSinceMs < windowMs) return true;
    let heard = 1; // myself
    for (const peer of this.peers) {
      const at = this.lastAckMs.get(peer);
      if (peer !== this.id && at !== undefined && nowMs - at <= windowMs) heard += 1;
    }
    return heard >= this.majority();
  }

  private persistVote(fx: Fx): PersistId {
    const id = this.persistIdNext++;
    fx.push({ kind: "persist", id, file: VOTE_FILE, op: "write", record: { term: this.term, votedFor: this.votedFor }, sync: true });
    this.votePersistId = id;
    return id;
  }

  private resetElectionTimer(nowMs: number, fx: Fx): void {
    const [lo, hi] = this.config.electionTimeoutMs;
    fx.push({ kind: "set-timer", name: TIMER_ELECTION, atMs: nowMs + randomBetween(this.rng, lo, hi) });
  }

  private traceState(fx: Fx): void {
    fx.push({ kind: "trace", event: { type: "state", role: this.role, term: this.term, leader: this.leader } });
  }

  private majority(): number {
    return Math.floor(this.peers.length / 2) + 1;
  }
}

function isVoteRecord(r: Json | undefined): r is { term: number; votedFor: string | null } {
  return typeof r === "object" && r !== null && !Array.isArray(r) && typeof (r as { term?: unknown }).term === "number";
}

function isPutRecord(r: Json): r is { key: string; value: string } {
  return typeof r === "object" && r !== null && !Array.isArray(r) && typeof (r as { key?: unknown }).key === "string";
}
