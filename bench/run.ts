// `npm run bench`: how fast the simulator runs, what tracing costs, how it scales with cluster
// size and with worker threads. Prints figures and ratios; never asserts on them (these machines
// are shared and noisy, so a threshold would make a flaky test, not a benchmark).
//
//   npm run bench                 every section
//   npm run bench -- --quick      fewer repetitions and smaller sizes (a minute or less)
//   npm run bench -- --only scale --json
//   npm run bench -- --only cluster-explore   cluster-swarm seeds 1..10000 (about 4 minutes on 2 cores)
//   npm run bench -- --only real-throughput   real nodes against redis-server 7 (bench/real.ts)
//   npm run bench -- --only viewer            the trace viewer in headless chromium (bench/viewer.ts)
//   npm run bench -- --only raft-sim raft-election raft-explore raft-real   the Raft store (bench/raft.ts, bench/raft-real.ts)

import { readFileSync, rmSync, statSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { TRACE_DETAILS, type TraceDetail } from "../core/trace.js";
import { explore } from "../sim/explore.js";
import { percentile, runScale, sweepFailover } from "./cluster.js";
import { realFailover, realMemory, realThroughput, type RealRow } from "./real.js";
import { raftElection, raftExplore, raftThroughput } from "./raft.js";
import { raftRealThroughput } from "./raft-real.js";
import { viewerBench } from "./viewer.js";
import { runScenario } from "../sim/run.js";
import { loadScenario, type Scenario } from "../sim/scenario/load.js";
import { FileSink, HashingSink, type TraceSink } from "../sim/trace-sink.js";

const SECTIONS = ["standard", "trace", "scale", "explore", "failover", "cluster-scale", "cluster-explore", "real-throughput", "real-failover", "real-memory", "viewer", "raft-sim", "raft-election", "raft-explore", "raft-real"] as const;
type Section = (typeof SECTIONS)[number];

const ROOT = join(import.meta.dirname, "..", "..");

interface Measure {
  readonly wallMs: number;
  readonly events: number;
  readonly simMs: number;
  readonly traceBytes: number;
  readonly traceLines: number;
  readonly pass: boolean;
}

interface Row {
  readonly section: Section;
  readonly name: string;
  readonly figures: Record<string, number | string | boolean>;
}

function scenarioFile(rel: string): Scenario {
  const path = join(ROOT, rel);
  return loadScenario(rel, readFileSync(path, "utf8"));
}

/** One run; `sink` null means no trace at all (what `sim explore` does). */
function measure(scenario: Scenario, seed: number, detail: TraceDetail, sink: TraceSink | null): Measure {
  const hashing = sink === null ? null : new HashingSink(sink);
  const t0 = performance.now();
  const r = runScenario(scenario, { seed, detail, sink: hashing });
  hashing?.close();
  const wallMs = performance.now() - t0;
  return { wallMs, events: r.stats.events, simMs: r.stats.simMs, traceBytes: hashing?.bytes ?? 0, traceLines: hashing?.lines ?? 0, pass: r.pass };
}

/** The median of `reps` runs by wall time (after one warm-up run that is not counted). */
function median(reps: number, run: () => Measure): Measure {
  run();
  const all = Array.from({ length: reps }, run).sort((a, b) => a.wallMs - b.wallMs);
  return all[Math.floor(all.length / 2)] as Measure;
}

/** Discards lines: measures formatting without any IO. */
const nullSink: TraceSink = { write: () => undefined, close: () => undefined };

const perSec = (n: number, ms: number): number => (ms > 0 ? Math.round((n * 1000) / ms) : 0);
const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;

// ---- sections -------------------------------------------------------------------------------------

function standard(quick: boolean): Row[] {
  // The standard scenario: toy-swarm (5 nodes, every fault model on, three clients), many seeds
  // back to back in one thread, as `sim explore --workers 0` runs them; then one long steady run.
  const swarm = scenarioFile("scenarios/toy-swarm.yaml");
  const seeds = Array.from({ length: quick ? 20 : 100 }, (_, i) => i + 1);
  const batch = (): Measure => {
    let events = 0;
    let simMs = 0;
    let pass = true;
    const t0 = performance.now();
    for (const seed of seeds) {
      const m = measure(swarm, seed, "events", null);
      events += m.events;
      simMs += m.simMs;
      pass &&= m.pass;
    }
    return { wallMs: performance.now() - t0, events, simMs, traceBytes: 0, traceLines: 0, pass };
  };
  const rows: Row[] = [];
  const b = median(quick ? 1 : 3, batch);
  rows.push({
    section: "standard",
    name: `toy-swarm seeds 1..${seeds.length}`,
    figures: { events: b.events, simS: round(b.simMs / 1000), wallMs: round(b.wallMs), eventsPerS: perSec(b.events, b.wallMs), simSPerWallS: ratio(b.simMs, b.wallMs), allPass: b.pass },
  });
  const longMs = quick ? 60_000 : 300_000;
  const long = bigScenario(5, longMs);
  const l = median(quick ? 1 : 3, () => measure(long, 1, "events", null));
  rows.push({
    section: "standard",
    name: `toy-leader 5 nodes, one ${longMs / 1000} s run`,
    figures: { events: l.events, simS: round(l.simMs / 1000), wallMs: round(l.wallMs), eventsPerS: perSec(l.events, l.wallMs), simSPerWallS: ratio(l.simMs, l.wallMs), allPass: l.pass },
  });
  return rows;
}

function traceCost(quick: boolean): Row[] {
  const scenario = scenarioFile("scenarios/toy-swarm.yaml");
  const reps = quick ? 3 : 5;
  const base = median(reps, () => measure(scenario, 1, "events", null));
  const rows: Row[] = [{ section: "trace", name: "no trace", figures: { wallMs: round(base.wallMs), eventsPerS: perSec(base.events, base.wallMs), vsNoTrace: 1 } }];
  const file = join(tmpdir(), `faultline-bench-${process.pid}.jsonl`);
  try {
    for (const detail of TRACE_DETAILS) {
      const mem = median(reps, () => measure(scenario, 1, detail, nullSink));
      const disk = median(reps, () => measure(scenario, 1, detail, new FileSink(file)));
      rows.push({
        section: "trace",
        name: `detail ${detail}`,
        figures: {
          lines: mem.traceLines,
          bytes: mem.traceBytes,
          bytesPerSimS: Math.round(mem.traceBytes / (mem.simMs / 1000)),
          wallMsFormatOnly: round(mem.wallMs),
          wallMsToFile: round(disk.wallMs),
          fileBytes: statSync(file).size,
          vsNoTrace: ratio(disk.wallMs, base.wallMs),
        },
      });
    }
  } finally {
    rmSync(file, { force: true });
  }
  return rows;
}

/** A toy-leader cluster of `nodes` nodes, a leader crash in the middle, for `durationMs`. */
function bigScenario(nodes: number, durationMs: number): Scenario {
  const source = [
    `name: toy-leader-${nodes}`,
    "machine: toy-leader",
    `nodes: ${nodes}`,
    "seed: 1",
    `durationMs: ${durationMs}`,
    "config: { electionTimeoutMs: [150, 300], heartbeatMs: 50 }",
    "network: { latency: { dist: uniform, minMs: 0.2, maxMs: 2 } }",
    "workload: { clients: 4, thinkMs: 20, timeoutMs: 500 }",
    "faults:",
    "  - when: { some: all, role: leader }",
    "    delayMs: 300",
    "    crash: { where: { role: leader } }",
    "    for: 500",
    "",
  ].join("\n");
  return loadScenario(`bench:toy-leader-${nodes}`, source);
}

function scale(quick: boolean): Row[] {
  const rows: Row[] = [];
  const sizes: [number, number][] = quick
    ? [
        [5, 2000],
        [100, 2000],
        [1000, 1000],
      ]
    : [
        [5, 5000],
        [100, 5000],
        [1000, 2000],
      ];
  for (const [nodes, durationMs] of sizes) {
    const scenario = bigScenario(nodes, durationMs);
    const reps = nodes >= 1000 ? 1 : quick ? 2 : 3;
    const none = median(reps, () => measure(scenario, 1, "events", null));
    const figures: Record<string, number | string | boolean> = {
      simS: none.simMs / 1000,
      events: none.events,
      wallMs: round(none.wallMs),
      eventsPerS: perSec(none.events, none.wallMs),
      simSPerWallS: ratio(none.simMs, none.wallMs),
    };
    for (const detail of TRACE_DETAILS) {
      const m = measure(scenario, 1, detail, nullSink);
      figures[`${detail}Bytes`] = m.traceBytes;
      figures[`${detail}BytesPerSimS`] = Math.round(m.traceBytes / (m.simMs / 1000));
    }
    figures["rssMiB"] = Math.round(process.memoryUsage().rss / 2 ** 20);
    rows.push({ section: "scale", name: `toy-leader ${nodes} nodes`, figures });
  }
  return rows;
}

async function exploreScaling(quick: boolean): Promise<Row[]> {
  const rel = "scenarios/toy-swarm.yaml";
  const source = readFileSync(join(ROOT, rel), "utf8");
  const seeds = Array.from({ length: quick ? 100 : 400 }, (_, i) => i + 1);
  const rows: Row[] = [];
  let oneWorker = 0;
  for (const workers of [0, 1, 2]) {
    const t0 = performance.now();
    const outcomes = await explore(rel, source, seeds, { workers });
    const wallMs = performance.now() - t0;
    const events = outcomes.reduce((s, o) => s + o.events, 0);
    if (workers === 1) oneWorker = wallMs;
    rows.push({
      section: "explore",
      name: workers === 0 ? "inline (no workers)" : `${workers} worker${workers === 1 ? "" : "s"}`,
      figures: {
        seeds: seeds.length,
        failed: outcomes.filter((o) => !o.pass).length,
        wallMs: round(wallMs),
        seedsPerS: perSec(seeds.length, wallMs),
        eventsPerS: perSec(events, wallMs),
        ...(workers > 1 ? { speedupVs1: ratio(oneWorker, wallMs) } : {}),
      },
    });
  }
  return rows;
}

async function failover(quick: boolean): Promise<Row[]> {
  const n = quick ? 100 : 1000;
  let last = 0;
  const timings = await sweepFailover(n, 1000, (done) => {
    if (done - last >= n / 10 || done === n) {
      last = done;
      process.stderr.write(`  failover seeds ${done}/${n}\n`);
    }
  });
  const figures = (name: string, xs: (number | null)[]): Row => {
    const got = xs.filter((x): x is number => x !== null);
    return {
      section: "failover",
      name,
      figures: {
        seeds: n,
        happened: got.length,
        p50Ms: percentile(got, 50) ?? "-",
        p99Ms: percentile(got, 99) ?? "-",
        minMs: got.length > 0 ? Math.min(...got) : "-",
        maxMs: got.length > 0 ? Math.max(...got) : "-",
      },
    };
  };
  return [
    figures("crash → first FAIL", timings.map((t) => t.failMs)),
    figures("crash → FAIL on every live node", timings.map((t) => t.failEverywhereMs)),
    figures("crash → promotion", timings.map((t) => t.promotedMs)),
    { section: "failover", name: "runs passing every invariant", figures: { seeds: n, happened: timings.filter((t) => t.pass).length } },
  ];
}

function clusterScale(quick: boolean): Row[] {
  const rows: Row[] = [];
  const runs: [number, number][] = quick ? [[50, 20_000], [500, 10_000]] : [[50, 60_000], [500, 60_000]];
  for (const [masters, durationMs] of runs) {
    process.stderr.write(`  ${masters * 2} nodes for ${durationMs / 1000} simulated s...\n`);
    rows.push({ section: "cluster-scale", name: `${masters * 2} nodes (${masters} masters)`, figures: runScale(masters, durationMs, 15000) as Record<string, number | string> });
  }
  return rows;
}

/** The swarm exploration the cluster issue asks for: every seed must pass every invariant and converge. */
async function clusterExplore(quick: boolean): Promise<Row[]> {
  const rel = "scenarios/cluster-swarm.yaml";
  const source = readFileSync(join(ROOT, rel), "utf8");
  const n = quick ? 500 : 10_000;
  const seeds = Array.from({ length: n }, (_, i) => i + 1);
  const t0 = performance.now();
  const outcomes = await explore(rel, source, seeds, {
    workers: availableParallelism(),
    onOutcome: (_o, done, total) => {
      if (done % (total / 10) === 0) process.stderr.write(`  cluster-swarm seeds ${done}/${total}\n`);
    },
  });
  const wallMs = performance.now() - t0;
  const failed = outcomes.filter((o) => !o.pass);
  const converged = outcomes.map((o) => o.convergedAfterMs).filter((x): x is number => typeof x === "number");
  const invariantFailures = failed.filter((o) => o.failures.some((f) => f.kind === "invariant")).length;
  return [
    {
      section: "cluster-explore",
      name: `cluster-swarm seeds 1..${n}`,
      figures: {
        seeds: n,
        failed: failed.length,
        invariantViolations: invariantFailures,
        failingSeeds: failed.length === 0 ? "none" : failed.slice(0, 10).map((o) => o.seed).join(",") + (failed.length > 10 ? ",…" : ""),
        convergeP50Ms: roundOrNa(percentile(converged, 50)),
        convergeP99Ms: roundOrNa(percentile(converged, 99)),
        wallS: round(wallMs / 1000),
      },
    },
  ];
}

// ---- output ---------------------------------------------------------------------------------------

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

function roundOrNa(x: number | null): number | string {
  return x === null ? "n/a" : round(x);
}

function fmt(v: number | string | boolean): string {
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v) && Math.abs(v) >= 10_000) return v.toLocaleString("en-US");
  return String(v);
}

function printSection(title: string, rows: readonly Row[]): void {
  console.log(`\n## ${title}`);
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.figures)))];
  const header = ["", ...keys];
  const body = rows.map((r) => [r.name, ...keys.map((k) => (r.figures[k] === undefined ? "" : fmt(r.figures[k] as number)))]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join("  ");
  console.log(line(header));
  for (const b of body) console.log(line(b));
}

const TITLES: Record<Section, string> = {
  standard: "standard scenarios (no trace; median of runs after a warm-up)",
  trace: "trace cost by detail level (toy-swarm seed 1; vsNoTrace = wall time writing a file / without a trace)",
  scale: "cluster size (toy-leader, leader crash; trace sizes per detail level, formatted but not written)",
  explore: "sim explore scaling (toy-swarm; inline, then worker threads; includes worker start-up)",
  failover: "redis-cluster failover, node_timeout 1000 ms (master-crash's 3+3 cluster, n1 crashes at 3 s; Redis 7.0.15: FAIL ≈1.4–1.8 s, promotion ≈2.1–2.8 s)",
  "cluster-explore": "sim explore over cluster-swarm (crashes, pauses, partitions, clogs, loss, clock jumps; every invariant at every step, then convergence)",
  "cluster-scale": "redis-cluster at scale (preformed cluster, node_timeout 15000 ms, one master crashes a third of the way in; target 1000 nodes: 60 simulated s in ≤ 60 wall s)",
  "real-throughput": "real nodes: redis-benchmark -t set,get -c 50 against one Faultline node and one redis-server 7 (all slots, one node); median of alternating runs, ratio = Faultline / redis-server",
  "real-failover": "real nodes: 3+3 cluster, node timeout 1000 ms, SIGKILL the master of slot 0; CLUSTER NODES of the survivors every 10 ms; fresh cluster per run; ratio = Faultline / redis-server (≤ 1 is as fast or faster)",
  "real-memory": "real nodes: SET key:<i> <8 bytes> for 1M keys over one pipelined connection; RSS growth per key (VmRSS after − before, 2 s after the load) and redis-server's used_memory",
  "raft-sim": "Raft store in the simulator: 5 members, N session clients with no think time (one op in flight each), no faults; client ops acknowledged and log entries committed per simulated and per wall second, op latency in simulated ms",
  "raft-election":
    "Raft: time without a leader after a leader crash (5 members, one-way latency 4–8 ms, heartbeat = half the minimum timeout, crash at a random point of a heartbeat interval); crash → first raft-leader of a later term on a live member, and → that leader's first commit of its own term; paperMs quotes Ongaro & Ousterhout 2014 §9.3 / Figure 16",
  "raft-explore": "sim explore over raft-swarm (crashes, pauses, partitions, clogs, loss, duplication, reordering, clock jumps, fast or slow disks losing/tearing unsynced writes, PreVote/CheckQuorum/batch size drawn per seed, a membership change and a transfer; every invariant at every step, linearizability, convergence); then the same swarm with each planted bug on",
  "raft-real": "Raft store on real processes (bench/raft-real.ts): 5 `faultline raft node` processes on 127.0.0.1, N HTTP clients each with one PUT in flight; committed PUTs per second and latency",
  viewer: "trace viewer in headless chromium (sim view; master-crash with the wait workload, cut to N events): navigation → data-ready → next frame, and 20 scrubber seeks → data-t → next frame; targets 1M events loaded in < 5000 ms, every seek < 100 ms",
};

/** A real-* section's rows, labelled with the section. */
async function real(section: Section, rows: Promise<RealRow[]>): Promise<Row[]> {
  return (await rows).map((r) => ({ section, ...r }));
}

/** Committed PUTs per second on five real members (bench/raft-real.ts), at a few client counts. */
async function raftReal(quick: boolean): Promise<Row[]> {
  const rows: Row[] = [];
  for (const clients of quick ? [16] : [1, 16, 64]) {
    const r = await raftRealThroughput({ clients, seconds: quick ? 2 : 5 });
    rows.push({ section: "raft-real", name: `${r.members} members, ${clients} client${clients === 1 ? "" : "s"}`, figures: { ...r } });
  }
  return rows;
}

async function runSection(section: Section, quick: boolean): Promise<Row[]> {
  switch (section) {
    case "standard":
      return standard(quick);
    case "trace":
      return traceCost(quick);
    case "scale":
      return scale(quick);
    case "explore":
      return exploreScaling(quick);
    case "failover":
      return failover(quick);
    case "cluster-scale":
      return clusterScale(quick);
    case "cluster-explore":
      return clusterExplore(quick);
    case "real-throughput":
      return real(section, realThroughput(quick));
    case "real-failover":
      return real(section, realFailover(quick));
    case "real-memory":
      return real(section, realMemory(quick));
    case "viewer":
      return real(section, viewerBench(quick));
    case "raft-sim":
      return raftThroughput(quick).map((r) => ({ section, ...r }));
    case "raft-election":
      return (await raftElection(quick)).map((r) => ({ section, ...r }));
    case "raft-explore":
      return (await raftExplore(quick)).map((r) => ({ section, ...r }));
    case "raft-real":
      return raftReal(quick);
  }
}

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName("npm run bench --")
    .usage("$0 [--quick] [--only SECTION...] [--json]\n\nMeasures the simulator and prints figures and ratios.")
    .option("quick", { type: "boolean", default: false, describe: "fewer repetitions and smaller runs" })
    .option("only", { type: "string", array: true, choices: SECTIONS, describe: "run only these sections" })
    .option("json", { type: "boolean", default: false, describe: "print one JSON document instead of tables" })
    .strict()
    .help()
    .parse();
  const only: readonly Section[] = argv.only !== undefined && argv.only.length > 0 ? (argv.only as Section[]) : SECTIONS;
  const started = performance.now();
  const all: Row[] = [];
  if (!argv.json) console.log(`faultline bench — node ${process.version}, ${argv.quick ? "quick" : "full"}`);
  for (const section of SECTIONS) {
    if (!only.includes(section)) continue;
    if (!argv.json) process.stderr.write(`running ${section}...\n`);
    const rows = await runSection(section, argv.quick);
    all.push(...rows);
    if (!argv.json) printSection(TITLES[section], rows);
  }
  const totalS = round((performance.now() - started) / 1000);
  if (argv.json) console.log(JSON.stringify({ node: process.version, quick: argv.quick, totalS, rows: all }, null, 2));
  else console.log(`\ndone in ${totalS} s`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
