// Adapter for core/raft: the Raft store (RaftNode driving a KvStore) in the simulator.
//
// Each node is a RaftNode over a KvStore; the leader stamps its clock into commands (the store's
// cluster time). The timeline's `command:` requests are admin words translated to Raft requests:
// [add-server, n6], [add-learner, n6], [remove-server, n3], [transfer-leadership, n2], [status].
//
// Safety is checked at every step, from the trace and the declared inspection accessors (the
// Raft paper's Figure 3 properties): election safety, vote-once, log matching, leader
// completeness, state machine safety; and at the end, the clients' history is linearizable.

import { z } from "zod";
import type { Effect, Input, Machine, MachineInit, NodeId } from "../../core/machine.js";
import { KvStore, stampTime, type WriteCommand } from "../../core/raft/kv.js";
import { RaftNode } from "../../core/raft/raft.js";
import type { StateMachine } from "../../core/raft/state-machine.js";
import { RAFT_DEFAULTS, type RaftConfig, type RaftMsg, type RaftReply, type RaftRequest } from "../../core/raft/types.js";
import type { Json } from "../../core/trace.js";
import type { KvCall, KvResult } from "../checkers/kv-model.js";
import { raftLinearizable, raftLinearizableReport } from "../checkers/raft-history.js";
import { voteOnce } from "../checkers/vote-once.js";
import { RETRY_DELAY_MS, type SessionWorkloadModel } from "../workload.js";
import type { AnyMachine, ClusterView, InvariantChecker, MachineAdapter, TraceLine, Verdict } from "./adapter.js";

const d = RAFT_DEFAULTS;

export interface RaftAdapterConfig {
  readonly electionTimeoutMs: readonly [number, number];
  readonly heartbeatMs: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly snapshotEveryEntries: number;
  readonly entriesPerMessageMax: number;
  readonly initialVoters: readonly NodeId[] | null;
  readonly bugs: RaftConfig["bugs"];
}

const configSchema = z
  .object({
    electionTimeoutMs: z
      .tuple([z.number().int().positive(), z.number().int().positive()])
      .refine(([lo, hi]) => lo <= hi, "the first bound must not exceed the second")
      .default([d.electionTimeoutMinMs, d.electionTimeoutMaxMs]),
    heartbeatMs: z.number().int().positive().default(d.heartbeatMs),
    preVote: z.boolean().default(d.preVote),
    checkQuorum: z.boolean().default(d.checkQuorum),
    snapshotEveryEntries: z.number().int().nonnegative().default(d.snapshotEveryEntries),
    entriesPerMessageMax: z.number().int().positive().default(d.entriesPerMessageMax),
    /** The first configuration's voters (null: every node); nodes outside it wait to be added. */
    initialVoters: z.array(z.string()).min(1).nullable().default(null),
    bugs: z
      .object({ commitOldTermByCount: z.boolean().default(false), voteBeforePersist: z.boolean().default(false) })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((c) => c.heartbeatMs < c.electionTimeoutMs[0], { message: "heartbeatMs must be shorter than the election timeout", path: ["heartbeatMs"] })
  .prefault({});

// ---- the hosted node ------------------------------------------------------------------------------

/** A command applied at an index, as the checkers see it. */
interface Applied {
  readonly index: number;
  readonly command: string;
}

/** The KvStore as Raft drives it, noting each applied command for the state-machine-safety check. */
class RecordingStore implements StateMachine {
  readonly applied: Applied[] = [];
  private readonly kv = new KvStore();
  apply(index: number, command: Json): Json {
    this.applied.push({ index, command: JSON.stringify(command) });
    return this.kv.apply(index, command);
  }
  read(query: Json): Json | null {
    return this.kv.read(query);
  }
  snapshot(): Json {
    return this.kv.snapshot();
  }
  restore(snapshot: Json): void {
    this.kv.restore(snapshot);
  }
}

const ADMIN_WORDS = "add-server <node>, add-learner <node>, remove-server <node>, transfer-leadership <node>, status";

/** An admin command from the timeline (`{ cmd: [words] }`) as a Raft request; other requests pass unchanged. */
function adminRequest(req: unknown): unknown {
  const cmd = (req as { cmd?: unknown } | null)?.cmd;
  if (!Array.isArray(cmd)) return req;
  const [word, arg] = cmd.map(String);
  switch (word?.toLowerCase()) {
    case "add-server":
    case "add-learner":
    case "remove-server":
      return { op: word.toLowerCase(), node: arg };
    case "transfer-leadership":
      return { op: "transfer-leadership", to: arg };
    case "status":
      return { op: "status" };
    default:
      // Raft refuses it as a bad request, and the message lists what is understood.
      return { op: `${String(word)} (admin commands: ${ADMIN_WORDS})` };
  }
}

/** One Raft store member: a RaftNode over a recording KvStore, with admin commands translated. */
export class HostedRaft implements Machine<RaftMsg, unknown, RaftReply> {
  readonly raft: RaftNode;
  readonly store = new RecordingStore();
  constructor(init: MachineInit<RaftAdapterConfig>) {
    const { electionTimeoutMs, heartbeatMs, preVote, checkQuorum, snapshotEveryEntries, entriesPerMessageMax, initialVoters, bugs } = init.config;
    const config: RaftConfig = {
      ...RAFT_DEFAULTS,
      electionTimeoutMinMs: electionTimeoutMs[0],
      electionTimeoutMaxMs: electionTimeoutMs[1],
      heartbeatMs,
      preVote,
      checkQuorum,
      snapshotEveryEntries,
      entriesPerMessageMax,
      initialVoters,
      bugs,
    };
    // The store keeps whole milliseconds of cluster time; simulated clocks have microseconds.
    const stamp = (command: Json, nowMs: number): Json => stampTime(command, Math.floor(nowMs));
    this.raft = new RaftNode({ id: init.id, peers: init.peers, config, rng: init.rng }, this.store, { stamp });
  }
  step(input: Input<RaftMsg, unknown>, nowMs: number): Effect<RaftMsg, RaftReply>[] {
    if (input.kind !== "client") return this.raft.step(input, nowMs);
    return this.raft.step({ ...input, req: adminRequest(input.req) as RaftRequest }, nowMs);
  }
}

function hosted(m: AnyMachine): HostedRaft {
  return m as unknown as HostedRaft;
}

// ---- invariants -----------------------------------------------------------------------------------

/** At most one node becomes leader in a term, over the whole run (from `raft-leader` events). */
function electionSafety(): InvariantChecker {
  const leaderOf = new Map<number, string>();
  return {
    name: "election-safety",
    description: "at most one node becomes leader in any term",
    onTrace(line: TraceLine) {
      if (line.type !== "raft-leader" || line.node === undefined) return null;
      const term = line["term"] as number;
      const prev = leaderOf.get(term);
      if (prev !== undefined && prev !== line.node) return `${prev} and ${line.node} both became leader in term ${term}`;
      leaderOf.set(term, line.node);
      return null;
    },
  };
}

/**
 * Log matching: two logs with an entry of the same index and term hold the same entry there, and
 * the same term just before it (so, inductively, the same prefix). Every (index, term) any node
 * ever held is remembered with its entry and the term before it. Each step, a node's log is
 * compared with what was last checked on it, walking back from the end to the first index whose
 * term is unchanged: that is the part the step wrote (appended or replaced).
 */
function logMatching(): InvariantChecker {
  const seen = new Map<string, { entry: string; prevTerm: number | null }>();
  /** Per node: the terms checked, by index (index 0 unused). */
  const checked = new Map<HostedRaft, number[]>();
  return {
    name: "log-matching",
    description: "entries with the same index and term are the same, with the same term before them",
    afterStep(node: NodeId, view: ClusterView) {
      const m = view.machine(node);
      if (m === null) return null;
      const h = hosted(m);
      const r = h.raft;
      let terms = checked.get(h);
      if (terms === undefined) checked.set(h, (terms = []));
      let from = Math.min(r.lastIndex, terms.length - 1);
      while (from > r.snapshotIndex && terms[from] !== r.termAt(from)) from -= 1;
      terms.length = Math.max(from + 1, 1);
      for (let i = Math.max(from + 1, r.snapshotIndex + 1); i <= r.lastIndex; i++) {
        const e = r.entryAt(i);
        if (e === null) continue;
        const entry = JSON.stringify(e);
        const prevTerm = r.termAt(i - 1);
        const k = `${i}:${e.term}`;
        const known = seen.get(k);
        if (known === undefined) seen.set(k, { entry, prevTerm });
        else if (known.entry !== entry) return `${node} holds ${entry} at index ${i} (term ${e.term}), another node held ${known.entry}`;
        else if (known.prevTerm !== null && prevTerm !== null && known.prevTerm !== prevTerm)
          return `${node}'s entry ${i} of term ${e.term} follows term ${prevTerm}, another node's followed term ${known.prevTerm}`;
        terms[i] = e.term;
      }
      return null;
    },
  };
}

/**
 * Committed entries never change, and every leader of a later term holds them all (leader
 * completeness, the Raft paper's §5.4: "if a log entry is committed in a given term, then that
 * entry will be present in the logs of the leaders for all higher-numbered terms"). Each entry at
 * or below a node's commit index is recorded with the term it was committed in: the current term
 * of the first node seen to hold it committed, which is the leader that committed it (followers
 * learn commits only from a leader, after it). A node that has become leader of a new term is
 * checked against every entry committed in an earlier term above its snapshot. An entry committed
 * in a later term is no concern of it: a candidate that was granted its votes, then paused or cut
 * off, can take office in its old term after a newer leader has committed more (its votes were
 * cast before the voters moved on); it will learn of the newer term and step down.
 */
function leaderCompleteness(): InvariantChecker {
  const committed = new Map<number, { readonly entry: string; readonly inTerm: number }>();
  const through = new Map<HostedRaft, number>();
  const leaderTermChecked = new Map<HostedRaft, number>();
  return {
    name: "leader-completeness",
    description: "a committed entry never changes, and is in the log of every leader of a later term",
    afterStep(node: NodeId, view: ClusterView) {
      const m = view.machine(node);
      if (m === null) return null;
      const h = hosted(m);
      const r = h.raft;
      for (let i = Math.max(r.snapshotIndex, through.get(h) ?? 0) + 1; i <= r.commitIndex; i++) {
        const e = r.entryAt(i);
        if (e === null) continue;
        const s = JSON.stringify(e);
        const known = committed.get(i);
        if (known === undefined) committed.set(i, { entry: s, inTerm: r.currentTerm });
        else if (known.entry !== s) return `committed entry ${i} is ${known.entry} on one node and ${s} on ${node}`;
      }
      through.set(h, Math.max(through.get(h) ?? 0, r.commitIndex));
      if (r.role !== "leader" || leaderTermChecked.get(h) === r.currentTerm) return null;
      leaderTermChecked.set(h, r.currentTerm);
      for (const [index, { entry, inTerm }] of committed) {
        if (index <= r.snapshotIndex || inTerm >= r.currentTerm) continue;
        const mine = r.entryAt(index);
        if (mine === null || JSON.stringify(mine) !== entry) return `${node} leads term ${r.currentTerm} without committed entry ${index} (${entry}; committed in term ${inTerm})`;
      }
      return null;
    },
  };
}

/** No two nodes apply different commands at one index (from what each store was asked to apply). */
function stateMachineSafety(): InvariantChecker {
  const appliedAt = new Map<number, string>();
  return {
    name: "state-machine-safety",
    description: "no two nodes apply different commands at the same log index",
    afterStep(node: NodeId, view: ClusterView) {
      const m = view.machine(node);
      if (m === null) return null;
      const applied = hosted(m).store.applied;
      for (const a of applied) {
        const known = appliedAt.get(a.index);
        if (known === undefined) appliedAt.set(a.index, a.command);
        else if (known !== a.command) return `${node} applied ${a.command} at index ${a.index}, another node applied ${known}`;
      }
      applied.length = 0;
      return null;
    },
  };
}

// ---- convergence ----------------------------------------------------------------------------------

/**
 * One leader, followed in its term by every live member, whose logs agree with the leader's at
 * their last index (so, by log matching, are prefixes of it) and hold everything it committed.
 */
function converged(view: ClusterView): string | null {
  const live = view.nodes.filter((n) => view.status(n) === "up");
  if (live.length === 0) return "no node is up";
  const leaders = live.filter((n) => hosted(view.machine(n) as AnyMachine).raft.role === "leader");
  if (leaders.length !== 1) return `${leaders.length} leaders among ${live.length} live nodes`;
  const id = leaders[0] as NodeId;
  const leader = hosted(view.machine(id) as AnyMachine).raft;
  const members = new Set([...leader.membership.voters, ...leader.membership.learners]);
  for (const n of live) {
    if (n === id || !members.has(n)) continue;
    const r = hosted(view.machine(n) as AnyMachine).raft;
    if (r.leader !== id || r.currentTerm !== leader.currentTerm) return `${n} does not follow ${id} in term ${leader.currentTerm}`;
    if (r.lastIndex < leader.commitIndex) return `${n}'s log ends at ${r.lastIndex}, before the leader's commit index ${leader.commitIndex}`;
    if (r.lastIndex > leader.lastIndex || (r.lastIndex >= leader.firstIndex && r.termAt(r.lastIndex) !== leader.termAt(r.lastIndex)))
      return `${n}'s log disagrees with ${id}'s at index ${r.lastIndex}`;
  }
  return null;
}

// ---- the workload ---------------------------------------------------------------------------------

/** Keys the clients share: few, so operations on one key overlap. */
const KEYS = ["a", "b", "c", "d", "e"];

/** A reply as a Raft client reads it; session loss is handled before (see `sessions.lost`). */
function classify(reply: Json): Verdict {
  const r = reply as { ok?: boolean; error?: string; leader?: string | null; result?: { ok?: boolean } };
  if (r.ok === true) return r.result?.ok === false ? { outcome: "fail" } : { outcome: "ok" };
  switch (r.error) {
    case "not-leader":
      return { outcome: "redirect", to: r.leader ?? null };
    case "outcome-unknown":
    case "busy":
    case "transfer-in-progress":
      return { outcome: "retry", delayMs: RETRY_DELAY_MS };
    default:
      return { outcome: "fail" };
  }
}

const workload: SessionWorkloadModel = {
  description: "clients with sessions: put, cas and linearizable get on five keys, following not-leader hints, resending under the same request number",
  kinds: { kv: "40% get (ReadIndex), 40% put of a unique value, 20% cas from a recently seen value, on keys a..e" },
  request(rng, client, opIndex) {
    const key = KEYS[Math.floor(rng.next() * KEYS.length)] as string;
    const p = rng.next();
    if (p < 0.4) return { op: "read", query: { op: "get", key } };
    const value = `${client}-${opIndex}`;
    if (p < 0.8) return { op: "propose", command: { op: "put", key, value } };
    // cas from a value this client may have written a moment ago (or from absent): some swap, some do not.
    const expected = opIndex === 0 || rng.next() < 0.3 ? null : `${client}-${opIndex - 1}`;
    return { op: "propose", command: { op: "cas", key, expected, value } };
  },
  classify,
  sessions: {
    open: { op: "propose", command: { op: "session-open" } },
    sessionOf(reply) {
      const r = reply as { ok?: boolean; result?: { ok?: boolean; clientId?: number } };
      return r.ok === true && r.result?.ok === true && typeof r.result.clientId === "number" ? r.result.clientId : null;
    },
    bind(req, session, seq) {
      const r = req as { op?: string; command?: Record<string, Json> };
      if (r.op !== "propose" || r.command === undefined) return req;
      return { op: "propose", command: { ...r.command, session: { clientId: session, seq } } };
    },
    lost(reply) {
      const e = (reply as { result?: { error?: string } }).result?.error;
      return e === "session-unknown" || e === "session-stale";
    },
    attemptTimeoutMs: 300,
  },
};

/** A client request as the linearizability checker's call on its key (null: not a key operation). */
export function callOf(req: Json): { key: string; call: KvCall } | null {
  const r = req as { op?: string; query?: { op?: string; key?: string }; command?: WriteCommand };
  if (r.op === "read" && r.query?.op === "get" && typeof r.query.key === "string") return { key: r.query.key, call: { kind: "get" } };
  const c = r.command;
  if (r.op === "propose" && c !== undefined && (c.op === "put" || c.op === "cas" || c.op === "delete")) {
    const { session: _s, ...command } = c;
    return { key: c.key, call: { kind: "write", command } };
  }
  return null;
}

/** The reply to a key operation as the checker's result (null: not a success). */
export function resultOf(reply: Json): KvResult | null {
  const r = reply as { ok?: boolean; op?: string; value?: { kv?: { value?: string } | null }; result?: { ok?: boolean; prev?: string | null; swapped?: boolean } };
  if (r.ok !== true) return null;
  if (r.op === "read") return { value: r.value?.kv?.value ?? null };
  if (r.op === "propose" && r.result?.ok === true) return { prev: r.result.prev ?? null, swapped: r.result.swapped ?? true };
  return null;
}

export const raftAdapter: MachineAdapter<RaftAdapterConfig> = {
  name: "raft",
  summary: "the Raft store: five members replicating a key-value state machine (core/raft)",
  configSchema: configSchema as unknown as z.ZodType<RaftAdapterConfig>,
  observation: [
    { name: "role", type: "string", values: ["follower", "pre-candidate", "candidate", "leader"], doc: "the node's Raft role" },
    { name: "term", type: "number", doc: "the node's current term" },
    { name: "leader", type: "string", nullable: true, doc: "the leader the node knows of" },
    { name: "commitIndex", type: "number", doc: "the highest log index the node knows committed" },
    { name: "lastApplied", type: "number", doc: "the highest log index applied to its store" },
    { name: "lastIndex", type: "number", doc: "the last index in its log" },
    { name: "voter", type: "boolean", doc: "whether the node is a voter in the configuration it holds" },
    { name: "voters", type: "number", doc: "how many voters the configuration it holds has" },
  ],
  keyEvents: ["raft-leader", "raft-step-down", "raft-recovered", "raft-config", "raft-snapshot"],
  create: (init) => new HostedRaft(init) as unknown as AnyMachine,
  observe(m) {
    const r = hosted(m).raft;
    return { role: r.role, term: r.currentTerm, leader: r.leader, commitIndex: r.commitIndex, lastApplied: r.lastApplied, lastIndex: r.lastIndex, voter: r.membership.voters.includes(r.id), voters: r.membership.voters.length };
  },
  invariants: () => [
    electionSafety(),
    voteOnce({ name: "vote-once", description: "no node votes for two candidates in one term, even across a crash", round: "term", forgetOnWipe: false }),
    logMatching(),
    leaderCompleteness(),
    stateMachineSafety(),
    raftLinearizable(callOf, resultOf),
  ],
  reporters: () => [raftLinearizableReport(callOf, resultOf)],
  converged,
  workload,
};
