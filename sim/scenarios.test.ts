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
