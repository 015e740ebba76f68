// The slot index (countKeysInSlot, getKeysInSlot, deleteKeysInSlot), expiresCount, clear(), and
// snapshots (snapshot, snapshotSlot, restoreEntry). Fixed cases first, then random command
// sequences checked against the keys the keyspace holds (inspected key by key) after every step.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Keyspace } from "./keyspace.js";
import { plain } from "./plain.js";
import { shape } from "./test-support/shape.js";

const NOW = 1_700_000_000_000;

/** A toy slot function over 4 slots (core/keyspace must not import the cluster's CRC16). */
const SLOTS = 4;
function slotOf(key: string): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
  return h % SLOTS;
}

function keysOfSlot(slot: number, keys: readonly string[]): string[] {
  return keys.filter((k) => slotOf(k) === slot);
}

/** A value as plain, ordered data, for comparing two keyspaces. */

describe("slot index", () => {
  it("counts and lists each slot's keys in creation order, and honours count", () => {
    const ks = new Keyspace(undefined, slotOf);
    const keys = ["a", "b", "c", "d", "e", "f", "g", "h", "\x00", "\xff"];
    for (const k of keys) ks.exec(["SET", k, "v"], NOW);
    let total = 0;
    for (let slot = 0; slot < SLOTS; slot++) {
      const expected = keysOfSlot(slot, keys);
      expect(ks.countKeysInSlot(slot)).toBe(expected.length);
      expect(ks.getKeysInSlot(slot, 1000)).toEqual(expected);
      expect(ks.getKeysInSlot(slot, 1)).toEqual(expected.slice(0, 1));
      expect(ks.getKeysInSlot(slot, 0)).toEqual([]);
      total += expected.length;
    }
    expect(total).toBe(keys.length);
    expect(ks.countKeysInSlot(9999)).toBe(0);
    expect(ks.getKeysInSlot(9999, 10)).toEqual([]);
  });

  it("a renamed key moves to its new name's slot, at the end of that slot's creation order", () => {
    const ks = new Keyspace(undefined, slotOf);
    const names = Array.from({ length: 40 }, (_, i) => `n${i}`);
    const [a, b, c] = names.filter((k) => slotOf(k) === 0);
    const elsewhere = names.find((k) => slotOf(k) === 1) as string;
    for (const k of [a, b, c, elsewhere]) ks.exec(["SET", k as string, "v"], NOW);
    ks.exec(["RENAME", a as string, elsewhere], NOW);
    expect(ks.getKeysInSlot(0, 100)).toEqual([b, c]);
    expect(ks.getKeysInSlot(1, 100)).toEqual([elsewhere]);
    ks.exec(["RENAME", elsewhere, a as string], NOW);
    expect(ks.getKeysInSlot(0, 100)).toEqual([b, c, a]);
    expect(ks.countKeysInSlot(1)).toBe(0);
  });

  it("stays in creation order when the oldest, middle or newest key of a slot goes", () => {
    const ks = new Keyspace(undefined, slotOf);
    const names = Array.from({ length: 60 }, (_, i) => `m${i}`).filter((k) => slotOf(k) === 2);
    const [k1, k2, k3, k4, k5] = names as [string, string, string, string, string];
    for (const k of [k1, k2, k3, k4]) ks.exec(["SET", k, "v"], NOW);
    ks.exec(["DEL", k4], NOW); // newest
    ks.exec(["DEL", k1], NOW); // oldest
    ks.exec(["SET", k5, "v"], NOW);
    expect(ks.getKeysInSlot(2, 10)).toEqual([k2, k3, k5]);
    ks.exec(["DEL", k3], NOW); // middle
    ks.exec(["SET", k1, "v"], NOW);
    expect(ks.getKeysInSlot(2, 10)).toEqual([k2, k5, k1]);
    expect(ks.countKeysInSlot(2)).toBe(3);
  });

  it("counts expired keys until they are removed, as Redis does", () => {
    const ks = new Keyspace(undefined, slotOf);
    ks.exec(["SET", "k", "v", "PX", "10"], NOW);
    expect(ks.countKeysInSlot(slotOf("k"))).toBe(1);
    ks.exec(["GET", "k"], NOW + 11);
    expect(ks.countKeysInSlot(slotOf("k"))).toBe(0);
  });

  it("deleteKeysInSlot deletes exactly that slot's keys and returns them in creation order", () => {
    const ks = new Keyspace(undefined, slotOf);
    const keys = Array.from({ length: 40 }, (_, i) => `key:${i}`);
    for (const k of keys) ks.exec(["RPUSH", k, "x"], NOW);
    ks.exec(["PEXPIRE", "key:3", "1000"], NOW);
    const slot = slotOf("key:3");
    const deleted = ks.deleteKeysInSlot(slot);
    expect(deleted).toEqual(keysOfSlot(slot, keys));
    expect(ks.countKeysInSlot(slot)).toBe(0);
    expect(ks.size).toBe(keys.length - deleted.length);
    expect(ks.expiresCount).toBe(0);
    expect(plain(ks.exec(["EXISTS", "key:3"], NOW).reply)).toBe(0);
    expect(ks.deleteKeysInSlot(slot)).toEqual([]);
    for (let other = 0; other < SLOTS; other++) if (other !== slot) expect(ks.getKeysInSlot(other, 100)).toEqual(keysOfSlot(other, keys));
  });

  it("is a programmer error without slotOf", () => {
    const ks = new Keyspace();
    ks.exec(["SET", "k", "v"], NOW);
    expect(() => ks.countKeysInSlot(0)).toThrow(/slotOf/);
    expect(() => ks.getKeysInSlot(0, 1)).toThrow(/slotOf/);
    expect(() => ks.deleteKeysInSlot(0)).toThrow(/slotOf/);
    expect(() => ks.snapshotSlot(0)).toThrow(/slotOf/);
  });
});

describe("expiresCount and clear", () => {
  it("expiresCount follows every way a TTL comes and goes", () => {
    const ks = new Keyspace();
    ks.exec(["SET", "a", "1", "EX", "10"], NOW);
    ks.exec(["SET", "b", "1"], NOW);
    ks.exec(["PEXPIRE", "b", "5"], NOW);
    ks.exec(["SET", "c", "1", "PX", "1"], NOW);
    expect(ks.expiresCount).toBe(3);
    ks.exec(["PERSIST", "a"], NOW);
    expect(ks.expiresCount).toBe(2);
    ks.exec(["GET", "c"], NOW + 2); // lazy expiry
    expect(ks.expiresCount).toBe(1);
    ks.exec(["SET", "b", "2"], NOW); // SET without KEEPTTL drops the TTL
    expect(ks.expiresCount).toBe(0);
  });

  it("clear drops every key, TTL and slot entry, propagating and counting nothing", () => {
    const ks = new Keyspace(undefined, slotOf);
    ks.exec(["SET", "a", "1", "PX", "1"], NOW);
    ks.exec(["SADD", "b", "m"], NOW);
    ks.exec(["GET", "a"], NOW + 5);
    ks.exec(["SET", "a", "1", "PX", "1"], NOW);
    ks.clear();
    expect([ks.size, ks.expiresCount, ks.expiredKeys]).toEqual([0, 0, 1]);
    for (let slot = 0; slot < SLOTS; slot++) expect(ks.countKeysInSlot(slot)).toBe(0);
    expect(ks.snapshot()).toEqual([]);
    ks.exec(["SET", "a", "2"], NOW);
    expect(ks.getKeysInSlot(slotOf("a"), 10)).toEqual(["a"]);
  });
});

describe("snapshots", () => {
  it("lists every key in creation order with DUMP's payload and the absolute expiry", () => {
    const ks = new Keyspace(undefined, slotOf);
    ks.exec(["SET", "s", "v", "PX", "100"], NOW);
    ks.exec(["RPUSH", "l", "1", "2"], NOW);
    ks.exec(["SADD", "t", "m"], NOW);
    ks.exec(["DEL", "s"], NOW);
    ks.exec(["HSET", "h", "f", "v"], NOW);
    ks.exec(["SET", "s", "again", "PXAT", String(NOW + 7)], NOW);
    const snap = ks.snapshot();
    expect(snap.map((e) => e.key)).toEqual(["l", "t", "h", "s"]);
    expect(snap.map((e) => e.expireAtMs)).toEqual([null, null, null, NOW + 7]);
    for (const e of snap) expect(e.payload).toBe(plain(ks.exec(["DUMP", e.key], NOW).reply));
    for (let slot = 0; slot < SLOTS; slot++) expect(ks.snapshotSlot(slot)).toEqual(snap.filter((e) => slotOf(e.key) === slot));
  });

  it("restoreEntry replaces any old key and its TTL, without propagation", () => {
    const source = new Keyspace();
    source.exec(["RPUSH", "k", "a", "b"], NOW);
    const [entry] = source.snapshot();
    const ks = new Keyspace();
    ks.exec(["SET", "k", "old", "EX", "100"], NOW);
    expect(ks.restoreEntry("k", entry?.payload as string, null, NOW)).toBe(true);
    expect(plain(ks.exec(["LRANGE", "k", "0", "-1"], NOW).reply)).toEqual(["a", "b"]);
    expect([plain(ks.exec(["PTTL", "k"], NOW).reply), ks.expiresCount]).toEqual([-1, 0]);
    expect(ks.restoreEntry("k", entry?.payload as string, NOW + 50, NOW)).toBe(true);
    expect(plain(ks.exec(["PTTL", "k"], NOW).reply)).toBe(50);
  });

  it("restoreEntry skips an entry already expired at nowMs and removes the old key", () => {
    const source = new Keyspace();
    source.exec(["SET", "k", "v"], NOW);
    const payload = source.snapshot()[0]?.payload as string;
    const ks = new Keyspace();
    ks.exec(["SET", "k", "old"], NOW);
    expect(ks.restoreEntry("k", payload, NOW, NOW)).toBe(true); // expires at NOW: still alive at NOW
    expect(ks.restoreEntry("k", payload, NOW - 1, NOW)).toBe(false);
    expect(ks.size).toBe(0);
  });

  it("restoreEntry throws on a payload that does not check out", () => {
    const ks = new Keyspace();
    expect(() => ks.restoreEntry("k", "garbage", null, NOW)).toThrow(/payload refused/);
    expect(ks.size).toBe(0);
  });
});

/** Keys of the random sequences: few, so that commands collide; binary ones included. */
const KEYS = ["a", "b", "c", "d", "e", "\x00", "\xff\x01", "{t}1", "{t}2"];
const key = fc.constantFrom(...KEYS);
const member = fc.constantFrom("x", "y", "", "\x00");

/** One step of a random history: a command, time passing, active expiry, or a slot operation. */
type Step =
  | { readonly t: "cmd"; readonly args: readonly string[] }
  | { readonly t: "advance"; readonly ms: number }
  | { readonly t: "activeExpire" }
  | { readonly t: "deleteSlot"; readonly slot: number }
  | { readonly t: "restoreCopy"; readonly from: string; readonly to: string; readonly ttl: string; readonly abs: boolean };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.tuple(key, member).map(([k, v]): Step => ({ t: "cmd", args: ["SET", k, v] })),
  fc.tuple(key, fc.integer({ min: 1, max: 50 })).map(([k, ms]): Step => ({ t: "cmd", args: ["SET", k, "v", "PX", String(ms)] })),
  fc.tuple(key, key).map(([a, b]): Step => ({ t: "cmd", args: ["DEL", a, b] })),
  fc.tuple(key, key).map(([a, b]): Step => ({ t: "cmd", args: ["RENAME", a, b] })),
  fc.tuple(key, fc.integer({ min: -5, max: 50 })).map(([k, ms]): Step => ({ t: "cmd", args: ["PEXPIRE", k, String(ms)] })),
  key.map((k): Step => ({ t: "cmd", args: ["PERSIST", k] })),
  fc.tuple(key, member).map(([k, m]): Step => ({ t: "cmd", args: ["RPUSH", k, m] })),
  key.map((k): Step => ({ t: "cmd", args: ["LPOP", k] })),
  fc.tuple(key, member).map(([k, m]): Step => ({ t: "cmd", args: ["SADD", k, m] })),
  fc.tuple(key, member).map(([k, m]): Step => ({ t: "cmd", args: ["SREM", k, m] })),
  fc.tuple(key, member, member).map(([k, f, v]): Step => ({ t: "cmd", args: ["HSET", k, f, v] })),
  key.map((k): Step => ({ t: "cmd", args: ["GET", k] })),
  fc.constant<Step>({ t: "cmd", args: ["FLUSHALL"] }),
  fc.integer({ min: 1, max: 30 }).map((ms): Step => ({ t: "advance", ms })),
  fc.constant<Step>({ t: "activeExpire" }),
  fc.integer({ min: 0, max: SLOTS - 1 }).map((slot): Step => ({ t: "deleteSlot", slot })),
  fc
    .tuple(key, key, fc.constantFrom("0", "20", "-1"), fc.boolean())
    .map(([from, to, ttl, abs]): Step => ({ t: "restoreCopy", from, to, ttl, abs })),
);

/** A deterministic PRNG for active expiry. */
function counterRng(): { next(): number } {
  let i = 0;
  return { next: () => ((i++ * 0.618033988749895) % 1) };
}

/** Runs one step; `clock` is the current time, returned possibly advanced. */
function apply(ks: Keyspace, s: Step, clock: number): number {
  switch (s.t) {
    case "cmd":
      ks.exec(s.args, clock);
      return clock;
    case "advance":
      return clock + s.ms;
    case "activeExpire":
      ks.activeExpire(clock, counterRng(), 100);
      return clock;
    case "deleteSlot": {
      const before = ks.getKeysInSlot(s.slot, 100);
      expect(ks.deleteKeysInSlot(s.slot)).toEqual(before);
      expect(ks.countKeysInSlot(s.slot)).toBe(0);
      return clock;
    }
    case "restoreCopy": {
      const payload = plain(ks.exec(["DUMP", s.from], clock).reply);
      if (typeof payload !== "string") return clock;
      const ttl = s.abs && s.ttl !== "0" ? String(clock + Number(s.ttl)) : s.ttl;
      ks.exec(["RESTORE", s.to, ttl, payload, "REPLACE", ...(s.abs ? ["ABSTTL"] : [])], clock);
      return clock;
    }
  }
}

/**
 * How many slot lists the index holds: memory must follow the keys, so a slot's list head goes
 * when its last key does. Reached through a cast, as no caller needs it.
 */
function slotListsHeld(ks: Keyspace): number {
  return (ks as unknown as { readonly db: { readonly slotKeys: ReadonlyMap<number, unknown> } }).db.slotKeys.size;
}

/** The keys the keyspace holds, expired-but-not-yet-removed ones included, in creation order. */
function heldKeys(ks: Keyspace): string[] {
  return ks.snapshot().map((e) => e.key);
}

describe("slot index under random histories", () => {
  it("after every step, the slots partition exactly the keys held, in creation order", () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 80, size: "max" }), (steps) => {
        const ks = new Keyspace(undefined, slotOf);
        let clock = NOW;
        for (const s of steps) {
          clock = apply(ks, s, clock);
          const held = KEYS.filter((k) => ks.inspect(k) !== undefined);
          const ordered = heldKeys(ks);
          expect([...ordered].sort()).toEqual([...held].sort());
          let total = 0;
          let nonEmpty = 0;
          for (let slot = 0; slot < SLOTS; slot++) {
            total += ks.countKeysInSlot(slot);
            if (ks.countKeysInSlot(slot) > 0) nonEmpty++;
            expect(ks.getKeysInSlot(slot, 100)).toEqual(keysOfSlot(slot, ordered));
          }
          expect(total).toBe(ks.size);
          expect(slotListsHeld(ks)).toBe(nonEmpty);
          expect(ks.expiresCount).toBe(held.filter((k) => ks.inspect(k)?.expireAtMs !== null).length);
        }
      }),
      { seed: 16384, numRuns: 300 },
    );
  });

  it("snapshot → restoreEntry into a fresh keyspace reproduces every live value and TTL, in order", () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 80, size: "max" }), (steps) => {
        const ks = new Keyspace(undefined, slotOf);
        let clock = NOW;
        for (const s of steps) clock = apply(ks, s, clock);
        const snap = ks.snapshot();
        const copy = new Keyspace(undefined, slotOf);
        for (const e of snap) copy.restoreEntry(e.key, e.payload, e.expireAtMs, clock);
        const live = snap.filter((e) => e.expireAtMs === null || e.expireAtMs >= clock);
        expect(copy.snapshot()).toEqual(live);
        for (const k of KEYS) {
          const original = ks.inspect(k);
          const alive = original !== undefined && (original.expireAtMs === null || original.expireAtMs >= clock);
          const restored = copy.inspect(k);
          expect(shape(restored?.value)).toEqual(alive ? shape(original.value) : undefined);
          expect(restored?.expireAtMs).toEqual(alive ? original.expireAtMs : undefined);
        }
        for (let slot = 0; slot < SLOTS; slot++) expect(copy.snapshotSlot(slot)).toEqual(live.filter((e) => slotOf(e.key) === slot));
      }),
      { seed: 7001, numRuns: 300 },
    );
  });
});
