import { describe, expect, it } from "vitest";
import { Replayer } from "./replay.js";
import { PEER_FLAG, type ClusterState } from "./state.js";
import { simTrace } from "./test-support/traces.js";
import type { Trace } from "./trace.js";
import { slotBar, slotViewBar, summarize } from "./views.js";

const at = (trace: Trace, t: number): ClusterState => new Replayer(trace, 2).seekTime(t);

describe("node state from events", () => {
  const trace = simTrace(
    ["n1", "n2", "n3"],
    [
      { t: 0, node: "n1", type: "recovered", fresh: true, name: "aaa", currentEpoch: 1, lastVoteEpoch: 0, configEpoch: 1, role: "master" },
      { t: 0, node: "n1", type: "claim", epoch: 1, slots: "0-8191" },
      { t: 0, node: "n2", type: "recovered", fresh: true, name: "bbb", currentEpoch: 2, lastVoteEpoch: 0, configEpoch: 2, role: "master" },
      { t: 0, node: "n2", type: "claim", epoch: 2, slots: "8192-16383" },
      { t: 0, node: "n3", type: "state", role: "replica", master: "n1", currentEpoch: 0, configEpoch: 1, slots: 0 },
      { t: 1, node: "n2", type: "send", id: 1, to: "n1", msg: "meet" },
      { t: 2, node: "n2", type: "handshake", about: "n1", name: "aaa" },
      { t: 2, node: "n3", type: "slots-owner", owner: "n1", name: "aaa", epoch: 1, slots: "0-8191", from: [null] },
      { t: 10, node: "n1", type: "fault", action: "crash" },
      { t: 20, node: "n2", type: "pfail", about: "n1", name: "aaa", silentMs: 10 },
      { t: 21, node: "n3", type: "failure-report", about: "n1", name: "aaa", by: "n2" },
      { t: 30, node: "n2", type: "fail", about: "n1", name: "aaa", reports: 1, needed: 1 },
      { t: 31, node: "n3", type: "failover-start", master: "n1", rank: 0, delayMs: 5, offset: 42, manual: false },
      { t: 36, node: "n3", type: "vote-request", epoch: 3, master: "n1" },
      { t: 37, node: "n2", type: "vote", for: "n3", epoch: 3, master: "n1" },
      { t: 38, node: "n3", type: "vote-received", from: "n2", epoch: 3, votes: 1 },
      { t: 40, node: "n3", type: "promoted", replaced: "n1", epoch: 3, how: "election", slots: "0-8191" },
      { t: 40, node: "n3", type: "claim", epoch: 3, slots: "0-8191" },
      { t: 50, node: "n1", type: "fault", action: "restart" },
      { t: 50, node: "n1", type: "recovered", fresh: false, name: "aaa", currentEpoch: 2, lastVoteEpoch: 0, configEpoch: 1, role: "master" },
      { t: 51, node: "n1", type: "slots-owner", owner: "n3", name: "ccc", epoch: 3, slots: "0-8191", from: ["n1"] },
      { t: 51, node: "n1", type: "demoted", to: "n3", lost: 8192 },
      { t: 51, node: "n1", type: "state", role: "replica", master: "n3", currentEpoch: 3, configEpoch: 3, slots: 0 },
      { t: 60, node: "n2", type: "fail-cleared", about: "n1", name: "aaa" },
    ],
  );

  it("roles, epochs and the claim of each node", () => {
    const s = at(trace, 5);
    expect(s.nodes.get("n1")).toMatchObject({ role: "master", name: "aaa", currentEpoch: 1, configEpoch: 1, claim: { epoch: 1, slots: [[0, 8191]] } });
    expect(s.nodes.get("n3")).toMatchObject({ role: "replica", master: "n1", claim: null });
    expect(slotBar(s).map((x) => [x.lo, x.hi, x.owner])).toEqual([
      [0, 8191, "n1"],
      [8192, 16383, "n2"],
    ]);
  });

  it("a MEET starts a handshake that the handshake event completes", () => {
    expect(at(trace, 1).nodes.get("n2")?.peers.get("n1")).toMatchObject({ flags: PEER_FLAG.handshake, name: null });
    expect(summarize(at(trace, 1), "n1").flags).toContain("handshake");
    expect(at(trace, 2).nodes.get("n2")?.peers.get("n1")).toMatchObject({ flags: 0, name: "aaa" });
  });

  it("crash, PFAIL, failure reports, FAIL as the map shows them", () => {
    expect(summarize(at(trace, 10), "n1").flags).toEqual(["crashed"]);
    expect(summarize(at(trace, 20), "n1")).toMatchObject({ flags: ["pfail", "crashed"], pfailBy: ["n2"] });
    expect([...(at(trace, 21).nodes.get("n3")?.peers.get("n1")?.reports ?? [])]).toEqual([["n2", 21]]);
    expect(summarize(at(trace, 30), "n1")).toMatchObject({ flags: ["fail", "crashed"], failBy: ["n2"], pfailBy: [] });
  });

  it("an election: start, votes, promotion; the slot bar follows the higher epoch", () => {
    expect(at(trace, 36).nodes.get("n3")?.election).toMatchObject({ master: "n1", epoch: 3, votes: 0, outcome: "running" });
    expect(at(trace, 36).nodes.get("n3")?.offset).toBe(42);
    expect(at(trace, 37).nodes.get("n2")?.lastVoteEpoch).toBe(3);
    const s = at(trace, 40);
    expect(s.nodes.get("n3")).toMatchObject({ role: "master", master: null, configEpoch: 3, election: { votes: 1, outcome: "promoted" } });
    expect(slotBar(s).map((x) => [x.lo, x.hi, x.owner, x.epoch, x.contested])).toEqual([
      [0, 8191, "n3", 3, true],
      [8192, 16383, "n2", 2, false],
    ]);
  });

  it("the old master restarts, loses its slots and follows the new one; FAIL clears", () => {
    const s = at(trace, 51);
    expect(s.nodes.get("n1")).toMatchObject({ status: "up", role: "replica", master: "n3", claim: null, configEpoch: 3, restarts: 1 });
    expect(slotBar(s).every((x) => !x.contested)).toBe(true);
    expect(slotViewBar(s.nodes.get("n1") as never).map((x) => [x.lo, x.hi, x.owner])).toEqual([
      [0, 8191, "n3"],
      [8192, 16383, null],
    ]);
    expect(summarize(s, "n1").flags).toEqual(["fail"]);
    expect(summarize(at(trace, 60), "n1").flags).toEqual([]);
  });

  it("a node's view of the slot owners comes from slots-owner events", () => {
    const v = slotViewBar(at(trace, 2).nodes.get("n3") as never);
    expect(v.map((x) => [x.lo, x.hi, x.owner])).toEqual([
      [0, 8191, "n1"],
      [8192, 16383, null],
    ]);
  });
});

describe("world faults", () => {
  const trace = simTrace(
    ["n1", "n2", "n3"],
    [
      { t: 1, type: "fault", action: "partition", id: "p1", groups: [["n1"], ["n2", "n3"]], oneWay: false },
      { t: 2, node: "n2", type: "fault", action: "pause" },
      { t: 3, node: "n3", type: "fault", action: "clog", to: "n1" },
      { t: 4, type: "fault", action: "heal", id: "p1" },
      { t: 5, node: "n2", type: "fault", action: "resume", queued: 3 },
      { t: 6, node: "n3", type: "fault", action: "unclog", to: "n1", released: 1 },
      { t: 7, node: "n3", type: "fault", action: "wipe" },
    ],
  );

  it("partitioned away: the smaller side of a partition, until it heals", () => {
    expect(summarize(at(trace, 1), "n1").flags).toEqual(["partitioned"]);
    expect(summarize(at(trace, 1), "n2").flags).toEqual([]);
    expect(summarize(at(trace, 4), "n1").flags).toEqual([]);
  });

  it("pause and resume, clog and unclog", () => {
    expect(summarize(at(trace, 2), "n2").flags).toEqual(["paused"]);
    expect([...at(trace, 3).clogs]).toEqual(["n3>n1"]);
    expect(summarize(at(trace, 5), "n2").flags).toEqual([]);
    expect([...at(trace, 6).clogs]).toEqual([]);
  });

  it("a wipe forgets everything the node knew", () => {
    const t = simTrace(
      ["n1", "n2"],
      [
        { t: 0, node: "n1", type: "recovered", fresh: true, name: "aaa", currentEpoch: 4, lastVoteEpoch: 0, configEpoch: 1, role: "master" },
        { t: 1, node: "n1", type: "handshake", about: "n2", name: "bbb" },
        { t: 2, node: "n1", type: "fault", action: "crash" },
        { t: 3, node: "n1", type: "fault", action: "wipe" },
      ],
    );
    expect(at(t, 3).nodes.get("n1")).toMatchObject({ name: null, currentEpoch: null, status: "crashed", peers: new Map() });
  });
});

describe("Raft and the toy leader election", () => {
  it("core/raft's events: recovery, campaign, leadership, commit, configuration, step-down", () => {
    const trace = simTrace(
      ["r1", "r2"],
      [
        { t: 0, node: "r1", type: "raft-recovered", fresh: false, term: 1, votedFor: "r2", snapshotIndex: 0, lastIndex: 4, tornTail: false },
        { t: 0, node: "r1", type: "raft-role", role: "follower", term: 1 },
        { t: 1, node: "r1", type: "raft-term", term: 2, why: "campaign", from: null },
        { t: 1, node: "r1", type: "raft-role", role: "candidate", term: 2 },
        { t: 2, node: "r2", type: "raft-term", term: 2, why: "higher-term", from: "r1" },
        { t: 2, node: "r2", type: "vote", term: 2, for: "r1" },
        { t: 3, node: "r1", type: "raft-role", role: "leader", term: 2 },
        { t: 3, node: "r1", type: "raft-leader", term: 2 },
        { t: 4, node: "r1", type: "raft-commit", index: 7, term: 2 },
        { t: 4, node: "r1", type: "raft-config", index: 7, voters: ["r1", "r2"], learners: [] },
        { t: 9, node: "r1", type: "raft-step-down", term: 2, reason: "check-quorum" },
      ],
    );
    expect(at(trace, 0).nodes.get("r1")).toMatchObject({ role: "follower", raft: { term: 1, vote: "r2", lastIndex: 4 } });
    expect(at(trace, 1).nodes.get("r1")).toMatchObject({ role: "candidate", raft: { term: 2, vote: "r1", leader: null } });
    expect(at(trace, 2).nodes.get("r2")?.raft).toMatchObject({ term: 2, vote: "r1" });
    const s = at(trace, 4);
    expect(s.nodes.get("r1")).toMatchObject({ role: "leader", raft: { term: 2, vote: "r1", leader: "r1", commit: 7, lastIndex: 7, voters: ["r1", "r2"] } });
    expect(summarize(s, "r1").term).toBe(2);
    expect(at(trace, 9).nodes.get("r1")).toMatchObject({ role: "follower", raft: { leader: null } });
  });

  it("raft-leader naming another node, raft-commit's other spellings", () => {
    const trace = simTrace(
      ["r1", "r2"],
      [
        { t: 1, node: "r2", type: "raft-leader", leader: "r1", term: 3 },
        { t: 2, node: "r2", type: "raft-commit", commitIndex: 5 },
      ],
    );
    expect(at(trace, 2).nodes.get("r2")).toMatchObject({ role: null, raft: { term: 3, leader: "r1", commit: 5 } });
  });

  it("the toy machine's state, vote, leader and step-down events", () => {
    const trace = simTrace(
      ["n1", "n2"],
      [
        { t: 0, node: "n1", type: "state", role: "follower", term: 0, leader: null },
        { t: 1, node: "n1", type: "vote-request", term: 1 },
        { t: 2, node: "n2", type: "vote", term: 1, for: "n1" },
        { t: 3, node: "n1", type: "leader", term: 1 },
        { t: 9, node: "n1", type: "step-down", term: 1, reason: "lost-quorum" },
      ],
    );
    expect(at(trace, 1).nodes.get("n1")).toMatchObject({ role: "candidate", raft: { term: 1, vote: "n1" } });
    expect(at(trace, 2).nodes.get("n2")?.raft).toMatchObject({ term: 1, vote: "n1" });
    expect(at(trace, 3).nodes.get("n1")).toMatchObject({ role: "leader", raft: { leader: "n1" } });
    expect(at(trace, 9).nodes.get("n1")).toMatchObject({ role: "follower", raft: { leader: null } });
  });
});
