// Independent, named random streams from one seed.
//
// A stream's sequence depends only on the run's seed and the stream's name, never on which other
// streams exist or in what order they were created. Adding a node, a client or a fault model
// therefore leaves every other stream (and so every other decision) as it was — which is what
// makes seeds comparable across small scenario edits and lets `sim shrink` remove faults without
// reshuffling the rest of the run.

import seedrandom from "seedrandom";
import type { Prng } from "../../core/machine.js";

export class Stream implements Prng {
  private readonly gen: seedrandom.PRNG;

  constructor(seed: number, readonly name: string) {
    // Alea: fast, 2^116 period, good statistical quality; seeded from seed and name together.
    this.gen = seedrandom.alea(`${seed}\u0000${name}`);
  }

  next(): number {
    return this.gen.double();
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal by Box–Muller (uses two draws, keeps no spare so the draw count is fixed). */
  normal(mean: number, sd: number): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/** Stream names, kept in one place so no two subsystems share a stream by accident. */
export const streamName = {
  node: (id: string) => `node/${id}`,
  link: (from: string, to: string) => `link/${from}>${to}`,
  disk: (id: string) => `disk/${id}`,
  clock: (id: string) => `clock/${id}`,
  fault: (model: string) => `fault/${model}`,
  swarm: (param: string) => `swarm/${param}`,
  workload: (client: string) => `workload/${client}`,
  timeline: () => "timeline",
} as const;

export class Streams {
  private readonly streams = new Map<string, Stream>();

  constructor(readonly seed: number) {}

  get(name: string): Stream {
    let s = this.streams.get(name);
    if (s === undefined) {
      s = new Stream(this.seed, name);
      this.streams.set(name, s);
    }
    return s;
  }
}
