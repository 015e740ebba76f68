// raft-swarm.yaml passes on a handful of seeds, and those seeds really did what the swarm claims:
// faults of every kind, leader changes, snapshots, admin commands. (The 10,000-seed sweep is a
// bench section: `npm run bench -- --only raft-explore`.)

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "./run.js";
import { loadScenario } from "./scenario/load.js";

const path = join(import.meta.dirname, "..", "scenarios", "raft-swarm.yaml");
const SEEDS = [1, 2, 3, 4, 5, 6];

describe("raft-swarm", () => {
  it("passes every check and converges on seeds 1..6, under faults of every kind", () => {
    const scenario = loadScenario(path, readFileSync(path, "utf8"));
    const actions = new Set<string>();
    const events = new Set<string>();
    let leaders = 0;
    let opsOk = 0;
    let lossDrops = 0;
    let duplicated = 0;
    for (const seed of SEEDS) {
      const lines: Record<string, unknown>[] = [];
      const r = runScenario(scenario, { seed, detail: "events", sink: { write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>), close: () => {} } });
      expect(r.failures.map((f) => `${f.name}: ${f.message}`), `seed ${seed}`).toEqual([]);
      expect(r.pass).toBe(true);
      expect(r.swarm?.convergedAtMs, `seed ${seed} converged`).not.toBeNull();
      for (const a of r.applied) actions.add(Object.keys(a.entry).find((k) => k !== "for" && k !== "name") as string);
      for (const e of lines) {
        events.add(e["type"] === "raft-snapshot" ? `raft-snapshot ${String(e["why"])}` : String(e["type"]));
        if (e["type"] === "raft-leader") leaders += 1;
      }
      opsOk += r.stats.workload?.ok ?? 0;
      lossDrops += r.stats.drops["loss"] ?? 0;
      duplicated += r.stats.messagesDuplicated;
    }
    // The swarm injected every kind of fault over these seeds, and the protocol had work to do.
    // (Restarts, resumes, heals and unclogs are recorded as the `for:` of the fault they undo.)
    for (const a of ["crash", "pause", "partition", "clog", "clock", "command"]) expect(actions, a).toContain(a);
    expect(lossDrops).toBeGreaterThan(0);
    expect(duplicated).toBeGreaterThan(0);
    expect(leaders).toBeGreaterThan(SEEDS.length * 2);
    expect(events).toContain("raft-snapshot compaction");
    expect(events).toContain("admin-reply");
    expect(opsOk).toBeGreaterThan(100);
  });
});
