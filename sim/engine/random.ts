// Independent, named random streams from one seed.
//
// A stream's sequence depends only on the run's seed and the stream's name, never on which other
// streams exist or in what order they were created. Adding a node, a client or a fault model
// therefore leaves every other stream (and so every other decision) as it was — which is what
// makes seeds comparable across small scenario edits and lets `sim shrink` remove faults without
// reshuffling the rest of the run.

import type { Prng } from "../../core/machine.js";

/**
 * Alea (Johannes Baagøe's generator, the one seedrandom.alea implements): three 32-bit fractions
 * and a carry, seeded by hashing a string with Baagøe's Mash. Draws are bit-for-bit those of
 * `seedrandom.alea(seedString).double()` (random.test.ts checks that against the library). The
 * state lives in one small typed array because a run can hold a million streams — one per directed
 * link of a 1000-node cluster — and seedrandom's closures hold about 450 bytes per stream;
 * this holds about 150.
 */
export class Stream implements Prng {
  /** s0, s1, s2 and the carry (a typed array: V8 would box each double held in a field). */
  private readonly s = new Float64Array(4);

  constructor(
    seed: number,
    readonly name: string,
  ) {
    const key = `${seed}\u0000${name}`;
    const mash = new Mash();
    let s0 = mash.hash(" ");
    let s1 = mash.hash(" ");
    let s2 = mash.hash(" ");
    s0 -= mash.hash(key);
    if (s0 < 0) s0 += 1;
    s1 -= mash.hash(key);
    if (s1 < 0) s1 += 1;
    s2 -= mash.hash(key);
    if (s2 < 0) s2 += 1;
    this.s[0] = s0;
    this.s[1] = s1;
    this.s[2] = s2;
    this.s[3] = 1;
  }

  /** One 32-bit draw in [0, 1). */
  private step(): number {
    const s = this.s;
    const t = 2091639 * (s[0] as number) + (s[3] as number) * 2.3283064365386963e-10; // 2^-32
    s[0] = s[1] as number;
    s[1] = s[2] as number;
    const c = t | 0;
    s[3] = c;
    return (s[2] = t - c);
  }

  /** A uniform double in [0, 1) with 53 bits, from two draws. */
  next(): number {
    return this.step() + ((this.step() * 0x200000) | 0) * 1.1102230246251565e-16; // 2^-53
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

/** Baagøe's Mash: folds a string's UTF-16 code units into a 32-bit fraction, carrying state between calls. */
class Mash {
  private n = 0xefc8249d;

  hash(data: string): number {
    let n = this.n;
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000; // 2^32
    }
    this.n = n;
    return (n >>> 0) * 2.3283064365386963e-10; // 2^-32
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
