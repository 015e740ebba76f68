// Per-seed draws of protocol settings (`swarm.config`) and of the disks' fsync latency
// (`swarm.faults.disk.syncLatency`): checked at load, drawn per seed from their own streams, given
// to the nodes and disks, printed, and written out by `sim shrink`.

import { describe, expect, it } from "vitest";
import { runScenario } from "../run.js";
import { loadScenario, ScenarioError } from "../scenario/load.js";
import { shrink } from "../shrink.js";

const RAFT_SWARM = [
  "machine: raft",
  "nodes: 5",
  "network: { mode: datagram }",
  "swarm:",
  "  safetyMs: 1500",
  "  livenessMs: 1500",
  "  config:",
  "    preVote: [true, false]",
  "    entriesPerMessageMax: [1, 64]",
  "  faults:",
  "    crash: { ratePerMin: [30, 60], downMs: [50, 300] }",
  "    disk: { unsyncedOnCrash: [lose], tornWrite: [0, 0], syncLatency: [{ dist: constant, ms: 1 }, { dist: constant, ms: 30 }] }",
  "",
].join("\n");

function loadError(source: string): string {
  try {
    loadScenario("s.yaml", source);
  } catch (e) {
    if (e instanceof ScenarioError) return e.message;
    throw e;
  }
  throw new Error("expected the scenario to be rejected");
}

describe("swarm.config and swarm.faults.disk.syncLatency", () => {
  it("are checked at load: an unknown setting or a bad value is reported where it is written", () => {
    expect(loadError(RAFT_SWARM.replace("    preVote: [true, false]", "    preVotes: [true, false]"))).toBe('s.yaml:8:5: swarm.config.preVotes: unknown setting "preVotes"');
    expect(loadError(RAFT_SWARM.replace("entriesPerMessageMax: [1, 64]", "entriesPerMessageMax: [1, -4]"))).toMatch(/^s\.yaml:9:31: swarm\.config\.entriesPerMessageMax\[1\]: /);
    expect(loadError(RAFT_SWARM.replace("    preVote: [true, false]", "    preVote: true"))).toMatch(/swarm\.config\.preVote: expected a list of values to choose from/);
    expect(loadError(RAFT_SWARM.replace("{ dist: constant, ms: 30 }", "{ dist: constant }"))).toMatch(/swarm\.faults\.disk\.syncLatency\[1\]\.ms: required/);
  });

  it("each seed draws one value per setting, and its nodes and disks run with it", () => {
    const scenario = loadScenario("raft-config-swarm.yaml", RAFT_SWARM);
    const seen = new Set<string>();
    for (let seed = 1; seed <= 12; seed++) {
      const lines: Record<string, unknown>[] = [];
      const r = runScenario(scenario, { seed, detail: "events", sink: { write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>), close: () => {} } });
      expect(r.failures, `seed ${seed}`).toEqual([]);
      const draw = r.swarm?.draw;
      const preVote = draw?.config?.["preVote"];
      const fsyncMs = (draw?.syncLatency as { ms: number } | undefined)?.ms;
      expect([true, false]).toContain(preVote);
      expect([1, 64]).toContain(draw?.config?.["entriesPerMessageMax"]);
      expect([1, 30]).toContain(fsyncMs);
      seen.add(`preVote=${String(preVote)} fsync=${String(fsyncMs)}`);
      // PreVote: members become pre-candidates exactly when it is on.
      expect(lines.some((e) => e["type"] === "raft-role" && e["role"] === "pre-candidate"), `seed ${seed}`).toBe(preVote === true);
      // The disk: a leader's first event waits for its no-op's fsync, after the votes' fsyncs.
      const campaign = lines.find((e) => e["type"] === "raft-term" && e["why"] === "campaign");
      const leader = lines.find((e) => e["type"] === "raft-leader" && e["node"] === campaign?.["node"] && e["term"] === campaign?.["term"]);
      if (campaign !== undefined && leader !== undefined) {
        const took = (leader["t"] as number) - (campaign["t"] as number);
        if (fsyncMs === 30) expect(took, `seed ${seed}`).toBeGreaterThanOrEqual(30);
        else expect(took, `seed ${seed}`).toBeLessThan(30);
      }
    }
    // Over twelve seeds every combination of the two came up.
    expect([...seen].sort()).toEqual(["preVote=false fsync=1", "preVote=false fsync=30", "preVote=true fsync=1", "preVote=true fsync=30"]);
  });

  it("a value invalid with the base config is refused at load; an invalid combination when drawn, saying which", () => {
    const withChoices = (lines: string) => RAFT_SWARM.replace("    preVote: [true, false]\n    entriesPerMessageMax: [1, 64]\n", lines);
    expect(loadError(withChoices("    heartbeatMs: [50, 200]\n"))).toBe("s.yaml:8:23: swarm.config.heartbeatMs[1]: heartbeatMs must be shorter than the election timeout");
    // Each value is fine with the base config; 100 ms heartbeats with 80–90 ms timeouts are not.
    const s = loadScenario("s.yaml", withChoices("    heartbeatMs: [50, 100]\n    electionTimeoutMs: [[150, 300], [80, 90]]\n"));
    expect(() => {
      for (let seed = 1; seed <= 20; seed++) runScenario(s, { seed, sink: null });
    }).toThrow('swarm.config: the settings drawn, {"heartbeatMs":100,"electionTimeoutMs":[80,90]}, are invalid for n1: heartbeatMs: heartbeatMs must be shorter than the election timeout');
  });

  it("sim shrink writes the drawn settings into the scenario it produces", () => {
    const failing = `${RAFT_SWARM}expect:\n  - name: no leader ever\n    always: { count: live, role: leader, max: 0 }\n`;
    const scenario = loadScenario("s.yaml", failing);
    const r = shrink(scenario, 3);
    const draw = r.original.swarm?.draw;
    expect(r.yaml).toContain(`preVote: ${String(draw?.config?.["preVote"])}`);
    expect(r.yaml).toContain(`entriesPerMessageMax: ${String(draw?.config?.["entriesPerMessageMax"])}`);
    expect(r.yaml).toMatch(new RegExp(`syncLatency:\\s+dist: constant\\s+ms: ${(draw?.syncLatency as { ms: number }).ms}`));
    expect(r.final.failures[0]?.name).toBe("no leader ever");
  });
});
