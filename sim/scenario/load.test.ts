import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadScenario, ScenarioError } from "./load.js";

const ROOT = join(import.meta.dirname, "..", "..");
const BASE = "machine: toy-leader\nnodes: 3\ndurationMs: 1000\n";

/** The one-line message loading `source` fails with. */
function failure(source: string, path = "s.yaml"): string {
  try {
    loadScenario(path, source);
  } catch (e) {
    if (!(e instanceof ScenarioError)) throw e;
    expect(e.message).not.toContain("\n");
    return e.message;
  }
  throw new Error("expected the scenario to be rejected");
}

describe("loadScenario: malformed scenarios give one located line", () => {
  it.each<[string, string, string]>([
    ["unknown node in a fault", `${BASE}faults:\n  - { at: 100, crash: n9 }\n`, 's.yaml:5:23: faults[0].crash: unknown node "n9" (nodes: n1, n2, n3)'],
    ["wrong type", "machine: toy-leader\nnodes: 3\ndurationMs: soon\n", "s.yaml:3:13: durationMs: expected a number of milliseconds"],
    ["unknown top-level field", `${BASE}colour: red\n`, 's.yaml:4:1: colour: unknown field "colour"'],
    ["unknown nested field", `${BASE}config:\n  heartbeatMS: 5\n`, 's.yaml:5:3: config.heartbeatMS: unknown field "heartbeatMS"'],
    ["YAML syntax error", "machine: toy-leader\nnodes: [n1, n2\ndurationMs: 1000\n", "s.yaml:3:1: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]"],
    ["duplicate YAML key", "machine: toy-leader\nnodes: 3\nnodes: 4\ndurationMs: 1000\n", "s.yaml:3:1: YAML: Map keys must be unique"],
    ["empty file", "", "s.yaml:1:1: the file is empty; a scenario needs at least machine:, nodes: and durationMs:"],
    [
      "unknown predicate field",
      `${BASE}expect:\n  - always: { count: live, rol: leader, max: 1 }\n`,
      's.yaml:5:33: expect[0].always.rol: unknown field "rol" (fields: status, role, term, leader)',
    ],
    [
      "enum typo in a predicate",
      `${BASE}expect:\n  - always: { some: all, role: leeder }\n`,
      's.yaml:5:32: expect[0].always.role: role is one of follower, candidate, leader; got "leeder"',
    ],
    ["enum typo in the schema", `${BASE}network:\n  mode: udp\n`, 's.yaml:5:9: network.mode: Invalid option: expected one of "tcp"|"datagram"'],
    ["enum typo in a distribution", `${BASE}network:\n  latency: { dist: gaussian, ms: 1 }\n`, "s.yaml:5:20: network.latency.dist: expected dist: constant | uniform | normal | lognormal | exponential"],
    ["unknown machine", "machine: paxos\nnodes: 3\ndurationMs: 1000\n", 's.yaml:1:10: machine: unknown machine "paxos" (known: redis-cluster, toy-leader, raft)'],
    ["two actions in one fault", `${BASE}faults:\n  - at: 100\n    crash: n1\n    pause: n2\n`, "s.yaml:5:5: faults[0]: one action per fault entry, found crash and pause"],
    [
      "a fault with no action",
      `${BASE}faults:\n  - { at: 100 }\n`,
      "s.yaml:5:5: faults[0]: a fault needs one action: crash, restart, pause, resume, wipe, partition, heal, clog, unclog, network, clock, disk, command, operate",
    ],
    ["a fault with neither at nor when", `${BASE}faults:\n  - { crash: n1 }\n`, "s.yaml:5:5: faults[0]: a fault needs either at: <ms> or when: <predicate>, not both"],
    ["for on an action that cannot be undone", `${BASE}faults:\n  - { at: 1, restart: n1, for: 5 }\n`, "s.yaml:5:32: faults[0].for: restart cannot be undone with for:"],
    ["delayMs without when", `${BASE}faults:\n  - { at: 1, crash: n1, delayMs: 5 }\n`, "s.yaml:5:34: faults[0].delayMs: delayMs goes with when:"],
    [
      "heal of an unnamed partition",
      `${BASE}faults:\n  - { at: 100, partition: { isolate: n1 } }\n  - { at: 200, heal: p1 }\n`,
      's.yaml:6:22: faults[1].heal: no partition is named "p1"; give the partition a name: or heal: all',
    ],
    [
      "heal of a misspelt partition name",
      `${BASE}faults:\n  - { at: 100, partition: { isolate: n1 }, name: cut }\n  - { at: 200, heal: cat }\n`,
      's.yaml:6:22: faults[1].heal: no partition is named "cat" (named: cut)',
    ],
    [
      "a partition of an unknown shape",
      `${BASE}faults:\n  - { at: 1, partition: { halves: true } }\n`,
      "s.yaml:5:25: faults[0].partition: expected { isolate: node }, { split: majority-minority | random-halves }, { groups: [[...], [...]] } or { from: [...], to: [...] } (one-way)",
    ],
    ["duplicate on tcp", `${BASE}network:\n  duplicate: 0.1\n`, "s.yaml:5:14: network.duplicate: TCP links never duplicate; set mode: datagram to inject duplicates"],
    [
      "swarm duplicate on tcp",
      "machine: toy-leader\nnodes: 3\nswarm:\n  safetyMs: 10\n  livenessMs: 10\n  faults:\n    duplicate: [0, 0.1]\n",
      "s.yaml:7:16: swarm.faults.duplicate: TCP links never duplicate; set network.mode: datagram to inject duplicates",
    ],
    [
      "swarm faults starting after the safety phase",
      "machine: toy-leader\nnodes: 3\nswarm:\n  safetyMs: 10\n  livenessMs: 10\n  faultsFromMs: 10\n",
      "s.yaml:6:17: swarm.faultsFromMs: faultsFromMs must be less than safetyMs",
    ],
    ["durationMs with swarm", "machine: toy-leader\nnodes: 3\ndurationMs: 5\nswarm:\n  safetyMs: 10\n  livenessMs: 10\n", "s.yaml:3:13: durationMs: a swarm run lasts swarm.safetyMs + swarm.livenessMs; drop durationMs"],
    ["probability out of range", `${BASE}network:\n  loss: 1.5\n`, "s.yaml:5:9: network.loss: must be between 0 and 1"],
    ["inverted range", `${BASE}clocks:\n  offsetMs: [5, 1]\n`, "s.yaml:5:13: clocks.offsetMs: the low bound must not exceed the high bound"],
    ["a node listed twice", "machine: toy-leader\nnodes: [a, b, a]\ndurationMs: 1000\n", 's.yaml:2:15: nodes[2]: "a" is listed twice'],
    ["a bad node name", "machine: toy-leader\nnodes: [a, 'b c']\ndurationMs: 5\n", "s.yaml:2:12: nodes[1]: node names are letters, digits and _ . : - (up to 64)"],
    ["unknown node in clocks", `${BASE}clocks:\n  nodes:\n    n7: { offsetMs: 5 }\n`, 's.yaml:6:5: clocks.nodes.n7: unknown node "n7" (nodes: n1, n2, n3)'],
    ["unknown node in nodeConfig", `${BASE}nodeConfig:\n  n5: { heartbeatMs: 3 }\n`, 's.yaml:5:3: nodeConfig.n5: unknown node "n5" (nodes: n1, n2, n3)'],
    [
      "unknown node in a link",
      `${BASE}network:\n  links:\n    - { from: n1, to: x9, latency: { dist: constant, ms: 1 } }\n`,
      's.yaml:6:23: network.links[0].to: unknown node "x9" (nodes: n1, n2, n3)',
    ],
    ["unknown node in a predicate", `${BASE}expect:\n  - eventually: { node: n8, role: leader }\n`, 's.yaml:5:25: expect[0].eventually.node: unknown node "n8" (nodes: n1, n2, n3)'],
    [
      "unknown field in a where",
      `${BASE}faults:\n  - { at: 1, crash: { where: { rank: 1 } } }\n`,
      's.yaml:5:38: faults[0].crash.where.rank: unknown field "rank" (fields: status, role, term, leader)',
    ],
    ["unknown node in a command", `${BASE}faults:\n  - { at: 1, command: { node: n7, cmd: [PING] } }\n`, 's.yaml:5:31: faults[0].command.node: unknown node "n7" (nodes: n1, n2, n3)'],
    ["a command without cmd", `${BASE}faults:\n  - { at: 1, command: { node: n1 } }\n`, "s.yaml:5:23: faults[0].command.cmd: required"],
    ["a command with an empty cmd", `${BASE}faults:\n  - { at: 1, command: { node: n1, cmd: [] } }\n`, "s.yaml:5:40: faults[0].command.cmd: expected at least the command name"],
    ["for on a command", `${BASE}faults:\n  - { at: 1, command: { node: n1, cmd: [PING] }, for: 5 }\n`, "s.yaml:5:55: faults[0].for: command cannot be undone with for:"],
    ["count without bounds", `${BASE}expect:\n  - always: { count: live, role: leader }\n`, "s.yaml:5:13: expect[0].always: count: needs min: and/or max:"],
    ["at: in a condition", `${BASE}expect:\n  - always: { at: 5 }\n`, "s.yaml:5:19: expect[0].always.at: at: belongs in triggers (after:, when:), not in conditions"],
    ["an ordering comparison on a string field", `${BASE}expect:\n  - eventually: { some: all, role: { gt: 1 } }\n`, "s.yaml:5:42: expect[0].eventually.role.gt: role is a string, got 1"],
    ["an extra key beside not", `${BASE}expect:\n  - always: { not: { some: all, role: leader }, foo: 1 }\n`, "s.yaml:5:54: expect[0].always.foo: unexpected foo beside not"],
    ["an invalid protocol config value", `${BASE}config:\n  heartbeatMs: -5\n`, "s.yaml:5:16: config.heartbeatMs: Too small: expected number to be >0"],
    ["an enum typo in trace detail", `${BASE}trace: { detail: everything }\n`, 's.yaml:4:18: trace.detail: Invalid option: expected one of "events"|"messages"|"full"'],
  ])("%s", (_what, source, message) => {
    expect(failure(source)).toBe(message);
  });

  it.each<[string, string, string]>([
    ["durationMs", "machine: toy-leader\nnodes: 3\n", "s.yaml:1:1: durationMs: durationMs is required (or a swarm: section)"],
    ["a distribution bound", `${BASE}network:\n  latency: { dist: uniform, minMs: 1 }\n`, "s.yaml:5:12: network.latency.maxMs: required"],
    ["a constant's ms", `${BASE}network:\n  latency: { dist: constant }\n`, "s.yaml:5:12: network.latency.ms: required"],
    ["swarm.livenessMs", "machine: toy-leader\nnodes: 3\nswarm:\n  safetyMs: 10\n", "s.yaml:4:3: swarm.livenessMs: required"],
    ["workload.clients", `${BASE}workload: {}\n`, "s.yaml:4:11: workload.clients: required"],
  ])("a missing %s says required", (_what, source, message) => {
    expect(failure(source)).toBe(message);
  });

  it("carries file, line, column, field and detail separately", () => {
    try {
      loadScenario("dir/x.yaml", `${BASE}faults:\n  - { at: 100, crash: n9 }\n`);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ScenarioError);
      const err = e as ScenarioError;
      expect([err.file, err.line, err.col, err.field, err.detail]).toEqual(["dir/x.yaml", 5, 23, "faults[0].crash", 'unknown node "n9" (nodes: n1, n2, n3)']);
      expect(err.name).toBe("ScenarioError");
    }
  });

  it("lists at most a dozen nodes in an unknown-node message", () => {
    expect(failure("machine: toy-leader\nnodes: 20\ndurationMs: 5\nfaults:\n  - { at: 1, crash: n21 }\n")).toBe(
      's.yaml:5:21: faults[0].crash: unknown node "n21" (nodes: n1, n2, n3, n4, n5, n6, n7, n8, n9, n10, … (20 in all))',
    );
  });
});

describe("loadScenario: valid scenarios", () => {
  it("fills defaults and names nodes n1..nN", () => {
    const s = loadScenario("some/dir/tiny.yaml", BASE);
    expect(s.nodes).toEqual(["n1", "n2", "n3"]);
    expect(s.name).toBe("tiny");
    expect(s.file).toBe("tiny.yaml");
    expect(s.data.seed).toBe(1);
    expect(s.data.network.mode).toBe("tcp");
    expect(s.data.disk.unsyncedOnCrash).toBe("lose");
    expect(s.data.trace.detail).toBe("messages");
    expect(s.nodeConfigs.get("n2")).toMatchObject({ heartbeatMs: 50, bugs: { voteBeforePersist: false } });
  });

  it("merges per-node config over the base config", () => {
    const s = loadScenario("x.yaml", `${BASE}config: { heartbeatMs: 20 }\nnodeConfig:\n  n2: { heartbeatMs: 30 }\n`);
    expect(s.nodeConfigs.get("n1")).toMatchObject({ heartbeatMs: 20 });
    expect(s.nodeConfigs.get("n2")).toMatchObject({ heartbeatMs: 30 });
  });

  it("compiles node references, where-clauses and named heals", () => {
    const s = loadScenario(
      "x.yaml",
      `${BASE}faults:\n  - { at: 1, partition: { isolate: { where: { role: leader } } }, name: cut }\n  - { at: 2, heal: cut }\n  - { at: 3, crash: [n1, n2] }\n`,
    );
    expect(s.faults).toHaveLength(3);
    expect(s.faults[0]?.refs.get("partition.isolate")).toEqual({ where: [{ field: "role", op: "eq", value: "leader" }] });
    expect(s.faults[2]?.refs.get("crash.0")).toEqual({ name: "n1" });
    expect(s.faults[2]?.refs.get("crash.1")).toEqual({ name: "n2" });
  });

  it("compiles an admin command with a node reference checked like crash's", () => {
    const s = loadScenario(
      "x.yaml",
      `${BASE}faults:\n  - { at: 1, command: { node: n2, cmd: [CLUSTER, FAILOVER, FORCE] } }\n  - when: { some: all, role: leader }\n    command: { node: { where: { role: follower } }, cmd: [CLUSTER, KEYSLOT, 7] }\n`,
    );
    expect(s.faults).toHaveLength(2);
    expect(s.faults[0]?.entry.command).toEqual({ node: "n2", cmd: ["CLUSTER", "FAILOVER", "FORCE"] });
    expect(s.faults[0]?.refs.get("command.node")).toEqual({ name: "n2" });
    expect(s.faults[1]?.refs.get("command.node")).toEqual({ where: [{ field: "role", op: "eq", value: "follower" }] });
    expect(s.faults[1]?.entry.command?.cmd).toEqual(["CLUSTER", "KEYSLOT", "7"]);
  });

  it("loads every shipped scenario", () => {
    const dirs = [join(ROOT, "scenarios"), join(ROOT, "scenarios", "failing")];
    const files = dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith(".yaml")).map((f) => join(d, f)));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) expect(() => loadScenario(f, readFileSync(f, "utf8"))).not.toThrow();
  });
});

describe("loadScenario: operator tasks and workload kinds", () => {
  const CLUSTER = "machine: redis-cluster\nnodes: 6\ndurationMs: 1000\n";
  it("an unknown operator names the ones there are", () => {
    expect(() => loadScenario("s.yaml", `${CLUSTER}faults:\n  - { at: 1, operate: { name: shuffle } }\n`)).toThrow(/has no operator "shuffle" \(it has: reshard\)/);
  });
  it("an unknown workload kind names the ones there are", () => {
    expect(() => loadScenario("s.yaml", `${CLUSTER}workload: { clients: 1, kind: queue }\n`)).toThrow(/has no workload "queue" \(it has: lists, lists-tagged, wait, pubsub\)/);
  });
  it("reshard's arguments are checked at load", () => {
    expect(() => loadScenario("s.yaml", `${CLUSTER}faults:\n  - { at: 1, operate: { name: reshard, args: { from: n1, to: n9, slots: "0-9" } } }\n`)).toThrow(/to: expected one of n1, n2/);
    expect(() => loadScenario("s.yaml", `${CLUSTER}faults:\n  - { at: 1, operate: { name: reshard, args: { from: n1, to: n2, slots: "9-0" } } }\n`)).toThrow(/is not a range/);
  });
});
