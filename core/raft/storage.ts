// What a Raft node keeps on disk, and how it reads it back.
//
// Two files. `raft-log` is append-only: each step that changes durable state appends one `step`
// record (term, vote, and the log change if any), fsynced, and nothing that depends on it leaves
// the node before it completes. After a snapshot is durable, the whole file is replaced by one
// `compacted` record (the retained entries). `raft-snapshot` holds one snapshot, replaced whole.
//
// Records describe themselves: a log change says where it starts and the term of the entry before
// it, so recovery needs no other context. A change that does not fit the log built so far (a gap
// after an InstallSnapshot discarded the log) restarts the log there; the snapshot then covers it.

import type { NodeId, Recovered } from "../machine.js";
import type { Json } from "../trace.js";
import { RaftLog } from "./log.js";
import { type Entry, isEntry, isSnapshot, type Snapshot } from "./types.js";

export const LOG_FILE = "raft-log";
export const SNAPSHOT_FILE = "raft-snapshot";

/** A change to the log: the entries from `from` on replace whatever the log had there. */
export interface LogChange {
  readonly from: number;
  /** The term of the entry at `from - 1` (the base's term when that is the base). */
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
}

export type LogRecord =
  | { readonly k: "step"; readonly term: number; readonly votedFor: NodeId | null; readonly log: LogChange | null }
  | {
      readonly k: "compacted";
      readonly term: number;
      readonly votedFor: NodeId | null;
      readonly baseIndex: number;
      readonly baseTerm: number;
      readonly entries: readonly Entry[];
    };

/** The durable state rebuilt at start. */
export interface Durable {
  readonly term: number;
  readonly votedFor: NodeId | null;
  readonly log: RaftLog;
  readonly snapshot: Snapshot | null;
  /** The host cut a half-written record off the log (a crash mid-append). */
  readonly tornTail: boolean;
}

/** Applies one log change as recovery (and only recovery) does. */
export function applyChange(log: RaftLog, change: LogChange): RaftLog {
  const prev = change.from - 1;
  if (prev >= log.baseIndex && prev <= log.lastIndex && log.termAt(prev) === change.prevTerm) {
    if (change.from <= log.lastIndex) log.truncateFrom(change.from);
    log.append(change.entries);
    return log;
  }
  return new RaftLog(prev, change.prevTerm, change.entries);
}

/** Rebuilds term, vote, log and snapshot. Throws (with the reason) on a disk no Raft node could have written. */
export function recover(recovered: Recovered | null): Durable {
  const logFile = recovered?.files[LOG_FILE];
  const snapRecord = recovered?.files[SNAPSHOT_FILE]?.records.at(-1);
  let term = 0;
  let votedFor: NodeId | null = null;
  let log = new RaftLog();
  (logFile?.records ?? []).forEach((r, i) => {
    if (!isLogRecord(r)) throw new Error(`${LOG_FILE} record ${i} is not a Raft log record: ${JSON.stringify(r).slice(0, 200)}`);
    term = r.term;
    votedFor = r.votedFor;
    if (r.k === "compacted") log = new RaftLog(r.baseIndex, r.baseTerm, r.entries);
    else if (r.log !== null) log = applyChange(log, r.log);
  });
  let snapshot: Snapshot | null = null;
  if (snapRecord !== undefined) {
    if (!isSnapshot(snapRecord)) throw new Error(`${SNAPSHOT_FILE} holds no snapshot: ${JSON.stringify(snapRecord).slice(0, 200)}`);
    snapshot = snapRecord;
  }
  const snapIndex = snapshot?.index ?? 0;
  if (snapIndex < log.baseIndex) {
    throw new Error(`${LOG_FILE} starts after entry ${log.baseIndex} but ${SNAPSHOT_FILE} covers only through ${snapIndex}`);
  }
  if (snapshot !== null) log.compactTo(snapshot.index, snapshot.term);
  return { term, votedFor, log, snapshot, tornTail: logFile?.tornTail ?? false };
}

export function stepRecord(term: number, votedFor: NodeId | null, log: LogChange | null): Json {
  const r: LogRecord = { k: "step", term, votedFor, log };
  return r as unknown as Json;
}

export function compactedRecord(term: number, votedFor: NodeId | null, log: RaftLog): Json {
  const r: LogRecord = {
    k: "compacted",
    term,
    votedFor,
    baseIndex: log.baseIndex,
    baseTerm: log.baseTerm,
    entries: log.slice(log.baseIndex + 1, log.lastIndex),
  };
  return r as unknown as Json;
}

function isLogRecord(r: Json): r is LogRecord & Json {
  if (typeof r !== "object" || r === null || Array.isArray(r)) return false;
  const o = r as { readonly [key: string]: Json };
  const common = typeof o["term"] === "number" && (o["votedFor"] === null || typeof o["votedFor"] === "string");
  if (!common) return false;
  if (o["k"] === "compacted") {
    return typeof o["baseIndex"] === "number" && typeof o["baseTerm"] === "number" && Array.isArray(o["entries"]) && o["entries"].every(isEntry);
  }
  if (o["k"] !== "step") return false;
  const change = o["log"];
  if (change === null) return true;
  if (typeof change !== "object" || Array.isArray(change)) return false;
  const c = change as { readonly [key: string]: Json };
  return typeof c["from"] === "number" && typeof c["prevTerm"] === "number" && Array.isArray(c["entries"]) && c["entries"].every(isEntry);
}
