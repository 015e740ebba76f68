// Expiry (lazy at exact boundaries, active sampling within budget), propagation rewrites, result
// bookkeeping, blocking pops, and SCAN's guarantee.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Keyspace, type Result } from "./keyspace.js";
import { plain } from "./plain.js";
import { mulberry32 as prng } from "../test-support/prng.js";

const T0 = 1_700_000_000_000;

function cmd(line: string): string[] {
  return line.split(" ");
}

function run(ks: Keyspace, line: string, nowMs = T0): Result {
  return ks.exec(cmd(line), nowMs);
}


describe("lazy expiry", () => {
  it("a key with PEXPIREAT t exists at t and is gone after t (keyIsExpired: now > when)", () => {
    const ks = new Keyspace();
    run(ks, "SET k v");
    run(ks, `PEXPIREAT k ${T0 + 100}`);
    expect(plain(run(ks, "GET k", T0 + 99).reply)).toBe("v");
    expect(plain(run(ks, "PTTL k", T0 + 100).reply)).toBe(0);
    expect(plain(run(ks, "GET k", T0 + 100).reply)).toBe("v");
    const gone = run(ks, "GET k", T0 + 101);
    expect(plain(gone.reply)).toBeNull();
    expect(gone.propagate).toEqual([["DEL", "k"]]);
    expect(gone.touched).toEqual(["k"]);
    expect(gone.dirty).toBe(0);
    expect(ks.expiredKeys).toBe(1);
    expect(ks.size).toBe(0);
  });

  it("an expired key is missing to every command, and is replaced as new", () => {
    const ks = new Keyspace();
    run(ks, "RPUSH l a");
    run(ks, "PEXPIRE l 10");
    expect(plain(run(ks, "EXISTS l", T0 + 11).reply)).toBe(0);
    run(ks, "SET s v PX 10");
    const r = run(ks, "INCR s", T0 + 11);
    expect(plain(r.reply)).toBe(1);
    expect(r.propagate).toEqual([["DEL", "s"], ["INCR", "s"]]);
    expect(plain(run(ks, "PTTL s", T0 + 11).reply)).toBe(-1);
  });

  it("DBSIZE counts expired keys not yet removed; KEYS hides them", () => {
    const ks = new Keyspace();
    run(ks, "SET a 1 PX 10");
    run(ks, "SET b 1");
    expect(plain(run(ks, "DBSIZE", T0 + 50).reply)).toBe(2);
    expect(plain(run(ks, "KEYS *", T0 + 50).reply)).toEqual(["b"]);
  });
});

describe("active expiry", () => {
  it("removes expired keys and leaves live ones", () => {
    const ks = new Keyspace();
    for (let i = 0; i < 100; i++) run(ks, `SET k${i} v PX ${i < 50 ? 10 : 100_000}`);
    const report = ks.activeExpire(T0 + 1000, prng(1), 10_000);
    expect(report.expired).toBeGreaterThan(0);
    expect(report.propagate).toHaveLength(report.expired);
    expect(ks.size).toBe(100 - report.expired);
    for (const [, key] of report.propagate) expect(Number((key as string).slice(1))).toBeLessThan(50);
    expect(ks.expiredKeys).toBe(report.expired);
  });

  it("repeats while more than 25% of a round expired, so an all-expired keyspace empties", () => {
    const ks = new Keyspace();
    for (let i = 0; i < 200; i++) run(ks, `SET k${i} v PX 10`);
    const report = ks.activeExpire(T0 + 1000, prng(2), 1_000_000);
    expect(report.expired).toBe(200);
    expect(ks.size).toBe(0);
  });

  it("stops after one round when few keys expired", () => {
    const ks = new Keyspace();
    for (let i = 0; i < 1000; i++) run(ks, `SET k${i} v PX ${i === 0 ? 10 : 100_000}`);
    const report = ks.activeExpire(T0 + 1000, prng(3), 1_000_000);
    expect(report.sampled).toBe(20);
  });

  it("never samples more than its budget", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 100 }), fc.integer(), (n, budget, seed) => {
        const ks = new Keyspace();
        for (let i = 0; i < n; i++) run(ks, `SET k${i} v PX 10`);
        const report = ks.activeExpire(T0 + 1000, prng(seed), budget);
        expect(report.sampled).toBeLessThanOrEqual(budget);
        expect(report.expired).toBeLessThanOrEqual(report.sampled);
        expect(ks.size).toBe(n - report.expired);
      }),
      { seed: 5, numRuns: 100 },
    );
  });

  it("ignores keys without a TTL", () => {
    const ks = new Keyspace();
    for (let i = 0; i < 10; i++) run(ks, `SET k${i} v`);
    expect(ks.activeExpire(T0 + 1000, prng(4), 100)).toEqual({ sampled: 0, expired: 0, propagate: [] });
  });
});

describe("propagation", () => {
  it.each([
    ["EXPIRE k 10", [["PEXPIREAT", "k", String(T0 + 10_000)]]],
    ["PEXPIRE k 10", [["PEXPIREAT", "k", String(T0 + 10)]]],
    ["EXPIREAT k 2000000000", [["PEXPIREAT", "k", "2000000000000"]]],
    ["PEXPIREAT k 2000000000000", [["PEXPIREAT", "k", "2000000000000"]]],
    ["EXPIRE k 10 NX", [["PEXPIREAT", "k", String(T0 + 10_000), "NX"]]],
    ["EXPIRE k -1", [["DEL", "k"]]],
    ["SET k v EX 10", [["SET", "k", "v", "PXAT", String(T0 + 10_000)]]],
    ["SET k v PX 10 XX", [["SET", "k", "v", "PXAT", String(T0 + 10)]]],
    ["SET k v EXAT 2000000000", [["SET", "k", "v", "PXAT", "2000000000000"]]],
    ["SET k v PXAT 2000000000000 GET", [["SET", "k", "v", "PXAT", "2000000000000", "GET"]]],
    ["SET k v GET", [["SET", "k", "v"]]],
    ["SET k v", [["SET", "k", "v"]]],
    ["SET k v NX", []],
    ["INCRBYFLOAT k 0.5", [["SET", "k", "1.5", "KEEPTTL"]]],
    ["GETDEL k", [["DEL", "k"]]],
    ["GETEX k PX 10", [["PEXPIREAT", "k", String(T0 + 10)]]],
    ["GETEX k", []],
    ["GET k", []],
    ["PERSIST k", []],
    ["DEL k nope", [["DEL", "k", "nope"]]],
    ["DEL nope", []],
    ["INCR nope x", []],
  ])("%s", (line, expected) => {
    const ks = new Keyspace();
    run(ks, "SET k 1");
    expect(run(ks, line).propagate).toEqual(expected);
  });

  it("HINCRBYFLOAT becomes HSET, a served BLPOP becomes LPOP, FLUSHALL always propagates", () => {
    const ks = new Keyspace();
    expect(run(ks, "HINCRBYFLOAT h f 2.5").propagate).toEqual([["HSET", "h", "f", "2.5"]]);
    run(ks, "RPUSH l a b");
    expect(run(ks, "BRPOP x l 0").propagate).toEqual([["RPOP", "l"]]);
    expect(run(ks, "FLUSHALL").propagate).toEqual([["FLUSHALL"]]);
    expect(run(ks, "FLUSHALL").propagate).toEqual([["FLUSHALL"]]);
  });

  it("counts dirty as Redis does", () => {
    const ks = new Keyspace();
    expect(run(ks, "RPUSH l a b c").dirty).toBe(3);
    expect(run(ks, "SADD s a b a").dirty).toBe(2);
    expect(run(ks, "HSET h a 1 b 2").dirty).toBe(2);
    expect(run(ks, "DEL l s nope").dirty).toBe(2);
    expect(run(ks, "GET h").dirty).toBe(0);
    expect(run(ks, "MSET a 1 b 2").touched).toEqual(["a", "b"]);
    expect(run(ks, "RENAME a c").touched).toEqual(["a", "c"]);
  });
});

describe("byte strings", () => {
  it("keys and values are binary-safe, byte for byte", () => {
    const ks = new Keyspace();
    const key = "k\u0000\u00ff";
    const value = "\u0000\u0001\u00c3\u00a9\u00ff";
    ks.exec(["SET", key, value], T0);
    const reply = ks.exec(["GET", key], T0).reply;
    expect(reply).toEqual({ type: "bulk", value: new Uint8Array([0, 1, 0xc3, 0xa9, 0xff]) });
    expect(plain(ks.exec(["STRLEN", key], T0).reply)).toBe(5);
    expect(plain(ks.exec(["GETRANGE", key, "2", "3"], T0).reply)).toBe("\u00c3\u00a9");
    expect(plain(ks.exec(["KEYS", "k?\u00ff"], T0).reply)).toEqual([key]);
  });

  it("MSET over a stale key expires it first", () => {
    const ks = new Keyspace();
    run(ks, "SET a 1 PX 10");
    const r = run(ks, "MSET a 2 b 3", T0 + 11);
    expect(r.propagate).toEqual([["DEL", "a"], ["MSET", "a", "2", "b", "3"]]);
    expect(ks.expiredKeys).toBe(1);
  });
});

describe("blocking pops", () => {
  it("BLPOP on empty lists asks the host to block, and serveBlockedPop serves later", () => {
    const ks = new Keyspace();
    const r = run(ks, "BLPOP a b 1.5");
    expect(plain(r.reply)).toEqual({ nullArray: true });
    expect(r.block).toEqual({ keys: ["a", "b"], end: "left", deadlineMs: T0 + 1500 });
    expect(run(ks, "BLPOP a 0").block?.deadlineMs).toBeNull();
    // Redis 7.0 rounds the timeout up to whole ms (ceill), so a positive one never means "forever".
    expect(run(ks, "BLPOP a 0.0001").block?.deadlineMs).toBe(T0 + 1);
    expect(run(ks, "BLPOP a -0.0009").block?.deadlineMs).toBeNull();
    expect(run(ks, "BLPOP a 1e15").block?.deadlineMs).toBeNull();
    expect(ks.serveBlockedPop(["a", "b"], "left", T0 + 10)).toBeNull();
    run(ks, "SET a x");
    run(ks, "RPUSH b 1 2");
    const served = ks.serveBlockedPop(["a", "b"], "left", T0 + 20);
    expect(served && plain(served.reply)).toEqual(["b", "1"]);
    expect(served?.propagate).toEqual([["LPOP", "b"]]);
  });
});

describe("SCAN", () => {
  it("returns every key that exists for the whole scan, despite inserts and deletes", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 120 })), { maxLength: 80 }),
        fc.integer({ min: 1, max: 7 }),
        (initial, churn, count) => {
          const ks = new Keyspace();
          for (let i = 0; i < initial; i++) run(ks, `SET k${i} v`);
          const touched = new Set<string>();
          const seen = new Set<string>();
          let cursor = "0";
          let step = 0;
          do {
            const page = plain(run(ks, `SCAN ${cursor} COUNT ${count}`).reply) as [string, string[]];
            cursor = page[0];
            for (const key of page[1]) seen.add(key);
            const change = churn[step++];
            if (change !== undefined) {
              const key = `k${change[1]}`;
              touched.add(key);
              run(ks, change[0] ? `SET ${key} v` : `DEL ${key}`);
            }
          } while (cursor !== "0");
          for (let i = 0; i < initial; i++) if (!touched.has(`k${i}`)) expect(seen.has(`k${i}`)).toBe(true);
        },
      ),
      { seed: 9, numRuns: 200 },
    );
  });
});
