import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Harness } from "./test-support/harness.js";
import type { RaftConfig, RaftReply } from "./types.js";

const FIVE = ["a", "b", "c", "d", "e"];

/** A lone real node `b` among peers a, b, c whose messages the test writes by hand. */
function lone(config: Partial<RaftConfig> = {}): Harness {
  return new Harness({ nodes: ["b"], peers: ["a", "b", "c"], config: { electionTimeoutMinMs: 5000, electionTimeoutMaxMs: 6000, checkQuorum: false, ...config } });
}

const voteRequest = (term: number) => ({ type: "request-vote" as const, term, lastLogIndex: 0, lastLogTerm: 0, transfer: false });

describe("elections", () => {
  it("five nodes elect one leader that everyone follows, and a proposal commits everywhere", () => {
    const h = new Harness({ nodes: FIVE, seed: 7 });
    const leader = h.stableLeader();
    const req = h.request(leader, { op: "propose", command: "x" });
    h.runFor(200);
    expect(h.replyTo(req)).toMatchObject({ ok: true, op: "propose", result: { count: 1 } });
    for (const n of FIVE) expect(h.sm(n).items).toEqual(["x"]);
    expect(h.violations).toEqual([]);
  });

  it("property: at most one leader per term, over random schedules of partitions, crashes, loss and duplication", () => {
    let elections = 0;
    let snapshots = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const h = randomRun(seed, {});
        expect(h.violations).toEqual([]);
        // Liveness once the faults stop: one leader, and a new proposal applies on every node.
        expect(proposeUntilOk(h, "final")).toMatchObject({ ok: true, op: "propose" });
        expect(h.runUntilTrue(() => FIVE.every((n) => h.sm(n).items.at(-1) === "final"), 5_000)).toBe(true);
        elections += h.traceOf("raft-leader").length;
        snapshots += h.traceOf("raft-snapshot").length;
      }),
      { seed: 20240611, numRuns: 40 },
    );
    // The schedules are rough enough to matter: many elections, compactions and installs.
    expect(elections).toBeGreaterThan(100);
    expect(snapshots).toBeGreaterThan(20);
  });

  it("is deterministic: the same seed gives the same trace, byte for byte", () => {
    const run = () => JSON.stringify(randomRun(99, {}).traces);
    expect(run()).toBe(run());
  });

  it("PreVote: a partitioned follower does not raise its term, and rejoining does not disturb the leader", () => {
    const h = new Harness({ nodes: FIVE, seed: 11 });
    const leader = h.stableLeader();
    const term = h.node(leader).currentTerm;
    const f = FIVE.find((n) => n !== leader) as string;
    h.isolate(f);
    h.runFor(3000);
    expect(h.node(f).currentTerm).toBe(term);
    expect(h.node(f).role).toBe("pre-candidate");
    h.heal();
    h.runFor(2000);
    expect(h.leaders()).toEqual([leader]);
    for (const n of FIVE) expect(h.node(n).currentTerm).toBe(term);
    expect(h.violations).toEqual([]);
  });

  it("without PreVote the same partition disrupts the cluster (the contrast that shows the test can fail)", () => {
    const h = new Harness({ nodes: FIVE, seed: 11, config: { preVote: false } });
    const leader = h.stableLeader();
    const term = h.node(leader).currentTerm;
    const f = FIVE.find((n) => n !== leader) as string;
    h.isolate(f);
    h.runFor(3000);
    expect(h.node(f).currentTerm).toBeGreaterThan(term + 3);
    h.heal();
    h.stableLeader();
    expect(h.node(h.leader() as string).currentTerm).toBeGreaterThan(term);
  });

  it("CheckQuorum: a leader cut off from the majority steps down within an election timeout", () => {
    const h = new Harness({ nodes: FIVE, seed: 5 });
    const leader = h.stableLeader();
    h.isolate(leader);
    const cutAt = h.nowMs;
    h.runUntilTrue(() => h.node(leader).role !== "leader", 2000);
    expect(h.node(leader).role).toBe("follower");
    expect(h.nowMs - cutAt).toBeLessThanOrEqual(h.config.electionTimeoutMaxMs + h.config.heartbeatMs);
    expect(h.traceOf("raft-step-down", leader).at(-1)?.event).toMatchObject({ reason: "check-quorum" });
    // Without CheckQuorum the cut-off leader keeps believing it leads.
    const g = new Harness({ nodes: FIVE, seed: 5, config: { checkQuorum: false } });
    const old = g.stableLeader();
    g.isolate(old);
    g.runFor(3000);
    expect(g.node(old).role).toBe("leader");
  });

  it("a vote does not leave before it is durable: with the disk held, no grant and no vote event", () => {
    const h = lone();
    h.runFor(10);
    h.holdPersists("b", true);
    h.inject("b", "a", voteRequest(1));
    h.runFor(100);
    expect(h.sentOf("request-vote-reply", "b")).toBe(0);
    expect(h.traceOf("vote", "b")).toEqual([]);
    h.holdPersists("b", false);
    h.runFor(10);
    expect(h.sent.filter((s) => s.from === "b" && s.type === "request-vote-reply").map((s) => s.msg)).toEqual([{ type: "request-vote-reply", term: 1, granted: true }]);
    expect(h.traceOf("vote", "b").map((t) => t.event)).toEqual([{ type: "vote", term: 1, for: "a" }]);
  });

  it("with the planted voteBeforePersist bug the grant leaves while the disk is held", () => {
    const h = lone({ bugs: { voteBeforePersist: true, commitOldTermByCount: false } });
    h.runFor(10);
    h.holdPersists("b", true);
    h.inject("b", "a", voteRequest(1));
    h.runFor(5);
    expect(h.sentOf("request-vote-reply", "b")).toBe(1);
    // A crash now loses the vote: after restart b grants term 1 again, to c. Two votes in one term.
    h.crash("b");
    h.holdPersists("b", false);
    h.restart("b");
    h.inject("b", "c", voteRequest(1));
    h.runFor(5);
    expect(h.traceOf("vote", "b").map((t) => t.event["for"])).toEqual(["a", "c"]);
  });

  it("a restarted node recovers its term and vote and refuses a second candidate in that term", () => {
    const h = lone({ checkQuorum: false });
    h.inject("b", "a", voteRequest(5));
    h.runFor(10);
    h.crash("b");
    h.restart("b");
    expect([h.node("b").currentTerm, h.node("b").votedFor]).toEqual([5, "a"]);
    h.inject("b", "c", voteRequest(5));
    h.runFor(10);
    expect(h.traceOf("vote-refused", "b").map((t) => t.event)).toEqual([{ type: "vote-refused", term: 5, candidate: "c", preVote: false, reason: "already-voted" }]);
    expect(h.sent.filter((s) => s.from === "b" && s.type === "request-vote-reply").map((s) => s.msg)).toEqual([
      { type: "request-vote-reply", term: 5, granted: true },
      { type: "request-vote-reply", term: 5, granted: false },
    ]);
  });

  it("stickiness: a follower that hears its leader refuses a higher-term candidate without adopting the term", () => {
    const h = new Harness({ nodes: ["a", "b", "c"], seed: 2 });
    const leader = h.stableLeader();
    const f = ["a", "b", "c"].find((n) => n !== leader) as string;
    const term = h.node(f).currentTerm;
    h.inject(f, "z", { type: "request-vote", term: term + 10, lastLogIndex: 99, lastLogTerm: 99, transfer: false });
    h.runFor(10); // the refusal event waits for any write still in flight
    expect(h.node(f).currentTerm).toBe(term);
    expect(h.traceOf("vote-refused", f).at(-1)?.event).toMatchObject({ reason: "leader-known", preVote: false });
  });
});

describe("leadership transfer", () => {
  it("moves leadership to the named voter, which wins at once in the next term", () => {
    const h = new Harness({ nodes: FIVE, seed: 21 });
    const leader = h.stableLeader();
    const term = h.node(leader).currentTerm;
    const to = FIVE.find((n) => n !== leader) as string;
    const req = h.request(leader, { op: "transfer-leadership", to });
    h.runUntilTrue(() => h.replyTo(req) !== undefined, 2000);
    expect(h.replyTo(req)).toEqual({ ok: true, op: "transfer", term: term + 1 });
    expect(h.stableLeader()).toBe(to);
    expect(h.node(to).currentTerm).toBe(term + 1);
    expect(h.traceOf("raft-term", to).at(-1)?.event).toMatchObject({ why: "timeout-now" });
    expect(h.violations).toEqual([]);
  });

  it("refuses proposals while moving, and fails when the target cannot take over", () => {
    const h = new Harness({ nodes: FIVE, seed: 21 });
    const leader = h.stableLeader();
    const to = FIVE.find((n) => n !== leader) as string;
    h.isolate(to);
    const req = h.request(leader, { op: "transfer-leadership", to });
    const during = h.request(leader, { op: "propose", command: 1 });
    expect(h.replyTo(during)).toMatchObject({ ok: false, error: "transfer-in-progress" });
    h.runUntilTrue(() => h.replyTo(req) !== undefined, 2000);
    expect(h.replyTo(req)).toMatchObject({ ok: false, error: "transfer-failed" });
    expect(h.leaders()).toEqual([leader]);
    const after = h.request(leader, { op: "propose", command: 2 });
    h.runFor(100);
    expect(h.replyTo(after)).toMatchObject({ ok: true });
  });
});

/** Proposes to the leader as a client would: retrying (a transfer may be under way) until accepted. */
export function proposeUntilOk(h: Harness, command: string): RaftReply | undefined {
  for (let attempt = 0; attempt < 10; attempt++) {
    const req = h.request(h.stableLeader(20_000), { op: "propose", command });
    h.runUntilTrue(() => h.replyTo(req) !== undefined, 2_000);
    const reply = h.replyTo(req);
    if (reply?.ok === true) return reply;
    h.runFor(100);
  }
  return undefined;
}

/**
 * Five seconds of faults on five nodes: partitions, crashes and restarts (losing unfinished
 * writes), message loss, duplication and reordering, proposals, reads and transfers. Ends healed,
 * with every node up.
 */
export function randomRun(seed: number, config: Partial<RaftConfig>): Harness {
  const h = new Harness({ nodes: FIVE, seed, latencyMs: [1, 30], persistMs: 10, lossRate: 0.05, duplicateRate: 0.05, config: { snapshotEveryEntries: 8, ...config } });
  let x = seed >>> 0;
  const rand = (n: number) => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return x % n;
  };
  for (let step = 0; step < 60; step++) {
    h.runFor(20 + rand(120));
    const node = FIVE[rand(5)] as string;
    switch (rand(8)) {
      case 0:
        if (FIVE.filter((n) => h.isUp(n)).length > 3) h.crash(node);
        break;
      case 1:
        if (!h.isUp(node)) h.restart(node);
        break;
      case 2: {
        const k = 1 + rand(2);
        const shuffled = [...FIVE].sort(() => (rand(2) === 0 ? -1 : 1));
        h.partition(shuffled.slice(0, k), shuffled.slice(k));
        break;
      }
      case 3:
        h.heal();
        break;
      case 4:
        h.request(node, { op: "read", query: null });
        break;
      case 5:
        h.request(node, { op: "transfer-leadership", to: FIVE[rand(5)] as string });
        break;
      default:
        if (h.isUp(node)) h.request(node, { op: "propose", command: `${seed}-${step}` });
    }
  }
  h.heal();
  for (const n of FIVE) if (!h.isUp(n)) h.restart(n);
  return h;
}
