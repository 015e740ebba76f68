// One simulation run: a scenario and a seed in, a result (and optionally a trace) out.
//
// `Run` is steppable so the CLI can run in slices (progress, Ctrl-C) while tests and `explore`
// call `runScenario` and get the same bytes: slicing never changes what happens.

import type { NodeId } from "../core/machine.js";
import { type Json, TRACE_VERSION, type TraceDetail, type TraceHeader } from "../core/trace.js";
import { Monitor, type ExpectationResult, type Failure } from "./checkers/monitor.js";
import type { DiskConfig } from "./engine/disk.js";
import type { NetworkConfig } from "./engine/network.js";
import { Streams, streamName } from "./engine/random.js";
import { type ClockSetting, World, type WorldStats } from "./engine/world.js";
import { type AppliedFault, FaultApplier } from "./faults/apply.js";
import { drawSwarm, Swarm, type SwarmDraw } from "./faults/swarm.js";
import type { InvariantChecker, RunReporter, TraceLine } from "./machines/adapter.js";
import type { Scenario } from "./scenario/load.js";
import type { TraceSink } from "./trace-sink.js";
import { VERSION } from "./version.js";
import { Workload, type WorkloadStats } from "./workload.js";

/** Key events kept for the summary; later ones are counted, not kept. */
export const KEY_EVENTS_MAX = 2000;

export interface RunOptions {
  /** Overrides the scenario's seed. */
  readonly seed?: number;
  /** Overrides the scenario's trace detail. */
  readonly detail?: TraceDetail;
  readonly sink?: TraceSink | null;
  readonly eventsMax?: number;
  /** Extra checkers (tests plant their own). */
  readonly extraCheckers?: readonly InvariantChecker[];
}

export interface KeyEvent {
  readonly t: number;
  readonly node?: string;
  readonly type: string;
  readonly text: string;
}

export interface RunResult {
  readonly scenario: { readonly name: string; readonly path: string; readonly machine: string; readonly nodes: readonly NodeId[] };
  readonly seed: number;
  readonly detail: TraceDetail;
  readonly pass: boolean;
  readonly failures: readonly Failure[];
  readonly expectations: readonly ExpectationResult[];
  readonly invariants: readonly { readonly name: string; readonly description: string; readonly violated: boolean }[];
  readonly swarm?: { readonly draw: SwarmDraw; readonly convergedAtMs: number | null; readonly livenessStartMs: number };
  readonly keyEvents: readonly KeyEvent[];
  readonly keyEventsDropped: number;
  readonly stats: WorldStats & { readonly simMs: number; readonly workload?: WorkloadStats };
  readonly applied: readonly AppliedFault[];
  /** Set when the run stopped before its end (the first failure). */
  readonly stoppedEarly: string | null;
  /** The protocol's own figures (writes lost, ...), in the adapter's order. */
  readonly reports: readonly { readonly name: string; readonly text: string; readonly figures: Readonly<Record<string, Json>> }[];
}

export class Run {
  readonly world: World;
  readonly seed: number;
  readonly detail: TraceDetail;
  readonly endUs: number;
  private readonly monitor: Monitor;
  private readonly faults: FaultApplier;
  private readonly swarm: Swarm | null;
  private readonly workload: Workload | null;
  private readonly checkers: InvariantChecker[];
  private readonly reporters: RunReporter[];
  private readonly keyEvents: KeyEvent[] = [];
  private keyEventsDropped = 0;
  private convergedAtMs: number | null = null;
  private finished: RunResult | null = null;

  constructor(
    readonly scenario: Scenario,
    private readonly options: RunOptions = {},
  ) {
    const s = scenario.data;
    this.seed = options.seed ?? s.seed;
    this.detail = options.detail ?? s.trace.detail;
    const adapter = scenario.adapter;
    const nodes = scenario.nodes;

    // Swarm parameters and clock settings are drawn before the world exists: they shape its
    // network, disks and clocks. Streams depend only on seed and name, so a separate set is safe.
    const pre = new Streams(this.seed);
    const draw = s.swarm === undefined ? null : drawSwarm(s.swarm, nodes, pre);

    const network: NetworkConfig = {
      mode: s.network.mode,
      latency: s.network.latency,
      links: s.network.links.flatMap((l) => (l.bothWays ? [l, { from: l.to, to: l.from, latency: l.latency }] : [l])),
      loss: draw !== null && s.swarm?.faults.loss !== undefined ? draw.loss : s.network.loss,
      duplicate: draw !== null && s.swarm?.faults.duplicate !== undefined ? draw.duplicate : s.network.duplicate,
    };
    const disk: DiskConfig = {
      ...s.disk,
      ...(draw?.unsyncedOnCrash === undefined ? {} : { unsyncedOnCrash: draw.unsyncedOnCrash }),
      ...(draw?.tornWrite === undefined ? {} : { tornWrite: draw.tornWrite }),
      ...(draw?.syncLatency === undefined ? {} : { syncLatency: draw.syncLatency }),
    };
    const nodeConfigs = scenario.configsWith(draw?.config ?? {});
    const clocks = new Map<NodeId, ClockSetting>();
    for (const n of nodes) {
      const rng = pre.get(streamName.clock(n));
      const explicit = s.clocks.nodes[n];
      const offsetMs = explicit?.offsetMs ?? (s.clocks.offsetMs === undefined ? 0 : Math.round(rng.uniform(s.clocks.offsetMs[0], s.clocks.offsetMs[1])));
      const driftPpm = explicit?.driftPpm ?? (s.clocks.driftPpm === undefined ? 0 : Math.round(rng.uniform(s.clocks.driftPpm[0], s.clocks.driftPpm[1])));
      clocks.set(n, { offsetMs, driftPpm });
    }

    this.world = new World({
      seed: this.seed,
      nodes,
      create: (id, rng) => adapter.create({ id, peers: nodes, config: nodeConfigs.get(id), rng }),
      observe: (m) => adapter.observe(m),
      network,
      disk,
      clocks,
      detail: this.detail,
      ...(options.eventsMax === undefined ? {} : { eventsMax: options.eventsMax }),
    });
    this.checkers = [...adapter.invariants(), ...(options.extraCheckers ?? [])];
    this.monitor = new Monitor(this.world, this.checkers, () => adapter.converged(this.world));
    this.reporters = adapter.reporters?.() ?? [];
    const model = adapter.workload;
    this.faults = new FaultApplier(
      this.world,
      this.world.streams.get(streamName.timeline()),
      model === undefined ? undefined : (v) => model.classify(v).outcome,
      model?.toJson === undefined ? undefined : (v) => (model.toJson as (r: unknown) => Json)(v),
      adapter.operators,
    );
    this.workload = s.workload !== undefined && adapter.workload !== undefined ? new Workload(this.world, adapter.workload, s.workload) : null;

    const sink = options.sink ?? null;
    if (sink !== null) {
      const header: TraceHeader = {
        v: TRACE_VERSION,
        type: "header",
        tool: "faultline-sim",
        version: VERSION,
        machine: adapter.name,
        nodes: [...nodes],
        seed: this.seed,
        detail: this.detail,
        scenario: { file: scenario.file, name: scenario.name, source: scenario.source },
      };
      sink.write(JSON.stringify(header));
      this.world.listen({ onLine: (line) => sink.write(JSON.stringify(line)), onNodeChanged: () => {} });
    }
    this.world.listen(this.monitor);
    this.world.listen({ onLine: (line) => this.collectKeyEvent(line), onNodeChanged: () => {} });
    for (const r of this.reporters) if (r.onTrace !== undefined) this.world.listen({ onLine: (line) => r.onTrace?.(line), onNodeChanged: () => {} });
    if (this.workload !== null) this.world.listen(this.workload);

    // Time zero: expectations and the timeline are armed (held), the nodes boot in node order,
    // then predicates are first judged; generators and clients start after that.
    this.monitor.hold();
    for (const e of scenario.expectations) this.monitor.expect(e);
    this.faults.scheduleTimeline(scenario.faults, this.monitor);
    this.world.startAll(nodes);
    this.monitor.release();
    this.swarm = draw === null || s.swarm === undefined ? null : new Swarm(s.swarm, draw, this.world, this.faults, this.world.streams);
    if (this.swarm !== null && s.swarm !== undefined) {
      const sw = s.swarm;
      this.swarm.start();
      const livenessUs = Math.round(sw.safetyMs * 1000);
      this.world.schedule(livenessUs, () =>
        this.monitor.when({ k: "converged" }, () => {
          this.convergedAtMs = this.world.nowMs;
          this.world.emit(null, { type: "converged", afterMs: Math.round((this.world.nowMs - sw.safetyMs) * 1000) / 1000 });
          this.world.done = true;
        }),
      );
      this.world.schedule(Math.round((sw.safetyMs + sw.livenessMs) * 1000), () => {
        this.monitor.evaluate();
        if (this.convergedAtMs !== null) return;
        const why = adapter.converged(this.world) ?? "not converged";
        this.monitor.fail({ kind: "no-convergence", name: "no convergence", atMs: this.world.nowMs, message: `no convergence ${sw.livenessMs} ms after faults stopped: ${why}` });
        this.world.stop("no convergence");
      });
    }
    this.workload?.start();
    this.endUs = Math.round((s.swarm === undefined ? (s.durationMs as number) : s.swarm.safetyMs + s.swarm.livenessMs) * 1000);
  }

  /** Runs at most `maxEvents` events. Returns false once the run is over. */
  step(maxEvents: number): boolean {
    if (this.finished !== null) return false;
    try {
      return this.world.runUntil(this.endUs, maxEvents);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.monitor.fail({ kind: "exception", name: "exception", atMs: this.world.nowMs, message: err.message, ...(err.stack === undefined ? {} : { stack: err.stack }) });
      this.world.stop(`exception: ${err.message}`);
      return false;
    }
  }

  get progress(): number {
    return Math.min(1, this.world.nowUs / this.endUs);
  }

  finish(): RunResult {
    if (this.finished !== null) return this.finished;
    const w = this.world;
    if (w.stopped !== null && w.stopped.startsWith("event budget")) {
      this.monitor.fail({ kind: "budget", name: "event budget", atMs: w.nowMs, message: w.stopped });
    }
    for (const c of this.checkers) {
      const v = c.atEnd?.(w);
      if (v !== undefined && v !== null) this.monitor.fail({ kind: "invariant", name: c.name, atMs: w.nowMs, message: v });
    }
    const expectations = this.monitor.finish(w.stopped !== null);
    const failures = this.monitor.failures;
    const pass = failures.length === 0;
    const verdict = !pass ? "fail" : w.stopped !== null ? "incomplete" : "pass";
    const end = { t: w.nowMs, type: "end", result: verdict, failures: failures.length, events: w.stats.events };
    this.options.sink?.write(JSON.stringify(w.stopped === null ? end : { ...end, stopped: w.stopped }));
    this.options.sink?.close();
    const violated = new Set(failures.filter((f) => f.kind === "invariant").map((f) => f.name));
    const s = this.scenario;
    this.finished = {
      scenario: { name: s.name, path: s.path, machine: s.adapter.name, nodes: s.nodes },
      seed: this.seed,
      detail: this.detail,
      pass,
      failures: [...failures],
      expectations,
      invariants: this.checkers.map((c) => ({ name: c.name, description: c.description, violated: violated.has(c.name) })),
      ...(this.swarm === null || s.data.swarm === undefined ? {} : { swarm: { draw: this.swarm.draw, convergedAtMs: this.convergedAtMs, livenessStartMs: s.data.swarm.safetyMs } }),
      keyEvents: this.keyEvents,
      keyEventsDropped: this.keyEventsDropped,
      stats: { ...w.stats, drops: { ...w.stats.drops }, simMs: w.nowMs, ...(this.workload === null ? {} : { workload: { ...this.workload.stats } }) },
      applied: [...this.faults.applied],
      stoppedEarly: w.stopped,
      reports: this.reporters.map((r) => ({ name: r.name, ...r.report(w) })),
    };
    return this.finished;
  }

  private collectKeyEvent(line: TraceLine): void {
    const key = line.type === "fault" || line.type === "converged" || line.type === "admin-reply" || this.scenario.adapter.keyEvents.includes(line.type);
    if (!key) return;
    if (this.keyEvents.length >= KEY_EVENTS_MAX) {
      this.keyEventsDropped += 1;
      return;
    }
    const { t, node, type, ...fields } = line;
    const text = type === "fault" ? describeFault(fields) : `${type}${describeFields(fields)}`;
    this.keyEvents.push(node === undefined ? { t, type, text } : { t, node, type, text });
  }
}

/** Runs a scenario to its end. */
export function runScenario(scenario: Scenario, options: RunOptions = {}): RunResult {
  const run = new Run(scenario, options);
  while (run.step(100_000));
  return run.finish();
}

function describeFields(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => ` ${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join("");
}

function describeFault(f: Record<string, unknown>): string {
  const { action, ...rest } = f;
  if (action === "partition") {
    const groups = rest["groups"] as string[][];
    return `partition ${groups.map((g) => `[${g.join(",")}]`).join(rest["oneWay"] === true ? " -/-> " : " | ")} (${String(rest["id"])})`;
  }
  if (action === "command") return `command ${(rest["cmd"] as string[]).join(" ")}`;
  if (action === "skipped") return `fault #${String(rest["fault"])} skipped: ${String(rest["reason"])}`;
  return `${String(action)}${describeFields(rest)}`;
}
