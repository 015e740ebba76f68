// Raft's vocabulary: configuration, log entries, membership, messages, client requests and replies.
//
// Everything that crosses a wire or a disk is plain JSON (real nodes serialize it), so messages
// and entries are object literals with no optional-but-undefined fields.

import type { NodeId } from "../machine.js";
import type { Json } from "../trace.js";

export interface RaftConfig {
  /** A follower that hears no leader for a time drawn uniformly from [min, max] starts an election. */
  readonly electionTimeoutMinMs: number;
  readonly electionTimeoutMaxMs: number;
  /** How often a leader sends heartbeats (and checks quorum, transfers, catch-ups). */
  readonly heartbeatMs: number;
  /** Ask for pre-votes (without raising the term) before a real election (dissertation §9.6). */
  readonly preVote: boolean;
  /**
   * A leader steps down when it has not heard from a majority of voters within
   * `electionTimeoutMaxMs`. Lease reads are served only when this is on.
   */
  readonly checkQuorum: boolean;
  /** Take a snapshot and compact the log once this many entries were applied since the last one (0: never). */
  readonly snapshotEveryEntries: number;
  /** Entries carried by one append-entries message at most. */
  readonly entriesPerMessageMax: number;
  /** Append-entries messages in flight to one follower at most, while it is being replicated to. */
  readonly inflightMessagesMax: number;
  /** Proposals and reads a leader holds unanswered at most; more are refused with `busy`. */
  readonly pendingRequestsMax: number;
  /**
   * A learner being added is promoted once a catch-up round (replicating up to the leader's last
   * index at the round's start) completes within `electionTimeoutMinMs`; after this many rounds
   * the change fails (dissertation §4.2.1).
   */
  readonly catchUpRoundsMax: number;
  /** A lease lasts `electionTimeoutMinMs × (1 − leaseClockDriftRatio)` from the heartbeat round that a majority acknowledged. */
  readonly leaseClockDriftRatio: number;
  /** The voters of the first configuration (identical on every node); null: every peer the host lists. */
  readonly initialVoters: readonly NodeId[] | null;
  /** Known defects to plant, so tests and the simulator's checkers can show they catch them. */
  readonly bugs: {
    /** Commit an entry of an earlier term by counting replicas (the Figure 8 bug). */
    readonly commitOldTermByCount: boolean;
    /** Send a vote before it is durable: a crash can then make a node vote twice in one term. */
    readonly voteBeforePersist: boolean;
  };
}

export const RAFT_DEFAULTS: RaftConfig = {
  electionTimeoutMinMs: 150,
  electionTimeoutMaxMs: 300,
  heartbeatMs: 50,
  preVote: true,
  checkQuorum: true,
  snapshotEveryEntries: 1000,
  entriesPerMessageMax: 64,
  inflightMessagesMax: 32,
  pendingRequestsMax: 10_000,
  catchUpRoundsMax: 10,
  leaseClockDriftRatio: 0.1,
  initialVoters: null,
  bugs: { commitOldTermByCount: false, voteBeforePersist: false },
};

export type RaftRole = "follower" | "pre-candidate" | "candidate" | "leader";

/** Who votes and who only receives the log. Both lists sorted, disjoint. */
export interface Membership {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * A log entry. A `noop` is what a new leader appends to commit its term; a `config` entry carries
 * the whole new membership and takes effect on every node as soon as it is in its log.
 */
export type Entry =
  | { readonly term: number; readonly kind: "noop" }
  | { readonly term: number; readonly kind: "command"; readonly command: Json }
  | { readonly term: number; readonly kind: "config"; readonly membership: Membership };

// ---- messages --------------------------------------------------------------------------------------

/** A vote request. `transfer`: sent on TimeoutNow, so voters skip the "I know a leader" check. */
export interface RequestVote {
  readonly type: "request-vote";
  readonly term: number;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  readonly transfer: boolean;
}

/** A pre-vote request carries the term the sender would campaign in (its term + 1), which nobody adopts. */
export interface PreVote {
  readonly type: "pre-vote";
  readonly term: number;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

/** The answer to either kind of vote request. A granted pre-vote echoes the requested term. */
export interface VoteReply {
  readonly type: "request-vote-reply" | "pre-vote-reply";
  readonly term: number;
  readonly granted: boolean;
}

export interface AppendEntries {
  readonly type: "append-entries";
  readonly term: number;
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly leaderCommit: number;
}

/**
 * `matchIndex` on success: the follower's log matches the leader's through it (and it is durable).
 * On failure, `rejectedIndex` is the prevLogIndex that did not match, and the hint lets the leader
 * skip a whole term per round trip: `conflictTerm` is the follower's term at `rejectedIndex` and
 * `conflictIndex` the first index of that term; with `conflictTerm` null the follower's log ends
 * before `rejectedIndex` and `conflictIndex` is its last index + 1.
 */
export interface AppendEntriesReply {
  readonly type: "append-entries-reply";
  readonly term: number;
  readonly success: boolean;
  readonly matchIndex: number;
  readonly rejectedIndex: number;
  readonly conflictIndex: number;
  readonly conflictTerm: number | null;
}

/**
 * Leadership without log content: keeps followers from campaigning, carries the commit index (the
 * smaller of the leader's and what it knows the follower holds) and a round number `seq` that
 * ReadIndex and leases count acknowledgements by.
 */
export interface Heartbeat {
  readonly type: "heartbeat";
  readonly term: number;
  readonly commit: number;
  readonly seq: number;
}

export interface HeartbeatReply {
  readonly type: "heartbeat-reply";
  readonly term: number;
  readonly seq: number;
}

/** The whole snapshot in one message (no chunking). */
export interface InstallSnapshot {
  readonly type: "install-snapshot";
  readonly term: number;
  readonly snapshot: Snapshot;
}

/** `matchIndex`: the follower's log now matches the leader's through it (the snapshot or more). */
export interface InstallSnapshotReply {
  readonly type: "install-snapshot-reply";
  readonly term: number;
  readonly matchIndex: number;
}

/** Leadership transfer: start an election now (dissertation §3.10). */
export interface TimeoutNow {
  readonly type: "timeout-now";
  readonly term: number;
}

export type RaftMsg =
  | RequestVote
  | PreVote
  | VoteReply
  | AppendEntries
  | AppendEntriesReply
  | Heartbeat
  | HeartbeatReply
  | InstallSnapshot
  | InstallSnapshotReply
  | TimeoutNow;

/** The applied state through `index` (whose entry had `term`), and the membership in force there. */
export interface Snapshot {
  readonly index: number;
  readonly term: number;
  readonly membership: Membership;
  readonly state: Json;
}

// ---- clients ---------------------------------------------------------------------------------------

/**
 * - `propose`: replicate a command; the reply comes once it is applied, with the state machine's result.
 * - `read`: a linearizable read. `index` (the default) confirms leadership with a heartbeat round;
 *   `lease` answers at once while the leader's lease holds (only with checkQuorum).
 * - `add-server` adds a learner, lets it catch up, then makes it a voter; `add-learner` stops at learner.
 */
export type RaftRequest =
  | { readonly op: "propose"; readonly command: Json }
  | { readonly op: "read"; readonly query: Json; readonly mode?: "index" | "lease" }
  | { readonly op: "status" }
  | { readonly op: "add-server"; readonly node: NodeId }
  | { readonly op: "add-learner"; readonly node: NodeId }
  | { readonly op: "remove-server"; readonly node: NodeId }
  | { readonly op: "transfer-leadership"; readonly to: NodeId };

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: RaftRole;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly lastApplied: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly membership: Membership;
}

/**
 * - `not-leader`: ask `leader` instead (null: none known).
 * - `outcome-unknown`: leadership was lost while a proposal or change was pending; it may still apply.
 * - `busy`: too many requests pending; `change-in-progress`: one membership change at a time.
 * - `transfer-in-progress`: proposals and changes wait while leadership moves.
 * - `transfer-failed`, `catch-up-failed`: the transfer or the new server's catch-up timed out.
 * - `lease-needs-check-quorum`: a lease read on a cluster without checkQuorum.
 * - `bad-request`: the request is malformed (the message says how).
 */
export type RaftError =
  | "not-leader"
  | "outcome-unknown"
  | "busy"
  | "change-in-progress"
  | "transfer-in-progress"
  | "transfer-failed"
  | "catch-up-failed"
  | "lease-needs-check-quorum"
  | "bad-request";

export type RaftReply =
  | { readonly ok: true; readonly op: "propose"; readonly index: number; readonly result: Json }
  | { readonly ok: true; readonly op: "read"; readonly index: number; readonly value: Json }
  | { readonly ok: true; readonly op: "status"; readonly status: RaftStatus }
  | { readonly ok: true; readonly op: "membership"; readonly index: number; readonly membership: Membership }
  | { readonly ok: true; readonly op: "transfer"; readonly term: number }
  | { readonly ok: false; readonly error: RaftError; readonly leader: NodeId | null; readonly message: string };

// ---- validation of what arrives from outside -------------------------------------------------------

type Obj = { readonly [key: string]: unknown };

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isNodeList = (v: unknown): v is NodeId[] => Array.isArray(v) && v.every((x) => typeof x === "string");

export function isMembership(v: unknown): v is Membership {
  return isObj(v) && isNodeList(v["voters"]) && isNodeList(v["learners"]);
}

export function isEntry(v: unknown): v is Entry {
  if (!isObj(v) || !isIndex(v["term"])) return false;
  switch (v["kind"]) {
    case "noop":
      return true;
    case "command":
      return "command" in v;
    case "config":
      return isMembership(v["membership"]);
    default:
      return false;
  }
}

export function isSnapshot(v: unknown): v is Snapshot {
  return isObj(v) && isIndex(v["index"]) && isIndex(v["term"]) && isMembership(v["membership"]) && "state" in v;
}

/**
 * Peer input is an operating error when malformed (a bug elsewhere, a version skew, a corrupted
 * frame): the node drops it. Checks the fields this node reads.
 */
export function isRaftMsg(v: unknown): v is RaftMsg {
  if (!isObj(v) || !isIndex(v["term"])) return false;
  switch (v["type"]) {
    case "request-vote":
      return isIndex(v["lastLogIndex"]) && isIndex(v["lastLogTerm"]) && typeof v["transfer"] === "boolean";
    case "pre-vote":
      return isIndex(v["lastLogIndex"]) && isIndex(v["lastLogTerm"]);
    case "request-vote-reply":
    case "pre-vote-reply":
      return typeof v["granted"] === "boolean";
    case "append-entries":
      return (
        isIndex(v["prevLogIndex"]) &&
        isIndex(v["prevLogTerm"]) &&
        isIndex(v["leaderCommit"]) &&
        Array.isArray(v["entries"]) &&
        v["entries"].every(isEntry)
      );
    case "append-entries-reply":
      return (
        typeof v["success"] === "boolean" &&
        isIndex(v["matchIndex"]) &&
        isIndex(v["rejectedIndex"]) &&
        isIndex(v["conflictIndex"]) &&
        (v["conflictTerm"] === null || isIndex(v["conflictTerm"]))
      );
    case "heartbeat":
      return isIndex(v["commit"]) && isIndex(v["seq"]);
    case "heartbeat-reply":
      return isIndex(v["seq"]);
    case "install-snapshot":
      return isSnapshot(v["snapshot"]);
    case "install-snapshot-reply":
      return isIndex(v["matchIndex"]);
    case "timeout-now":
      return true;
    default:
      return false;
  }
}

/** A client request as the node will act on it, or why not (clients are users: say what is wrong). */
export function parseRequest(v: unknown): RaftRequest | string {
  if (!isObj(v)) return "a request is an object with an `op`";
  const op = v["op"];
  switch (op) {
    case "propose":
      return "command" in v ? { op, command: v["command"] as Json } : "propose needs a `command`";
    case "read": {
      const mode = v["mode"];
      if (!("query" in v)) return "read needs a `query`";
      if (mode !== undefined && mode !== "index" && mode !== "lease") return "read `mode` is `index` or `lease`";
      return mode === undefined ? { op, query: v["query"] as Json } : { op, query: v["query"] as Json, mode };
    }
    case "status":
      return { op };
    case "add-server":
    case "add-learner":
    case "remove-server": {
      const node = v["node"];
      return typeof node === "string" && node !== "" ? { op, node } : `${op} needs a \`node\` (a non-empty string)`;
    }
    case "transfer-leadership": {
      const to = v["to"];
      return typeof to === "string" && to !== "" ? { op, to } : "transfer-leadership needs `to` (a non-empty string)";
    }
    default:
      return `unknown op ${JSON.stringify(op) ?? "undefined"} (propose, read, status, add-server, add-learner, remove-server, transfer-leadership)`;
  }
}
