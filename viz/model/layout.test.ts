import { describe, expect, it } from "vitest";
import { formatMs, laneOrder, mapLayout, shards, shortNames } from "./layout.js";
import { buildModel } from "./model.js";
import { Replayer } from "./replay.js";
import { header, jsonl, simTrace } from "./test-support/traces.js";

const cluster = [
  { t: 0, node: "n1", type: "state", role: "master", master: null, currentEpoch: 1, configEpoch: 1, slots: 100 },
  { t: 0, node: "n1", type: "claim", epoch: 1, slots: "0-99" },
  { t: 0, node: "n2", type: "state", role: "master", master: null, currentEpoch: 2, configEpoch: 2, slots: 100 },
  { t: 0, node: "n2", type: "claim", epoch: 2, slots: "100-16383" },
  { t: 0, node: "n3", type: "state", role: "replica", master: "n1", currentEpoch: 0, configEpoch: 1, slots: 0 },
  { t: 0, node: "n4", type: "state", role: "replica", master: "n2", currentEpoch: 0, configEpoch: 2, slots: 0 },
  { t: 0, node: "n5", type: "state", role: "replica", master: "n1", currentEpoch: 0, configEpoch: 1, slots: 0 },
  { t: 5, node: "n1", type: "fault", action: "crash" },
  { t: 9, node: "n3", type: "promoted", replaced: "n1", epoch: 3, how: "election", slots: "0-99" },
  { t: 9, node: "n3", type: "claim", epoch: 3, slots: "0-99" },
  { t: 10, node: "n5", type: "state", role: "replica", master: "n3", currentEpoch: 3, configEpoch: 3, slots: 0 },
];

describe("layout", () => {
  const trace = simTrace(["n1", "n2", "n3", "n4", "n5", "n6"], cluster);
  const r = new Replayer(trace, 4);

  it("shards: a master with its replicas, by lowest slot; a node with no role alone at the end", () => {
    expect(shards(r.seekTime(0), trace.nodes).map((s) => [s.head, s.members, s.firstSlot])).toEqual([
      ["n1", ["n1", "n3", "n5"], 0],
      ["n2", ["n2", "n4"], 100],
      [null, ["n6"], null],
    ]);
  });

  it("after a failover the old master joins the shard of the node that took its slots", () => {
    expect(shards(r.seekTime(10), trace.nodes).map((s) => [s.head, s.members])).toEqual([
      ["n3", ["n3", "n1", "n5"]],
      ["n2", ["n2", "n4"]],
      [null, ["n6"]],
    ]);
  });

  it("a Raft-like machine is one group in trace order", () => {
    const t = simTrace(["r1", "r2"], [{ t: 0, node: "r2", type: "raft-role", role: "leader", term: 1 }]);
    expect(shards(new Replayer(t).seekTime(0), t.nodes)).toEqual([{ head: null, members: ["r1", "r2"], firstSlot: null }]);
    const m = buildModel([{ name: "raft", text: jsonl([header(["r1", "r2"], "raft"), { t: 0, node: "r2", type: "raft-role", role: "leader", term: 1 }]) }]);
    expect([m.hasSlots, m.lanes]).toEqual([false, ["r1", "r2"]]);
  });

  it("lanes: shard by shard, then clients", () => {
    expect(laneOrder(shards(r.seekTime(0), trace.nodes), ["c1", "c2"])).toEqual(["n1", "n3", "n5", "n2", "n4", "n6", "c1", "c2"]);
  });

  it("map positions: one column per shard, head on top; columns wrap when narrow", () => {
    const groups = shards(r.seekTime(0), trace.nodes);
    const wide = mapLayout(groups, 300, 300);
    expect(wide.nodes.map((p) => [p.id, Math.round(p.x), Math.round(p.y), p.shard])).toEqual([
      ["n1", 50, 64, 0],
      ["n3", 50, 150, 0],
      ["n5", 50, 236, 0],
      ["n2", 150, 64, 1],
      ["n4", 150, 150, 1],
      ["n6", 250, 64, 2],
    ]);
    const narrow = mapLayout(groups, 200, 300);
    expect(narrow.boxes.map((b) => [Math.round(b.x), Math.round(b.y)])).toEqual([
      [4, 2],
      [104, 2],
      [4, 152],
    ]);
    expect(mapLayout([], 100, 100)).toEqual({ nodes: [], radius: 0, boxes: [] });
  });

  it("short labels: what follows the shared address", () => {
    expect([...shortNames(["127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:17002"]).values()]).toEqual(["7000", "7001", "17002"]);
    expect([...shortNames(["10.0.0.1:7000", "10.0.0.2:7000"]).values()]).toEqual(["1:7000", "2:7000"]);
    expect([...shortNames(["n1", "n2", "n10"]).values()]).toEqual(["n1", "n2", "n10"]);
    expect([...shortNames(["a:1"]).values()]).toEqual(["a:1"]);
  });

  it("formats times", () => {
    expect([formatMs(0.5), formatMs(999.9994), formatMs(7368.367)]).toEqual(["0.5 ms", "999.999 ms", "7.368 s"]);
  });
});
