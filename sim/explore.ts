// Many seeds of one scenario, across worker threads. Each seed's outcome is exactly what
// `sim run --seed N` reports for it: workers run the same code on the same scenario text.

import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { loadScenario, type Scenario } from "./scenario/load.js";
import { runScenario } from "./run.js";

export interface SeedOutcome {
  readonly seed: number;
  readonly pass: boolean;
  readonly failures: readonly { readonly kind: string; readonly name: string; readonly message: string; readonly atMs: number }[];
  readonly events: number;
  readonly simMs: number;
  /** Swarm runs: ms from the end of the safety phase to convergence (null: never). */
  readonly convergedAfterMs?: number | null;
}

export interface ExploreOptions {
  /** 0 runs seeds in this thread (no workers). */
  readonly workers: number;
  readonly failFast?: boolean;
  readonly onOutcome?: (o: SeedOutcome, done: number, total: number) => void;
  /** Set to true (e.g. on Ctrl-C) to stop handing out seeds. */
  readonly cancelled?: () => boolean;
}

export function defaultWorkers(seeds: number): number {
  return Math.max(1, Math.min(seeds, availableParallelism()));
}

/** Parses "A..B" (inclusive), "N", or "A,B,C". Throws a readable Error otherwise. */
export function parseSeeds(spec: string): number[] {
  const range = /^(\d+)\.\.(\d+)$/.exec(spec.trim());
  if (range !== null) {
    const a = Number(range[1]);
    const b = Number(range[2]);
    if (b < a) throw new Error(`--seeds ${spec}: the range runs backwards`);
    if (b - a + 1 > 10_000_000) throw new Error(`--seeds ${spec}: at most 10,000,000 seeds per exploration`);
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  }
  const list = spec.split(",").map((x) => x.trim());
  if (list.every((x) => /^\d+$/.test(x))) return list.map(Number);
  throw new Error(`--seeds ${spec}: expected A..B (say 1..200), a seed, or a list 1,5,9`);
}

let loaded: { source: string; scenario: Scenario } | null = null;

/** Runs one seed; shared by the inline path and the worker (which loads the scenario once). */
export function runSeed(path: string, source: string, seed: number): SeedOutcome {
  if (loaded === null || loaded.source !== source) loaded = { source, scenario: loadScenario(path, source) };
  const r = runScenario(loaded.scenario, { seed, sink: null });
  const swarm = r.swarm;
  return {
    seed,
    pass: r.pass,
    failures: r.failures.map((f) => ({ kind: f.kind, name: f.name, message: f.message, atMs: f.atMs })),
    events: r.stats.events,
    simMs: r.stats.simMs,
    ...(swarm === undefined ? {} : { convergedAfterMs: swarm.convergedAtMs === null ? null : swarm.convergedAtMs - swarm.livenessStartMs }),
  };
}

export async function explore(path: string, source: string, seeds: readonly number[], opts: ExploreOptions): Promise<SeedOutcome[]> {
  const outcomes: SeedOutcome[] = [];
  const record = (o: SeedOutcome): void => {
    outcomes.push(o);
    opts.onOutcome?.(o, outcomes.length, seeds.length);
  };
  const stop = (): boolean => (opts.cancelled?.() ?? false) || (opts.failFast === true && outcomes.some((o) => !o.pass));

  if (opts.workers <= 0) {
    for (const seed of seeds) {
      if (stop()) break;
      record(runSeed(path, source, seed));
      await new Promise((r) => setImmediate(r)); // let progress and Ctrl-C through
    }
    return outcomes.sort((a, b) => a.seed - b.seed);
  }

  let next = 0;
  const workerCount = Math.min(opts.workers, seeds.length);
  const workerUrl = new URL("./explore-worker.js", import.meta.url);
  await Promise.all(
    Array.from({ length: workerCount }, async () => {
      const worker = new Worker(workerUrl, { workerData: { path, source } });
      try {
        while (next < seeds.length && !stop()) {
          const seed = seeds[next++] as number;
          record(await ask(worker, seed));
        }
      } finally {
        await worker.terminate();
      }
    }),
  );
  return outcomes.sort((a, b) => a.seed - b.seed);
}

function ask(worker: Worker, seed: number): Promise<SeedOutcome> {
  return new Promise((resolve) => {
    const done = (o: SeedOutcome): void => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      resolve(o);
    };
    const onMessage = (o: SeedOutcome): void => done(o);
    const onError = (e: Error): void => done({ seed, pass: false, failures: [{ kind: "exception", name: "worker crashed", message: e.message, atMs: 0 }], events: 0, simMs: 0 });
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.postMessage(seed);
  });
}
