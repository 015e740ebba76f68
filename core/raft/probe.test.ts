// Regression: a leader's probe must not be restarted by replies that say nothing new.
//
// Found by the raft-swarm sweep (seed 3390 with a planted bug on, where the bug played no part): a
// follower on a reordering, duplicating network was probed, every stale or duplicated success
// reply unpaused the probe and sent another append, each answered by another reply, and the
// chains multiplied until the simulator's event budget (50 million) ran out. Before the fix a
// success reply always unpaused and re-sent, and a probe answered at exactly the match index (an
// empty probe after a snapshot) stayed a probe, so even one chain ran forever.

import { describe, expect, it } from "vitest";
import { Harness } from "./test-support/harness.js";

const THREE = ["a", "b", "c"];

describe("probing a follower", () => {
  it("a follower brought up by a snapshot that covers the whole log gets no appends once caught up", () => {
    // Snapshots every 5 entries; the leader's no-op and 9 commands end at index 10, a snapshot point.
    const h = new Harness({ nodes: THREE, seed: 21, config: { snapshotEveryEntries: 5 } });
    const l = h.stableLeader();
    const f = THREE.find((n) => n !== l) as string;
    h.crash(f);
    const ids = Array.from({ length: 9 }, (_, i) => h.request(l, { op: "propose", command: `x${i}` }));
    expect(h.runUntilTrue(() => ids.every((id) => h.replyTo(id) !== undefined), 2000)).toBe(true);
    h.runFor(50);
    expect(h.node(l).snapshotIndex).toBe(h.node(l).lastIndex);
    h.restart(f);
    expect(h.runUntilTrue(() => h.node(f).lastApplied === h.node(l).lastIndex, 2000)).toBe(true);
    expect(h.sentOf("install-snapshot", l, f)).toBe(1);
    h.runFor(100);
    // Caught up and nothing new proposed: heartbeats only.
    const appends = h.sentOf("append-entries", l, f);
    const heartbeats = h.sentOf("heartbeat", l, f);
    h.runFor(1000);
    expect(h.sentOf("append-entries", l, f) - appends).toBe(0);
    expect(h.sentOf("heartbeat", l, f) - heartbeats).toBeGreaterThanOrEqual(15);
    expect(h.violations).toEqual([]);
  });

  it("duplicated and reordered replies during a catch-up do not multiply the appends", () => {
    // One entry per append, latencies 0.2–5 ms (so appends overtake one another), a fifth of all
    // messages delivered twice. 40 entries to catch up; before the fix this took 1,300–2,900
    // appends and the count grew with every duplicate.
    for (const seed of [1, 2, 3]) {
      const h = new Harness({ nodes: THREE, seed, latencyMs: [0.2, 5], duplicateRate: 0.2, config: { entriesPerMessageMax: 1, snapshotEveryEntries: 0 } });
      const l = h.stableLeader();
      const f = THREE.find((n) => n !== l) as string;
      h.crash(f);
      for (let i = 0; i < 40; i++) h.request(l, { op: "propose", command: `x${i}` });
      h.runFor(100);
      h.restart(f);
      const before = h.sentOf("append-entries", l, f);
      expect(h.runUntilTrue(() => h.node(f).lastIndex === h.node(l).lastIndex, 2000)).toBe(true);
      const appends = h.sentOf("append-entries", l, f) - before;
      // Every stale reply used to add a chain; now they add nothing (what remains is go-back-N
      // after reordering: a gap sends the pipeline back to the probe point).
      expect(appends, `seed ${seed}`).toBeLessThan(1200);
      h.runFor(500);
      expect(h.violations).toEqual([]);
    }
  });
});
