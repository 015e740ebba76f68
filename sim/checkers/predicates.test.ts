import { describe, expect, it } from "vitest";
import type { NodeId } from "../../core/machine.js";
import type { ClusterView, NodeStatus, Observation, TraceLine } from "../machines/adapter.js";
import { toyLeaderAdapter } from "../machines/toy-leader.js";
import { World } from "../engine/world.js";
import { Monitor } from "./monitor.js";
import {
  describePredicate,
  type EvalContext,
  matches,
  parsePredicate,
  parseWhere,
  type Pred,
  PredicateError,
  PredicateInstance,
  type PredicateScope,
} from "./predicates.js";

const NODES = ["n1", "n2", "n3", "n4"];
const scope: PredicateScope = { nodes: NODES, fields: toyLeaderAdapter.observation };

function parseError(raw: unknown, allowAt = false): { path: (string | number)[]; message: string } {
  try {
    parsePredicate(raw, scope, ["expect", 0, "always"], allowAt);
  } catch (e) {
    if (!(e instanceof PredicateError)) throw e;
    return { path: [...e.path], message: e.message };
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be rejected`);
}

const P = ["expect", 0, "always"];
const unknownNode = (n: string) => `unknown node "${n}" (nodes: n1, n2, n3, n4)`;

describe("parsePredicate errors", () => {
  it.each<[string, unknown, boolean, (string | number)[], string]>([
    ["not an object", "leader", false, P, 'expected a predicate such as { node: n1, role: leader }, got "leader"'],
    ["a list", [1], false, P, "expected a predicate such as { node: n1, role: leader }, got [1]"],
    ["empty", {}, false, P, "a predicate starts with one of node, every, some, none, count, converged, happened, not, allOf, anyOf (got nothing)"],
    ["fields with no quantifier", { role: "leader" }, true, P, "a predicate starts with one of node, every, some, none, count, converged, happened, not, allOf, anyOf, at (got role)"],
    ["two quantifiers", { every: "all", some: "all", role: "leader" }, false, P, "use one of every and some, not both"],
    ["node with nothing to check", { node: "n1" }, false, P, "say what to check about the node, e.g. role: leader"],
    ["node that is not a name", { node: 3, role: "leader" }, false, [...P, "node"], "expected a node name"],
    ["unknown node", { node: "n9", role: "leader" }, false, [...P, "node"], unknownNode("n9")],
    ["min without count", { every: "all", role: "leader", min: 1 }, false, [...P, "min"], "min goes with count:"],
    ["negative max", { count: "all", role: "leader", max: -1 }, false, [...P, "max"], "expected a whole number ≥ 0"],
    ["fractional min", { count: "all", role: "leader", min: 1.5 }, false, [...P, "min"], "expected a whole number ≥ 0"],
    ["count without bounds", { count: "all", role: "leader" }, false, P, "count: needs min: and/or max:"],
    ["unknown set name", { some: "everyone", role: "leader" }, false, [...P, "some"], unknownNode("everyone")],
    ["empty set", { some: [], role: "leader" }, false, [...P, "some"], "expected all, live, a node name or a list of node names"],
    ["unknown node in a set", { none: ["n1", "zz"], role: "leader" }, false, [...P, "none", 1], unknownNode("zz")],
    ["unknown field", { some: "all", rank: 1 }, false, [...P, "rank"], 'unknown field "rank" (fields: status, role, term, leader)'],
    ["enum typo", { some: "all", role: "leeder" }, false, [...P, "role"], 'role is one of follower, candidate, leader; got "leeder"'],
    ["status typo", { some: "all", status: "sleeping" }, false, [...P, "status"], 'status is one of up, crashed, paused; got "sleeping"'],
    ["wrong value type", { some: "all", term: "three" }, false, [...P, "term"], 'term is a number, got "three"'],
    ["null for a non-nullable field", { some: "all", term: null }, false, [...P, "term"], "term is never null"],
    ["ordering on a string", { some: "all", leader: { gt: "n1" } }, false, [...P, "leader", "gt"], "leader is not a number; use eq, ne or in"],
    ["unknown comparison", { some: "all", term: { above: 1 } }, false, [...P, "term", "above"], 'unknown comparison "above" (use eq, ne, gt, gte, lt, lte, in)'],
    ["two comparisons", { some: "all", term: { gt: 1, lt: 5 } }, false, [...P, "term"], "one comparison per field (eq, ne, gt, gte, lt, lte, in); combine with allOf"],
    ["in without a list", { some: "all", role: { in: "leader" } }, false, [...P, "role", "in"], "in: takes a list"],
    ["in with a bad member", { some: "all", role: { in: ["leader", "boss"] } }, false, [...P, "role", "in", 1], 'role is one of follower, candidate, leader; got "boss"'],
    ["extra key beside not", { not: { some: "all", role: "leader" }, x: 1 }, false, [...P, "x"], "unexpected x beside not"],
    ["empty allOf", { allOf: [] }, false, [...P, "allOf"], "expected a non-empty list of predicates"],
    ["anyOf not a list", { anyOf: "x" }, false, [...P, "anyOf"], "expected a non-empty list of predicates"],
    ["nested error path", { allOf: [{ some: "all", role: "leader" }, { not: { every: "live", rol: "x" } }] }, false, [...P, "allOf", 1, "not", "rol"], 'unknown field "rol" (fields: status, role, term, leader)'],
    ["converged: false", { converged: false }, false, [...P, "converged"], "write converged: true"],
    ["at in a condition", { at: 5 }, false, [...P, "at"], "at: belongs in triggers (after:, when:), not in conditions"],
    ["at: negative", { at: -1 }, true, [...P, "at"], "expected a time in ms"],
    ["at beside something", { at: 5, node: "n1" }, true, [...P, "node"], "unexpected node beside at"],
    ["happened with a number", { happened: 5 }, false, [...P, "happened"], "expected an event type, or { type: <event type>, node: <name>, <field>: <value> }"],
    ["happened with an object field", { happened: { type: "vote", term: { gt: 1 } } }, false, [...P, "happened", "term"], "event fields compare by equality with a plain value"],
    ["happened on an unknown node", { happened: { type: "vote", node: "n0" } }, false, [...P, "happened", "node"], unknownNode("n0")],
  ])("%s", (_what, raw, allowAt, path, message) => {
    expect(parseError(raw, allowAt)).toEqual({ path, message });
  });

  it("parseWhere wants at least one field", () => {
    expect(() => parseWhere({}, scope, ["w"])).toThrow("expected fields to match, e.g. where: { role: leader }");
    expect(parseWhere({ role: "leader", term: { gte: 2 } }, scope, ["w"])).toEqual([
      { field: "role", op: "eq", value: "leader" },
      { field: "term", op: "gte", value: 2 },
    ]);
  });
});

describe("parsePredicate results", () => {
  it("turns node: into every over one node, and keeps bounds", () => {
    expect(parsePredicate({ node: "n2", role: "leader" }, scope, [])).toEqual({ k: "nodes", quant: "every", set: ["n2"], match: [{ field: "role", op: "eq", value: "leader" }] });
    expect(parsePredicate({ count: "live", role: "leader", min: 1, max: 2 }, scope, [])).toEqual({
      k: "nodes",
      quant: "count",
      set: "live",
      match: [{ field: "role", op: "eq", value: "leader" }],
      min: 1,
      max: 2,
    });
    expect(parsePredicate({ some: "n3", leader: null }, scope, [])).toMatchObject({ set: ["n3"], match: [{ field: "leader", op: "eq", value: null }] });
  });

  it("describes predicates in English", () => {
    const d = (raw: unknown, allowAt = false) => describePredicate(parsePredicate(raw, scope, [], allowAt));
    expect(d({ count: "live", role: "leader", max: 1 })).toBe("at most 1 of live nodes role=leader");
    expect(d({ count: "all", role: "leader", min: 1, max: 2 })).toBe("1–2 of all nodes role=leader");
    expect(d({ node: "n1", term: { gte: 3 } })).toBe("n1 term≥3");
    expect(d({ not: { some: "all", role: { in: ["leader", "candidate"] } } })).toBe("not (some of all nodes role∈[leader,candidate])");
    expect(d({ happened: { type: "fault", node: "n2", action: "crash" } })).toBe("fault on n2 action=crash happened");
    expect(d({ anyOf: [{ converged: true }, { at: 5 }] }, true)).toBe("converged or at 5 ms");
  });
});

// ---- evaluation -----------------------------------------------------------------------------------

class FakeView implements ClusterView {
  readonly nodes = NODES;
  readonly obs = new Map<NodeId, Observation>();
  status(n: NodeId): NodeStatus {
    return (this.obs.get(n)?.["status"] as NodeStatus | undefined) ?? "crashed";
  }
  observation(n: NodeId): Observation {
    return this.obs.get(n) ?? { status: "crashed" };
  }
  machine(): null {
    return null;
  }
}

class FakeContext implements EvalContext {
  readonly view = new FakeView();
  now = 0;
  ver = 0;
  convergedWhy: string | null = "not yet";
  nowMs(): number {
    return this.now;
  }
  version(): number {
    return this.ver;
  }
  converged(): string | null {
    return this.convergedWhy;
  }
  set(n: NodeId, o: Observation): void {
    this.view.obs.set(n, o);
    this.ver += 1;
  }
}

function cluster(): FakeContext {
  const c = new FakeContext();
  c.set("n1", { status: "up", role: "leader", term: 3, leader: "n1" });
  c.set("n2", { status: "up", role: "follower", term: 3, leader: "n1" });
  c.set("n3", { status: "paused", role: "candidate", term: 2, leader: null });
  c.set("n4", { status: "crashed" });
  return c;
}

const pred = (raw: unknown): Pred => parsePredicate(raw, scope, [], true);
const holds = (c: FakeContext, raw: unknown): boolean => new PredicateInstance(pred(raw), c).value();

describe("predicate evaluation", () => {
  it.each<[unknown, boolean]>([
    [{ node: "n1", role: "leader" }, true],
    [{ node: "n2", role: "leader" }, false],
    [{ every: "live", term: 3 }, true], // n3 is paused, so not live
    [{ every: "all", term: 3 }, false],
    [{ every: ["n1", "n2"], leader: "n1" }, true],
    [{ some: "all", role: "candidate" }, true],
    [{ some: "live", role: "candidate" }, false],
    [{ none: "live", role: "candidate" }, true],
    [{ none: "all", role: "candidate" }, false],
    [{ some: "all", status: "crashed" }, true],
    [{ count: "all", status: "up", min: 2, max: 2 }, true],
    [{ count: "all", status: "up", min: 3 }, false],
    [{ count: "all", status: "up", max: 1 }, false],
    [{ count: "all", role: "leader", max: 1 }, true],
    [{ count: "all", role: "leader", min: 0, max: 0 }, false],
    [{ count: "live", role: "follower", min: 1 }, true],
    [{ every: "live", term: { gte: 3 } }, true],
    [{ some: "all", term: { gt: 3 } }, false],
    [{ some: "all", term: { lt: 3 } }, true],
    [{ every: ["n1", "n2", "n3"], term: { lte: 3 } }, true],
    [{ every: "live", role: { ne: "candidate" } }, true],
    [{ every: ["n1", "n2"], role: { in: ["leader", "follower"] } }, true],
    [{ node: "n3", leader: null }, true],
    [{ every: "all", term: { gte: 0 } }, false], // a crashed node has no term: ordering never matches a missing value
    [{ not: { some: "all", role: "leader" } }, false],
    [{ allOf: [{ node: "n1", role: "leader" }, { node: "n2", role: "follower" }] }, true],
    [{ allOf: [{ node: "n1", role: "leader" }, { node: "n2", role: "leader" }] }, false],
    [{ anyOf: [{ node: "n1", role: "follower" }, { node: "n2", role: "follower" }] }, true],
    [{ anyOf: [{ node: "n1", role: "follower" }, { node: "n2", role: "leader" }] }, false],
  ])("%j is %s", (raw, expected) => {
    expect(holds(cluster(), raw)).toBe(expected);
  });

  it("matches compares field by field", () => {
    const obs = { status: "up", role: "leader", term: 4 };
    expect(matches(obs, [])).toBe(true);
    expect(matches(obs, [{ field: "role", op: "eq", value: "leader" }, { field: "term", op: "gt", value: 3 }])).toBe(true);
    expect(matches(obs, [{ field: "role", op: "eq", value: "leader" }, { field: "term", op: "gt", value: 4 }])).toBe(false);
  });

  it("tracks observation changes through the version", () => {
    const c = cluster();
    const inst = new PredicateInstance(pred({ some: "live", role: "candidate" }), c);
    expect(inst.value()).toBe(false);
    c.set("n3", { status: "up", role: "candidate", term: 4, leader: null });
    expect(inst.value()).toBe(true);
  });

  it("converged and at read the context", () => {
    const c = cluster();
    const conv = new PredicateInstance(pred({ converged: true }), c);
    const at = new PredicateInstance(pred({ at: 100 }), c);
    expect(conv.value()).toBe(false);
    expect(at.value()).toBe(false);
    c.convergedWhy = null;
    c.ver += 1;
    c.now = 100;
    expect(conv.value()).toBe(true);
    expect(at.value()).toBe(true);
  });
});

describe("happened", () => {
  const line = (type: string, node: string | undefined, fields: Record<string, string | number> = {}): TraceLine =>
    node === undefined ? { t: 1, type, ...fields } : { t: 1, node, type, ...fields };

  it("holds only once a matching event is seen after arming, and then stays latched", () => {
    const c = cluster();
    const inst = new PredicateInstance(pred({ happened: "leader" }), c);
    expect(inst.watchesEvents).toBe(true);
    expect(inst.value()).toBe(false);
    expect(inst.onLine(line("state", "n1"))).toBe(false);
    expect(inst.value()).toBe(false);
    expect(inst.onLine(line("leader", "n2"))).toBe(true);
    expect(inst.value()).toBe(true);
    expect(inst.onLine(line("leader", "n3"))).toBe(false); // already latched
    expect(inst.onLine(line("state", "n1"))).toBe(false);
    expect(inst.value()).toBe(true);
  });

  it("an instance armed later does not see events fed to an earlier one", () => {
    const c = cluster();
    const early = new PredicateInstance(pred({ happened: "leader" }), c);
    early.onLine(line("leader", "n1"));
    const late = new PredicateInstance(pred({ happened: "leader" }), c);
    expect(early.value()).toBe(true);
    expect(late.value()).toBe(false);
  });

  it("filters by node and by field values", () => {
    const c = cluster();
    const inst = new PredicateInstance(pred({ happened: { type: "fault", node: "n2", action: "crash" } }), c);
    inst.onLine(line("fault", "n1", { action: "crash" }));
    inst.onLine(line("fault", "n2", { action: "restart" }));
    inst.onLine(line("fault", undefined, { action: "crash" }));
    expect(inst.value()).toBe(false);
    inst.onLine(line("fault", "n2", { action: "crash" }));
    expect(inst.value()).toBe(true);
  });

  it("latches each happened part of a combination separately", () => {
    const c = cluster();
    const inst = new PredicateInstance(pred({ allOf: [{ happened: "a" }, { happened: "b" }, { not: { happened: "c" } }] }), c);
    inst.onLine(line("a", "n1"));
    expect(inst.value()).toBe(false);
    inst.onLine(line("b", "n1"));
    expect(inst.value()).toBe(true);
    inst.onLine(line("c", "n1"));
    expect(inst.value()).toBe(false);
  });

  it("a predicate without happened does not watch events", () => {
    expect(new PredicateInstance(pred({ some: "all", role: "leader" }), cluster()).watchesEvents).toBe(false);
  });
});

describe("happened through the monitor", () => {
  function world(): World {
    const w = new World({
      seed: 1,
      nodes: ["n1"],
      create: () => ({ step: () => [] }),
      observe: () => ({}),
      network: { mode: "tcp", latency: { dist: "constant", ms: 1 }, links: [], loss: 0, duplicate: 0 },
      disk: { syncLatency: { dist: "constant", ms: 1 }, writeLatency: { dist: "constant", ms: 1 }, unsyncedOnCrash: "lose", tornWrite: 0, writebackMs: 5000 },
      clocks: new Map(),
      detail: "events",
    });
    w.start("n1");
    return w;
  }

  it("a trigger armed after an event does not fire on it, only on the next one", () => {
    const w = world();
    const m = new Monitor(w, [], () => null);
    w.listen(m);
    w.emit("n1", { type: "boom" });
    let fired = 0;
    m.when(pred({ happened: "boom" }), () => (fired += 1));
    m.evaluate();
    expect(fired).toBe(0);
    w.emit("n1", { type: "other" });
    m.onSettled();
    expect(fired).toBe(0);
    w.emit("n1", { type: "boom" });
    m.onSettled();
    expect(fired).toBe(1);
    w.emit("n1", { type: "boom" });
    m.onSettled();
    expect(fired).toBe(1); // when: fires once
  });
});
