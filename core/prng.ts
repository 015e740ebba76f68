// Helpers over the host-provided PRNG. Machines draw all randomness through these.

import { assert, type Prng } from "./machine.js";

/** An integer in [0, n). */
export function randomInt(rng: Prng, n: number): number {
  // Hot path (gossip picks): build the message only on failure.
  if (!(n > 0 && Number.isInteger(n))) assert(false, `randomInt needs a positive integer bound, got ${n}`);
  return Math.floor(rng.next() * n);
}

/** An integer in [min, max], both inclusive. */
export function randomBetween(rng: Prng, min: number, max: number): number {
  assert(min <= max, `randomBetween(${min}, ${max})`);
  return min + randomInt(rng, max - min + 1);
}

export function pick<T>(rng: Prng, items: readonly T[]): T {
  assert(items.length > 0, "pick from an empty list");
  return items[randomInt(rng, items.length)] as T;
}

/** A new array with the items in random order (Fisher–Yates). */
export function shuffled<T>(rng: Prng, items: readonly T[]): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}

/** `k` distinct items chosen at random, in random order. */
export function sample<T>(rng: Prng, items: readonly T[], k: number): T[] {
  return shuffled(rng, items).slice(0, Math.max(0, Math.min(k, items.length)));
}

/** True with probability p. */
export function chance(rng: Prng, p: number): boolean {
  return p > 0 && rng.next() < p;
}

/** An exponentially distributed delay with the given mean (the gap between Poisson arrivals). */
export function exponential(rng: Prng, mean: number): number {
  return -Math.log(1 - rng.next()) * mean;
}
