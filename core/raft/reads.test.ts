import { describe, expect, it } from "vitest";
import { Harness } from "./test-support/harness.js";

const FIVE = ["a", "b", "c", "d", "e"];

function settle(h: Harness, reqId: number, maxMs = 2000): void {
  expect(h.runUntilTrue(() => h.replyTo(reqId) !== undefined, maxMs)).toBe(true);
}

describe("ReadIndex reads", () => {
  it("answer only after a heartbeat round that a majority acknowledged", () => {
    const h = new Harness({ nodes: FIVE, seed: 41 });
    const leader = h.readyLeader();
    const p = h.request(leader, { op: "propose", command: "x" });
    settle(h, p);
    const heartbeats = h.sentOf("heartbeat", leader);
    const r = h.request(leader, { op: "read", query: null });
    expect(h.replyTo(r)).toBeUndefined(); // not from local state alone
    expect(h.sentOf("heartbeat", leader)).toBe(heartbeats + 4); // a round starts at once
    settle(h, r);
    expect(h.replyTo(r)).toEqual({ ok: true, op: "read", index: h.node(leader).commitIndex, value: ["x"] });
  });

  it("a leader cut off from the majority never answers; it fails the read when it steps down", () => {
    const h = new Harness({ nodes: FIVE, seed: 41 });
    const leader = h.readyLeader();
    h.isolate(leader);
    const r = h.request(leader, { op: "read", query: null });
    h.runFor(h.config.electionTimeoutMinMs);
    expect(h.replyTo(r)).toBeUndefined();
    settle(h, r);
    expect(h.replyTo(r)).toMatchObject({ ok: false, error: "not-leader" });
  });

  it("wait until the state machine can answer (a watch), which is after the next apply", () => {
    const h = new Harness({ nodes: FIVE, seed: 42 });
    const leader = h.readyLeader();
    const r = h.request(leader, { op: "read", query: { atLeast: 1 } });
    h.runFor(200);
    expect(h.replyTo(r)).toBeUndefined();
    h.request(leader, { op: "propose", command: "y" });
    settle(h, r);
    expect(h.replyTo(r)).toMatchObject({ ok: true, value: ["y"] });
  });

  it("a new leader answers only once it has committed an entry of its term", () => {
    const h = new Harness({ nodes: FIVE, seed: 43 });
    expect(h.runUntilTrue(() => h.leaders().length === 1, 3000)).toBe(true);
    const leader = h.leaders()[0] as string;
    const m = h.node(leader);
    expect(m.termAt(m.commitIndex)).not.toBe(m.currentTerm);
    const r = h.request(leader, { op: "read", query: null });
    settle(h, r);
    const reply = h.replyTo(r);
    expect(reply).toMatchObject({ ok: true, op: "read" });
    expect(m.termAt((reply as { index: number }).index)).toBe(m.currentTerm);
  });
});

describe("lease reads", () => {
  it("are refused without CheckQuorum", () => {
    const h = new Harness({ nodes: FIVE, seed: 44, config: { checkQuorum: false } });
    const leader = h.readyLeader();
    const r = h.request(leader, { op: "read", query: null, mode: "lease" });
    expect(h.replyTo(r)).toEqual({
      ok: false,
      error: "lease-needs-check-quorum",
      leader,
      message: "lease reads are safe only with checkQuorum on; use a ReadIndex read",
    });
  });

  it("are answered at once while the lease holds, and fall back to ReadIndex once it lapses", () => {
    const h = new Harness({ nodes: FIVE, seed: 44 });
    const leader = h.readyLeader();
    h.runFor(h.config.heartbeatMs * 2);
    const heartbeats = h.sentOf("heartbeat", leader);
    const r = h.request(leader, { op: "read", query: null, mode: "lease" });
    expect(h.replyTo(r)).toMatchObject({ ok: true, op: "read" });
    expect(h.sentOf("heartbeat", leader)).toBe(heartbeats);
    // Cut off, the lease runs out before CheckQuorum steps the leader down; reads then wait.
    h.isolate(leader);
    h.runFor(h.config.electionTimeoutMinMs);
    expect(h.node(leader).role).toBe("leader");
    const late = h.request(leader, { op: "read", query: null, mode: "lease" });
    expect(h.replyTo(late)).toBeUndefined();
    settle(h, late);
    expect(h.replyTo(late)).toMatchObject({ ok: false, error: "not-leader" });
  });
});

describe("clients", () => {
  it("followers redirect to the leader they know; status is answered anywhere", () => {
    const h = new Harness({ nodes: ["a", "b", "c"], seed: 45 });
    const leader = h.readyLeader();
    const f = ["a", "b", "c"].find((n) => n !== leader) as string;
    expect(h.replyTo(h.request(f, { op: "propose", command: 1 }))).toEqual({ ok: false, error: "not-leader", leader, message: `the leader is ${leader}` });
    const s = h.replyTo(h.request(f, { op: "status" }));
    expect(s).toMatchObject({ ok: true, op: "status", status: { id: f, role: "follower", leader, membership: { voters: ["a", "b", "c"], learners: [] } } });
  });

  it("a node that knows no leader says so", () => {
    const h = new Harness({ nodes: ["a", "b", "c"], seed: 46 });
    expect(h.replyTo(h.request("a", { op: "read", query: null }))).toEqual({ ok: false, error: "not-leader", leader: null, message: "no leader is known" });
  });

  it.each([
    [{ op: "nope" }, 'unknown op "nope" (propose, read, status, add-server, add-learner, remove-server, transfer-leadership)'],
    [{ op: "propose" }, "propose needs a `command`"],
    [{ op: "read", query: 1, mode: "fast" }, "read `mode` is `index` or `lease`"],
    [{ op: "add-server", node: "" }, "add-server needs a `node` (a non-empty string)"],
    [{ op: "transfer-leadership" }, "transfer-leadership needs `to` (a non-empty string)"],
    ["status", "a request is an object with an `op`"],
  ])("a malformed request %j gets a clear error", (req, message) => {
    const h = new Harness({ nodes: ["a"], seed: 47 });
    expect(h.replyTo(h.request("a", req))).toMatchObject({ ok: false, error: "bad-request", message });
  });

  it("a malformed peer message is dropped and traced", () => {
    const h = new Harness({ nodes: ["a", "b", "c"], seed: 48 });
    h.inject("a", "b", { type: "append-entries", term: "x" } as never);
    expect(h.traceOf("raft-bad-message", "a").map((t) => t.event)).toEqual([{ type: "raft-bad-message", from: "b", msgType: "append-entries" }]);
  });

  it("the stamp hook rewrites a proposal on the leader, with the leader's clock, before it is replicated", () => {
    const h = new Harness({ nodes: ["a", "b", "c"], seed: 50, hooks: { stamp: (command, nowMs) => ({ command, atMs: Math.floor(nowMs) }) } });
    const leader = h.readyLeader();
    const at = Math.floor(h.nowMs);
    const p = h.request(leader, { op: "propose", command: "w" });
    settle(h, p);
    h.runFor(100);
    for (const n of ["a", "b", "c"]) expect(h.sm(n).items).toEqual([{ command: "w", atMs: at }]);
  });

  it("a single node is a cluster: it elects itself, commits and reads alone", () => {
    const h = new Harness({ nodes: ["solo"], seed: 49 });
    const leader = h.readyLeader();
    const p = h.request(leader, { op: "propose", command: "z" });
    settle(h, p);
    const r = h.request(leader, { op: "read", query: null });
    expect(h.replyTo(r)).toMatchObject({ ok: true, value: ["z"] });
  });
});
