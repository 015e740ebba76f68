// Set commands (t_set.c): SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SINTER SUNION SDIFF and
// their STORE forms. Members come back in insertion order (Redis's order is its hash table's).

import { Resp, type RespValue } from "../resp/codec.js";
import { bulk } from "./bytes.js";
import type { Ctx, Handler } from "./ctx.js";

function sadd(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const set = ctx.getOrCreate(key, "set");
  let added = 0;
  for (let i = 2; i < ctx.args.length; i++) {
    if (!set.members.has(ctx.arg(i))) {
      set.members.add(ctx.arg(i));
      added++;
    }
  }
  if (added > 0) ctx.modified(key, added);
  return Resp.integer(added);
}

function srem(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const set = ctx.get(key, "set");
  if (set === undefined) return Resp.integer(0);
  let removed = 0;
  for (let i = 2; i < ctx.args.length; i++) if (set.members.delete(ctx.arg(i))) removed++;
  if (removed > 0) ctx.modified(key, removed);
  ctx.deleteIfEmpty(key, set);
  return Resp.integer(removed);
}

function smembers(ctx: Ctx): RespValue {
  const set = ctx.get(ctx.arg(1), "set");
  return Resp.set(set === undefined ? [] : [...set.members].map(bulk));
}

function sismember(ctx: Ctx): RespValue {
  const set = ctx.get(ctx.arg(1), "set");
  return Resp.integer(set?.members.has(ctx.arg(2)) === true ? 1 : 0);
}

function smismember(ctx: Ctx): RespValue {
  const set = ctx.get(ctx.arg(1), "set");
  const out: RespValue[] = [];
  for (let i = 2; i < ctx.args.length; i++) out.push(Resp.integer(set?.members.has(ctx.arg(i)) === true ? 1 : 0));
  return Resp.array(out);
}

function scard(ctx: Ctx): RespValue {
  const set = ctx.get(ctx.arg(1), "set");
  return Resp.integer(set === undefined ? 0 : set.members.size);
}

type SetOp = "inter" | "union" | "diff";

/** The sets at `keys` (undefined for a missing key), WRONGTYPE on the first other type. */
function loadSets(ctx: Ctx, keys: readonly string[]): (Set<string> | undefined)[] {
  return keys.map((key) => ctx.get(key, "set")?.members);
}

function combine(op: SetOp, sets: readonly (Set<string> | undefined)[]): Set<string> {
  if (op === "union") {
    const out = new Set<string>();
    for (const s of sets) if (s !== undefined) for (const m of s) out.add(m);
    return out;
  }
  if (op === "inter") {
    if (sets.some((s) => s === undefined)) return new Set();
    const [first, ...rest] = sets as Set<string>[];
    const out = new Set<string>();
    for (const m of first ?? []) if (rest.every((s) => s.has(m))) out.add(m);
    return out;
  }
  const [first, ...rest] = sets;
  const out = new Set<string>();
  for (const m of first ?? []) if (!rest.some((s) => s?.has(m) === true)) out.add(m);
  return out;
}

function setOp(ctx: Ctx, op: SetOp): RespValue {
  const result = combine(op, loadSets(ctx, ctx.args.slice(1)));
  return Resp.set([...result].map(bulk));
}

function setOpStore(ctx: Ctx, op: SetOp): RespValue {
  const dst = ctx.arg(1);
  const result = combine(op, loadSets(ctx, ctx.args.slice(2)));
  if (result.size === 0) {
    if (ctx.lookup(dst) !== undefined && ctx.db.delete(dst)) ctx.modified(dst);
    return Resp.integer(0);
  }
  ctx.lookup(dst); // expire a stale destination first, so it counts as expired
  ctx.db.set(dst, { kind: "set", members: result }, false);
  ctx.modified(dst);
  return Resp.integer(result.size);
}

export const SET_COMMANDS: Readonly<Record<string, Handler>> = {
  sadd,
  srem,
  smembers,
  sismember,
  smismember,
  scard,
  sinter: (ctx) => setOp(ctx, "inter"),
  sunion: (ctx) => setOp(ctx, "union"),
  sdiff: (ctx) => setOp(ctx, "diff"),
  sinterstore: (ctx) => setOpStore(ctx, "inter"),
  sunionstore: (ctx) => setOpStore(ctx, "union"),
  sdiffstore: (ctx) => setOpStore(ctx, "diff"),
};
