// The checkers catch planted bugs, and stay quiet without them.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "../run.js";
import { loadScenario, type Scenario } from "../scenario/load.js";

const ROOT = join(import.meta.dirname, "..", "..");
const SEEDS = Array.from({ length: 40 }, (_, i) => i + 1);

function load(rel: string, edit: (source: string) => string = (s) => s): Scenario {
  const path = join(ROOT, rel);
  return loadScenario(path, edit(readFileSync(path, "utf8")));
}

/** Seeds on which the vote-once checker fired. */
function voteOnceViolations(scenario: Scenario): number[] {
  return SEEDS.filter((seed) => runScenario(scenario, { seed, detail: "events" }).failures.some((f) => f.kind === "invariant" && f.name === "vote-once"));
}

describe("planted bugs", () => {
  const FSYNC = "scenarios/failing/toy-vote-before-fsync.yaml";

  it("a vote sent before it is fsynced is caught: some seed in 1..40 makes a node vote twice in one term", () => {
    const scenario = load(FSYNC);
    expect(scenario.nodeConfigs.get("n1")).toMatchObject({ bugs: { voteBeforePersist: true } });
    const seeds = voteOnceViolations(scenario);
    expect(seeds.length).toBeGreaterThan(0);
    // The failure explains itself and points at a term.
    const r = runScenario(scenario, { seed: seeds[0] as number, detail: "events" });
    expect(r.pass).toBe(false);
    expect(r.failures.find((f) => f.name === "vote-once")?.message).toMatch(/^n\d voted for n\d and then n\d in term \d+$/);
  });

  it("the same scenario with the bug switched off passes the vote-once check on every one of those seeds", () => {
    const fixed = load(FSYNC, (s) => {
      const edited = s.replace("bugs: { voteBeforePersist: true }", "bugs: { voteBeforePersist: false }");
      expect(edited).not.toBe(s);
      return edited;
    });
    expect(fixed.nodeConfigs.get("n1")).toMatchObject({ bugs: { voteBeforePersist: false } });
    expect(voteOnceViolations(fixed)).toEqual([]);
  });

  it("split brain without check-quorum fails its expectation", () => {
    const r = runScenario(load("scenarios/failing/toy-split-brain.yaml"));
    expect(r.pass).toBe(false);
    expect(r.failures.map((f) => [f.kind, f.name])).toContainEqual(["expectation", "never two leaders at once"]);
    expect(r.expectations.find((e) => e.label === "never two leaders at once")?.status).toBe("fail");
  });

  it("the smoke scenario passes, with every expectation met", () => {
    const r = runScenario(load("scenarios/toy-leader-crash.yaml"));
    expect(r.failures).toEqual([]);
    expect(r.pass).toBe(true);
    expect(r.expectations.map((e) => e.status)).toEqual(["pass", "pass", "pass"]);
    expect(r.applied.map((a) => Object.keys(a.entry)[0])).toContain("crash");
  });
});

describe("planted bugs in the Raft store", () => {
  const VOTE = "scenarios/failing/raft-vote-before-persist.yaml";
  const SEEDS_RAFT = Array.from({ length: 10 }, (_, i) => i + 1);
  const violations = (scenario: Scenario): number[] =>
    SEEDS_RAFT.filter((seed) => runScenario(scenario, { seed, detail: "events" }).failures.some((f) => f.kind === "invariant" && f.name === "vote-once"));

  it("a Raft vote sent before it is fsynced is caught: some seed in 1..10 makes a node vote twice in one term", () => {
    const scenario = load(VOTE);
    expect(scenario.nodeConfigs.get("n1")).toMatchObject({ bugs: { voteBeforePersist: true, commitOldTermByCount: false } });
    const seeds = violations(scenario);
    expect(seeds.length).toBeGreaterThan(0);
    const r = runScenario(scenario, { seed: seeds[0] as number, detail: "events" });
    expect(r.pass).toBe(false);
    expect(r.failures.find((f) => f.name === "vote-once")?.message).toMatch(/^n\d voted for n\d and then n\d in term \d+$/);
  });

  it("the same scenario with the vote made durable first passes every check on those seeds", () => {
    const fixed = load(VOTE, (s) => {
      const edited = s.replace("bugs: { voteBeforePersist: true }", "bugs: { voteBeforePersist: false }");
      expect(edited).not.toBe(s);
      return edited;
    });
    for (const seed of SEEDS_RAFT) {
      const r = runScenario(fixed, { seed, detail: "events" });
      expect(r.failures.map((f) => `${f.name}: ${f.message}`), `seed ${seed}`).toEqual([]);
    }
  });
});
