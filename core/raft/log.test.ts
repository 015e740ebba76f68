import { describe, expect, it } from "vitest";
import type { Json } from "../trace.js";
import { RaftLog } from "./log.js";
import { majority, quorumValue, voteResult } from "./quorum.js";
import { compactedRecord, LOG_FILE, recover, SNAPSHOT_FILE, stepRecord } from "./storage.js";
import type { Entry, Snapshot } from "./types.js";

const cmd = (term: number, c: Json = term): Entry => ({ term, kind: "command", command: c });
/** A log whose entries have these terms, from index 1. */
const logOf = (...terms: number[]) => new RaftLog(0, 0, terms.map((t) => cmd(t)));

describe("RaftLog", () => {
  it("indexes entries after the base and knows the base's term", () => {
    const log = new RaftLog(10, 3, [cmd(3), cmd(4)]);
    expect([log.lastIndex, log.lastTerm, log.termAt(10), log.termAt(11), log.termAt(12), log.termAt(13), log.termAt(9)]).toEqual([12, 4, 3, 3, 4, null, null]);
    expect(log.entryAt(10)).toBeNull();
    expect(log.slice(11, 12)).toEqual([cmd(3), cmd(4)]);
  });

  it("conflict hints: the first index of the conflicting term, or last + 1 when short", () => {
    const log = logOf(1, 1, 2, 2, 2, 3);
    expect(log.conflictHint(5)).toEqual({ conflictIndex: 3, conflictTerm: 2 });
    expect(log.conflictHint(9)).toEqual({ conflictIndex: 7, conflictTerm: null });
    // The search stops at the base: everything below is compacted.
    const compacted = new RaftLog(4, 2, [cmd(2), cmd(3)]);
    expect(compacted.conflictHint(5)).toEqual({ conflictIndex: 5, conflictTerm: 2 });
  });

  it("lastIndexOfTerm finds the last entry of a term at or below a bound", () => {
    const log = logOf(1, 1, 2, 2, 4);
    expect([log.lastIndexOfTerm(2, 5), log.lastIndexOfTerm(1, 5), log.lastIndexOfTerm(3, 5), log.lastIndexOfTerm(2, 3)]).toEqual([4, 2, null, 3]);
  });

  it("compacting keeps the suffix when the log has the snapshot's entry, else discards the log", () => {
    const keep = logOf(1, 1, 2, 2);
    keep.compactTo(3, 2);
    expect([keep.baseIndex, keep.baseTerm, keep.lastIndex, keep.termAt(4)]).toEqual([3, 2, 4, 2]);
    const discard = logOf(1, 1, 2, 2);
    discard.compactTo(3, 5);
    expect([discard.baseIndex, discard.lastIndex, discard.lastTerm]).toEqual([3, 3, 5]);
  });

  it("the election restriction compares last terms, then lengths", () => {
    const log = logOf(1, 2, 2);
    expect([log.isUpToDate(3, 2), log.isUpToDate(2, 2), log.isUpToDate(1, 3), log.isUpToDate(9, 1)]).toEqual([true, false, true, false]);
  });

  it("truncation refuses to cut into the snapshot", () => {
    const log = new RaftLog(5, 1, [cmd(1)]);
    expect(() => log.truncateFrom(5)).toThrow(/snapshot/);
  });
});

describe("quorum arithmetic", () => {
  it("majorities, elections and the quorum index", () => {
    expect([1, 2, 3, 4, 5].map(majority)).toEqual([1, 2, 2, 3, 3]);
    const voters = ["a", "b", "c", "d", "e"];
    expect(voteResult(voters, new Set(["a", "b"]), new Set(["c"]))).toBe("pending");
    expect(voteResult(voters, new Set(["a", "b", "x", "y"]), new Set())).toBe("pending"); // non-voters do not count
    expect(voteResult(voters, new Set(["a", "b", "e"]), new Set())).toBe("won");
    expect(voteResult(voters, new Set(["a"]), new Set(["b", "c", "d"]))).toBe("lost");
    const match: Record<string, number> = { a: 9, b: 7, c: 7, d: 3, e: 1 };
    expect(quorumValue(voters, (v) => match[v] ?? 0)).toBe(7);
    expect(quorumValue([], () => 5)).toBe(0);
  });
});

describe("recovery from disk", () => {
  const files = (log: Json[], snap?: Snapshot, tornTail = false) => ({
    files: { [LOG_FILE]: { records: log, tornTail }, ...(snap === undefined ? {} : { [SNAPSHOT_FILE]: { records: [snap as unknown as Json], tornTail: false } }) },
  });

  it("replays term, vote and log changes, including a truncation", () => {
    const d = recover(
      files(
        [
          stepRecord(1, "a", null),
          stepRecord(1, "a", { from: 1, prevTerm: 0, entries: [cmd(1), cmd(1), cmd(1)] }),
          stepRecord(2, null, null),
          stepRecord(2, null, { from: 2, prevTerm: 1, entries: [cmd(2)] }),
        ],
        undefined,
        true,
      ),
    );
    expect([d.term, d.votedFor, d.log.lastIndex, d.log.termAt(2), d.tornTail, d.snapshot]).toEqual([2, null, 2, 2, true, null]);
  });

  it("a fresh disk is term 0 with an empty log", () => {
    const d = recover(null);
    expect([d.term, d.votedFor, d.log.lastIndex, d.snapshot]).toEqual([0, null, 0, null]);
  });

  it("a snapshot newer than the log's start cuts the log; a conflicting one replaces it", () => {
    const snap: Snapshot = { index: 2, term: 1, membership: { voters: ["a"], learners: [] }, state: "s" };
    const log = [stepRecord(1, null, { from: 1, prevTerm: 0, entries: [cmd(1), cmd(1), cmd(1)] })];
    const d = recover(files(log, snap));
    expect([d.log.baseIndex, d.log.lastIndex]).toEqual([2, 3]);
    const other = recover(files(log, { ...snap, index: 3, term: 7 }));
    expect([other.log.baseIndex, other.log.lastIndex, other.log.lastTerm]).toEqual([3, 3, 7]);
  });

  it("after an installed snapshot discarded the log, appends start a new log at the snapshot", () => {
    const snap: Snapshot = { index: 10, term: 3, membership: { voters: ["a"], learners: [] }, state: "s" };
    const d = recover(
      files([stepRecord(1, null, { from: 1, prevTerm: 0, entries: [cmd(1)] }), stepRecord(3, null, { from: 11, prevTerm: 3, entries: [cmd(3)] })], snap),
    );
    expect([d.log.baseIndex, d.log.lastIndex, d.log.termAt(11)]).toEqual([10, 11, 3]);
  });

  it("reads a compacted log file, then the appends after it", () => {
    const snap: Snapshot = { index: 2, term: 1, membership: { voters: ["a"], learners: [] }, state: "s" };
    const compacted = compactedRecord(4, "b", new RaftLog(2, 1, [cmd(1), cmd(4)]));
    const d = recover(files([compacted, stepRecord(5, null, { from: 5, prevTerm: 4, entries: [cmd(5)] })], snap));
    expect([d.term, d.votedFor, d.log.baseIndex, d.log.lastIndex, d.log.termAt(5)]).toEqual([5, null, 2, 5, 5]);
  });

  it("refuses a disk no Raft node writes: a log starting past the snapshot, or foreign records", () => {
    const compacted = compactedRecord(4, null, new RaftLog(8, 2, [cmd(2)]));
    expect(() => recover(files([compacted]))).toThrow(/starts after entry 8 but raft-snapshot covers only through 0/);
    expect(() => recover(files([{ hello: 1 }]))).toThrow(/record 0 is not a Raft log record/);
  });
});
