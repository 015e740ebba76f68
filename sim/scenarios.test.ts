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
    expect(lin?.text).toMatch(/^no: key k\d+: c\d (lrange|rpush)/);
  });
});

describe("redis-cluster data-plane scenarios", () => {
  const run = (file: string, seed?: number): ReturnType<typeof runScenario> => {
    const path = join(dir, file);
    const scenario = loadScenario(path, readFileSync(path, "utf8"));
    return runScenario(scenario, { seed: seed ?? scenario.data.seed, sink: null, detail: "events" });
  };

  it("wait-durability: WAIT-confirmed writes exist, and the invariant holds through two master crashes", () => {
    const r = run("wait-durability.yaml");
    expect(r.pass).toBe(true);
    expect(r.invariants.find((i) => i.name === "wait-durable")?.violated).toBe(false);
  });

  it("wait-durable catches a loss: with a whole shard crashed (no persistence yet) confirmed writes are gone", () => {
    const yaml = [
      "name: shard-loss",
      "machine: redis-cluster",
      "nodes: 6",
      "durationMs: 12000",
      "config: { topology: { masters: 3, replicasPerMaster: 1 }, nodeTimeoutMs: 1000 }",
      "workload: { kind: wait, clients: 6, thinkMs: 10, timeoutMs: 1000 }",
      "faults:",
      "  - { at: 4000, crash: [n1, n4], for: 3000 }",
      "",
    ].join("\n");
    const r = runScenario(loadScenario("shard-loss.yaml", yaml), { seed: 1, sink: null, detail: "events" });
    const f = r.failures.find((x) => x.name === "wait-durable");
    expect(f?.message).toMatch(/was confirmed by WAIT 1 and is gone/);
  });

  it("resharding-under-load: clients followed ASK and MOVED, nothing acknowledged was lost, histories stay linearizable", () => {
    const path = join(dir, "resharding-under-load.yaml");
    const scenario = loadScenario(path, readFileSync(path, "utf8"));
    const lines: { type: string; reply?: unknown }[] = [];
    const r = runScenario(scenario, { seed: 1, sink: { write: (l: string) => lines.push(JSON.parse(l)), close: () => {} }, detail: "events" });
    expect(r.pass).toBe(true);
    const errs = lines.filter((l) => l.type === "client-retry").map((l) => String((l.reply as { err?: string }).err).split(" ")[0]);
    expect(errs).toContain("ASK");
    expect(errs).toContain("MOVED");
    expect(r.reports.find((x) => x.name === "writes lost")?.figures["lost"]).toBe(0);
    expect(r.reports.find((x) => x.name === "linearizable")?.figures["verdict"]).toBe("ok");
  });

  it("pubsub-across-failover: messages reach subscribers on other nodes, and those published during the election are counted", () => {
    const r = run("pubsub-across-failover.yaml");
    expect(r.pass).toBe(true);
    const f = r.reports.find((x) => x.name === "pub/sub")?.figures as Record<string, number>;
    expect(f["subscribers"]).toBe(6);
    expect(f["delivered"]).toBeGreaterThan(0.8 * f["expected"]!);
    expect(f["electionPublished"]).toBeGreaterThan(0);
    // The subscriber on the crashed n1 misses what is published while it is down; the five others miss nothing then.
    expect(f["electionDelivered"]).toBe(f["electionPublished"]! * 5);
  });

  it("cluster-restart: with appendfsync always a whole-cluster crash loses no acknowledged write; with everysec some", () => {
    const path = join(dir, "cluster-restart.yaml");
    const source = readFileSync(path, "utf8");
    const always = runScenario(loadScenario(path, source), { seed: 1, sink: null, detail: "events" });
    expect(always.pass).toBe(true);
    expect(always.reports.find((x) => x.name === "writes lost")?.figures["lost"]).toBe(0);
    const everysec = runScenario(loadScenario(path, source.replace("appendfsync: always", "appendfsync: everysec")), { seed: 1, sink: null, detail: "events" });
    const lost = everysec.reports.find((x) => x.name === "writes lost")?.figures;
    expect(lost?.["lost"] as number).toBeGreaterThan(0);
    expect(lost?.["lost"] as number).toBeLessThan((lost?.["acknowledged"] as number) / 2);
  });
});
