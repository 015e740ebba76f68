import fc from "fast-check";
import seedrandom from "seedrandom";
import { describe, expect, it } from "vitest";
import { Stream, Streams, streamName } from "./random.js";

const draws = (s: { next(): number }, n: number): number[] => Array.from({ length: n }, () => s.next());

const name = fc.stringMatching(/^[a-z0-9/#>._-]{1,12}$/);

describe("Stream", () => {
  it("draws exactly what seedrandom.alea draws for the same seed string (the reference implementation)", () => {
    fc.assert(
      fc.property(fc.nat(), fc.string({ maxLength: 30, unit: "grapheme" }), (seed, n) => {
        const ours = new Stream(seed, n);
        const theirs = seedrandom.alea(`${seed}\u0000${n}`);
        for (let i = 0; i < 200; i++) expect(ours.next()).toBe(theirs.double());
      }),
      { seed: 50, numRuns: 300 },
    );
    // Long runs too: the carry and the three fractions stay in step over many draws.
    const ours = new Stream(7, "link/n12>n345");
    const theirs = seedrandom.alea("7\u0000link/n12>n345");
    for (let i = 0; i < 100_000; i++) if (ours.next() !== theirs.double()) expect.fail(`draw ${i} differs`);
  });

  it("draws uniform numbers in [0, 1)", () => {
    const xs = draws(new Stream(1, "x"), 5000);
    for (const x of xs) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.47);
    expect(mean).toBeLessThan(0.53);
  });

  it("property: a stream's sequence is a function of (seed, name) alone", () => {
    fc.assert(
      fc.property(fc.nat(), name, (seed, n) => {
        expect(draws(new Stream(seed, n), 10)).toEqual(draws(new Stream(seed, n), 10));
      }),
      { seed: 51, numRuns: 100 },
    );
  });

  it("property: different names, or different seeds, give different sequences", () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), name, name, (s1, s2, n1, n2) => {
        fc.pre(s1 !== s2 || n1 !== n2);
        expect(draws(new Stream(s1, n1), 4)).not.toEqual(draws(new Stream(s2, n2), 4));
      }),
      { seed: 52, numRuns: 200 },
    );
  });

  it("does not confuse seed and name boundaries (seed 1, name '2x' vs seed 12, name 'x')", () => {
    expect(draws(new Stream(1, "2x"), 4)).not.toEqual(draws(new Stream(12, "x"), 4));
  });

  it("uniform stays in [lo, hi) and normal uses exactly two draws", () => {
    const s = new Stream(3, "u");
    for (let i = 0; i < 1000; i++) {
      const u = s.uniform(5, 7);
      expect(u).toBeGreaterThanOrEqual(5);
      expect(u).toBeLessThan(7);
    }
    const a = new Stream(4, "n");
    const b = new Stream(4, "n");
    a.normal(0, 1);
    b.next();
    b.next();
    expect(a.next()).toBe(b.next());
  });
});

describe("Streams", () => {
  it("returns the same stream object for one name", () => {
    const s = new Streams(9);
    expect(s.get("a")).toBe(s.get("a"));
    expect(s.get("a")).not.toBe(s.get("b"));
  });

  it("property: a stream's draws do not depend on creation order or on draws from other streams", () => {
    // A random interleaving of draws over several names; every name's draws must equal a fresh,
    // isolated stream's.
    const script = fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 5 })), { maxLength: 60 });
    fc.assert(
      fc.property(fc.nat(), fc.uniqueArray(name, { minLength: 5, maxLength: 5 }), script, (seed, names, steps) => {
        const shared = new Streams(seed);
        const got = new Map<string, number[]>(names.map((n) => [n, []]));
        for (const [i, k] of steps) {
          const n = names[i] as string;
          got.get(n)?.push(...draws(shared.get(n), k));
        }
        for (const n of names) {
          const alone = got.get(n) as number[];
          expect(alone).toEqual(draws(new Streams(seed).get(n), alone.length));
        }
      }),
      { seed: 53, numRuns: 200 },
    );
  });

  it("adding a node leaves other nodes' streams as they were", () => {
    const three = new Streams(77);
    const four = new Streams(77);
    for (const n of ["n4", "n3", "n2"]) draws(four.get(streamName.node(n)), 3);
    expect(draws(four.get(streamName.node("n1")), 20)).toEqual(draws(three.get(streamName.node("n1")), 20));
  });

  it("names every subsystem's stream apart", () => {
    const names = [
      streamName.node("a"),
      streamName.link("a", "b"),
      streamName.link("b", "a"),
      streamName.disk("a"),
      streamName.clock("a"),
      streamName.fault("crash"),
      streamName.swarm("loss"),
      streamName.workload("c1"),
      streamName.timeline(),
    ];
    expect(new Set(names).size).toBe(names.length);
  });
});
