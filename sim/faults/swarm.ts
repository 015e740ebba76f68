// Swarm testing: each seed draws its own fault mix from the scenario's ranges, then runs
//
//   safety phase   faults on (Poisson arrivals per model, from `faultsFromMs`), invariants checked
//                  at every step;
//   liveness phase faults off, partitions healed, links unclogged, loss and duplication off,
//                  the core (every node, or a random majority) restarted and resumed; the live
//                  nodes must then converge within `livenessMs` or the run fails "no convergence".
//
// Each fault model draws from its own stream (`fault/crash`, `fault/partition`, ...) and each
// drawn parameter from `swarm/<param>`, so enabling one model never changes another's schedule.

import type { NodeId } from "../../core/machine.js";
import type { Json } from "../../core/trace.js";
import type { Distribution } from "../engine/latency.js";
import { exponential, randomInt, sample, shuffled } from "../../core/prng.js";
import type { Stream, Streams } from "../engine/random.js";
import { streamName } from "../engine/random.js";
import type { World } from "../engine/world.js";
import type { SwarmConfig } from "../scenario/schema.js";
import { type FaultApplier, splitNodes } from "./apply.js";

type Range = readonly [number, number];

/** The parameters one seed drew; printed in summaries so a failing seed's mix is visible. */
export interface SwarmDraw {
  readonly rates: Readonly<Record<string, number>>;
  readonly loss: number;
  readonly duplicate: number;
  readonly unsyncedOnCrash?: "lose" | "keep" | "random";
  readonly tornWrite?: number;
  readonly maxDown: number;
  readonly core: readonly NodeId[];
  /** The fsync latency this seed's disks got (when `faults.disk.syncLatency` lists choices). */
  readonly syncLatency?: Distribution;
  /** Protocol settings this seed drew (`swarm.config`); absent when it lists none. */
  readonly config?: Readonly<Record<string, Json>>;
}

export function drawSwarm(cfg: SwarmConfig, nodes: readonly NodeId[], streams: Streams): SwarmDraw {
  const draw = (param: string, r: Range | undefined): number => (r === undefined ? 0 : streams.get(streamName.swarm(param)).uniform(r[0], r[1]));
  const f = cfg.faults;
  const rates: Record<string, number> = {};
  for (const m of ["crash", "pause", "partition", "clog", "clockJump"] as const) {
    const model = f[m];
    if (model !== undefined) rates[m] = round3(draw(`${m}.ratePerMin`, model.ratePerMin));
  }
  const coreStream = streams.get(streamName.swarm("core"));
  const core = cfg.core === "all" ? [...nodes] : sample(coreStream, nodes, Math.floor(nodes.length / 2) + 1).sort((a, b) => nodes.indexOf(a) - nodes.indexOf(b));
  // One of the listed values, from the parameter's own stream.
  const choose = <T>(param: string, values: readonly T[]): T => values[randomInt(streams.get(streamName.swarm(param)), values.length)] as T;
  const keys = Object.keys(cfg.config);
  const out: SwarmDraw = {
    rates,
    loss: round3(draw("loss", f.loss)),
    duplicate: round3(draw("duplicate", f.duplicate)),
    maxDown: cfg.maxDown ?? Math.floor((nodes.length - 1) / 2),
    core,
    ...(keys.length === 0 ? {} : { config: Object.fromEntries(keys.map((k) => [k, choose(`config.${k}`, cfg.config[k] as Json[])])) }),
  };
  if (f.disk === undefined) return out;
  return {
    ...out,
    unsyncedOnCrash: choose("disk.unsyncedOnCrash", f.disk.unsyncedOnCrash),
    tornWrite: round3(draw("disk.tornWrite", f.disk.tornWrite)),
    ...(f.disk.syncLatency === undefined ? {} : { syncLatency: choose("disk.syncLatency", f.disk.syncLatency) }),
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Runs the fault generators during the safety phase, then switches the world to liveness. */
export class Swarm {
  private active = true;

  constructor(
    private readonly cfg: SwarmConfig,
    readonly draw: SwarmDraw,
    private readonly world: World,
    private readonly faults: FaultApplier,
    private readonly streams: Streams,
  ) {}

  /** Schedules every enabled model's first arrival. Loss, duplication and disk settings start at once. */
  start(): void {
    const f = this.cfg.faults;
    const models: [string, () => void][] = [];
    if (f.crash !== undefined) models.push(["crash", () => this.crash()]);
    if (f.pause !== undefined) models.push(["pause", () => this.pause()]);
    if (f.partition !== undefined) models.push(["partition", () => this.partition()]);
    if (f.clog !== undefined) models.push(["clog", () => this.clog()]);
    if (f.clockJump !== undefined) models.push(["clockJump", () => this.clockJump()]);
    for (const [model, act] of models) this.arrivals(model, act);
    this.world.schedule(Math.round(this.cfg.safetyMs * 1000), () => this.liveness());
  }

  get safety(): boolean {
    return this.active;
  }

  private stream(model: string): Stream {
    return this.streams.get(streamName.fault(model));
  }

  /** A Poisson process: the model acts at exponentially spaced times until the safety phase ends. */
  private arrivals(model: string, act: () => void): void {
    const perMin = this.draw.rates[model] ?? 0;
    if (perMin <= 0) return;
    const next = (fromUs: number): void => {
      const gapUs = Math.max(1, Math.round(exponential(this.stream(model), 60_000 / perMin) * 1000));
      const atUs = fromUs + gapUs;
      if (atUs >= this.cfg.safetyMs * 1000) return;
      this.world.schedule(atUs, () => {
        if (!this.active) return;
        act();
        next(this.world.nowUs);
      });
    };
    next(Math.max(this.world.nowUs, Math.round(this.cfg.faultsFromMs * 1000)));
  }

  private down(): number {
    return this.world.nodes.filter((n) => this.world.status(n) !== "up").length;
  }

  private pickUp(rng: Stream): NodeId | null {
    if (this.down() >= this.draw.maxDown) return null;
    const up = this.world.nodes.filter((n) => this.world.status(n) === "up");
    return up.length === 0 ? null : (up[randomInt(rng, up.length)] as NodeId);
  }

  private duration(rng: Stream, r: Range): number {
    return Math.round(rng.uniform(r[0], r[1]));
  }

  private crash(): void {
    const m = this.cfg.faults.crash;
    const rng = this.stream("crash");
    const n = m === undefined ? null : this.pickUp(rng);
    if (m === undefined || n === null) return;
    const forMs = this.duration(rng, m.downMs);
    const wipe = m.wipe > 0 && rng.next() < m.wipe;
    this.faults.apply(wipe ? { wipe: [n] } : { crash: [n] }, { forMs });
  }

  private pause(): void {
    const m = this.cfg.faults.pause;
    const rng = this.stream("pause");
    const n = m === undefined ? null : this.pickUp(rng);
    if (m === undefined || n === null) return;
    this.faults.apply({ pause: [n] }, { forMs: this.duration(rng, m.forMs) });
  }

  private partition(): void {
    const m = this.cfg.faults.partition;
    if (m === undefined) return;
    const rng = this.stream("partition");
    const nodes = this.world.nodes;
    if (nodes.length < 2) return;
    const mode = m.modes[randomInt(rng, m.modes.length)];
    const forMs = this.duration(rng, m.forMs);
    if (mode === "isolate") {
      const n = nodes[randomInt(rng, nodes.length)] as NodeId;
      this.faults.apply({ partition: { groups: [[n], nodes.filter((x) => x !== n)] } }, { forMs });
    } else if (mode === "one-way") {
      const [a, b] = splitNodes(nodes, "random-halves", rng) as [NodeId[], NodeId[]];
      this.faults.apply({ partition: { from: a, to: b } }, { forMs });
    } else if (mode !== undefined) {
      this.faults.apply({ partition: { groups: splitNodes(nodes, mode, rng) } }, { forMs });
    }
  }

  private clog(): void {
    const m = this.cfg.faults.clog;
    const nodes = this.world.nodes;
    if (m === undefined || nodes.length < 2) return;
    const rng = this.stream("clog");
    const [from, to] = shuffled(rng, nodes) as [NodeId, NodeId];
    this.faults.apply({ clog: { from, to, bothWays: rng.next() < 0.5 } }, { forMs: this.duration(rng, m.forMs) });
  }

  private clockJump(): void {
    const m = this.cfg.faults.clockJump;
    if (m === undefined) return;
    const rng = this.stream("clockJump");
    const n = this.world.nodes[randomInt(rng, this.world.nodes.length)] as NodeId;
    this.faults.apply({ clock: { node: [n], jumpMs: Math.round(rng.uniform(m.jumpMs[0], m.jumpMs[1])) } });
  }

  /** Faults off: heal, unclog, no loss or duplication, the core back up. */
  private liveness(): void {
    this.active = false;
    this.world.emit(null, { type: "fault", action: "liveness", core: [...this.draw.core] });
    this.faults.apply({ heal: "all" });
    this.faults.apply({ unclog: "all" });
    if (this.draw.loss > 0 || this.draw.duplicate > 0) this.faults.apply({ network: { loss: 0, duplicate: 0 } });
    const crashed = this.draw.core.filter((n) => this.world.status(n) === "crashed");
    const paused = this.draw.core.filter((n) => this.world.status(n) === "paused");
    if (crashed.length > 0) this.faults.apply({ restart: crashed });
    if (paused.length > 0) this.faults.apply({ resume: paused });
  }
}
