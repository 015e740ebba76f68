import { describe, expect, it } from "vitest";
import type { NodeId } from "../machine.js";
import type { Json } from "../trace.js";
import { Harness } from "./test-support/harness.js";
import type { AppendEntriesReply } from "./types.js";

const FIVE = ["a", "b", "c", "d", "e"];
const THREE = ["a", "b", "c"];

/** Proposes each command to `leader` and runs until all applied there. */
function proposeAll(h: Harness, leader: NodeId, commands: readonly Json[]): void {
  const ids = commands.map((command) => h.request(leader, { op: "propose", command }));
  expect(h.runUntilTrue(() => ids.every((id) => h.replyTo(id) !== undefined), 5000)).toBe(true);
  for (const id of ids) expect(h.replyTo(id)).toMatchObject({ ok: true });
}

const range = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`);

describe("log replication", () => {
  it("repairs a long conflicting suffix with fast back-off: a few round trips, not one per entry", () => {
    const h = new Harness({ nodes: FIVE, seed: 4 });
    const l1 = h.stableLeader();
    const f = FIVE.find((n) => n !== l1) as string;
    const majority = FIVE.filter((n) => n !== l1 && n !== f);
    // l1 and f in a minority: l1 appends 50 entries that only f receives; they never commit.
    h.partition([l1, f], majority);
    for (const c of range(50, "lost")) h.request(l1, { op: "propose", command: c });
    h.runFor(100);
    expect(h.node(f).lastIndex).toBe(h.node(l1).lastIndex);
    // The majority elects l2, which commits 30 entries; then leadership moves to l3, so l3's
    // first guess for f (its last index + 1) lies far past where f's log diverges.
    expect(h.runUntilTrue(() => majority.some((n) => h.node(n).role === "leader"), 3000)).toBe(true);
    const l2 = majority.find((n) => h.node(n).role === "leader") as string;
    proposeAll(h, l2, range(30, "kept"));
    const l3 = majority.find((n) => n !== l2) as string;
    h.request(l2, { op: "transfer-leadership", to: l3 });
    expect(h.runUntilTrue(() => h.node(l3).role === "leader", 2000)).toBe(true);
    const before = h.sentOf("append-entries", l3, f);
    const diverged = h.node(l3).lastIndex - h.node(f).commitIndex;
    expect(diverged).toBeGreaterThan(30);
    h.heal();
    expect(h.runUntilTrue(() => h.node(f).lastIndex === h.node(l3).lastIndex && h.node(f).termAt(h.node(f).lastIndex) === h.node(l3).currentTerm, 2000)).toBe(true);
    const appends = h.sentOf("append-entries", l3, f) - before;
    // One probe rejected with a hint (f's conflicting term and where it starts), one that fits, the data.
    expect(appends).toBeLessThanOrEqual(4);
    const rejections = h.sent.filter((s) => s.from === f && s.to === l3 && s.type === "append-entries-reply" && !(s.msg as AppendEntriesReply).success);
    expect(rejections.length).toBeGreaterThanOrEqual(1);
    expect((rejections[0]?.msg as AppendEntriesReply).conflictTerm).not.toBeNull();
    h.runFor(200);
    expect(h.sm(f).items).toEqual(h.sm(l3).items);
    expect(h.sm(f).items.filter((c) => String(c).startsWith("lost"))).toEqual([]);
    expect(h.violations).toEqual([]);
  });

  it("a leader replicates while its own disk is busy, but commits only once its own copy is durable too", () => {
    const h = new Harness({ nodes: THREE, seed: 8 });
    const leader = h.stableLeader();
    const [f, g] = THREE.filter((n) => n !== leader) as [string, string];
    h.crash(g); // the majority is now the leader and f
    h.holdPersists(leader, true);
    const id = h.request(leader, { op: "propose", command: "x" });
    h.runFor(200);
    // The entry reached f (and f made it durable and acknowledged it) while the leader's disk was held...
    expect(h.node(f).lastIndex).toBe(h.node(leader).lastIndex);
    expect(h.node(f).termAt(h.node(f).lastIndex)).toBe(h.node(leader).currentTerm);
    // ...but the leader's own copy is not durable, so nothing commits and nobody is answered.
    expect(h.replyTo(id)).toBeUndefined();
    expect(h.node(leader).commitIndex).toBeLessThan(h.node(leader).lastIndex);
    h.holdPersists(leader, false);
    expect(h.runUntilTrue(() => h.replyTo(id) !== undefined, 1000)).toBe(true);
    expect(h.replyTo(id)).toMatchObject({ ok: true });
    expect(h.violations).toEqual([]);
  });

  it("an acknowledgement means durable: a follower whose disk is held does not count towards commit", () => {
    const h = new Harness({ nodes: THREE, seed: 8 });
    const leader = h.stableLeader();
    const [f, g] = THREE.filter((n) => n !== leader) as [string, string];
    h.crash(g);
    h.holdPersists(f, true);
    const req = h.request(leader, { op: "propose", command: "x" });
    h.runFor(300);
    expect(h.replyTo(req)).toBeUndefined();
    expect(h.node(leader).commitIndex).toBeLessThan(h.node(leader).lastIndex);
    h.holdPersists(f, false);
    h.runFor(50);
    expect(h.replyTo(req)).toMatchObject({ ok: true, result: { count: 1 } });
  });

  it("a whole-cluster restart loses nothing acknowledged and re-applies the same commands", () => {
    const h = new Harness({ nodes: THREE, seed: 9, config: { snapshotEveryEntries: 0 } });
    proposeAll(h, h.stableLeader(), range(20, "x"));
    for (const n of THREE) h.crash(n);
    for (const n of THREE) h.restart(n);
    proposeAll(h, h.stableLeader(), ["last"]);
    h.runFor(200);
    for (const n of THREE) expect(h.sm(n).items).toEqual([...range(20, "x"), "last"]);
    expect(h.violations).toEqual([]);
  });
});

describe("Figure 8: an entry of an earlier term is not committed by counting replicas", () => {
  /** The dissertation's Figure 3.7 (the Raft paper's Figure 8), played out with five nodes. */
  function figure8(bug: boolean): { h: Harness; accepted: boolean; committedOldTerm: boolean } {
    const h = new Harness({ nodes: FIVE, seed: 3, config: { entriesPerMessageMax: 1, bugs: { commitOldTermByCount: bug, voteBeforePersist: false } } });
    const s1 = h.stableLeader();
    const t1 = h.node(s1).currentTerm;
    const s2 = FIVE.find((n) => n !== s1) as string;
    const rest = FIVE.filter((n) => n !== s1 && n !== s2);
    // (a) s1 replicates entry A at index iA to s2 only.
    h.partition([s1, s2], rest);
    const reqA = h.request(s1, { op: "propose", command: "A" });
    const iA = h.node(s1).lastIndex;
    expect(h.runUntilTrue(() => h.node(s2).lastIndex === iA, 1000)).toBe(true);
    // (b) s1 crashes; one of the rest wins the next term and appends its no-op at iA, alone.
    h.crash(s1);
    h.partition([s1], [s2], rest); // s1's appends still in flight must not reach the rest either
    expect(h.runUntilTrue(() => rest.some((n) => h.node(n).role === "leader"), 3000)).toBe(true);
    const s5 = rest.find((n) => h.node(n).role === "leader") as string;
    h.isolate(s5);
    h.runFor(20); // its no-op becomes durable; the appends carrying it are lost
    expect(h.node(s5).termAt(iA)).toBeGreaterThan(t1);
    h.crash(s5);
    const [m1, m2] = rest.filter((n) => n !== s5) as [string, string];
    // (c) s1 restarts; s1 or s2 leads the next term and copies A to m1 and m2, but nothing of its own term.
    h.restart(s1);
    h.heal();
    h.intercept = (from, to, msg) =>
      (from === s1 || from === s2) && (to === m1 || to === m2) && msg.type === "append-entries" ? { ...msg, entries: msg.entries.filter((e) => e.term <= t1) } : msg;
    expect(h.runUntilTrue(() => h.node(m1).termAt(iA) === t1 && h.node(m2).termAt(iA) === t1, 3000)).toBe(true);
    h.runFor(300);
    const s3 = h.leader() as string;
    expect([s1, s2]).toContain(s3);
    const committedOldTerm = h.traceOf("raft-commit", s3).some((t) => t.event["index"] === iA && t.event["term"] === t1);
    // (d) s3 and its partner crash; s5 restarts and wins with m1 and m2, overwriting index iA.
    // (Appends s3 sent before crashing are still filtered when they arrive.)
    h.crash(s1);
    h.crash(s2);
    h.restart(s5);
    expect(h.runUntilTrue(() => h.node(s5).role === "leader" && h.node(m1).commitIndex > iA && h.node(m2).commitIndex > iA, 5000)).toBe(true);
    expect(h.node(m1).termAt(iA)).not.toBe(t1);
    return { h, accepted: h.replyTo(reqA)?.ok === true, committedOldTerm };
  }

  it("with the rule, A is never committed, so overwriting it breaks nothing", () => {
    const { h, accepted, committedOldTerm } = figure8(false);
    expect(committedOldTerm).toBe(false);
    expect(accepted).toBe(false);
    expect(h.violations).toEqual([]);
  });

  it("with the planted bug, A is committed by counting replicas and then overwritten: the checks catch it", () => {
    const { h, committedOldTerm } = figure8(true);
    expect(committedOldTerm).toBe(true);
    expect(h.violations.join("\n")).toMatch(/committed entry \d+ differs|leader completeness/);
  });
});

describe("snapshots", () => {
  it("compacts the log and brings a far-behind follower up with InstallSnapshot", () => {
    const h = new Harness({ nodes: THREE, seed: 12, config: { snapshotEveryEntries: 10 } });
    const leader = h.stableLeader();
    const f = THREE.find((n) => n !== leader) as string;
    h.crash(f);
    proposeAll(h, leader, range(45, "x"));
    h.runFor(20); // the snapshot's write completes, then the log is compacted
    expect(h.node(leader).snapshotIndex).toBeGreaterThanOrEqual(40);
    expect(h.traceOf("raft-snapshot", leader).at(-1)?.event).toMatchObject({ why: "compaction" });
    // The log file was rewritten to start after the snapshot.
    const logFile = h.nodes.get(leader)?.disk.files.get("raft-log") ?? [];
    expect((logFile[0] as { k: string }).k).toBe("compacted");
    h.restart(f);
    expect(h.runUntilTrue(() => h.node(f).lastApplied === h.node(leader).lastApplied, 3000)).toBe(true);
    h.runFor(20); // the installed snapshot's write completes (its event waits for it)
    expect(h.sentOf("install-snapshot", leader, f)).toBe(1);
    expect(h.traceOf("raft-snapshot", f).at(-1)?.event).toMatchObject({ why: "installed" });
    expect(h.sm(f).items).toEqual(range(45, "x"));
    // Restarting from its own disk, the follower comes back with the snapshot and the log after it.
    proposeAll(h, leader, ["y"]);
    h.runFor(100);
    h.crash(f);
    h.restart(f);
    expect(h.node(f).snapshotIndex).toBeGreaterThan(0);
    expect(h.sm(f).items.length).toBe(h.node(f).snapshotIndex - 1); // minus the leader's no-op
    expect(h.runUntilTrue(() => h.sm(f).items.length === 46, 2000)).toBe(true);
    expect(h.sm(f).items).toEqual([...range(45, "x"), "y"]);
    expect(h.violations).toEqual([]);
  });
});
