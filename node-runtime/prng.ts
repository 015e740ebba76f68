// The node's randomness: a `Prng` over node:crypto. Real nodes need no reproducible stream (the
// simulator seeds its own); they need names that do not collide across processes, which a
// seeded generator started at the same seed would give.

import { randomFillSync } from "node:crypto";
import type { Prng } from "../core/machine.js";

/** Random words fetched from the OS per refill: one syscall per 512 draws. */
const BLOCK_WORDS = 1024;

export class CryptoPrng implements Prng {
  private readonly words = new Uint32Array(BLOCK_WORDS);
  private at = BLOCK_WORDS;

  /** A double in [0, 1) with 53 random bits, from two 32-bit words (27 + 26 bits). */
  next(): number {
    if (this.at + 2 > BLOCK_WORDS) {
      randomFillSync(this.words);
      this.at = 0;
    }
    const hi = (this.words[this.at++] as number) >>> 5;
    const lo = (this.words[this.at++] as number) >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}
