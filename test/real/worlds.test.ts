// Worlds agree: the failover the simulator runs in scenarios/master-crash.yaml happens the same
// way on six real `faultline node` processes.
//
// Goal: the simulator is only worth its verdicts if the real node, on real sockets and timers,
// walks through the same protocol. Method: run master-crash.yaml in the simulator with a sink that
// keeps its trace lines; form the same topology (3 masters, 1 replica each, node timeout 1000 ms)
// from real processes with `faultline cluster create`, SIGKILL the master of slot 0 once every
// node says cluster_state:ok, and read the protocol events about the crashed master and its
// replica from both traces: PFAIL (on any node), FAIL, the replica's failover-start and
// vote-request, the other masters' votes, the replica's vote-received and promoted. Nodes are
// matched by role (crashed master, its replica, other master, other replica), not by name. The
// ordered sequence of steps must be the same in both worlds; timings are printed, not compared,
// except that the real promotion must come within PROMOTION_BOUND_MS of the SIGKILL.
//
// Needs dist/ (`npm test` builds). Every wait is bounded; every process is killed in afterAll.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runScenario } from "../../sim/run.js";
import { loadScenario } from "../../sim/scenario/load.js";
import { alive, assertBuilt, diagnostics, formCluster, freeClusterPort, killNodes, type LogLine, type NodeProcess, readLog, repo, startNode, tableOf, waitFor, waitForPing } from "./support.js";

const SCENARIO = join(repo, "scenarios", "master-crash.yaml");
const NODE_TIMEOUT_MS = 1000;
const START_TIMEOUT_MS = 15_000;
const SETTLE_TIMEOUT_MS = 15_000;
/** Generous: PFAIL after 1 s, FAIL soon after, then an election delay of 0.5–1 s. */
const PROMOTION_BOUND_MS = 10_000;

type Role = "crashed master" | "its replica" | "other master" | "other replica";

/** Who is who when the master crashes, by the names the trace uses (n1… or 127.0.0.1:port). */
interface Roles {
  readonly crashed: string;
  readonly replica: string;
  readonly otherMasters: ReadonlySet<string>;
}

function roleOf(node: string, roles: Roles): Role {
  if (node === roles.crashed) return "crashed master";
  if (node === roles.replica) return "its replica";
  return roles.otherMasters.has(node) ? "other master" : "other replica";
}

/** The failover's steps in the protocol's causal order, each with the role that logs it. */
const STEPS = [
  "pfail about the crashed master",
  "fail about the crashed master",
  "failover-start by its replica",
  "vote-request by its replica",
  "vote by an other master for its replica",
  "vote-received by its replica",
  "promoted: its replica replaces the crashed master",
] as const;
type Step = (typeof STEPS)[number];

/** One trace line that is a step of the failover. */
interface Event {
  readonly step: Step;
  readonly line: LogLine;
  readonly role: Role;
}

/** The step a trace line is, or null when it is none (or about other nodes). */
function stepOf(l: LogLine, r: Roles): Step | null {
  switch (l.type) {
    case "pfail":
      return l["about"] === r.crashed ? "pfail about the crashed master" : null;
    case "fail":
      return l["about"] === r.crashed ? "fail about the crashed master" : null;
    case "failover-start":
      return l.node === r.replica && l["master"] === r.crashed ? "failover-start by its replica" : null;
    case "vote-request":
      return l.node === r.replica && l["master"] === r.crashed ? "vote-request by its replica" : null;
    case "vote":
      return r.otherMasters.has(l.node) && l["for"] === r.replica ? "vote by an other master for its replica" : null;
    case "vote-received":
      return l.node === r.replica && r.otherMasters.has(String(l["from"])) ? "vote-received by its replica" : null;
    case "promoted":
      return l.node === r.replica && l["replaced"] === r.crashed ? "promoted: its replica replaces the crashed master" : null;
    default:
      return null;
  }
}

/** The failover's events among `lines` (in time order) from `fromMs` on. */
function failoverEvents(lines: readonly LogLine[], roles: Roles, fromMs: number): Event[] {
  const out: Event[] = [];
  for (const line of lines) {
    if (line.t < fromMs) continue;
    const step = stepOf(line, roles);
    if (step !== null) out.push({ step, line, role: roleOf(line.node, roles) });
  }
  return out;
}

/**
 * The steps in the order they first happened. Real logs stamp whole milliseconds, so two nodes
 * can log in the same one: such ties go in STEPS order (the simulator's microseconds never tie).
 */
function sequence(events: readonly Event[]): Step[] {
  const first = new Map<Step, number>();
  for (const e of events) if (!first.has(e.step)) first.set(e.step, e.line.t);
  return [...first.entries()].sort(([a, ta], [b, tb]) => ta - tb || STEPS.indexOf(a) - STEPS.indexOf(b)).map(([s]) => s);
}

/** Distinct masters that voted for the replica. */
function voters(events: readonly Event[]): number {
  return new Set(events.filter((e) => e.step === "vote by an other master for its replica").map((e) => e.line.node)).size;
}

/** A timeline to read: ms after the crash, node, role, event and its fields. */
function timeline(title: string, events: readonly Event[], crashMs: number): string {
  const rows = events.map(({ line, role }) => {
    const { t, node, type, level: _level, name: _name, ...fields } = line;
    const detail = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
      .join(" ");
    return `  +${(t - crashMs).toFixed(1).padStart(7)} ms  ${node.padEnd(15)} ${`(${role})`.padEnd(17)} ${type} ${detail}`;
  });
  return `${title}\n${rows.join("\n")}`;
}

/** The simulator's run of master-crash.yaml: its trace lines, the crash's time and the roles. */
function simulate(): { lines: LogLine[]; crashMs: number; roles: Roles } {
  const kept: string[] = [];
  const result = runScenario(loadScenario(SCENARIO, readFileSync(SCENARIO, "utf8")), { sink: { write: (l) => kept.push(l), close: () => {} } });
  expect(result.pass, `master-crash.yaml fails in the simulator: ${result.failures.map((f) => f.message).join("; ")}`).toBe(true);
  const lines = kept.map((l) => JSON.parse(l) as LogLine).filter((l) => typeof l.t === "number");
  const crash = lines.find((l) => l.type === "fault" && l["action"] === "crash");
  if (crash === undefined) throw new Error("master-crash.yaml's trace has no crash");
  // Each node's role is the one its last `state` line before the crash gave.
  const state = new Map<string, LogLine>();
  for (const l of lines) if (l.type === "state" && l.t <= crash.t) state.set(l.node, l);
  const replica = [...state.values()].find((s) => s["role"] === "replica" && s["master"] === crash.node);
  if (replica === undefined) throw new Error(`no replica of ${crash.node} in the simulator's trace`);
  const otherMasters = new Set([...state.values()].filter((s) => s["role"] === "master" && Number(s["slots"]) > 0 && s.node !== crash.node).map((s) => s.node));
  return { lines, crashMs: crash.t, roles: { crashed: crash.node, replica: replica.node, otherMasters } };
}

/** Every real node's log merged in time order (each file's own order kept for equal stamps). */
function realLines(nodes: readonly NodeProcess[]): LogLine[] {
  return nodes.flatMap((n) => readLog(n.logfile)).sort((a, b) => a.t - b.t);
}

const nodes: NodeProcess[] = [];
let root = "";

describe("worlds agree: master-crash.yaml in the simulator and on six real faultline nodes", () => {
  beforeAll(async () => {
    assertBuilt();
    process.once("exit", () => {
      for (const n of nodes) if (alive(n)) n.child.kill("SIGKILL");
    });
    root = mkdtempSync(join(tmpdir(), "faultline-worlds-"));
    const taken = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const port = await freeClusterPort(taken);
      taken.add(port);
      nodes.push(startNode(root, port, NODE_TIMEOUT_MS));
    }
    await waitForPing(nodes, START_TIMEOUT_MS);
  });

  afterEach(({ task }) => {
    if (task.result?.state === "fail") console.error(`${task.name} failed; nodes in ${root}\n${diagnostics(nodes)}`);
  });

  afterAll(async () => {
    await killNodes(nodes);
    if (root !== "") rmSync(root, { recursive: true, force: true });
  });

  it("SIGKILL of the master of slot 0: the same protocol steps, in the same order, as in the simulator", async () => {
    const sim = simulate();
    const simEvents = failoverEvents(sim.lines, sim.roles, sim.crashMs);

    const ports = nodes.map((n) => n.port);
    await formCluster(ports, SETTLE_TIMEOUT_MS);
    const table = await tableOf(ports[0] as number);
    const victim = table.find((e) => e.master && e.slots.has(0));
    const replica = victim === undefined ? undefined : table.find((e) => e.masterId === victim.id);
    if (victim === undefined || replica === undefined) throw new Error(`no master of slot 0 with a replica in\n${table.map((e) => e.address).join("\n")}`);
    const roles: Roles = {
      crashed: victim.address,
      replica: replica.address,
      otherMasters: new Set(table.filter((e) => e.master && e.slots.size > 0 && e.id !== victim.id).map((e) => e.address)),
    };
    const victimNode = nodes.find((n) => n.port === victim.port) as NodeProcess;
    const replicaNode = nodes.find((n) => n.port === replica.port) as NodeProcess;

    const killedMs = Date.now();
    victimNode.child.kill("SIGKILL");
    // Every step is logged before the promotion (the votes make it), so its line ends the wait.
    const promotedMs = await waitFor(`${replica.address} logs its promotion in place of ${victim.address}`, PROMOTION_BOUND_MS, async () => {
      const p = readLog(replicaNode.logfile).find((l) => l.t >= killedMs && l.type === "promoted" && l["replaced"] === victim.address);
      return p === undefined ? null : p.t;
    });
    const realEvents = failoverEvents(realLines(nodes), roles, killedMs);

    console.log(
      [
        `roles: simulator crashed ${sim.roles.crashed}, replica ${sim.roles.replica}, other masters ${[...sim.roles.otherMasters].join(", ")}; ` +
          `real crashed ${roles.crashed}, replica ${roles.replica}, other masters ${[...roles.otherMasters].join(", ")}`,
        timeline(`simulator (master-crash.yaml seed 1), ms after the crash at ${sim.crashMs} ms:`, simEvents, sim.crashMs),
        timeline(`real nodes, ms after the SIGKILL (promoted after ${promotedMs - killedMs} ms):`, realEvents, killedMs),
      ].join("\n"),
    );

    expect(sim.roles.otherMasters.size).toBe(2);
    expect(roles.otherMasters.size).toBe(2);
    expect(sequence(simEvents), "the simulator walks every step in the protocol's order").toEqual([...STEPS]);
    expect(sequence(realEvents), "the real nodes walk the simulator's steps in its order").toEqual(sequence(simEvents));
    // A quorum of 2 out of 3 masters: both survivors vote, in both worlds.
    expect(voters(realEvents)).toBe(voters(simEvents));
    expect(promotedMs - killedMs).toBeLessThanOrEqual(PROMOTION_BOUND_MS);
  });
});
