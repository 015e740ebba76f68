// Raft store benchmarks in the simulator, used by bench/run.ts (sections raft-sim, raft-election,
// raft-explore). Figures are printed, never asserted.
//
//   raft-sim       committed operations per simulated second and per wall second: five members,
//                  N session clients with (almost) no think time, no faults.
//   raft-election  time without a leader after the leader crashes, over many seeds, set beside
//                  the Raft paper's Figure 16 (Ongaro & Ousterhout 2014, §9.3).
//   raft-explore   `sim explore scenarios/raft-swarm.yaml` over many seeds: seeds per second,
//                  failures (must be 0), and how often the same swarm finds each planted bug.
//
// The election sweep runs in worker threads (bench/raft-worker.ts), seeds split round-robin.

import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { explore, type SeedOutcome } from "../sim/explore.js";
import type { InvariantChecker, TraceLine } from "../sim/machines/adapter.js";
import { runScenario } from "../sim/run.js";
import { loadScenario } from "../sim/scenario/load.js";
import { percentile } from "./cluster.js";

const ROOT = join(import.meta.dirname, "..", "..");

type Figures = Record<string, number | string | boolean>;
export interface RaftRow {
  readonly name: string;
  readonly figures: Figures;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

// ---- raft-sim: throughput ---------------------------------------------------------------------

/**
 * Five members, `clients` closed-loop session clients with a 1 µs mean think time (the format
 * wants it positive): each has one operation in flight, so `clients` is the concurrency. TCP-like
 * links of 0.2–2 ms, fsyncs of 0.5–3 ms (the simulator's defaults), no faults.
 */
export function throughputScenarioSource(clients: number, durationMs: number): string {
  return [
    `name: raft-throughput-${clients}`,
    "machine: raft",
    "nodes: 5",
    "seed: 1",
    `durationMs: ${durationMs}`,
    "config: { electionTimeoutMs: [150, 300], heartbeatMs: 50 }",
    "network: { mode: tcp, latency: { dist: uniform, minMs: 0.2, maxMs: 2 } }",
    "disk: { syncLatency: { dist: uniform, minMs: 0.5, maxMs: 3 } }",
    `workload: { clients: ${clients}, thinkMs: 0.001, timeoutMs: 2000, redirectsMax: 20 }`,
    "trace: { detail: events }",
    "",
  ].join("\n");
}

/** Latency of every client operation that ended ok (simulated ms), from the trace. */
function opLatencies(): { checker: InvariantChecker; latencies: number[] } {
  const started = new Map<string, number>();
  const latencies: number[] = [];
  const checker: InvariantChecker = {
    name: "op-latency",
    description: "records client operation latencies (never fails)",
    onTrace(line: TraceLine) {
      if (line.type !== "client-op" || line.node === undefined) return null;
      const k = `${line.node}/${String(line["op"])}`;
      if (line["phase"] === "invoke") started.set(k, line.t);
      else {
        const t0 = started.get(k);
        started.delete(k);
        if (t0 !== undefined && line["phase"] === "ok") latencies.push(line.t - t0);
      }
      return null;
    },
  };
  return { checker, latencies };
}

export function raftThroughput(quick: boolean): RaftRow[] {
  const durationMs = quick ? 3000 : 10_000;
  const rows: RaftRow[] = [];
  for (const clients of quick ? [1, 16, 64] : [1, 4, 16, 64, 256]) {
    const scenario = loadScenario(`bench:raft-throughput-${clients}`, throughputScenarioSource(clients, durationMs));
    const probe = opLatencies();
    let maxCommit = 0;
    const commits: InvariantChecker = {
      name: "commits",
      description: "records the highest commit index (never fails)",
      onTrace(line) {
        if (line.type === "raft-commit") maxCommit = Math.max(maxCommit, line["index"] as number);
        return null;
      },
    };
    const t0 = performance.now();
    const r = runScenario(scenario, { seed: 1, sink: null, extraCheckers: [probe.checker, commits] });
    const wallMs = performance.now() - t0;
    const simS = r.stats.simMs / 1000;
    const ok = r.stats.workload?.ok ?? 0;
    rows.push({
      name: `${clients} client${clients === 1 ? "" : "s"}, ${simS} simulated s`,
      figures: {
        opsOk: ok,
        opsPerSimS: Math.round(ok / simS),
        opsPerWallS: Math.round((ok * 1000) / wallMs),
        entriesPerSimS: Math.round(maxCommit / simS),
        p50Ms: round1(percentile(probe.latencies, 50) ?? 0),
        p99Ms: round1(percentile(probe.latencies, 99) ?? 0),
        wallMs: Math.round(wallMs),
        simSPerWallS: round1((simS * 1000) / wallMs),
        pass: r.pass,
      },
    });
  }
  return rows;
}

// ---- raft-election: time without a leader ---------------------------------------------------------

export interface ElectionSetup {
  readonly label: string;
  readonly timeoutMs: readonly [number, number];
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** One-way link latency, uniform over this range (default 4–8 ms). */
  readonly latencyMs?: readonly [number, number];
}

/** When the leader is crashed: after the first election has settled, plus a per-seed offset within one heartbeat. */
const CRASH_BASE_MS = 2000;
/** How long after the crash a run goes on looking for the new leader's first commit. */
const WATCH_MS = 5000;

/**
 * The election measurement, after the paper's: five members, heartbeats every half of the minimum
 * election timeout, one-way latency 4–8 ms with 0.5–3 ms fsyncs (a broadcast round — send,
 * fsync, reply — of roughly 15 ms, the paper's "broadcast time of roughly 15ms"), and the
 * leader crashed at 2 s plus an offset drawn per seed within one heartbeat interval (the paper
 * crashed it "uniformly randomly within its heartbeat interval"). No client traffic: with it,
 * appends reach the followers between heartbeats and every crash is detected a full timeout
 * after the last one. (The paper also gave servers different log lengths and had the leader
 * broadcast one last heartbeat just before dying; neither is reproduced here.)
 */
export function electionScenarioSource(s: ElectionSetup, seed: number): string {
  const heartbeatMs = Math.floor(s.timeoutMs[0] / 2);
  // A per-seed offset in [0, heartbeatMs), from the seed alone (Knuth's multiplicative hash).
  const offsetUs = ((seed * 2654435761) >>> 0) % (heartbeatMs * 1000);
  const crashAtMs = CRASH_BASE_MS + offsetUs / 1000;
  return [
    `name: raft-election-${s.timeoutMs[0]}-${s.timeoutMs[1]}`,
    "machine: raft",
    "nodes: 5",
    `seed: ${seed}`,
    `durationMs: ${crashAtMs + WATCH_MS}`,
    `config: { electionTimeoutMs: [${s.timeoutMs[0]}, ${s.timeoutMs[1]}], heartbeatMs: ${heartbeatMs}, preVote: ${s.preVote}, checkQuorum: ${s.checkQuorum} }`,
    `network: { mode: tcp, latency: { dist: uniform, minMs: ${s.latencyMs?.[0] ?? 4}, maxMs: ${s.latencyMs?.[1] ?? 8} } }`,
    "disk: { syncLatency: { dist: uniform, minMs: 0.5, maxMs: 3 } }",
    "faults:",
    `  - { at: ${crashAtMs}, crash: { where: { role: leader } } }`,
    "trace: { detail: events }",
    "",
  ].join("\n");
}

export interface ElectionTiming {
  readonly seed: number;
  /** There was a leader to crash at the crash time. */
  readonly crashed: boolean;
  /** ms from the crash to the first `raft-leader` of a later term on a live member (null: none in WATCH_MS). */
  readonly electedMs: number | null;
  /** ms from the crash to that new leader's first commit of an entry of its own term (its no-op). */
  readonly committedMs: number | null;
  readonly pass: boolean;
}

/** Times one seed. Exported for the worker. */
export function timeElection(s: ElectionSetup, seed: number): ElectionTiming {
  const scenario = loadScenario(`bench:raft-election-${seed}`, electionScenarioSource(s, seed));
  let crashAt: number | null = null;
  let oldTerm = 0;
  const termOf = new Map<string, number>();
  let leader: { node: string; term: number; t: number } | null = null;
  let committedAt: number | null = null;
  const watcher: InvariantChecker = {
    name: "election-timing",
    description: "records crash → new leader → its first commit (never fails)",
    onTrace(line: TraceLine) {
      const node = line.node;
      if (line.type === "fault" && line["action"] === "crash" && crashAt === null && node !== undefined) {
        crashAt = line.t;
        oldTerm = termOf.get(node) ?? 0;
      }
      if (line.type === "raft-leader" && node !== undefined) {
        termOf.set(node, line["term"] as number);
        if (crashAt !== null && leader === null && (line["term"] as number) > oldTerm) leader = { node, term: line["term"] as number, t: line.t };
      }
      if (line.type === "raft-commit" && leader !== null && committedAt === null && node === leader.node && line["term"] === leader.term) committedAt = line.t;
      return null;
    },
  };
  const r = runScenario(scenario, { seed, sink: null, extraCheckers: [watcher] });
  const since = (t: number | null): number | null => (t === null || crashAt === null ? null : Math.round((t - crashAt) * 1000) / 1000);
  const elected = leader as { t: number } | null;
  return { seed, crashed: crashAt !== null, electedMs: since(elected?.t ?? null), committedMs: since(committedAt), pass: r.pass };
}

/** Runs seeds 1..n of one setup across worker threads. */
export async function sweepElections(s: ElectionSetup, n: number): Promise<ElectionTiming[]> {
  const workers = Math.max(1, Math.min(availableParallelism(), 4));
  const seeds = Array.from({ length: n }, (_, i) => i + 1);
  const chunks = Array.from({ length: workers }, (_, w) => seeds.filter((_, i) => i % workers === w));
  const results = await Promise.all(
    chunks.map(
      (chunk) =>
        new Promise<ElectionTiming[]>((resolve, reject) => {
          const worker = new Worker(new URL("./raft-worker.js", import.meta.url), { workerData: { setup: s, seeds: chunk } });
          const out: ElectionTiming[] = [];
          worker.on("message", (t: ElectionTiming) => out.push(t));
          worker.on("error", reject);
          worker.on("exit", () => resolve(out));
        }),
    ),
  );
  return results.flat().sort((a, b) => a.seed - b.seed);
}

/** The setups: the paper's (no PreVote, no CheckQuorum, as LogCabin then) and this store's defaults. */
export const ELECTION_SETUPS: readonly ElectionSetup[] = [
  { label: "150–155 ms, paper-like (no PreVote/CheckQuorum)", timeoutMs: [150, 155], preVote: false, checkQuorum: false },
  { label: "150–200 ms, paper-like", timeoutMs: [150, 200], preVote: false, checkQuorum: false },
  { label: "150–300 ms, paper-like", timeoutMs: [150, 300], preVote: false, checkQuorum: false },
  { label: "150–155 ms, PreVote + CheckQuorum (defaults)", timeoutMs: [150, 155], preVote: true, checkQuorum: true },
  // The same tight timeouts on a fast LAN (0.2–2 ms links): split votes need the RequestVote to
  // arrive after the other timers fire, so they depend on fsync + latency against the 5 ms spread.
  { label: "150–155 ms, paper-like, 0.2–2 ms links", timeoutMs: [150, 155], preVote: false, checkQuorum: false, latencyMs: [0.2, 2] },
  { label: "150–300 ms, PreVote + CheckQuorum (defaults)", timeoutMs: [150, 300], preVote: true, checkQuorum: true },
];

/** The paper's Figure 16 / §9.3 figures, quoted where it gives them. */
const PAPER: Readonly<Record<string, string>> = {
  "150-155": "median 287",
  "150-200": "max 513",
  "150-300": "(graph only)",
};

function distribution(xs: readonly number[]): Figures {
  if (xs.length === 0) return { minMs: "-", p50Ms: "-", p90Ms: "-", p99Ms: "-", maxMs: "-" };
  return {
    minMs: round1(Math.min(...xs)),
    p50Ms: round1(percentile(xs, 50) as number),
    p90Ms: round1(percentile(xs, 90) as number),
    p99Ms: round1(percentile(xs, 99) as number),
    maxMs: round1(Math.max(...xs)),
  };
}

export async function raftElection(quick: boolean): Promise<RaftRow[]> {
  const n = quick ? 100 : 1000;
  const rows: RaftRow[] = [];
  for (const s of ELECTION_SETUPS) {
    process.stderr.write(`  raft-election ${s.label}: ${n} seeds\n`);
    const t = (await sweepElections(s, n)).filter((x) => x.crashed);
    const elected = t.map((x) => x.electedMs).filter((x): x is number => x !== null);
    const committed = t.map((x) => x.committedMs).filter((x): x is number => x !== null);
    const paper = s.latencyMs === undefined ? (PAPER[`${s.timeoutMs[0]}-${s.timeoutMs[1]}`] ?? "") : "";
    rows.push({ name: `${s.label}: crash → new leader`, figures: { trials: t.length, ...distribution(elected), none: t.length - elected.length, paperMs: s.preVote ? "" : paper } });
    rows.push({ name: `${s.label}: crash → its first commit`, figures: { trials: t.length, ...distribution(committed), none: t.length - committed.length, paperMs: "" } });
    const failing = t.filter((x) => !x.pass).length;
    if (failing > 0) rows.push({ name: `${s.label}: runs failing a check`, figures: { trials: failing } });
  }
  return rows;
}

// ---- raft-explore: the swarm ----------------------------------------------------------------------

const SWARM = "scenarios/raft-swarm.yaml";

/** The swarm's source with a planted bug switched on (every member): a first line in its top-level `config:`. */
export function withBug(source: string, bug: "commitOldTermByCount" | "voteBeforePersist"): string {
  if (!/^config:\n/m.test(source)) throw new Error(`${SWARM} changed: it has no top-level "config:" block to plant ${bug} in`);
  return source.replace(/^config:\n/m, `config:\n  bugs: { ${bug}: true }\n`);
}

async function sweep(label: string, source: string, n: number): Promise<{ outcomes: SeedOutcome[]; wallMs: number }> {
  const t0 = performance.now();
  const outcomes = await explore(SWARM, source, Array.from({ length: n }, (_, i) => i + 1), {
    workers: availableParallelism(),
    onOutcome: (_o, done, total) => {
      if (done % Math.max(1, Math.floor(total / 10)) === 0) process.stderr.write(`  ${label} ${done}/${total}\n`);
    },
  });
  return { outcomes, wallMs: performance.now() - t0 };
}

const seedList = (xs: readonly SeedOutcome[]): string => (xs.length === 0 ? "none" : xs.slice(0, 8).map((o) => o.seed).join(",") + (xs.length > 8 ? ",…" : ""));

export async function raftExplore(quick: boolean): Promise<RaftRow[]> {
  const source = readFileSync(join(ROOT, SWARM), "utf8");
  const n = quick ? 300 : 10_000;
  const { outcomes, wallMs } = await sweep("raft-swarm", source, n);
  const failed = outcomes.filter((o) => !o.pass);
  const kinds = (k: string): number => failed.filter((o) => o.failures.some((f) => f.kind === k)).length;
  const converged = outcomes.map((o) => o.convergedAfterMs).filter((x): x is number => typeof x === "number");
  const rows: RaftRow[] = [
    {
      name: `raft-swarm seeds 1..${n}`,
      figures: {
        seeds: n,
        failed: failed.length,
        invariantViolations: kinds("invariant"),
        notLinearizable: failed.filter((o) => o.failures.some((f) => f.name === "linearizable")).length,
        noConvergence: kinds("no-convergence"),
        failingSeeds: seedList(failed),
        simS: Math.round(outcomes.reduce((a, o) => a + o.simMs, 0) / 1000),
        wallS: round1(wallMs / 1000),
        seedsPerS: round1((n * 1000) / wallMs),
        convergeP50Ms: round1(percentile(converged, 50) ?? 0),
        convergeP99Ms: round1(percentile(converged, 99) ?? 0),
      },
    },
  ];
  // The swarm's power: how often it finds each planted bug (checked by the same checkers).
  const nBug = quick ? 100 : 2000;
  for (const bug of ["commitOldTermByCount", "voteBeforePersist"] as const) {
    const r = await sweep(`raft-swarm + ${bug}`, withBug(source, bug), nBug);
    const found = r.outcomes.filter((o) => !o.pass);
    const by = new Map<string, number>();
    for (const o of found) for (const name of new Set(o.failures.map((f) => f.name))) by.set(name, (by.get(name) ?? 0) + 1);
    rows.push({
      name: `planted ${bug}, seeds 1..${nBug}`,
      figures: {
        seeds: nBug,
        failed: found.length,
        failingSeeds: seedList(found),
        caughtBy: [...by].map(([k, v]) => `${k} ${v}`).join(", ") || "-",
        wallS: round1(r.wallMs / 1000),
      },
    });
  }
  return rows;
}
