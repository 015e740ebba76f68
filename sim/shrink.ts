// Shrinking a failing run's fault schedule (delta debugging, Zeller's ddmin).
//
// A scenario with an explicit timeline is shrunk entry by entry: its `when:` triggers and
// `where:` references stay as written. A swarm run is first materialized: the faults its
// generators applied become an explicit, timed timeline, the parameters it drew are written into
// the network and disk sections, and its liveness check becomes a `within … converged`
// expectation. Either way a candidate schedule is kept only if the run still fails the same way
// (same kind of failure, same checker or expectation). Because every fault model and every link
// has its own random stream, removing a fault does not reshuffle the rest of the run.

import { parse, stringify } from "yaml";
import type { Json } from "../core/trace.js";
import type { Failure } from "./checkers/monitor.js";
import { type RunResult, runScenario } from "./run.js";
import { loadScenario, type Scenario } from "./scenario/load.js";

/** Runs a shrink may spend before it settles for what it has. */
export const SHRINK_RUNS_MAX = 2000;

export interface ShrinkProgress {
  readonly runs: number;
  readonly faults: number;
  readonly phase: string;
}

export interface ShrinkResult {
  readonly original: RunResult;
  readonly signature: string;
  readonly faultsBefore: number;
  readonly faultsAfter: number;
  readonly durationBeforeMs: number;
  readonly durationAfterMs: number;
  readonly runs: number;
  /** The smaller scenario, as YAML text with an explanatory comment. */
  readonly yaml: string;
  readonly final: RunResult;
  /** True when the run budget ran out before the schedule was 1-minimal. */
  readonly budgetExhausted: boolean;
}

export class ShrinkError extends Error {}

type Doc = Record<string, unknown>;

/**
 * What must stay the same while shrinking: the name of the checker, expectation or failure.
 * (A swarm's liveness failure, kind no-convergence, becomes an expectation of the same name
 * once the schedule is written out, so the kind is not part of it.)
 */
export function signatureOf(f: Failure): string {
  return f.name;
}

export function shrink(scenario: Scenario, seed: number, onProgress?: (p: ShrinkProgress) => void): ShrinkResult {
  const original = runScenario(scenario, { seed, sink: null });
  const first = original.failures[0];
  if (original.pass || first === undefined) throw new ShrinkError(`seed ${seed} passes: there is no failure to keep while shrinking`);
  const signature = signatureOf(first);

  const base = materialize(scenario, original);
  let units: Json[] = (base["faults"] as Json[] | undefined) ?? [];
  const faultsBefore = units.length;
  let runs = 1;
  let budgetExhausted = false;
  let phase = "checking the schedule reproduces the failure";
  const docWith = (faults: readonly Json[], extra: Doc = {}): Doc => ({ ...base, ...extra, faults: withoutOrphanHeals(faults) });
  const fails = (doc: Doc): RunResult | null => {
    if (runs >= SHRINK_RUNS_MAX) {
      budgetExhausted = true;
      return null;
    }
    runs += 1;
    onProgress?.({ runs, faults: units.length, phase });
    const candidate = loadScenario(scenario.path, stringify(doc));
    const r = runScenario(candidate, { seed, sink: null });
    return r.failures.some((f) => signatureOf(f) === signature) ? r : null;
  };

  let last = fails(docWith(units));
  if (last === null) {
    throw new ShrinkError(
      budgetExhausted ? "run budget exhausted" : `the fault schedule, written out explicitly, no longer fails with ${signature}; the failure depends on timing the shrinker cannot keep`,
    );
  }

  phase = "removing faults";
  let n = 2;
  while (units.length >= 1 && !budgetExhausted) {
    if (units.length === 1) {
      const r = fails(docWith([]));
      if (r !== null) {
        units = [];
        last = r;
      }
      break;
    }
    const chunks = split(units, Math.min(n, units.length));
    let reduced = false;
    for (let i = 0; i < chunks.length && !reduced; i++) {
      const complement = chunks.filter((_, j) => j !== i).flat();
      const r = fails(docWith(complement));
      if (r !== null) {
        units = complement;
        last = r;
        n = Math.max(n - 1, 2);
        reduced = true;
      }
    }
    if (!reduced) {
      if (n >= units.length) break;
      n = Math.min(n * 2, units.length);
    }
  }

  phase = "shortening fault durations";
  for (let i = 0; i < units.length && !budgetExhausted; i++) {
    for (let halvings = 0; halvings < 6; halvings++) {
      const u = units[i] as Record<string, Json>;
      const forMs = u["for"];
      if (typeof forMs !== "number" || forMs < 2) break;
      const shorter = [...units];
      shorter[i] = { ...u, for: Math.round(forMs / 2) };
      const r = fails(docWith(shorter));
      if (r === null) break;
      units = shorter;
      last = r;
    }
  }

  const durationBeforeMs = base["durationMs"] as number;
  let extra: Doc = {};
  phase = "shortening the run";
  const decisive = last.failures.find((f) => signatureOf(f) === signature);
  // Only a safety failure (an invariant, an `always`, an exception) is decided at its moment; an
  // `eventually` or `within` needs the rest of the run to be judged, so its duration stays.
  const safety =
    decisive !== undefined &&
    (decisive.kind === "invariant" || decisive.kind === "exception" || (decisive.kind === "expectation" && last.expectations.some((e) => e.label === decisive.name && e.kind === "always")));
  if (decisive !== undefined && safety && !budgetExhausted) {
    const cut = Math.ceil(decisive.atMs / 100) * 100 + 100;
    if (cut < durationBeforeMs) {
      const r = fails(docWith(units, { durationMs: cut }));
      if (r !== null) {
        extra = { durationMs: cut };
        last = r;
      }
    }
  }

  const finalDoc = docWith(units, extra);
  const header = [
    `Shrunk by \`sim shrink\` from ${scenario.file} with seed ${seed}: ${faultsBefore} faults -> ${units.length}.`,
    `It still fails with ${decisive?.kind ?? "failure"} ${signature}${decisive === undefined ? "" : ` (at ${decisive.atMs} ms: ${decisive.message})`}.`,
    `Reproduce: npx sim run <this file> (the seed is set below).`,
    ...leadingComment(scenario.source).map((l) => `Original: ${l}`),
  ];
  const yaml = `${header.map((l) => `# ${l}`).join("\n")}\n${stringify(finalDoc, { lineWidth: 0 })}`;
  return {
    original,
    signature,
    faultsBefore,
    faultsAfter: units.length,
    durationBeforeMs,
    durationAfterMs: (extra["durationMs"] as number | undefined) ?? durationBeforeMs,
    runs,
    yaml,
    final: last,
    budgetExhausted,
  };
}

/** The scenario as plain data with an explicit fault list (a swarm run's faults written out). */
function materialize(scenario: Scenario, run: RunResult): Doc {
  // Start from what the user wrote (not the filled-in defaults), so the file stays readable.
  const raw = parse(scenario.source) as Doc;
  raw["seed"] = run.seed;
  if (scenario.data.swarm === undefined) return raw;
  const sw = scenario.data.swarm;
  const draw = run.swarm?.draw;
  delete raw["swarm"];
  raw["durationMs"] = sw.safetyMs + sw.livenessMs;
  if (draw !== undefined) {
    const net = (raw["network"] ??= {}) as Doc;
    if (sw.faults.loss !== undefined) net["loss"] = draw.loss;
    if (sw.faults.duplicate !== undefined) net["duplicate"] = draw.duplicate;
    const disk = (raw["disk"] ??= {}) as Doc;
    if (draw.unsyncedOnCrash !== undefined) disk["unsyncedOnCrash"] = draw.unsyncedOnCrash;
    if (draw.tornWrite !== undefined) disk["tornWrite"] = draw.tornWrite;
    if (draw.syncLatency !== undefined) disk["syncLatency"] = draw.syncLatency as unknown as Json;
    if (draw.config !== undefined) raw["config"] = { ...((raw["config"] as Doc | undefined) ?? {}), ...draw.config };
  }
  raw["faults"] = [...((raw["faults"] as Json[] | undefined) ?? []), ...run.applied.map((a) => ({ at: a.atMs, ...a.entry }) as Json)];
  raw["expect"] = [
    ...((raw["expect"] as Json[] | undefined) ?? []),
    { name: "no convergence", within: { ms: sw.livenessMs, after: { at: sw.safetyMs }, that: { converged: true } } },
  ];
  return raw;
}

/**
 * A candidate schedule without the partition a `heal: <name>` names would not load; the heal goes
 * with its partition, so removing a partition never makes an invalid scenario.
 */
function withoutOrphanHeals(faults: readonly Json[]): Json[] {
  const named = new Set<string>();
  for (const f of faults) {
    const e = f as Record<string, Json>;
    if (e["partition"] !== undefined && typeof e["name"] === "string") named.add(e["name"]);
  }
  return faults.filter((f) => {
    const heal = (f as Record<string, Json>)["heal"];
    return typeof heal !== "string" || heal === "all" || named.has(heal);
  });
}

function split<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  const size = Math.ceil(items.length / n);
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function leadingComment(source: string): string[] {
  const out: string[] = [];
  for (const line of source.split("\n")) {
    if (!line.startsWith("#")) break;
    out.push(line.replace(/^#\s?/, ""));
  }
  return out;
}
