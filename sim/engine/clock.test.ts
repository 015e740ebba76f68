import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NodeClock } from "./clock.js";

// Realistic clocks: offsets of up to ±10 s, drift of up to ±50% (far beyond real quartz, to
// stress rounding), simulated times up to ~3 hours.
const offsetUs = fc.integer({ min: -10_000_000, max: 10_000_000 });
const driftPpm = fc.oneof(fc.integer({ min: -500_000, max: 500_000 }), fc.integer({ min: -200, max: 200 }), fc.constant(0));
const simUs = fc.integer({ min: 0, max: 10_000_000_000 });

describe("NodeClock", () => {
  it("reads simulated time plus the offset when there is no drift", () => {
    const c = new NodeClock(1500, 0);
    expect(c.localUs(0)).toBe(1500);
    expect(c.localUs(1_000_000)).toBe(1_001_500);
    expect(c.offsetUs(1_000_000)).toBe(1500);
    expect(c.driftPpm).toBe(0);
  });

  it("runs fast or slow by its drift", () => {
    const fast = new NodeClock(0, 100); // 100 ppm: 100 µs per second
    const slow = new NodeClock(0, -100);
    expect(fast.localUs(1_000_000)).toBe(1_000_100);
    expect(slow.localUs(1_000_000)).toBe(999_900);
    expect(fast.driftPpm).toBeCloseTo(100, 6);
  });

  it("rounds a fractional offset to whole µs", () => {
    expect(new NodeClock(2.6, 0).localUs(0)).toBe(3);
  });

  it("property: readings are integers and never go backwards while the clock does not jump", () => {
    fc.assert(
      fc.property(offsetUs, driftPpm, simUs, fc.integer({ min: 0, max: 1_000_000 }), (off, drift, t, dt) => {
        const c = new NodeClock(off, drift);
        const a = c.localUs(t);
        const b = c.localUs(t + dt);
        expect(Number.isInteger(a)).toBe(true);
        expect(b).toBeGreaterThanOrEqual(a);
      }),
      { seed: 3, numRuns: 500 },
    );
  });

  it("property: simUsFor(x, now) is the first simulated time, not before now, whose local reading is ≥ x", () => {
    const target = fc.integer({ min: -20_000_000, max: 20_000_000_000 });
    fc.assert(
      fc.property(offsetUs, driftPpm, simUs, target, (off, drift, now, x) => {
        const c = new NodeClock(off, drift);
        const t = c.simUsFor(x, now);
        expect(Number.isInteger(t)).toBe(true);
        expect(t).toBeGreaterThanOrEqual(now);
        expect(c.localUs(t)).toBeGreaterThanOrEqual(x);
        if (t > now) expect(c.localUs(t - 1)).toBeLessThan(x);
      }),
      { seed: 11, numRuns: 2000 },
    );
  });

  it("property: a deadline already reached fires now", () => {
    fc.assert(
      fc.property(offsetUs, driftPpm, simUs, fc.nat({ max: 1_000_000 }), (off, drift, now, back) => {
        const c = new NodeClock(off, drift);
        expect(c.simUsFor(c.localUs(now) - back, now)).toBe(now);
      }),
      { seed: 12, numRuns: 300 },
    );
  });

  it("simUsFor accounts for drift: a 1 s local deadline on a clock 1% fast comes 1/1.01 s of simulated time later", () => {
    const c = new NodeClock(0, 10_000);
    const t = c.simUsFor(1_000_000, 0);
    expect(t).toBe(Math.ceil(1_000_000 / 1.01));
    expect(c.localUs(t)).toBeGreaterThanOrEqual(1_000_000);
    expect(c.localUs(t - 1)).toBeLessThan(1_000_000);
  });

  it("property: a jump moves the reading by exactly the jump and keeps the rate", () => {
    fc.assert(
      fc.property(offsetUs, driftPpm, simUs, fc.integer({ min: -5_000_000, max: 5_000_000 }), fc.nat({ max: 100_000_000 }), (off, drift, now, delta, later) => {
        const c = new NodeClock(off, drift);
        const ref = new NodeClock(off, drift);
        const before = c.localUs(now);
        c.jump(now, delta);
        expect(c.localUs(now)).toBe(before + delta);
        expect(c.offsetUs(now)).toBe(ref.offsetUs(now) + delta);
        // After the jump the clock advances as a fresh clock of the same rate from that reading.
        expect(c.localUs(now + later)).toBe(before + delta + Math.floor(later * (1 + drift / 1e6)));
        expect(c.driftPpm).toBeCloseTo(drift, 6);
      }),
      { seed: 13, numRuns: 500 },
    );
  });

  it("a backward jump makes a reached deadline pending again", () => {
    const c = new NodeClock(0, 0);
    expect(c.simUsFor(1_000, 2_000)).toBe(2_000);
    c.jump(2_000, -5_000); // local now reads -3000
    expect(c.localUs(2_000)).toBe(-3_000);
    expect(c.simUsFor(1_000, 2_000)).toBe(6_000);
  });

  it("property: a drift change keeps the clock continuous (no jump) and changes the rate from then on", () => {
    fc.assert(
      fc.property(offsetUs, driftPpm, driftPpm, simUs, fc.nat({ max: 100_000_000 }), (off, d1, d2, now, later) => {
        const c = new NodeClock(off, d1);
        const before = c.localUs(now);
        c.setDrift(now, d2);
        expect(c.localUs(now)).toBe(before);
        expect(c.localUs(now + later)).toBe(before + Math.floor(later * (1 + d2 / 1e6)));
        expect(c.driftPpm).toBeCloseTo(d2, 6);
        // And simUsFor stays consistent with the new rate.
        const x = before + later;
        const t = c.simUsFor(x, now);
        expect(c.localUs(t)).toBeGreaterThanOrEqual(x);
        if (t > now) expect(c.localUs(t - 1)).toBeLessThan(x);
      }),
      { seed: 14, numRuns: 500 },
    );
  });

  it("property: repeated drift changes never move the clock at the moment of the change", () => {
    const changes = fc.array(fc.tuple(fc.nat({ max: 50_000_000 }), driftPpm), { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(offsetUs, driftPpm, changes, (off, d0, script) => {
        const c = new NodeClock(off, d0);
        let now = 0;
        let last = c.localUs(0);
        for (const [gap, drift] of script) {
          now += gap;
          const reading = c.localUs(now);
          expect(reading).toBeGreaterThanOrEqual(last);
          c.setDrift(now, drift);
          expect(c.localUs(now)).toBe(reading);
          last = reading;
        }
      }),
      { seed: 15, numRuns: 300 },
    );
  });

  it("setOffset sets the offset from simulated time at that moment, keeping the drift", () => {
    const c = new NodeClock(0, 100);
    c.setOffset(5_000_000, -2_000);
    expect(c.offsetUs(5_000_000)).toBe(-2_000);
    expect(c.localUs(5_000_000)).toBe(4_998_000);
    expect(c.localUs(6_000_000)).toBe(4_998_000 + 1_000_100);
  });
});
