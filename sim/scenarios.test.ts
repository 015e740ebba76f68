// Every shipped scenario passes on its own seed, and on a few more: the scenarios are claims about
// the protocols, so a regression in core/ shows up here. (Long seed sweeps live in bench/.)

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "./run.js";
import { loadScenario } from "./scenario/load.js";

const dir = join(import.meta.dirname, "..", "scenarios");
const files = readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();

describe("shipped scenarios", () => {
  it("there are cluster scenarios to run", () => {
    expect(files).toContain("master-crash.yaml");
    expect(files.length).toBeGreaterThanOrEqual(14);
  });

  it.each(files)("%s passes on its seed and seeds 2..4", (file) => {
    const path = join(dir, file);
    const scenario = loadScenario(path, readFileSync(path, "utf8"));
    for (const seed of [scenario.data.seed, 2, 3, 4]) {
      const r = runScenario(scenario, { seed, sink: null, detail: "events" });
      const why = r.failures.map((f) => `${f.name}: ${f.message}`).join("; ");
      expect(r.pass, `${file} seed ${seed}: ${why}`).toBe(true);
    }
  });
});

describe("redis-cluster client histories", () => {
  const noFaults = [
    "name: quiet-cluster",
    "machine: redis-cluster",
    "nodes: 6",
    "durationMs: 6000",
    "config: { topology: { masters: 3, replicasPerMaster: 1 }, nodeTimeoutMs: 1000 }",
    "workload: { clients: 4, thinkMs: 5, timeoutMs: 1000 }",
    "",
  ].join("\n");

  it("with no faults, every key's history is linearizable", () => {
    const scenario = loadScenario("quiet-cluster.yaml", noFaults);
    for (const seed of [1, 2, 3]) {
      const r = runScenario(scenario, { seed, sink: null, detail: "events" });
      const lin = r.reports.find((x) => x.name === "linearizable");
      expect(lin?.figures["verdict"], `seed ${seed}: ${lin?.text}`).toBe("ok");
      expect(lin?.figures["operations"] as number).toBeGreaterThan(500);
    }
  });

  it("a partitioned master that keeps acknowledging writes makes some history non-linearizable", () => {
    const path = join(dir, "master-minority-partition.yaml");
    const r = runScenario(loadScenario(path, readFileSync(path, "utf8")), { seed: 1, sink: null, detail: "events" });
    const lost = r.reports.find((x) => x.name === "writes lost")?.figures["lost"] as number;
    const lin = r.reports.find((x) => x.name === "linearizable");
    expect(lost).toBeGreaterThan(0);
    expect(lin?.figures["verdict"]).toBe("violation");
    expect(lin?.text).toMatch(/^no: key k\d+: c\d lrange/);
  });
});
