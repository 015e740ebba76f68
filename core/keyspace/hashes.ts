// Hash commands (t_hash.c): HSET HSETNX HMSET HGET HMGET HDEL HGETALL HLEN HEXISTS HSTRLEN
// HINCRBY HINCRBYFLOAT HKEYS HVALS. Fields come back in insertion order.

import { Resp, type RespValue } from "../resp/codec.js";
import { bulk } from "./bytes.js";
import { type Ctx, ERR, type Handler, fail, intArg } from "./ctx.js";
import { INT64_MAX, INT64_MIN, addLongDouble, formatLongDoubleHuman, parseInt64, parseLongDouble } from "./numbers.js";
import { intReply } from "./strings.js";

function hsetGeneric(ctx: Ctx, name: "hset" | "hmset"): RespValue {
  if (ctx.args.length % 2 === 1) fail(`ERR wrong number of arguments for '${name}' command`);
  const key = ctx.arg(1);
  const hash = ctx.getOrCreate(key, "hash");
  let created = 0;
  for (let i = 2; i < ctx.args.length; i += 2) {
    if (!hash.fields.has(ctx.arg(i))) created++;
    hash.fields.set(ctx.arg(i), ctx.arg(i + 1));
  }
  ctx.modified(key, (ctx.args.length - 2) / 2);
  return name === "hset" ? Resp.integer(created) : Resp.ok;
}

function hsetnx(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const existing = ctx.get(key, "hash");
  if (existing?.fields.has(ctx.arg(2)) === true) return Resp.integer(0);
  const hash = existing ?? ctx.getOrCreate(key, "hash");
  hash.fields.set(ctx.arg(2), ctx.arg(3));
  ctx.modified(key);
  return Resp.integer(1);
}

function hget(ctx: Ctx): RespValue {
  const value = ctx.get(ctx.arg(1), "hash")?.fields.get(ctx.arg(2));
  return value === undefined ? Resp.null : bulk(value);
}

function hmget(ctx: Ctx): RespValue {
  const hash = ctx.get(ctx.arg(1), "hash");
  const out: RespValue[] = [];
  for (let i = 2; i < ctx.args.length; i++) {
    const value = hash?.fields.get(ctx.arg(i));
    out.push(value === undefined ? Resp.null : bulk(value));
  }
  return Resp.array(out);
}

function hdel(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const hash = ctx.get(key, "hash");
  if (hash === undefined) return Resp.integer(0);
  let deleted = 0;
  for (let i = 2; i < ctx.args.length; i++) if (hash.fields.delete(ctx.arg(i))) deleted++;
  if (deleted > 0) ctx.modified(key, deleted);
  ctx.deleteIfEmpty(key, hash);
  return Resp.integer(deleted);
}

function hgetall(ctx: Ctx): RespValue {
  const hash = ctx.get(ctx.arg(1), "hash");
  return Resp.map(hash === undefined ? [] : [...hash.fields].map(([f, v]) => [bulk(f), bulk(v)] as const));
}

function hincrby(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const field = ctx.arg(2);
  const incr = intArg(ctx.arg(3));
  const hash = ctx.getOrCreate(key, "hash");
  const text = hash.fields.get(field);
  const old = text === undefined ? 0n : parseInt64(text);
  if (old === null) fail("ERR hash value is not an integer");
  if ((incr < 0n && old < 0n && incr < INT64_MIN - old) || (incr > 0n && old > 0n && incr > INT64_MAX - old)) fail(ERR.overflow);
  const next = old + incr;
  hash.fields.set(field, next.toString());
  ctx.modified(key);
  return intReply(next);
}

function hincrbyfloat(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const field = ctx.arg(2);
  const incr = parseLongDouble(ctx.arg(3));
  if (incr === null) fail(ERR.notFloat);
  if (incr.kind === "inf") fail("ERR value is NaN or Infinity");
  const hash = ctx.getOrCreate(key, "hash");
  const text = hash.fields.get(field);
  const old = parseLongDouble(text ?? "0");
  if (old === null) fail("ERR hash value is not a float");
  const sum = addLongDouble(old, incr);
  if (sum === null || sum.kind === "inf") fail(ERR.nanOrInfinity);
  const next = formatLongDoubleHuman(sum);
  hash.fields.set(field, next);
  ctx.modified(key);
  ctx.rewrite = [["HSET", key, field, next]];
  return bulk(next);
}

export const HASH_COMMANDS: Readonly<Record<string, Handler>> = {
  hset: (ctx) => hsetGeneric(ctx, "hset"),
  hmset: (ctx) => hsetGeneric(ctx, "hmset"),
  hsetnx,
  hincrby,
  hincrbyfloat,
  hget,
  hmget,
  hdel,
  hgetall,
  hlen: (ctx) => Resp.integer(ctx.get(ctx.arg(1), "hash")?.fields.size ?? 0),
  hexists: (ctx) => Resp.integer(ctx.get(ctx.arg(1), "hash")?.fields.has(ctx.arg(2)) === true ? 1 : 0),
  hstrlen: (ctx) => Resp.integer(ctx.get(ctx.arg(1), "hash")?.fields.get(ctx.arg(2))?.length ?? 0),
  hkeys: (ctx) => Resp.array([...(ctx.get(ctx.arg(1), "hash")?.fields.keys() ?? [])].map(bulk)),
  hvals: (ctx) => Resp.array([...(ctx.get(ctx.arg(1), "hash")?.fields.values() ?? [])].map(bulk)),
};
