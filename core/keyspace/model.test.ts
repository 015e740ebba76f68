// Model test: random command sequences over a few keys of every type, with TTLs and a clock
// that advances, run against the Keyspace and against the deliberately simple reference model
// below. Every reply must match.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Keyspace } from "./keyspace.js";
import { type Plain, plain } from "./plain.js";

const WRONGTYPE: Plain = { err: "WRONGTYPE Operation against a key holding the wrong kind of value" };
const NOT_INT: Plain = { err: "ERR value is not an integer or out of range" };
const OK: Plain = { simple: "OK" };

type ModelValue =
  | { readonly t: "string"; v: string }
  | { readonly t: "list"; readonly v: string[] }
  | { readonly t: "set"; readonly v: Set<string> }
  | { readonly t: "hash"; readonly v: Map<string, string> };

/** The reference: a map of keys to plain JS values and absolute expiry times, nothing clever. */
class Model {
  private readonly m = new Map<string, { val: ModelValue; exp: number | null }>();

  private live(key: string, now: number): { val: ModelValue; exp: number | null } | undefined {
    const e = this.m.get(key);
    if (e !== undefined && e.exp !== null && now > e.exp) {
      this.m.delete(key);
      return undefined;
    }
    return e;
  }

  private typed<T extends ModelValue["t"]>(key: string, t: T, now: number): Extract<ModelValue, { t: T }> | undefined | "wrong" {
    const e = this.live(key, now);
    if (e === undefined) return undefined;
    return e.val.t === t ? (e.val as Extract<ModelValue, { t: T }>) : "wrong";
  }

  private create(key: string, val: ModelValue): void {
    this.m.set(key, { val, exp: null });
  }

  private dropIfEmpty(key: string, val: ModelValue): void {
    const size = val.t === "list" ? val.v.length : val.t === "string" ? 1 : val.v.size;
    if (size === 0) this.m.delete(key);
  }

  exec(args: readonly string[], now: number): Plain {
    const [name, key = "", a = "", b = ""] = args;
    switch (name) {
      case "GET": {
        const s = this.typed(key, "string", now);
        return s === "wrong" ? WRONGTYPE : s === undefined ? null : s.v;
      }
      case "SET": {
        const exists = this.live(key, now) !== undefined;
        if (args[3] === "NX" && exists) return null;
        this.m.set(key, { val: { t: "string", v: a }, exp: args[3] === "PX" ? now + Number(args[4]) : null });
        return OK;
      }
      case "DEL":
        return this.live(key, now) !== undefined && this.m.delete(key) ? 1 : 0;
      case "EXISTS":
        return this.live(key, now) === undefined ? 0 : 1;
      case "INCR": {
        const s = this.typed(key, "string", now);
        if (s === "wrong") return WRONGTYPE;
        const old = s === undefined ? 0 : /^(0|-?[1-9][0-9]*)$/.test(s.v) ? Number(s.v) : null;
        if (old === null) return NOT_INT;
        if (s === undefined) this.create(key, { t: "string", v: String(old + 1) });
        else s.v = String(old + 1);
        return old + 1;
      }
      case "APPEND": {
        const s = this.typed(key, "string", now);
        if (s === "wrong") return WRONGTYPE;
        if (s === undefined) {
          this.create(key, { t: "string", v: a });
          return a.length;
        }
        s.v += a;
        return s.v.length;
      }
      case "STRLEN": {
        const s = this.typed(key, "string", now);
        return s === "wrong" ? WRONGTYPE : s === undefined ? 0 : s.v.length;
      }
      case "PEXPIRE": {
        const e = this.live(key, now);
        if (e === undefined) return 0;
        if (Number(a) <= 0) this.m.delete(key);
        else e.exp = now + Number(a);
        return 1;
      }
      case "PTTL": {
        const e = this.live(key, now);
        return e === undefined ? -2 : e.exp === null ? -1 : Math.max(0, e.exp - now);
      }
      case "PERSIST": {
        const e = this.live(key, now);
        if (e === undefined || e.exp === null) return 0;
        e.exp = null;
        return 1;
      }
      case "TYPE":
        return { simple: this.live(key, now)?.val.t ?? "none" };
      case "LPUSH":
      case "RPUSH": {
        const l = this.typed(key, "list", now);
        if (l === "wrong") return WRONGTYPE;
        const list = l ?? { t: "list" as const, v: [] };
        if (l === undefined) this.create(key, list);
        if (name === "LPUSH") list.v.unshift(a);
        else list.v.push(a);
        return list.v.length;
      }
      case "LPOP":
      case "RPOP": {
        const l = this.typed(key, "list", now);
        if (l === "wrong") return WRONGTYPE;
        if (l === undefined) return null;
        const v = (name === "LPOP" ? l.v.shift() : l.v.pop()) as string;
        this.dropIfEmpty(key, l);
        return v;
      }
      case "LRANGE": {
        const l = this.typed(key, "list", now);
        if (l === "wrong") return WRONGTYPE;
        const items = l?.v ?? [];
        const n = items.length;
        const start = Math.max(0, Number(a) < 0 ? n + Number(a) : Number(a));
        const end = Math.min(n - 1, Number(b) < 0 ? n + Number(b) : Number(b));
        return items.slice(start, end + 1);
      }
      case "LLEN": {
        const l = this.typed(key, "list", now);
        return l === "wrong" ? WRONGTYPE : (l?.v.length ?? 0);
      }
      case "SADD": {
        const s = this.typed(key, "set", now);
        if (s === "wrong") return WRONGTYPE;
        const set = s ?? { t: "set" as const, v: new Set<string>() };
        if (s === undefined) this.create(key, set);
        const had = set.v.has(a);
        set.v.add(a);
        return had ? 0 : 1;
      }
      case "SREM": {
        const s = this.typed(key, "set", now);
        if (s === "wrong") return WRONGTYPE;
        if (s === undefined) return 0;
        const removed = s.v.delete(a) ? 1 : 0;
        this.dropIfEmpty(key, s);
        return removed;
      }
      case "SCARD": {
        const s = this.typed(key, "set", now);
        return s === "wrong" ? WRONGTYPE : (s?.v.size ?? 0);
      }
      case "SISMEMBER": {
        const s = this.typed(key, "set", now);
        return s === "wrong" ? WRONGTYPE : s?.v.has(a) === true ? 1 : 0;
      }
      case "SMEMBERS": {
        const s = this.typed(key, "set", now);
        return s === "wrong" ? WRONGTYPE : { set: [...(s?.v ?? [])].sort() };
      }
      case "HSET": {
        const h = this.typed(key, "hash", now);
        if (h === "wrong") return WRONGTYPE;
        const hash = h ?? { t: "hash" as const, v: new Map<string, string>() };
        if (h === undefined) this.create(key, hash);
        const had = hash.v.has(a);
        hash.v.set(a, b);
        return had ? 0 : 1;
      }
      case "HGET": {
        const h = this.typed(key, "hash", now);
        return h === "wrong" ? WRONGTYPE : (h?.v.get(a) ?? null);
      }
      case "HDEL": {
        const h = this.typed(key, "hash", now);
        if (h === "wrong") return WRONGTYPE;
        if (h === undefined) return 0;
        const removed = h.v.delete(a) ? 1 : 0;
        this.dropIfEmpty(key, h);
        return removed;
      }
      case "HLEN": {
        const h = this.typed(key, "hash", now);
        return h === "wrong" ? WRONGTYPE : (h?.v.size ?? 0);
      }
      case "HGETALL": {
        const h = this.typed(key, "hash", now);
        return h === "wrong" ? WRONGTYPE : { map: [...(h?.v ?? [])] };
      }
      default:
        throw new Error(`model lacks ${name}`);
    }
  }
}

const KEYS = ["a", "b", "c"];
const VALUES = ["1", "-2", "x", "", "10", "0"];

/** One generated step: which command, its operands, and how far the clock moves first. */
const stepArb = fc.record({
  op: fc.integer({ min: 0, max: 29 }),
  key: fc.constantFrom(...KEYS),
  val: fc.constantFrom(...VALUES),
  n: fc.integer({ min: -3, max: 3 }),
  ttl: fc.integer({ min: -5, max: 40 }),
  dtMs: fc.integer({ min: 0, max: 15 }),
});

type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

function toArgs(s: Step): string[] {
  const { key: k, val: v } = s;
  const ops: string[][] = [
    ["GET", k],
    ["SET", k, v],
    ["SET", k, v, "PX", String(Math.max(1, s.ttl))],
    ["SET", k, v, "NX"],
    ["DEL", k],
    ["EXISTS", k],
    ["INCR", k],
    ["APPEND", k, v],
    ["STRLEN", k],
    ["PEXPIRE", k, String(s.ttl)],
    ["PTTL", k],
    ["PERSIST", k],
    ["TYPE", k],
    ["LPUSH", k, v],
    ["RPUSH", k, v],
    ["LPOP", k],
    ["RPOP", k],
    ["LRANGE", k, String(s.n), String(-s.n)],
    ["LLEN", k],
    ["SADD", k, v],
    ["SREM", k, v],
    ["SCARD", k],
    ["SISMEMBER", k, v],
    ["SMEMBERS", k],
    ["HSET", k, v, String(s.n)],
    ["HGET", k, v],
    ["HDEL", k, v],
    ["HLEN", k],
    ["HGETALL", k],
    ["RPUSH", k, v],
  ];
  return ops[s.op % ops.length] as string[];
}

describe("Keyspace against the reference model", () => {
  it("gives the same replies for random command sequences with TTLs and a moving clock", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 120 }), (steps) => {
        const ks = new Keyspace();
        const model = new Model();
        let now = 1_000_000;
        for (const step of steps) {
          now += step.dtMs;
          const args = toArgs(step);
          const got = plain(ks.exec(args, now).reply);
          const want = model.exec(args, now);
          expect({ args, now, reply: got }).toEqual({ args, now, reply: want });
        }
      }),
      { seed: 20261123, numRuns: 400 },
    );
  });
});
