// Cluster benchmarks: how fast failover is (crash → FAIL → promotion, over many seeds) and how the
// simulator copes with a 1000-node cluster. Used by bench/run.ts; the seed sweep runs in worker
// threads (bench/cluster-worker.ts).

import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { InvariantChecker, TraceLine } from "../sim/machines/adapter.js";
import { runScenario } from "../sim/run.js";
import { loadScenario } from "../sim/scenario/load.js";

export interface FailoverTiming {
  readonly seed: number;
  /** ms from the crash to the first node marking the master FAIL (null: never). */
  readonly failMs: number | null;
  /** ms from the crash to FAIL on every live node. */
  readonly failEverywhereMs: number | null;
  /** ms from the crash to the replica's promotion. */
  readonly promotedMs: number | null;
  readonly pass: boolean;
}

/** The failover scenario timed: master-crash's cluster, node_timeout 1000 ms, n1 crashes at 3 s. */
export function failoverScenarioSource(nodeTimeoutMs: number): string {
  return [
    "name: failover-timing",
    "machine: redis-cluster",
    "nodes: 6",
    "seed: 1",
    "durationMs: 9000",
    `config: { topology: { masters: 3, replicasPerMaster: 1 }, nodeTimeoutMs: ${nodeTimeoutMs} }`,
    "network: { latency: { dist: uniform, minMs: 0.2, maxMs: 2 } }",
    "workload: { clients: 2, thinkMs: 20, timeoutMs: 1000 }",
    "faults:",
    "  - { at: 3000, crash: n1 }",
    "trace: { detail: events }",
    "",
  ].join("\n");
}

/** Watches the trace for the crash of `victim`, FAIL verdicts about it and a promotion. */
export function failoverWatcher(victim: string, liveCount: number): { checker: InvariantChecker; result(): Omit<FailoverTiming, "seed" | "pass"> } {
  let crashAt: number | null = null;
  let firstFail: number | null = null;
  let promoted: number | null = null;
  const failed = new Set<string>();
  let everywhere: number | null = null;
  const checker: InvariantChecker = {
    name: "failover-timing",
    description: "records failover timings (never fails)",
    onTrace(line: TraceLine) {
      if (line.type === "fault" && line["action"] === "crash" && line.node === victim && crashAt === null) crashAt = line.t;
      if (crashAt === null || line.node === undefined) return null;
      if (line.type === "fail" && line["about"] === victim) {
        firstFail ??= line.t;
        failed.add(line.node);
        if (everywhere === null && failed.size >= liveCount) everywhere = line.t;
      }
      if (line.type === "promoted" && line["replaced"] === victim) promoted ??= line.t;
      return null;
    },
  };
  const since = (t: number | null): number | null => (t === null || crashAt === null ? null : Math.round((t - crashAt) * 1000) / 1000);
  return { checker, result: () => ({ failMs: since(firstFail), failEverywhereMs: since(everywhere), promotedMs: since(promoted) }) };
}

/** Times one seed of the failover scenario. */
export function timeFailover(seed: number, nodeTimeoutMs: number): FailoverTiming {
  const scenario = loadScenario("bench:failover-timing", failoverScenarioSource(nodeTimeoutMs));
  const w = failoverWatcher("n1", 5);
  const r = runScenario(scenario, { seed, sink: null, extraCheckers: [w.checker] });
  return { seed, pass: r.pass, ...w.result() };
}

/** Runs seeds 1..n across worker threads. */
export async function sweepFailover(n: number, nodeTimeoutMs: number, onProgress: (done: number) => void): Promise<FailoverTiming[]> {
  const workers = Math.max(1, Math.min(availableParallelism(), 4));
  const seeds = Array.from({ length: n }, (_, i) => i + 1);
  const chunks = Array.from({ length: workers }, (_, w) => seeds.filter((_, i) => i % workers === w));
  let done = 0;
  const results = await Promise.all(
    chunks.map(
      (chunk) =>
        new Promise<FailoverTiming[]>((resolve, reject) => {
          const worker = new Worker(new URL("./cluster-worker.js", import.meta.url), { workerData: { seeds: chunk, nodeTimeoutMs } });
          const out: FailoverTiming[] = [];
          worker.on("message", (t: FailoverTiming) => {
            out.push(t);
            onProgress(++done);
          });
          worker.on("error", reject);
          worker.on("exit", () => resolve(out));
        }),
    ),
  );
  return results.flat().sort((a, b) => a.seed - b.seed);
}

export function percentile(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** A large preformed cluster gossiping; one master crashes a third of the way in. */
export function scaleScenarioSource(masters: number, durationMs: number, nodeTimeoutMs: number): string {
  return [
    `name: scale-${masters * 2}`,
    "machine: redis-cluster",
    `nodes: ${masters * 2}`,
    "seed: 1",
    `durationMs: ${durationMs}`,
    `config: { topology: { masters: ${masters}, replicasPerMaster: 1, preformed: true }, nodeTimeoutMs: ${nodeTimeoutMs} }`,
    "network: { latency: { dist: uniform, minMs: 0.2, maxMs: 2 } }",
    "faults:",
    `  - { at: ${Math.round(durationMs / 3)}, crash: n1 }`,
    "trace: { detail: events }",
    "",
  ].join("\n");
}

export function runScale(masters: number, durationMs: number, nodeTimeoutMs: number): Record<string, number | string | null> {
  const scenario = loadScenario(`bench:scale-${masters * 2}`, scaleScenarioSource(masters, durationMs, nodeTimeoutMs));
  const w = failoverWatcher("n1", masters * 2 - 1);
  const t0 = performance.now();
  const r = runScenario(scenario, { seed: 1, sink: null, extraCheckers: [w.checker] });
  const wallMs = performance.now() - t0;
  const timing = w.result();
  return {
    nodes: masters * 2,
    simS: r.stats.simMs / 1000,
    wallS: Math.round(wallMs / 100) / 10,
    simSPerWallS: Math.round((r.stats.simMs / wallMs) * 100) / 100,
    messages: r.stats.messagesSent,
    messagesPerSimS: Math.round(r.stats.messagesSent / (r.stats.simMs / 1000)),
    events: r.stats.events,
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    failFirstMs: timing.failMs,
    failEverywhereMs: timing.failEverywhereMs,
    promotedMs: timing.promotedMs,
  };
}
