import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Entry } from "../../core/raft/types.js";
import { runScenario } from "../run.js";
import { loadScenario } from "../scenario/load.js";
import type { AnyMachine, ClusterView, InvariantChecker, NodeStatus } from "./adapter.js";
import { raftAdapter } from "./raft.js";

const ROOT = join(import.meta.dirname, "..", "..");

function load(rel: string) {
  const path = join(ROOT, rel);
  return loadScenario(path, readFileSync(path, "utf8"));
}

/** Traces a run into lines (objects). */
function traceOf(rel: string, seed: number): { lines: string[]; result: ReturnType<typeof runScenario> } {
  const lines: string[] = [];
  const result = runScenario(load(rel), { seed, detail: "events", sink: { write: (l) => lines.push(l), close: () => {} } });
  return { lines, result };
}

describe("the raft machine in the simulator", () => {
  it("is deterministic: the same scenario and seed give the same trace, byte for byte", () => {
    const a = traceOf("scenarios/raft-leader-crash.yaml", 7).lines.join("\n");
    const b = traceOf("scenarios/raft-leader-crash.yaml", 7).lines.join("\n");
    expect(a).toBe(b);
  });

  it("clients open sessions, number their writes, resend unanswered ones under the same number, and every op ends ok", () => {
    const { lines, result } = traceOf("scenarios/raft-flaky-network.yaml", 3);
    expect(result.pass).toBe(true);
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.filter((e) => e["type"] === "client-session").length).toBeGreaterThanOrEqual(4);
    const writes = events.filter((e) => e["type"] === "client-op" && e["phase"] === "invoke" && (e["req"] as { op?: string }).op === "propose");
    const seqs = writes.map((e) => (e["req"] as { command: { session: { clientId: number; seq: number } } }).command.session);
    expect(seqs.length).toBeGreaterThan(20);
    expect(new Set(seqs.map((s) => `${s.clientId}/${s.seq}`)).size).toBe(seqs.length);
    expect(events.some((e) => e["type"] === "client-retry" && (e["reply"] as { error?: string }).error === "attempt timeout")).toBe(true);
    expect(result.stats.workload?.fail).toBe(0);
    expect(result.reports.find((r) => r.name === "linearizable")?.text).toMatch(/^yes: \d+ operations on 5 keys$/);
  });

  it("admin commands from the timeline reach Raft, and unknown ones are refused with the list of known ones", () => {
    const { lines } = traceOf("scenarios/raft-partition.yaml", 1);
    const replies = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e["type"] === "admin-reply");
    expect(replies[0]?.["value"]).toMatchObject({ ok: true, op: "transfer" });
    const m = raftAdapter.create({ id: "n1", peers: ["n1", "n2", "n3"], config: raftAdapter.configSchema.parse({}), rng: { next: () => 0.5 } });
    m.step({ kind: "start", recovered: null }, 0);
    const fx = m.step({ kind: "client", client: "op", reqId: 1, req: { cmd: ["frobnicate"] } }, 1);
    expect(fx).toContainEqual(expect.objectContaining({ kind: "reply", value: expect.objectContaining({ ok: false, error: "bad-request", message: expect.stringContaining("add-server <node>") }) }));
  });
});

/**
 * Regression (raft-swarm seed 1683 of a variant): a candidate paused right after asking for votes
 * gets them all while paused; the others elect a leader of the next term, which commits; on
 * resuming, the candidate counts its queued votes and becomes leader of the older term. That is
 * legal Raft (its votes were cast before the voters moved on; it steps down at the first message
 * of the newer term), and leader completeness only speaks of leaders of later terms.
 */
const LATE_LEADER = `
name: late-leader
machine: raft
nodes: 5
durationMs: 2500
config:
  checkQuorum: false
  electionTimeoutMs: [400, 500]
nodeConfig:
  n5: { electionTimeoutMs: [150, 160] }
network:
  latency: { dist: constant, ms: 5 }
disk:
  syncLatency: { dist: constant, ms: 1 }
faults:
  - when: { node: n5, role: candidate }
    delayMs: 3
    pause: n5
  - when: { node: n5, role: candidate }
    delayMs: 1500
    resume: n5
`;

describe("a candidate that takes office in an old term after a newer term committed", () => {
  it("is not a leader-completeness violation, and it steps down", () => {
    const lines: Record<string, unknown>[] = [];
    const scenario = loadScenario(join(ROOT, "late-leader.yaml"), LATE_LEADER);
    const result = runScenario(scenario, { seed: 1, detail: "events", sink: { write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>), close: () => {} } });
    expect(result.failures).toEqual([]);
    const leaders = lines.filter((e) => e["type"] === "raft-leader").map((e) => [e["node"], e["term"]]);
    // Another node led term 2 and committed in it; then n5 took office in term 1.
    const commitInTerm2 = lines.findIndex((e) => e["type"] === "raft-commit" && e["term"] === 2);
    const lateLeader = lines.findIndex((e) => e["type"] === "raft-leader" && e["node"] === "n5" && e["term"] === 1);
    expect(commitInTerm2).toBeGreaterThan(0);
    expect(lateLeader, JSON.stringify(leaders)).toBeGreaterThan(commitInTerm2);
    // It stepped down to the newer term.
    expect(lines.slice(lateLeader).some((e) => e["type"] === "raft-role" && e["node"] === "n5" && e["role"] === "follower" && (e["term"] as number) >= 2)).toBe(true);
  });
});

// ---- the step checkers on hand-made logs ------------------------------------------------------------

interface FakeLog {
  role?: "leader" | "follower";
  term?: number;
  commitIndex?: number;
  entries: Entry[];
  applied?: { index: number; command: string }[];
}

/** A stand-in for a hosted node exposing only what the checkers read. */
function fake(f: FakeLog): AnyMachine {
  const raft = {
    role: f.role ?? "follower",
    currentTerm: f.term ?? 1,
    snapshotIndex: 0,
    lastIndex: f.entries.length,
    commitIndex: f.commitIndex ?? 0,
    termAt: (i: number) => (i === 0 ? 0 : (f.entries[i - 1]?.term ?? null)),
    entryAt: (i: number) => f.entries[i - 1] ?? null,
  };
  return { raft, store: { applied: f.applied ?? [] } } as unknown as AnyMachine;
}

function view(machines: Record<string, AnyMachine>): ClusterView {
  return { nodes: Object.keys(machines), status: (): NodeStatus => "up", observation: () => ({}), machine: (n) => machines[n] ?? null };
}

function checker(name: string): InvariantChecker {
  const c = raftAdapter.invariants().find((x) => x.name === name);
  if (c === undefined) throw new Error(`no checker ${name}`);
  return c;
}

const cmd = (term: number, command: string): Entry => ({ term, kind: "command", command });

describe("raft step checkers", () => {
  it("log matching: the same index and term with a different entry is caught", () => {
    const c = checker("log-matching");
    const v = view({ n1: fake({ entries: [cmd(1, "a"), cmd(1, "b")] }), n2: fake({ entries: [cmd(1, "a"), cmd(1, "x")] }) });
    expect(c.afterStep?.("n1", v)).toBeNull();
    expect(c.afterStep?.("n2", v)).toMatch(/^n2 holds .*"x".* at index 2 \(term 1\), another node held .*"b"/);
  });

  it("log matching: the same index and term after a different term is caught", () => {
    const c = checker("log-matching");
    const v = view({ n1: fake({ entries: [cmd(1, "a"), cmd(3, "b")] }), n2: fake({ entries: [cmd(2, "a"), cmd(3, "b")] }) });
    expect(c.afterStep?.("n1", v)).toBeNull();
    expect(c.afterStep?.("n2", v)).toMatch(/entry 2 of term 3 follows term 2, another node's followed term 1/);
  });

  it("log matching: a log rewritten below its end is re-checked", () => {
    const c = checker("log-matching");
    const log: FakeLog = { entries: [cmd(1, "a"), cmd(1, "b")] };
    const v = view({ n1: fake({ entries: [cmd(1, "a"), cmd(2, "c")] }), n2: fake(log) });
    expect(c.afterStep?.("n1", v)).toBeNull();
    expect(c.afterStep?.("n2", v)).toBeNull();
    log.entries[1] = cmd(2, "z"); // n2's entry 2 replaced by one that contradicts n1's
    expect(c.afterStep?.("n2", view({ n2: fake(log) }))).toMatch(/index 2 \(term 2\)/);
  });

  it("leader completeness: a leader of a later term without a committed entry is caught", () => {
    const c = checker("leader-completeness");
    expect(c.afterStep?.("n1", view({ n1: fake({ commitIndex: 2, entries: [cmd(1, "a"), cmd(1, "b")] }) }))).toBeNull();
    expect(c.afterStep?.("n2", view({ n2: fake({ role: "leader", term: 2, entries: [cmd(1, "a"), cmd(2, "c")] }) }))).toMatch(/^n2 leads term 2 without committed entry 2/);
  });

  it("leader completeness: a leader of an earlier term than the commit is not held to it (it took office late)", () => {
    const c = checker("leader-completeness");
    // n1 leads term 3 and commits entry 2 (its no-op); n2, granted votes for term 2 long ago, only now takes office.
    expect(c.afterStep?.("n1", view({ n1: fake({ role: "leader", term: 3, commitIndex: 2, entries: [cmd(1, "a"), cmd(3, "noop")] }) }))).toBeNull();
    expect(c.afterStep?.("n2", view({ n2: fake({ role: "leader", term: 2, entries: [cmd(1, "a"), cmd(2, "c")] }) }))).toBeNull();
    // A leader of term 4 is held to everything committed in term 3.
    expect(c.afterStep?.("n4", view({ n4: fake({ role: "leader", term: 4, entries: [cmd(1, "a"), cmd(2, "c")] }) }))).toBe(
      'n4 leads term 4 without committed entry 2 ({"term":3,"kind":"command","command":"noop"}; committed in term 3)',
    );
  });

  it("state machine safety: two commands applied at one index are caught", () => {
    const c = checker("state-machine-safety");
    expect(c.afterStep?.("n1", view({ n1: fake({ entries: [], applied: [{ index: 1, command: '"a"' }] }) }))).toBeNull();
    expect(c.afterStep?.("n2", view({ n2: fake({ entries: [], applied: [{ index: 1, command: '"b"' }] }) }))).toBe('n2 applied "b" at index 1, another node applied "a"');
  });

  it("linearizability: an acknowledged write that a later read misses fails the run", () => {
    const c = checker("linearizable");
    const line = (t: number, node: string, fields: Record<string, unknown>) => ({ t, node, type: "client-op", ...fields }) as never;
    c.onTrace?.(line(1, "c1", { phase: "invoke", op: 0, req: { op: "propose", command: { op: "put", key: "a", value: "v1", session: { clientId: 1, seq: 1 } } } }));
    c.onTrace?.(line(2, "c1", { phase: "ok", op: 0, value: { ok: true, op: "propose", index: 3, result: { ok: true, index: 3, prev: null } } }));
    c.onTrace?.(line(3, "c2", { phase: "invoke", op: 0, req: { op: "read", query: { op: "get", key: "a" } } }));
    c.onTrace?.(line(4, "c2", { phase: "ok", op: 0, value: { ok: true, op: "read", index: 2, value: { ok: true, index: 2, kv: null } } }));
    expect(c.atEnd?.(view({}))).toMatch(/^not linearizable: key a: c2 get → nil \[3–4 ms\] is not linearizable/);
  });
});
