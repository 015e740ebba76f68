// RaftNode: the Raft consensus protocol as a pure state machine (sans-IO, as etcd-io/raft).
//
// One node of a replicated log that drives a StateMachine. It follows the Raft dissertation
// (Ongaro 2014) with etcd's refinements: PreVote (§9.6), CheckQuorum, fast log back-off (§5.3),
// single-server membership changes with learners that catch up first (§4.2), leadership transfer
// (§3.10), ReadIndex and lease reads (§6.4), snapshots with InstallSnapshot (§5).
//
// Durability: every step that changes the term, the vote or the log appends one fsynced record,
// and every message, reply and trace the node emits from then on waits for it (`after`): nothing
// visible ever reflects state that a crash could take back. Two exceptions, as the dissertation
// allows (§10.2.1): a leader's replication messages and its client replies leave at once (see
// `send` and `reply`). A leader counts itself towards a commit only once its own entries are
// durable. Hosts complete persists in the order they were
// requested (both do), so waiting for the latest covers every earlier one.
//
// Layout: `step` dispatches; term handling happens once in `onMessage`, then the role's step
// function (`stepFollower`, `stepCandidate`, `stepLeader`, swapped by `becomeX`) takes the message.

import { assert, assertNever, type ClientId, type Effect, type Input, type Machine, type MachineInit, type NodeId, type PersistId, type Prng, type Recovered } from "../machine.js";
import { randomBetween } from "../prng.js";
import type { Json, TraceEvent } from "../trace.js";
import { RaftLog } from "./log.js";
import { majority, quorumValue, voteResult } from "./quorum.js";
import type { StateMachine } from "./state-machine.js";
import { compactedRecord, LOG_FILE, recover, SNAPSHOT_FILE, stepRecord } from "./storage.js";
import {
  type AppendEntries,
  type AppendEntriesReply,
  type Entry,
  type Heartbeat,
  type HeartbeatReply,
  type InstallSnapshot,
  isRaftMsg,
  type Membership,
  parseRequest,
  type PreVote,
  type RaftConfig,
  type RaftError,
  type RaftMsg,
  type RaftReply,
  type RaftRequest,
  type RaftRole,
  type RaftStatus,
  type RequestVote,
  type Snapshot,
  type VoteReply,
} from "./types.js";

type Fx = Effect<RaftMsg, RaftReply>[];
type RoleStep = (from: NodeId, msg: RaftMsg, nowMs: number, fx: Fx) => void;

const TIMER_ELECTION = "election";
const TIMER_HEARTBEAT = "heartbeat";
/** Heartbeat rounds a leader remembers the send time of (for leases); older ones cannot extend a lease. */
const ROUNDS_MAX = 64;

/** What a leader knows of one follower's log (etcd's Progress). */
interface Progress {
  /** The next index to send. */
  next: number;
  /** The highest index known to match the leader's log (and to be durable there). */
  match: number;
  /**
   * probe: one append at a time, until one succeeds; replicate: pipelined appends, `inflight` of
   * them at most; snapshot: an InstallSnapshot is on its way, appends wait for its reply.
   */
  state: "probe" | "replicate" | "snapshot";
  /** Probe: an append is out and no reply came since. */
  paused: boolean;
  /** Replicate: the last index of each append still unacknowledged, oldest first. */
  inflight: number[];
  /** The last time anything of this term came back from it (CheckQuorum). */
  lastHeardMs: number;
  /** The latest heartbeat round it acknowledged (ReadIndex, leases). */
  ackedSeq: number;
  /** `match` when the previous heartbeat reply came: no progress in between means appends were lost. */
  matchAtLastHeartbeat: number;
  /** Snapshot: when the InstallSnapshot left (it is resent after an election timeout without reply). */
  snapshotSentMs: number;
}

interface PendingRead {
  readonly client: ClientId;
  readonly reqId: number;
  readonly query: Json;
  readonly readIndex: number;
  /** The heartbeat round that must be acknowledged by a majority; 0 once confirmed. */
  seq: number;
}

/** A membership change the leader is carrying out for a client. */
type Change =
  | {
      readonly kind: "catch-up";
      readonly node: NodeId;
      readonly client: ClientId;
      readonly reqId: number;
      readonly deadlineMs: number;
      round: number;
      roundTarget: number;
      roundStartMs: number;
    }
  | { readonly kind: "commit"; readonly index: number; readonly client: ClientId; readonly reqId: number };

interface Transfer {
  readonly to: NodeId;
  readonly client: ClientId;
  readonly reqId: number;
  readonly deadlineMs: number;
  timeoutNowSent: boolean;
}

/** Optional hooks for the state machine's sake. */
export interface RaftHooks {
  /** Rewrites a proposed command on the leader before it is appended (the key-value store stamps the leader's clock). */
  readonly stamp?: (command: Json, nowMs: number) => Json;
}

/** What a leader sends to replicate: never held behind its own persists (see `send`). */
const LEADER_REPLICATION: ReadonlySet<RaftMsg["type"]> = new Set(["append-entries", "heartbeat", "install-snapshot"]);

export class RaftNode implements Machine<RaftMsg, RaftRequest, RaftReply> {
  readonly id: NodeId;
  private readonly config: RaftConfig;
  private readonly rng: Prng;
  private readonly sm: StateMachine;
  private readonly hooks: RaftHooks;

  // ---- durable (rebuilt on start) ----
  /** The latest term this node has seen. */
  private term = 0;
  /** The candidate this node voted for in `term`, if any. */
  private vote: NodeId | null = null;
  /** The log after the snapshot. */
  private log = new RaftLog();
  /** The latest snapshot: the base of the log, and what InstallSnapshot sends. Index 0: the initial membership. */
  private snap: Snapshot;

  // ---- volatile ----
  private roleNow: RaftRole = "follower";
  private roleStep: RoleStep = this.stepFollower;
  /** The leader of `term` this node follows (itself when leading), null when it knows none. */
  private leaderNow: NodeId | null = null;
  private commit = 0;
  private applied = 0;
  /** The membership in force: the last config entry in the log, else the snapshot's. */
  private members: Membership;
  private membersIndex = 0;
  /** Everyone else in the membership, sorted: whom a leader replicates to. */
  private others: NodeId[] = [];
  /** When this node last heard from a leader of its term (stickiness: no votes for others right after). */
  private leaderContactMs = -Infinity;
  /** Candidates: the voters who granted and refused this (pre-)election. */
  private readonly granted = new Set<NodeId>();
  private readonly refused = new Set<NodeId>();

  // ---- leader only ----
  private readonly progress = new Map<NodeId, Progress>();
  /** Proposals waiting for their entry to apply, by log index. */
  private readonly proposals = new Map<number, { readonly client: ClientId; readonly reqId: number }>();
  /** Reads waiting for this term's first commit (a new leader's commit index may be stale). */
  private readsBeforeTermCommit: { readonly client: ClientId; readonly reqId: number; readonly query: Json }[] = [];
  /** Reads waiting for a heartbeat round's confirmation, then for the apply index, then for an answer. */
  private reads: PendingRead[] = [];
  /** The latest heartbeat round, and when each recent one was sent. */
  private heartbeatSeq = 0;
  private rounds: { readonly seq: number; readonly sentMs: number }[] = [];
  private leaseUntilMs = -Infinity;
  private transfer: Transfer | null = null;
  private change: Change | null = null;

  // ---- persistence bookkeeping ----
  private persistIdNext: PersistId = 0;
  /** The term or vote changed in this step. */
  private stateDirty = false;
  /** The smallest log index this step changed, if any. */
  private dirtyFrom: number | null = null;
  /** The latest persist that visible effects must wait for; null once it completed. */
  private promiseGate: PersistId | null = null;
  /** Effects of this step exempt from the gate (planted bugs only). */
  private readonly ungated = new Set<Effect<RaftMsg, RaftReply>>();
  /** Log persists in flight and the last index each makes durable. */
  private logPersists: { readonly id: PersistId; lastIndex: number }[] = [];
  /** The log is durable through here (what a leader counts itself as). */
  private durableIndex = 0;
  /** A snapshot taken for compaction, waiting for its write; the log is compacted once it is durable. */
  private pendingCompaction: { readonly id: PersistId; readonly snapshot: Snapshot } | null = null;
  /** An installed snapshot's write in flight: appends are refused until it is durable. */
  private installInFlight: PersistId | null = null;
  /** The latest snapshot write; when it completes the log file is rewritten. */
  private latestSnapshotPersist: PersistId | null = null;

  constructor(init: MachineInit<RaftConfig>, stateMachine: StateMachine, hooks: RaftHooks = {}) {
    const c = init.config;
    assert(c.electionTimeoutMinMs > 0 && c.electionTimeoutMinMs <= c.electionTimeoutMaxMs, "election timeout range");
    assert(c.heartbeatMs > 0 && c.heartbeatMs < c.electionTimeoutMinMs, "heartbeat must be shorter than the election timeout");
    this.id = init.id;
    this.config = c;
    this.rng = init.rng;
    this.sm = stateMachine;
    this.hooks = hooks;
    const voters = [...new Set(c.initialVoters ?? init.peers)].sort();
    this.members = { voters, learners: [] };
    this.snap = { index: 0, term: 0, membership: this.members, state: null };
    this.others = voters.filter((n) => n !== this.id);
  }

  // ---- inspection (for hosts and checkers; never used by the protocol) -------------------------

  get role(): RaftRole {
    return this.roleNow;
  }
  get currentTerm(): number {
    return this.term;
  }
  get votedFor(): NodeId | null {
    return this.vote;
  }
  get leader(): NodeId | null {
    return this.leaderNow;
  }
  get commitIndex(): number {
    return this.commit;
  }
  get lastApplied(): number {
    return this.applied;
  }
  /** The first index still in the log (snapshotIndex + 1). */
  get firstIndex(): number {
    return this.log.baseIndex + 1;
  }
  get lastIndex(): number {
    return this.log.lastIndex;
  }
  get snapshotIndex(): number {
    return this.log.baseIndex;
  }
  get snapshotTerm(): number {
    return this.log.baseTerm;
  }
  get membership(): Membership {
    return this.members;
  }
  /** The term of the entry at `index`: null when compacted (below the snapshot index) or beyond the log. */
  termAt(index: number): number | null {
    return this.log.termAt(index);
  }
  /** The entry at `index`, null when compacted or beyond the log. */
  entryAt(index: number): Entry | null {
    return this.log.entryAt(index);
  }

  // ---- the machine --------------------------------------------------------------------------------

  step(input: Input<RaftMsg, RaftRequest>, nowMs: number): Fx {
    const fx: Fx = [];
    switch (input.kind) {
      case "start":
        this.onStart(input.recovered, nowMs, fx);
        break;
      case "message":
        if (isRaftMsg(input.msg)) this.onMessage(input.from, input.msg, nowMs, fx);
        else this.trace(fx, { type: "raft-bad-message", from: input.from, msgType: String((input.msg as { type?: unknown }).type) });
        break;
      case "timer":
        if (input.name === TIMER_ELECTION) this.onElectionTimeout(nowMs, fx);
        else if (input.name === TIMER_HEARTBEAT) this.onHeartbeatTimer(nowMs, fx);
        break;
      case "client":
        this.onClient(input.client, input.reqId, input.req, nowMs, fx);
        break;
      case "client-closed":
        break; // Pending requests still complete; the host drops replies to a closed client.
      case "persisted":
        this.onPersisted(input.id, nowMs, fx);
        break;
      default:
        assertNever(input, "input");
    }
    return this.finishStep(fx);
  }

  /**
   * Persists what this step changed (one record), then orders the effects: persists first (their ids
   * increase in emission order), and every send, reply and trace waits for the latest promise.
   */
  private finishStep(fx: Fx): Fx {
    if (this.stateDirty || this.dirtyFrom !== null) {
      const from = this.dirtyFrom;
      const change =
        from === null
          ? null
          : { from, prevTerm: this.log.termAt(from - 1) as number, entries: this.log.slice(from, this.log.lastIndex) };
      const id = this.persistIdNext++;
      fx.push({ kind: "persist", id, file: LOG_FILE, op: "append", record: stepRecord(this.term, this.vote, change), sync: true });
      if (change !== null) this.logPersists.push({ id, lastIndex: this.log.lastIndex });
      this.promiseGate = id;
      this.stateDirty = false;
      this.dirtyFrom = null;
    }
    const gate = this.promiseGate;
    const out: Fx = fx.filter((e) => e.kind === "persist");
    for (const e of fx) {
      if (e.kind === "persist") continue;
      if (gate !== null && (e.kind === "send" || e.kind === "reply" || e.kind === "trace") && !this.ungated.has(e)) {
        out.push({ ...e, after: Math.max(e.after ?? -1, gate) });
      } else {
        out.push(e);
      }
    }
    this.ungated.clear();
    return out;
  }

  // ---- start and recovery ---------------------------------------------------------------------------

  private onStart(recovered: Recovered | null, nowMs: number, fx: Fx): void {
    const d = recover(recovered);
    this.term = d.term;
    this.vote = d.votedFor;
    this.log = d.log;
    if (d.snapshot !== null) {
      this.snap = d.snapshot;
      this.sm.restore(d.snapshot.state);
      this.commit = d.snapshot.index;
      this.applied = d.snapshot.index;
    }
    this.durableIndex = this.log.lastIndex;
    this.refreshMembership(nowMs, fx, false);
    this.trace(fx, {
      type: "raft-recovered",
      fresh: recovered === null,
      term: this.term,
      votedFor: this.vote,
      snapshotIndex: this.log.baseIndex,
      lastIndex: this.log.lastIndex,
      tornTail: d.tornTail,
    });
    // With leases in use, a restarted voter must not vote at once: before the crash it may have
    // acknowledged a leader whose lease still runs.
    if (this.config.checkQuorum) this.leaderContactMs = nowMs;
    this.trace(fx, { type: "raft-role", role: this.roleNow, term: this.term });
    this.resetElectionTimer(nowMs, fx);
  }

  // ---- messages: term handling, then the role's step ---------------------------------------------

  private onMessage(from: NodeId, msg: RaftMsg, nowMs: number, fx: Fx): void {
    if (msg.term > this.term) {
      // A pre-vote, or a granted pre-vote's reply, carries a term nobody has entered yet.
      const future = msg.type === "pre-vote" || (msg.type === "pre-vote-reply" && msg.granted);
      if (!future) {
        if (msg.type === "request-vote" && !msg.transfer && this.leaderKnown(nowMs)) {
          this.traceRefusal(fx, msg.term, from, false, "leader-known");
          return; // Not adopting the term is the point (dissertation §4.2.3); no reply needed.
        }
        const leads = msg.type === "append-entries" || msg.type === "heartbeat" || msg.type === "install-snapshot";
        this.becomeFollower(msg.term, leads ? from : null, "higher-term", from, nowMs, fx);
      }
    } else if (msg.term < this.term) {
      this.onStaleMessage(from, msg, fx);
      return;
    }
    if (msg.type === "request-vote") this.onRequestVote(from, msg, nowMs, fx);
    else if (msg.type === "pre-vote") this.onPreVote(from, msg, nowMs, fx);
    else this.roleStep(from, msg, nowMs, fx);
  }

  /** A message from an earlier term: tell a stale leader or candidate the current term; drop the rest. */
  private onStaleMessage(from: NodeId, msg: RaftMsg, fx: Fx): void {
    switch (msg.type) {
      case "append-entries":
        this.send(fx, from, { type: "append-entries-reply", term: this.term, success: false, matchIndex: 0, rejectedIndex: 0, conflictIndex: 0, conflictTerm: null });
        break;
      case "heartbeat":
        this.send(fx, from, { type: "heartbeat-reply", term: this.term, seq: 0 });
        break;
      case "install-snapshot":
        this.send(fx, from, { type: "install-snapshot-reply", term: this.term, matchIndex: 0 });
        break;
      case "request-vote":
      case "pre-vote":
        this.traceRefusal(fx, msg.term, from, msg.type === "pre-vote", "stale-term");
        this.send(fx, from, { type: msg.type === "pre-vote" ? "pre-vote-reply" : "request-vote-reply", term: this.term, granted: false });
        break;
      default:
        break; // Replies and TimeoutNow of an old term mean nothing now.
    }
  }

  private onRequestVote(from: NodeId, msg: RequestVote, nowMs: number, fx: Fx): void {
    const reason =
      this.vote !== null && this.vote !== from
        ? "already-voted"
        : !this.log.isUpToDate(msg.lastLogIndex, msg.lastLogTerm)
          ? "log-behind"
          : null;
    if (reason !== null) {
      this.traceRefusal(fx, msg.term, from, false, reason);
      this.send(fx, from, { type: "request-vote-reply", term: this.term, granted: false });
      return;
    }
    const fresh = this.vote === null;
    if (fresh) {
      this.vote = from;
      this.stateDirty = true;
    }
    // The vote (and the event saying it was cast) leaves once durable: finishStep gates both. A
    // repeated request gets the same answer, which waits too if the vote is still being written.
    const planted = this.config.bugs.voteBeforePersist;
    if (fresh) this.trace(fx, { type: "vote", term: this.term, for: from }, planted);
    this.send(fx, from, { type: "request-vote-reply", term: this.term, granted: true }, planted);
    this.resetElectionTimer(nowMs, fx);
  }

  /** A pre-vote changes nothing here: grant it if a real vote would be granted in that term. */
  private onPreVote(from: NodeId, msg: PreVote, nowMs: number, fx: Fx): void {
    const reason =
      msg.term <= this.term
        ? "stale-term"
        : this.leaderKnown(nowMs)
          ? "leader-known"
          : !this.log.isUpToDate(msg.lastLogIndex, msg.lastLogTerm)
            ? "log-behind"
            : null;
    if (reason !== null) this.traceRefusal(fx, msg.term, from, true, reason);
    this.send(fx, from, { type: "pre-vote-reply", term: reason === null ? msg.term : this.term, granted: reason === null });
  }

  /** Followers (and learners, and nodes outside the membership) take a leader's messages. */
  private stepFollower(from: NodeId, msg: RaftMsg, nowMs: number, fx: Fx): void {
    switch (msg.type) {
      case "append-entries":
        this.onAppendEntries(from, msg, nowMs, fx);
        break;
      case "heartbeat":
        this.onHeartbeat(from, msg, nowMs, fx);
        break;
      case "install-snapshot":
        this.onInstallSnapshot(from, msg, nowMs, fx);
        break;
      case "timeout-now":
        if (this.isVoter(this.id)) this.becomeCandidate(true, nowMs, fx);
        break;
      default:
        break; // Replies meant for an earlier role.
    }
  }

  /** Pre-candidates and candidates count votes; a leader's message of this term makes them followers. */
  private stepCandidate(from: NodeId, msg: RaftMsg, nowMs: number, fx: Fx): void {
    switch (msg.type) {
      case "append-entries":
      case "heartbeat":
      case "install-snapshot":
        this.becomeFollower(this.term, from, "higher-term", from, nowMs, fx);
        this.stepFollower(from, msg, nowMs, fx);
        break;
      case "pre-vote-reply":
      case "request-vote-reply":
        this.onVoteReply(from, msg, nowMs, fx);
        break;
      default:
        break;
    }
  }

  private stepLeader(from: NodeId, msg: RaftMsg, nowMs: number, fx: Fx): void {
    const pr = this.progress.get(from);
    if (pr === undefined) return; // Not (or no longer) a member.
    switch (msg.type) {
      case "append-entries-reply":
        this.onAppendReply(from, pr, msg, nowMs, fx);
        break;
      case "heartbeat-reply":
        this.onHeartbeatReply(from, pr, msg, nowMs, fx);
        break;
      case "install-snapshot-reply":
        pr.lastHeardMs = nowMs;
        if (pr.state === "snapshot" || msg.matchIndex > pr.match) {
          pr.match = Math.max(pr.match, msg.matchIndex);
          this.becomeProbe(pr, pr.match + 1);
          this.afterMatch(from, pr, nowMs, fx);
          if (this.roleNow === "leader") this.sendAppend(from, pr, nowMs, fx);
        }
        break;
      default:
        break; // Another leader of this term cannot exist; vote replies arrive late.
    }
  }

  // ---- elections ------------------------------------------------------------------------------------

  private onElectionTimeout(nowMs: number, fx: Fx): void {
    if (this.roleNow === "leader") return;
    if (!this.isVoter(this.id)) {
      this.resetElectionTimer(nowMs, fx); // Learners and removed nodes never campaign.
      return;
    }
    if (this.config.preVote) this.becomePreCandidate(nowMs, fx);
    else this.becomeCandidate(false, nowMs, fx);
  }

  private becomePreCandidate(nowMs: number, fx: Fx): void {
    this.setRole("pre-candidate", this.stepCandidate, null, fx);
    this.startTally();
    const msg: PreVote = { type: "pre-vote", term: this.term + 1, lastLogIndex: this.log.lastIndex, lastLogTerm: this.log.lastTerm };
    for (const v of this.members.voters) if (v !== this.id) this.send(fx, v, msg);
    this.resetElectionTimer(nowMs, fx);
    this.tally(nowMs, fx);
  }

  /** `transfer`: campaigning on TimeoutNow, so voters skip the "I know a leader" check. */
  private becomeCandidate(transfer: boolean, nowMs: number, fx: Fx): void {
    this.term += 1;
    this.vote = this.id;
    this.stateDirty = true;
    this.trace(fx, { type: "raft-term", term: this.term, why: transfer ? "timeout-now" : "campaign", from: null });
    this.setRole("candidate", this.stepCandidate, null, fx);
    this.startTally();
    const msg: RequestVote = { type: "request-vote", term: this.term, lastLogIndex: this.log.lastIndex, lastLogTerm: this.log.lastTerm, transfer };
    for (const v of this.members.voters) if (v !== this.id) this.send(fx, v, msg);
    this.resetElectionTimer(nowMs, fx);
    this.tally(nowMs, fx);
  }

  private startTally(): void {
    this.granted.clear();
    this.refused.clear();
    this.granted.add(this.id);
  }

  private onVoteReply(from: NodeId, msg: VoteReply, nowMs: number, fx: Fx): void {
    const pre = this.roleNow === "pre-candidate";
    if (pre !== (msg.type === "pre-vote-reply")) return; // A reply to the other kind of election.
    if (msg.granted && msg.term === (pre ? this.term + 1 : this.term)) this.granted.add(from);
    else if (!msg.granted) this.refused.add(from);
    this.tally(nowMs, fx);
  }

  private tally(nowMs: number, fx: Fx): void {
    const result = voteResult(this.members.voters, this.granted, this.refused);
    if (result === "won") {
      if (this.roleNow === "pre-candidate") this.becomeCandidate(false, nowMs, fx);
      else this.becomeLeader(nowMs, fx);
    } else if (result === "lost") {
      this.becomeFollower(this.term, null, "higher-term", null, nowMs, fx);
    }
  }

  /**
   * Follows `leader` (null: unknown) in `term`; a higher term clears the vote. A leader stepping down
   * answers everything it was holding: the outcome of pending proposals is unknown.
   */
  private becomeFollower(term: number, leader: NodeId | null, why: string, from: NodeId | null, nowMs: number, fx: Fx): void {
    const termChanged = term > this.term;
    if (termChanged) {
      this.term = term;
      this.vote = null;
      this.stateDirty = true;
      this.trace(fx, { type: "raft-term", term, why, from });
    }
    if (this.roleNow === "leader") this.stopLeading(termChanged, fx);
    this.setRole("follower", this.stepFollower, leader, fx);
    this.resetElectionTimer(nowMs, fx);
  }

  private becomeLeader(nowMs: number, fx: Fx): void {
    this.setRole("leader", this.stepLeader, this.id, fx);
    this.heartbeatSeq = 0;
    this.rounds = [];
    this.leaseUntilMs = -Infinity;
    this.progress.clear();
    for (const n of this.others) this.progress.set(n, this.newProgress(nowMs));
    this.trace(fx, { type: "raft-leader", term: this.term });
    fx.push({ kind: "cancel-timer", name: TIMER_ELECTION });
    fx.push({ kind: "set-timer", name: TIMER_HEARTBEAT, atMs: nowMs + this.config.heartbeatMs });
    // A no-op of the new term: committing it commits everything before it (§3.6.2, §6.4).
    this.appendLocal([{ term: this.term, kind: "noop" }], nowMs, fx);
    this.broadcastAppend(nowMs, fx);
  }

  private stopLeading(termChanged: boolean, fx: Fx): void {
    for (const [index, p] of [...this.proposals].sort((a, b) => a[0] - b[0])) {
      this.fail(fx, p.client, p.reqId, "outcome-unknown", `leadership lost before entry ${index} applied; it may still apply`);
    }
    this.proposals.clear();
    for (const r of [...this.readsBeforeTermCommit, ...this.reads]) this.fail(fx, r.client, r.reqId, "not-leader", "leadership lost before the read was confirmed");
    this.readsBeforeTermCommit = [];
    this.reads = [];
    if (this.change !== null) {
      const c = this.change;
      this.fail(fx, c.client, c.reqId, "outcome-unknown", "leadership lost during the membership change; it may still apply");
      this.change = null;
    }
    if (this.transfer !== null) {
      const t = this.transfer;
      if (termChanged) this.reply(fx, t.client, t.reqId, { ok: true, op: "transfer", term: this.term });
      else this.fail(fx, t.client, t.reqId, "transfer-failed", `stepped down before ${t.to} took over`);
      this.transfer = null;
    }
    this.progress.clear();
    this.leaseUntilMs = -Infinity;
    fx.push({ kind: "cancel-timer", name: TIMER_HEARTBEAT });
  }

  private setRole(role: RaftRole, roleStep: RoleStep, leader: NodeId | null, fx: Fx): void {
    const changed = role !== this.roleNow;
    this.roleNow = role;
    this.roleStep = roleStep;
    this.leaderNow = leader;
    if (changed) this.trace(fx, { type: "raft-role", role, term: this.term });
  }

  /** Stickiness: a leader, or a follower that heard one within the minimum election timeout. */
  private leaderKnown(nowMs: number): boolean {
    return this.roleNow === "leader" || nowMs - this.leaderContactMs < this.config.electionTimeoutMinMs;
  }

  // ---- followers: the leader's messages ------------------------------------------------------------

  private acceptLeader(from: NodeId, nowMs: number, fx: Fx): void {
    if (this.leaderNow !== from) this.setRole("follower", this.stepFollower, from, fx);
    this.leaderContactMs = nowMs;
    this.resetElectionTimer(nowMs, fx);
  }

  private onAppendEntries(from: NodeId, msg: AppendEntries, nowMs: number, fx: Fx): void {
    this.acceptLeader(from, nowMs, fx);
    if (this.installInFlight !== null) return; // The leader resends once the snapshot is durable.
    let prev = msg.prevLogIndex;
    let prevTerm = msg.prevLogTerm;
    let entries = msg.entries;
    if (prev < this.log.baseIndex) {
      // The start is inside the snapshot: committed, so it matches. Skip to the base.
      entries = entries.slice(this.log.baseIndex - prev);
      prev = this.log.baseIndex;
      prevTerm = this.log.baseTerm;
    }
    if (this.log.termAt(prev) !== prevTerm) {
      const hint = this.log.conflictHint(prev);
      this.send(fx, from, { type: "append-entries-reply", term: this.term, success: false, matchIndex: 0, rejectedIndex: msg.prevLogIndex, ...hint });
      return;
    }
    let k = 0;
    for (; k < entries.length; k++) {
      const t = this.log.termAt(prev + 1 + k);
      if (t === null) break;
      if (t !== (entries[k] as Entry).term) {
        this.truncateLocal(prev + 1 + k, nowMs, fx);
        break;
      }
    }
    if (k < entries.length) this.appendLocal(entries.slice(k), nowMs, fx);
    const lastNew = prev + entries.length;
    this.advanceCommit(Math.min(msg.leaderCommit, lastNew), nowMs, fx);
    this.send(fx, from, { type: "append-entries-reply", term: this.term, success: true, matchIndex: lastNew, rejectedIndex: 0, conflictIndex: 0, conflictTerm: null });
  }

  private onHeartbeat(from: NodeId, msg: Heartbeat, nowMs: number, fx: Fx): void {
    this.acceptLeader(from, nowMs, fx);
    // The leader sends at most what it knows this node holds, so the entries up to it match.
    this.advanceCommit(Math.min(msg.commit, this.log.lastIndex), nowMs, fx);
    this.send(fx, from, { type: "heartbeat-reply", term: this.term, seq: msg.seq });
  }

  private onInstallSnapshot(from: NodeId, msg: InstallSnapshot, nowMs: number, fx: Fx): void {
    this.acceptLeader(from, nowMs, fx);
    if (this.installInFlight !== null) return;
    const s = msg.snapshot;
    if (s.index <= this.commit) {
      this.send(fx, from, { type: "install-snapshot-reply", term: this.term, matchIndex: this.commit });
      return;
    }
    this.sm.restore(s.state);
    this.snap = s;
    this.log.compactTo(s.index, s.term);
    this.capDurable(this.log.lastIndex);
    this.commit = s.index;
    this.applied = s.index;
    this.pendingCompaction = null;
    this.refreshMembership(nowMs, fx, true);
    const id = this.persistIdNext++;
    fx.push({ kind: "persist", id, file: SNAPSHOT_FILE, op: "write", record: s as unknown as Json, sync: true });
    this.installInFlight = id;
    this.latestSnapshotPersist = id;
    this.promiseGate = id;
    this.trace(fx, { type: "raft-snapshot", index: s.index, term: s.term, why: "installed" });
    this.send(fx, from, { type: "install-snapshot-reply", term: this.term, matchIndex: s.index });
  }

  // ---- the log --------------------------------------------------------------------------------------

  private appendLocal(entries: readonly Entry[], nowMs: number, fx: Fx): void {
    if (entries.length === 0) return;
    const from = this.log.lastIndex + 1;
    this.log.append(entries);
    this.dirtyFrom = Math.min(this.dirtyFrom ?? from, from);
    if (entries.some((e) => e.kind === "config")) this.refreshMembership(nowMs, fx, true);
  }

  /** Drops a follower's conflicting suffix (never committed entries, unless a planted bug committed them). */
  private truncateLocal(from: number, nowMs: number, fx: Fx): void {
    const plantedBug = this.config.bugs.commitOldTermByCount;
    assert(from > this.commit || plantedBug, `truncating at ${from} would drop committed entries (commit ${this.commit})`);
    const hadConfig = this.log.lastConfigAtOrBelow(this.log.lastIndex)?.index ?? 0;
    this.log.truncateFrom(from);
    this.capDurable(from - 1);
    this.dirtyFrom = Math.min(this.dirtyFrom ?? from, from);
    if (hadConfig >= from) this.refreshMembership(nowMs, fx, true);
  }

  /** The log beyond `index` changed in memory: what is on disk past it no longer counts. */
  private capDurable(index: number): void {
    this.durableIndex = Math.min(this.durableIndex, index);
    for (const p of this.logPersists) p.lastIndex = Math.min(p.lastIndex, index);
  }

  /** Recomputes the membership from the log (config entries take effect when appended, §4.1). */
  private refreshMembership(nowMs: number, fx: Fx, announce: boolean): void {
    const found = this.log.lastConfigAtOrBelow(this.log.lastIndex);
    const next = found?.entry.membership ?? this.snap.membership;
    const index = found?.index ?? this.log.baseIndex;
    const same = sameMembership(next, this.members) && index === this.membersIndex;
    this.members = next;
    this.membersIndex = index;
    this.others = [...next.voters, ...next.learners].filter((n) => n !== this.id).sort();
    if (same) return;
    if (announce) this.trace(fx, { type: "raft-config", index, voters: [...next.voters], learners: [...next.learners] });
    if (this.roleNow !== "leader") return;
    for (const n of this.others) if (!this.progress.has(n)) this.progress.set(n, this.newProgress(nowMs));
    for (const n of [...this.progress.keys()]) if (!this.others.includes(n)) this.progress.delete(n);
  }

  private isVoter(node: NodeId): boolean {
    return this.members.voters.includes(node);
  }

  // ---- commit and apply -----------------------------------------------------------------------------

  /** Leader: the highest index a majority holds durably, if its entry is of this term (§5.4.2). */
  private maybeCommit(nowMs: number, fx: Fx): void {
    const n = quorumValue(this.members.voters, (v) => (v === this.id ? this.durableIndex : (this.progress.get(v)?.match ?? 0)));
    if (n <= this.commit) return;
    if (this.log.termAt(n) === this.term || this.config.bugs.commitOldTermByCount) this.advanceCommit(n, nowMs, fx);
  }

  private advanceCommit(index: number, nowMs: number, fx: Fx): void {
    if (index <= this.commit) return;
    const termCommittedBefore = this.termCommitted();
    this.commit = index;
    this.trace(fx, { type: "raft-commit", index, term: this.log.termAt(index) });
    this.applyCommitted(nowMs, fx);
    if (this.roleNow === "leader" && !termCommittedBefore && this.termCommitted()) {
      const waiting = this.readsBeforeTermCommit;
      this.readsBeforeTermCommit = [];
      if (waiting.length > 0) {
        for (const r of waiting) this.reads.push({ ...r, readIndex: this.commit, seq: this.heartbeatSeq + 1 });
        this.broadcastHeartbeat(nowMs, fx);
      }
    }
  }

  /** True once this leader committed an entry of its own term: its commit index is then current. */
  private termCommitted(): boolean {
    return this.log.termAt(this.commit) === this.term;
  }

  private applyCommitted(nowMs: number, fx: Fx): void {
    while (this.applied < this.commit) {
      const index = this.applied + 1;
      const e = this.log.entryAt(index);
      assert(e !== null, `committed entry ${index} is missing (log ${this.log.baseIndex}..${this.log.lastIndex})`);
      this.applied = index;
      if (e.kind === "command") {
        const result = this.sm.apply(index, e.command);
        const p = this.proposals.get(index);
        if (p !== undefined) {
          this.proposals.delete(index);
          this.reply(fx, p.client, p.reqId, { ok: true, op: "propose", index, result });
        }
      } else if (e.kind === "config") {
        this.onConfigCommitted(index, nowMs, fx);
      }
    }
    this.serveReads(fx);
    this.maybeSnapshot(fx);
  }

  private onConfigCommitted(index: number, nowMs: number, fx: Fx): void {
    if (this.roleNow !== "leader") return;
    const c = this.change;
    if (c !== null && c.kind === "commit" && c.index === index) {
      this.reply(fx, c.client, c.reqId, { ok: true, op: "membership", index, membership: this.members });
      this.change = null;
    }
    // A leader that removed itself leads until the removal commits, then steps aside (§4.2.2).
    if (index === this.membersIndex && !this.isVoter(this.id)) {
      this.trace(fx, { type: "raft-step-down", term: this.term, reason: "removed" });
      this.becomeFollower(this.term, null, "removed", null, nowMs, fx);
    }
  }

  // ---- snapshots ------------------------------------------------------------------------------------

  /** Snapshots the applied state every `snapshotEveryEntries`; the log is compacted once it is durable. */
  private maybeSnapshot(fx: Fx): void {
    const every = this.config.snapshotEveryEntries;
    if (every <= 0 || this.pendingCompaction !== null || this.installInFlight !== null) return;
    if (this.applied - this.log.baseIndex < every) return;
    const index = this.applied;
    const snapshot: Snapshot = {
      index,
      term: this.log.termAt(index) as number,
      membership: this.log.lastConfigAtOrBelow(index)?.entry.membership ?? this.snap.membership,
      state: this.sm.snapshot(),
    };
    const id = this.persistIdNext++;
    fx.push({ kind: "persist", id, file: SNAPSHOT_FILE, op: "write", record: snapshot as unknown as Json, sync: true });
    this.pendingCompaction = { id, snapshot };
    this.latestSnapshotPersist = id;
  }

  private onPersisted(id: PersistId, nowMs: number, fx: Fx): void {
    if (this.promiseGate === id) this.promiseGate = null;
    while ((this.logPersists[0]?.id ?? Infinity) <= id) {
      this.durableIndex = (this.logPersists.shift() as { lastIndex: number }).lastIndex;
    }
    if (this.installInFlight === id) this.installInFlight = null;
    const pc = this.pendingCompaction;
    if (pc !== null && pc.id === id) {
      this.pendingCompaction = null;
      this.snap = pc.snapshot;
      this.log.compactTo(pc.snapshot.index, pc.snapshot.term);
      this.trace(fx, { type: "raft-snapshot", index: pc.snapshot.index, term: pc.snapshot.term, why: "compaction" });
    }
    if (this.latestSnapshotPersist === id) {
      // The snapshot is durable: the log file can now start after it.
      this.latestSnapshotPersist = null;
      const rewrite = this.persistIdNext++;
      fx.push({ kind: "persist", id: rewrite, file: LOG_FILE, op: "write", record: compactedRecord(this.term, this.vote, this.log), sync: true });
      this.logPersists.push({ id: rewrite, lastIndex: this.log.lastIndex });
    }
    if (this.roleNow === "leader") this.maybeCommit(nowMs, fx);
  }

  // ---- leader: replication --------------------------------------------------------------------------

  private newProgress(nowMs: number): Progress {
    return {
      next: this.log.lastIndex + 1,
      match: 0,
      state: "probe",
      paused: false,
      inflight: [],
      lastHeardMs: nowMs,
      ackedSeq: 0,
      matchAtLastHeartbeat: 0,
      snapshotSentMs: -Infinity,
    };
  }

  private becomeProbe(pr: Progress, next: number): void {
    pr.state = "probe";
    pr.next = next;
    pr.paused = false;
    pr.inflight = [];
  }

  private broadcastAppend(nowMs: number, fx: Fx): void {
    for (const n of this.others) {
      const pr = this.progress.get(n);
      if (pr !== undefined) this.sendAppend(n, pr, nowMs, fx);
    }
  }

  /** Sends what `to` lacks, as far as its state allows: one probe, a pipelined batch, or a snapshot. */
  private sendAppend(to: NodeId, pr: Progress, nowMs: number, fx: Fx): void {
    if (pr.state === "snapshot" || (pr.state === "probe" && pr.paused)) return;
    if (pr.next <= this.log.baseIndex) {
      this.sendSnapshot(to, pr, nowMs, fx);
      return;
    }
    if (pr.state === "probe") {
      // One append (possibly empty: it still tests the previous entry) until a reply comes.
      this.sendEntries(to, pr.next, fx);
      pr.paused = true;
      return;
    }
    while (pr.next <= this.log.lastIndex && pr.inflight.length < this.config.inflightMessagesMax) {
      const last = this.sendEntries(to, pr.next, fx);
      pr.next = last + 1;
      pr.inflight.push(last);
    }
  }

  /** One append-entries from `next` on (at most entriesPerMessageMax); returns the last index sent. */
  private sendEntries(to: NodeId, next: number, fx: Fx): number {
    const prev = next - 1;
    const last = Math.min(this.log.lastIndex, prev + this.config.entriesPerMessageMax);
    const entries = last > prev ? this.log.slice(next, last) : [];
    this.send(fx, to, { type: "append-entries", term: this.term, prevLogIndex: prev, prevLogTerm: this.log.termAt(prev) as number, entries, leaderCommit: this.commit });
    return last;
  }

  private sendSnapshot(to: NodeId, pr: Progress, nowMs: number, fx: Fx): void {
    pr.state = "snapshot";
    pr.snapshotSentMs = nowMs;
    pr.inflight = [];
    this.send(fx, to, { type: "install-snapshot", term: this.term, snapshot: this.snap });
  }

  private onAppendReply(from: NodeId, pr: Progress, msg: AppendEntriesReply, nowMs: number, fx: Fx): void {
    pr.lastHeardMs = nowMs;
    if (msg.success) {
      // A success that tells nothing new (a duplicate, or one overtaken by a later reply) changes
      // nothing and sends nothing: if it unpaused a probe, every stale reply would start one more
      // append, each answered by one more reply, and on a network that reorders or duplicates
      // those chains multiply into a storm. (A probe answered at exactly the match index, an empty
      // probe after a snapshot say, is news: the follower is caught up. etcd's rule, stepLeader.)
      const caughtUp = pr.state === "probe" && msg.matchIndex === pr.match;
      if (msg.matchIndex <= pr.match && !caughtUp) return;
      pr.paused = false;
      if (pr.state === "probe") {
        pr.state = "replicate";
        pr.inflight = [];
        pr.next = msg.matchIndex + 1;
      }
      if (msg.matchIndex > pr.match) {
        pr.match = msg.matchIndex;
        pr.next = Math.max(pr.next, pr.match + 1);
        this.afterMatch(from, pr, nowMs, fx);
      }
      pr.inflight = pr.inflight.filter((i) => i > pr.match);
      if (this.roleNow === "leader") this.sendAppend(from, pr, nowMs, fx);
      return;
    }
    // A rejection is current only if it answers the append this state expects (others are stale).
    if (pr.state === "snapshot") return;
    if (pr.state === "replicate" && msg.rejectedIndex <= pr.match) return;
    if (pr.state === "probe" && msg.rejectedIndex !== pr.next - 1) return;
    let next = msg.conflictIndex;
    if (msg.conflictTerm !== null) {
      const mine = this.log.lastIndexOfTerm(msg.conflictTerm, msg.rejectedIndex);
      if (mine !== null) next = mine + 1;
    }
    this.becomeProbe(pr, Math.max(pr.match + 1, Math.min(next, msg.rejectedIndex)));
    this.sendAppend(from, pr, nowMs, fx);
  }

  /** `from`'s match index grew: commit, and move a transfer or a catch-up along. */
  private afterMatch(from: NodeId, pr: Progress, nowMs: number, fx: Fx): void {
    this.maybeCommit(nowMs, fx);
    if (this.roleNow !== "leader") return; // Committing our own removal stepped us down.
    const t = this.transfer;
    if (t !== null && t.to === from && !t.timeoutNowSent && pr.match === this.log.lastIndex) {
      t.timeoutNowSent = true;
      this.send(fx, from, { type: "timeout-now", term: this.term });
    }
    this.checkCatchUp(nowMs, fx);
  }

  // ---- leader: heartbeats, CheckQuorum, ReadIndex, leases --------------------------------------------

  private onHeartbeatTimer(nowMs: number, fx: Fx): void {
    if (this.roleNow !== "leader") return;
    if (this.config.checkQuorum && !this.quorumActive(nowMs)) {
      this.trace(fx, { type: "raft-step-down", term: this.term, reason: "check-quorum" });
      this.becomeFollower(this.term, null, "check-quorum", null, nowMs, fx);
      return;
    }
    const t = this.transfer;
    if (t !== null && nowMs >= t.deadlineMs) {
      this.fail(fx, t.client, t.reqId, "transfer-failed", `${t.to} did not take over within ${this.config.electionTimeoutMaxMs} ms`);
      this.transfer = null;
    }
    this.checkCatchUp(nowMs, fx);
    for (const n of this.others) {
      const pr = this.progress.get(n);
      if (pr !== undefined && pr.state === "snapshot" && nowMs - pr.snapshotSentMs >= this.config.electionTimeoutMaxMs) this.sendSnapshot(n, pr, nowMs, fx);
    }
    this.broadcastHeartbeat(nowMs, fx);
    fx.push({ kind: "set-timer", name: TIMER_HEARTBEAT, atMs: nowMs + this.config.heartbeatMs });
  }

  /** Did a majority of voters answer within the longest election timeout? (Counting this node, if it votes.) */
  private quorumActive(nowMs: number): boolean {
    let active = 0;
    for (const v of this.members.voters) {
      if (v === this.id) active++;
      else if (nowMs - (this.progress.get(v)?.lastHeardMs ?? -Infinity) < this.config.electionTimeoutMaxMs) active++;
    }
    return active >= majority(this.members.voters.length);
  }

  /** Starts a heartbeat round: every member gets the commit index it can use and the round number. */
  private broadcastHeartbeat(nowMs: number, fx: Fx): void {
    this.heartbeatSeq += 1;
    this.rounds.push({ seq: this.heartbeatSeq, sentMs: nowMs });
    if (this.rounds.length > ROUNDS_MAX) this.rounds.shift();
    for (const n of this.others) {
      const pr = this.progress.get(n);
      if (pr !== undefined) this.send(fx, n, { type: "heartbeat", term: this.term, commit: Math.min(pr.match, this.commit), seq: this.heartbeatSeq });
    }
    this.onRoundAcked(fx); // A cluster of one confirms its own round.
  }

  private onHeartbeatReply(from: NodeId, pr: Progress, msg: HeartbeatReply, nowMs: number, fx: Fx): void {
    pr.lastHeardMs = nowMs;
    pr.paused = false;
    if (msg.seq > pr.ackedSeq) {
      pr.ackedSeq = msg.seq;
      this.onRoundAcked(fx);
    }
    if (pr.match < this.log.lastIndex) {
      // Pipelined appends made no progress over a whole heartbeat interval: some were lost; start
      // again from the match. (A probe keeps its place: it only lost its one message.)
      if (pr.state === "replicate" && pr.match === pr.matchAtLastHeartbeat) this.becomeProbe(pr, pr.match + 1);
      this.sendAppend(from, pr, nowMs, fx);
    }
    pr.matchAtLastHeartbeat = pr.match;
  }

  /** A majority acknowledged a later round: extend the lease and confirm the reads that waited for it. */
  private onRoundAcked(fx: Fx): void {
    const seq = quorumValue(this.members.voters, (v) => (v === this.id ? this.heartbeatSeq : (this.progress.get(v)?.ackedSeq ?? 0)));
    const round = this.rounds.find((r) => r.seq === seq);
    if (round !== undefined && this.transfer === null) {
      this.leaseUntilMs = Math.max(this.leaseUntilMs, round.sentMs + this.config.electionTimeoutMinMs * (1 - this.config.leaseClockDriftRatio));
    }
    this.rounds = this.rounds.filter((r) => r.seq >= seq);
    for (const r of this.reads) if (r.seq !== 0 && r.seq <= seq) r.seq = 0;
    this.serveReads(fx);
  }

  /** Answers confirmed reads whose index has been applied, unless the state machine says "not yet". */
  private serveReads(fx: Fx): void {
    if (this.reads.length === 0) return;
    const still: PendingRead[] = [];
    for (const r of this.reads) {
      const value = r.seq === 0 && this.applied >= r.readIndex ? this.sm.read(r.query) : null;
      if (value === null) still.push(r);
      else this.reply(fx, r.client, r.reqId, { ok: true, op: "read", index: r.readIndex, value });
    }
    this.reads = still;
  }

  // ---- clients --------------------------------------------------------------------------------------

  private onClient(client: ClientId, reqId: number, raw: RaftRequest, nowMs: number, fx: Fx): void {
    const req = parseRequest(raw);
    if (typeof req === "string") {
      this.fail(fx, client, reqId, "bad-request", req);
      return;
    }
    if (req.op === "status") {
      this.reply(fx, client, reqId, { ok: true, op: "status", status: this.status() });
      return;
    }
    if (this.roleNow !== "leader") {
      this.fail(fx, client, reqId, "not-leader", this.leaderNow === null ? "no leader is known" : `the leader is ${this.leaderNow}`);
      return;
    }
    switch (req.op) {
      case "propose":
        this.onPropose(client, reqId, req.command, nowMs, fx);
        break;
      case "read":
        this.onRead(client, reqId, req.query, req.mode ?? "index", nowMs, fx);
        break;
      case "add-server":
      case "add-learner":
        this.onAddServer(client, reqId, req.node, req.op === "add-learner", nowMs, fx);
        break;
      case "remove-server":
        this.onRemoveServer(client, reqId, req.node, nowMs, fx);
        break;
      case "transfer-leadership":
        this.onTransfer(client, reqId, req.to, nowMs, fx);
        break;
      default:
        assertNever(req, "request");
    }
  }

  private status(): RaftStatus {
    return {
      id: this.id,
      role: this.roleNow,
      term: this.term,
      leader: this.leaderNow,
      commitIndex: this.commit,
      lastApplied: this.applied,
      lastIndex: this.log.lastIndex,
      snapshotIndex: this.log.baseIndex,
      membership: this.members,
    };
  }

  private pendingCount(): number {
    return this.proposals.size + this.reads.length + this.readsBeforeTermCommit.length;
  }

  private onPropose(client: ClientId, reqId: number, command: Json, nowMs: number, fx: Fx): void {
    if (this.transfer !== null) {
      this.fail(fx, client, reqId, "transfer-in-progress", `leadership is moving to ${this.transfer.to}`);
      return;
    }
    if (this.pendingCount() >= this.config.pendingRequestsMax) {
      this.fail(fx, client, reqId, "busy", `${this.config.pendingRequestsMax} requests are pending`);
      return;
    }
    const stamped = this.hooks.stamp === undefined ? command : this.hooks.stamp(command, nowMs);
    this.appendLocal([{ term: this.term, kind: "command", command: stamped }], nowMs, fx);
    this.proposals.set(this.log.lastIndex, { client, reqId });
    this.broadcastAppend(nowMs, fx);
  }

  private onRead(client: ClientId, reqId: number, query: Json, mode: "index" | "lease", nowMs: number, fx: Fx): void {
    if (mode === "lease" && !this.config.checkQuorum) {
      this.fail(fx, client, reqId, "lease-needs-check-quorum", "lease reads are safe only with checkQuorum on; use a ReadIndex read");
      return;
    }
    if (this.pendingCount() >= this.config.pendingRequestsMax) {
      this.fail(fx, client, reqId, "busy", `${this.config.pendingRequestsMax} requests are pending`);
      return;
    }
    if (!this.termCommitted()) {
      this.readsBeforeTermCommit.push({ client, reqId, query });
      return;
    }
    if (mode === "lease" && this.transfer === null && nowMs < this.leaseUntilMs) {
      this.reads.push({ client, reqId, query, readIndex: this.commit, seq: 0 });
      this.serveReads(fx);
      return;
    }
    // ReadIndex (§6.4): the commit index now, once a heartbeat round started now is acknowledged.
    this.reads.push({ client, reqId, query, readIndex: this.commit, seq: this.heartbeatSeq + 1 });
    this.broadcastHeartbeat(nowMs, fx);
  }

  /** One membership change at a time, each after this leader committed an entry of its term (§4.1). */
  private changeRefusal(): string | null {
    if (this.transfer !== null) return `leadership is moving to ${this.transfer.to}`;
    if (this.change !== null) return "another membership change is in progress";
    if (this.membersIndex > this.commit) return `the configuration at ${this.membersIndex} is not committed yet`;
    if (!this.termCommitted()) return "the new leader has not committed an entry of its term yet";
    return null;
  }

  private onAddServer(client: ClientId, reqId: number, node: NodeId, learnerOnly: boolean, nowMs: number, fx: Fx): void {
    const { voters, learners } = this.members;
    if (voters.includes(node) || (learnerOnly && learners.includes(node))) {
      this.reply(fx, client, reqId, { ok: true, op: "membership", index: this.membersIndex, membership: this.members });
      return;
    }
    const refusal = this.changeRefusal();
    if (refusal !== null) {
      this.fail(fx, client, reqId, this.transfer !== null ? "transfer-in-progress" : "change-in-progress", refusal);
      return;
    }
    if (!learners.includes(node)) this.appendConfig({ voters, learners: [...learners, node].sort() }, nowMs, fx);
    if (learnerOnly) {
      this.change = { kind: "commit", index: this.log.lastIndex, client, reqId };
      return;
    }
    const windowMs = this.config.catchUpRoundsMax * this.config.electionTimeoutMaxMs;
    this.change = { kind: "catch-up", node, client, reqId, deadlineMs: nowMs + windowMs, round: 1, roundTarget: this.log.lastIndex, roundStartMs: nowMs };
    this.checkCatchUp(nowMs, fx);
  }

  /**
   * The learner is promoted when a round (replicating through the leader's last index at its start)
   * ends within the minimum election timeout, so adding it cannot stall commits for long (§4.2.1).
   */
  private checkCatchUp(nowMs: number, fx: Fx): void {
    const c = this.change;
    if (c === null || c.kind !== "catch-up") return;
    if (nowMs >= c.deadlineMs) {
      this.fail(fx, c.client, c.reqId, "catch-up-failed", `${c.node} did not catch up in ${c.round} rounds; it stays a learner`);
      this.change = null;
      return;
    }
    const pr = this.progress.get(c.node);
    if (pr === undefined || pr.match < c.roundTarget) return;
    if (nowMs - c.roundStartMs <= this.config.electionTimeoutMinMs) {
      if (this.membersIndex > this.commit) return; // The learner's entry must commit first.
      const { voters, learners } = this.members;
      this.appendConfig({ voters: [...voters, c.node].sort(), learners: learners.filter((n) => n !== c.node) }, nowMs, fx);
      this.change = { kind: "commit", index: this.log.lastIndex, client: c.client, reqId: c.reqId };
      return;
    }
    if (c.round >= this.config.catchUpRoundsMax) {
      this.fail(fx, c.client, c.reqId, "catch-up-failed", `${c.node} did not catch up in ${c.round} rounds; it stays a learner`);
      this.change = null;
      return;
    }
    c.round += 1;
    c.roundTarget = this.log.lastIndex;
    c.roundStartMs = nowMs;
  }

  private onRemoveServer(client: ClientId, reqId: number, node: NodeId, nowMs: number, fx: Fx): void {
    const { voters, learners } = this.members;
    if (!voters.includes(node) && !learners.includes(node)) {
      this.reply(fx, client, reqId, { ok: true, op: "membership", index: this.membersIndex, membership: this.members });
      return;
    }
    const refusal = this.changeRefusal();
    if (refusal !== null) {
      this.fail(fx, client, reqId, this.transfer !== null ? "transfer-in-progress" : "change-in-progress", refusal);
      return;
    }
    if (voters.length === 1 && voters[0] === node) {
      this.fail(fx, client, reqId, "bad-request", `${node} is the only voter`);
      return;
    }
    this.appendConfig({ voters: voters.filter((n) => n !== node), learners: learners.filter((n) => n !== node) }, nowMs, fx);
    this.change = { kind: "commit", index: this.log.lastIndex, client, reqId };
  }

  private appendConfig(membership: Membership, nowMs: number, fx: Fx): void {
    this.appendLocal([{ term: this.term, kind: "config", membership }], nowMs, fx);
    this.broadcastAppend(nowMs, fx);
  }

  /** Leadership transfer (§3.10): bring `to` up to date, then tell it to campaign at once. */
  private onTransfer(client: ClientId, reqId: number, to: NodeId, nowMs: number, fx: Fx): void {
    if (this.transfer !== null) {
      this.fail(fx, client, reqId, "transfer-in-progress", `leadership is already moving to ${this.transfer.to}`);
      return;
    }
    if (to === this.id) {
      this.reply(fx, client, reqId, { ok: true, op: "transfer", term: this.term });
      return;
    }
    const pr = this.progress.get(to);
    if (!this.isVoter(to) || pr === undefined) {
      this.fail(fx, client, reqId, "bad-request", `${to} is not a voter`);
      return;
    }
    this.transfer = { to, client, reqId, deadlineMs: nowMs + this.config.electionTimeoutMaxMs, timeoutNowSent: false };
    // The target will win votes from followers that still follow this leader: no lease from now on.
    this.leaseUntilMs = -Infinity;
    if (pr.match === this.log.lastIndex) this.afterMatch(to, pr, nowMs, fx);
    else this.sendAppend(to, pr, nowMs, fx);
  }

  // ---- effects ---------------------------------------------------------------------------------------

  private resetElectionTimer(nowMs: number, fx: Fx): void {
    const { electionTimeoutMinMs: lo, electionTimeoutMaxMs: hi } = this.config;
    fx.push({ kind: "set-timer", name: TIMER_ELECTION, atMs: nowMs + randomBetween(this.rng, lo, hi) });
  }

  /**
   * `ungated`: leaves without waiting for this step's persist (planted bugs ask for that).
   *
   * A leader's replication (append-entries, heartbeats, snapshots) never waits: its term is durable
   * (it voted for itself in it, and its vote requests waited for that), what it sends of its log
   * may be replicated before its own copy is durable (§10.2.1 of the dissertation: the leader writes
   * its disk in parallel with replication), because the leader counts itself towards a commit only
   * once its own entries are durable, and the commit index it sends is already committed.
   */
  private send(fx: Fx, to: NodeId, msg: RaftMsg, ungated = false): void {
    const e: Effect<RaftMsg, RaftReply> = { kind: "send", to, msg };
    if (ungated || (this.roleNow === "leader" && LEADER_REPLICATION.has(msg.type))) this.ungated.add(e);
    fx.push(e);
  }

  private trace(fx: Fx, event: TraceEvent, ungated = false): void {
    const e: Effect<RaftMsg, RaftReply> = { kind: "trace", event };
    if (ungated) this.ungated.add(e);
    fx.push(e);
  }

  private traceRefusal(fx: Fx, term: number, candidate: NodeId, preVote: boolean, reason: string): void {
    this.trace(fx, { type: "vote-refused", term, candidate, preVote, reason });
  }

  /**
   * A leader's replies never wait for its persists: a result is that of a committed entry (or a
   * read at a confirmed commit index), a fact no crash of this node can take back; an error
   * promises nothing. Replies from other roles (errors only) wait like everything else.
   */
  private reply(fx: Fx, client: ClientId, reqId: number, value: RaftReply): void {
    const e: Effect<RaftMsg, RaftReply> = { kind: "reply", client, reqId, value };
    if (this.roleNow === "leader") this.ungated.add(e);
    fx.push(e);
  }

  private fail(fx: Fx, client: ClientId, reqId: number, error: RaftError, message: string): void {
    const leader = error === "not-leader" ? this.leaderNow : this.roleNow === "leader" ? this.id : this.leaderNow;
    this.reply(fx, client, reqId, { ok: false, error, leader, message });
  }
}

function sameMembership(a: Membership, b: Membership): boolean {
  return a.voters.join("\n") === b.voters.join("\n") && a.learners.join("\n") === b.learners.join("\n");
}
