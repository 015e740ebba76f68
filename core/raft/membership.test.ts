import { describe, expect, it } from "vitest";
import { Harness } from "./test-support/harness.js";

const ABC = ["a", "b", "c"];

/** a, b, c vote; d runs from the start but is outside the configuration until added. */
function withSpare(seed = 31): Harness {
  return new Harness({ nodes: ["a", "b", "c", "d"], seed, config: { initialVoters: ABC, snapshotEveryEntries: 10 } });
}

function settle(h: Harness, reqId: number, maxMs = 3000): void {
  expect(h.runUntilTrue(() => h.replyTo(reqId) !== undefined, maxMs)).toBe(true);
}

describe("membership changes", () => {
  it("a node outside the configuration never campaigns", () => {
    const h = withSpare();
    h.runFor(3000);
    expect(h.traceOf("raft-role", "d").map((t) => t.event["role"])).toEqual(["follower"]);
    expect(h.node("d").currentTerm).toBe(0);
  });

  it("add-server: the new node joins as a learner, catches up (via a snapshot here), then becomes a voter", () => {
    const h = withSpare();
    const leader = h.readyLeader();
    for (let i = 0; i < 25; i++) h.request(leader, { op: "propose", command: i });
    h.runFor(200);
    const req = h.request(leader, { op: "add-server", node: "d" });
    settle(h, req);
    expect(h.replyTo(req)).toMatchObject({ ok: true, op: "membership", membership: { voters: ["a", "b", "c", "d"], learners: [] } });
    const configs = h.traceOf("raft-config", leader).map((t) => [t.event["voters"], t.event["learners"]]);
    expect(configs).toEqual([
      [ABC, ["d"]],
      [["a", "b", "c", "d"], []],
    ]);
    expect(h.sentOf("install-snapshot", leader, "d")).toBeGreaterThanOrEqual(1);
    h.runFor(100);
    expect(h.sm("d").items).toEqual(h.sm(leader).items);
    expect(h.node("d").membership.voters).toEqual(["a", "b", "c", "d"]);
    // d now votes and can lead.
    const t = h.request(leader, { op: "transfer-leadership", to: "d" });
    settle(h, t);
    expect(h.stableLeader()).toBe("d");
    expect(h.violations).toEqual([]);
  });

  it("a learner receives the log but does not count towards commit", () => {
    const h = withSpare();
    const leader = h.readyLeader();
    const req = h.request(leader, { op: "add-learner", node: "d" });
    settle(h, req);
    expect(h.replyTo(req)).toMatchObject({ ok: true, membership: { voters: ABC, learners: ["d"] } });
    const others = ABC.filter((n) => n !== leader);
    for (const n of others) h.crash(n);
    const p = h.request(leader, { op: "propose", command: "x" });
    h.runFor(200);
    expect(h.node("d").lastIndex).toBe(h.node(leader).lastIndex);
    expect(h.replyTo(p)).toBeUndefined();
    expect(h.node(leader).commitIndex).toBeLessThan(h.node(leader).lastIndex);
  });

  it("remove-server: a removed follower stops counting; the cluster goes on without it", () => {
    const h = new Harness({ nodes: ABC, seed: 32 });
    const leader = h.readyLeader();
    const gone = ABC.find((n) => n !== leader) as string;
    const req = h.request(leader, { op: "remove-server", node: gone });
    settle(h, req);
    expect(h.replyTo(req)).toMatchObject({ ok: true, membership: { voters: ABC.filter((n) => n !== gone) } });
    h.crash(gone);
    const p = h.request(leader, { op: "propose", command: "after" });
    settle(h, p);
    expect(h.replyTo(p)).toMatchObject({ ok: true });
    expect(h.violations).toEqual([]);
  });

  it("a leader that removes itself leads until the removal commits, then steps aside and never campaigns", () => {
    const h = new Harness({ nodes: ABC, seed: 33 });
    const leader = h.readyLeader();
    const req = h.request(leader, { op: "remove-server", node: leader });
    settle(h, req);
    expect(h.replyTo(req)).toMatchObject({ ok: true, membership: { voters: ABC.filter((n) => n !== leader) } });
    expect(h.traceOf("raft-step-down", leader).at(-1)?.event).toMatchObject({ reason: "removed" });
    const next = h.stableLeader();
    expect(next).not.toBe(leader);
    const campaigns = h.traceOf("raft-term", leader).filter((t) => t.event["why"] === "campaign").length;
    h.runFor(3000);
    expect(h.traceOf("raft-term", leader).filter((t) => t.event["why"] === "campaign").length).toBe(campaigns);
    expect(h.leaders()).toEqual([next]);
  });

  it("one change at a time; a server that cannot catch up fails the change and stays a learner", () => {
    const h = withSpare();
    const leader = h.readyLeader();
    h.crash("d");
    const add = h.request(leader, { op: "add-server", node: "d" });
    h.runFor(50);
    const second = h.request(leader, { op: "remove-server", node: ABC.find((n) => n !== leader) as string });
    expect(h.replyTo(second)).toMatchObject({ ok: false, error: "change-in-progress" });
    settle(h, add, 10 * h.config.electionTimeoutMaxMs + 1000);
    expect(h.replyTo(add)).toMatchObject({ ok: false, error: "catch-up-failed" });
    expect(h.node(leader).membership).toEqual({ voters: ABC, learners: ["d"] });
  });

  it("membership requests go to the leader", () => {
    const h = new Harness({ nodes: ABC, seed: 34 });
    const leader = h.readyLeader();
    const f = ABC.find((n) => n !== leader) as string;
    const req = h.request(f, { op: "add-server", node: "z" });
    expect(h.replyTo(req)).toEqual({ ok: false, error: "not-leader", leader, message: `the leader is ${leader}` });
  });
});
