// The checkers catch planted bugs, and stay quiet without them.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { HostedRaft } from "../machines/raft.js";
import type { InvariantChecker } from "../machines/adapter.js";
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

describe("Figure 8 in the simulator: an entry of an earlier term committed by counting replicas", () => {
  const FIG8 = "scenarios/failing/raft-commit-old-term.yaml";
  const SEEDS_FIG8 = Array.from({ length: 10 }, (_, i) => i + 1);
  const withBug = (on: boolean): Scenario =>
    load(FIG8, (s) => {
      const edited = s.replace("bugs: { commitOldTermByCount: true }", `bugs: { commitOldTermByCount: ${on} }`);
      expect(edited.includes(`commitOldTermByCount: ${on}`)).toBe(true);
      return edited;
    });

  /**
   * Runs one seed and records, beside the verdict, what happened to index 1 (the entry the figure
   * is about): every `raft-commit` of it, and each term n3 held there in turn (null: nothing).
   */
  function figure8(scenario: Scenario, seed: number) {
    const commitsOf1: { node: string; term: number }[] = [];
    const n3TermsAt1: (number | null)[] = [];
    const probe: InvariantChecker = {
      name: "probe",
      description: "records index 1's history; never fails",
      onTrace(line) {
        if (line.type === "raft-commit" && line["index"] === 1) commitsOf1.push({ node: line.node as string, term: line["term"] as number });
        return null;
      },
      afterStep(node, view) {
        const m = view.machine(node);
        if (node !== "n3" || m === null) return null;
        const t = (m as unknown as HostedRaft).raft.termAt(1);
        if (n3TermsAt1.at(-1) !== t) n3TermsAt1.push(t);
        return null;
      },
    };
    const r = runScenario(scenario, { seed, detail: "events", extraCheckers: [probe] });
    return { r, commitsOf1, n3TermsAt1 };
  }

  it("with the bug, n1 commits its term-1 entry in term 3 and n5 then leads without it: leader completeness fails on every seed", () => {
    const scenario = withBug(true);
    expect(scenario.nodeConfigs.get("n1")).toMatchObject({ bugs: { commitOldTermByCount: true } });
    for (const seed of SEEDS_FIG8) {
      const { r, commitsOf1 } = figure8(scenario, seed);
      expect(r.pass, `seed ${seed}`).toBe(false);
      expect(r.failures.map((f) => `${f.kind} ${f.name}: ${f.message}`), `seed ${seed}`).toEqual([
        expect.stringMatching(/^invariant leader-completeness: n5 leads term \d+ without committed entry 1 \(\{"term":1,"kind":"noop"\}; committed in term 3\)$/),
      ]);
      // The commit that broke it: n1 counted three replicas of index 1 (term 1) while leading term 3.
      expect(commitsOf1, `seed ${seed}`).toContainEqual({ node: "n1", term: 1 });
    }
  });

  it("without the bug, the same schedule leaves index 1 uncommitted, n5 overwrites it on n3, and every check passes", () => {
    const scenario = withBug(false);
    for (const seed of SEEDS_FIG8) {
      const { r, commitsOf1, n3TermsAt1 } = figure8(scenario, seed);
      expect(r.failures.map((f) => `${f.kind} ${f.name}: ${f.message}`), `seed ${seed}`).toEqual([]);
      expect(r.pass).toBe(true);
      // The figure was played out: n3 held n1's term-1 entry at index 1, then n5's term-2 entry replaced it ...
      expect(n3TermsAt1, `seed ${seed}`).toEqual([null, 1, 2]);
      // ... and what was committed at index 1 is n5's entry, never n1's.
      expect(commitsOf1.length, `seed ${seed}`).toBeGreaterThan(0);
      expect(commitsOf1.filter((c) => c.term !== 2), `seed ${seed}`).toEqual([]);
    }
  });
});
