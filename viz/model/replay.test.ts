import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "../../sim/run.js";
import { loadScenario } from "../../sim/scenario/load.js";
import { clientHistory } from "./clients.js";
import { shards } from "./layout.js";
import { buildModel } from "./model.js";
import { Replayer } from "./replay.js";
import { applyEvent, emptyState, type ClusterState } from "./state.js";
import { loadTrace } from "./trace.js";
import { slotBar, summarize } from "./views.js";

/** The master-crash scenario's trace at `messages` detail, made in memory. */
function masterCrashTrace(): string {
  const path = join(import.meta.dirname, "..", "..", "scenarios", "master-crash.yaml");
  const lines: string[] = [];
  runScenario(loadScenario(path, readFileSync(path, "utf8")), { sink: { write: (l) => lines.push(l), close: () => {} }, detail: "messages" });
  return lines.join("\n");
}

/** Everything a seek answers, as plain data, to compare two states. */
function plain(s: ClusterState): unknown {
  return {
    applied: s.applied,
    t: s.t,
    partitions: [...s.partitions],
    clogs: [...s.clogs],
    nodes: [...s.nodes.values()].map((n) => ({ ...n, peers: [...n.peers].map(([k, p]) => [k, { ...p, reports: [...p.reports] }]), slotView: n.slotView.ranges })),
  };
}

describe("seeking with checkpoints (master-crash trace)", () => {
  const text = masterCrashTrace();
  const trace = loadTrace([{ name: "master-crash.jsonl", text }]);
  const event = (type: string, node: string) => trace.events.find((e) => e.type === type && e.node === node);

  it("n1 crashes and goes FAIL; n4 is promoted with a higher configEpoch and takes slots 0-5460", () => {
    const promoted = event("promoted", "n4");
    expect(promoted).toBeDefined();
    const s = new Replayer(trace).seekTime((promoted?.t ?? 0) + 1);
    expect(summarize(s, "n1")).toMatchObject({ status: "crashed", flags: ["fail", "crashed"], role: "master", configEpoch: 1 });
    expect(summarize(s, "n1").failBy).toEqual(["n2", "n3", "n4", "n5", "n6"]);
    const n4 = summarize(s, "n4");
    expect(n4).toMatchObject({ role: "master", flags: [], slots: 5461 });
    expect(n4.configEpoch).toBeGreaterThan(summarize(s, "n1").configEpoch ?? Infinity);
    expect(slotBar(s)[0]).toMatchObject({ lo: 0, hi: 5460, owner: "n4", contested: true });
    expect(shards(s, trace.nodes)[0]?.members).toEqual(["n4", "n1"]);
  });

  it("at the end n1 has rejoined as n4's replica and nobody holds it FAIL", () => {
    const s = new Replayer(trace).seekIndex(trace.events.length);
    expect(summarize(s, "n1")).toMatchObject({ status: "up", role: "replica", master: "n4", flags: [], slots: 0 });
    expect(summarize(s, "n4")).toMatchObject({ role: "master", configEpoch: 5 });
    expect(slotBar(s).map((x) => [x.lo, x.hi, x.owner, x.contested])).toEqual([
      [0, 5460, "n4", false],
      [5461, 10922, "n2", false],
      [10923, 16383, "n3", false],
    ]);
  });

  it("any seek, forwards or backwards, equals replaying from zero and applies at most one interval of events", () => {
    const interval = 500;
    const r = new Replayer(trace, interval);
    expect(r.checkpointCount).toBe(Math.floor(trace.events.length / interval) + 1);
    const n = trace.events.length;
    // Forwards, backwards, small steps (playing), and the ends.
    const targets = [n, 0, 3_217, 3_100, 3_150, 3_151, 6_999, 1, n - 1, 2_000, 2_500, 2_499];
    for (const k of targets) {
      const got = plain(r.seekIndex(k));
      expect(r.lastSeekCost).toBeLessThan(interval);
      const fresh = emptyState(trace.nodes);
      for (let i = 0; i < k; i++) applyEvent(fresh, trace.events[i] as never);
      expect(got, `seek to ${k}`).toEqual(plain(fresh));
    }
  });

  it("the model: lanes fixed from before the first fault, client ops, key events", () => {
    const m = buildModel([{ name: "mc", text }]);
    expect(m.lanes.slice(0, 6)).toEqual(["n1", "n4", "n2", "n5", "n3", "n6"]);
    expect(m.lanes.slice(6)).toEqual(["c1", "c2", "c3"]);
    expect(m.ops).toEqual(clientHistory(m.trace));
    expect(m.ops.filter((o) => o.outcome === "ok").length).toBeGreaterThan(500);
    const keyTypes = new Set(m.keyEvents.map((i) => m.trace.events[i]?.type));
    for (const t of ["fault", "pfail", "fail", "failover-start", "vote-request", "vote", "promoted"]) expect(keyTypes).toContain(t);
    expect(m.endT).toBe(16000);
    expect(m.hasSlots).toBe(true);
  });
});
