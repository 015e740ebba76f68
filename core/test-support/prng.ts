// Test-only helpers shared by core/'s tests (excluded from the build).

import type { Prng } from "../machine.js";

/** mulberry32: a small seeded PRNG for tests (one stream per node, or for active expiry). */
export function mulberry32(seed: number): Prng {
  let a = seed >>> 0;
  return {
    next(): number {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}
