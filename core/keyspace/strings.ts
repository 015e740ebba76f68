// String commands (t_string.c): GET SET SETNX GETDEL GETEX MGET MSET MSETNX INCR DECR INCRBY
// DECRBY INCRBYFLOAT APPEND STRLEN GETRANGE SETRANGE.

import { Resp, type RespValue } from "../resp/codec.js";
import { bulk, upperAscii } from "./bytes.js";
import { type Ctx, ERR, type Handler, fail, intArg } from "./ctx.js";
import { INT64_MAX, INT64_MIN, addLongDouble, clampToSafe, formatLongDoubleHuman, parseInt64, parseLongDouble } from "./numbers.js";

/** An integer reply: a number when it is safe, a bigint beyond. */
export function intReply(v: bigint | number): RespValue {
  if (typeof v === "number") return Resp.integer(v);
  return Resp.integer(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
}

export function invalidExpireTime(command: string): never {
  return fail(`ERR invalid expire time in '${command}' command`);
}

type ExpireUnit = "s" | "ms";

/** The expiry options SET and GETEX share, as parseExtendedStringArgumentsOrReply reads them. */
interface ExpireOptions {
  nx: boolean;
  xx: boolean;
  get: boolean;
  keepTtl: boolean;
  persist: boolean;
  /** Which of EX PX EXAT PXAT was given, and its argument. */
  expire: { readonly option: "EX" | "PX" | "EXAT" | "PXAT"; readonly text: string } | null;
}

function parseStringOptions(ctx: Ctx, start: number, isSet: boolean): ExpireOptions {
  const o: ExpireOptions = { nx: false, xx: false, get: false, keepTtl: false, persist: false, expire: null };
  for (let j = start; j < ctx.args.length; j++) {
    const opt = upperAscii(ctx.arg(j));
    const next = j === ctx.args.length - 1 ? undefined : ctx.arg(j + 1);
    const ex = o.expire?.option;
    if (opt === "NX" && !o.xx && isSet) o.nx = true;
    else if (opt === "XX" && !o.nx && isSet) o.xx = true;
    else if (opt === "GET" && isSet) o.get = true;
    else if (opt === "KEEPTTL" && !o.persist && ex === undefined && isSet) o.keepTtl = true;
    else if (opt === "PERSIST" && !isSet && ex === undefined && !o.keepTtl) o.persist = true;
    else if ((opt === "EX" || opt === "PX" || opt === "EXAT" || opt === "PXAT") && !o.keepTtl && !o.persist && (ex === undefined || ex === opt) && next !== undefined) {
      o.expire = { option: opt, text: next };
      j++;
    } else fail(ERR.syntax);
  }
  return o;
}

/** getExpireMillisecondsOrReply: the absolute expiry time an EX/PX/EXAT/PXAT argument names. */
function expireMs(ctx: Ctx, command: string, expire: NonNullable<ExpireOptions["expire"]>): number {
  const v = intArg(expire.text);
  const unit: ExpireUnit = expire.option === "EX" || expire.option === "EXAT" ? "s" : "ms";
  if (v <= 0n || (unit === "s" && v > INT64_MAX / 1000n)) invalidExpireTime(command);
  let ms = unit === "s" ? v * 1000n : v;
  if (expire.option === "EX" || expire.option === "PX") ms += BigInt(ctx.nowMs);
  if (ms > INT64_MAX || ms <= 0n) invalidExpireTime(command); // C's signed addition would wrap negative
  return Number(ms);
}

function get(ctx: Ctx): RespValue {
  const v = ctx.get(ctx.arg(1), "string");
  return v === undefined ? Resp.null : bulk(v);
}

function set(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const value = ctx.arg(2);
  if (ctx.args.length === 3) {
    // No options, the common case: the general path below with every option off.
    ctx.lookup(key);
    ctx.db.set(key, value, false);
    ctx.modified(key);
    return Resp.ok;
  }
  const o = parseStringOptions(ctx, 3, true);
  const atMs = o.expire === null ? null : expireMs(ctx, "set", o.expire);
  const old = o.get ? get(ctx) : null;
  const found = ctx.lookup(key) !== undefined;
  if ((o.nx && found) || (o.xx && !found)) return old ?? Resp.null;
  ctx.db.set(key, value, o.keepTtl);
  ctx.modified(key);
  if (atMs !== null) {
    ctx.db.setExpire(key, atMs);
    if (o.expire?.option !== "PXAT") ctx.rewrite = [["SET", key, value, "PXAT", String(atMs)]];
  }
  // Like Redis, GET is dropped from what propagates only when no expiry option rewrote the command.
  if (o.get && atMs === null) ctx.rewrite = [ctx.args.filter((a, i) => i < 3 || upperAscii(a) !== "GET")];
  return old ?? Resp.ok;
}

function setnx(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  if (ctx.lookup(key) !== undefined) return Resp.integer(0);
  ctx.db.set(key, ctx.arg(2), false);
  ctx.modified(key);
  return Resp.integer(1);
}

function getdel(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const v = ctx.get(key, "string");
  if (v === undefined) return Resp.null;
  ctx.db.delete(key);
  ctx.modified(key);
  ctx.rewrite = [["DEL", key]];
  return bulk(v);
}

function getex(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const o = parseStringOptions(ctx, 2, false);
  const v = ctx.get(key, "string");
  if (v === undefined) return Resp.null;
  const atMs = o.expire === null ? null : expireMs(ctx, "getex", o.expire);
  const reply = bulk(v);
  const absolute = o.expire?.option === "EXAT" || o.expire?.option === "PXAT";
  if (atMs !== null && absolute && atMs <= ctx.nowMs) {
    ctx.db.delete(key);
    ctx.modified(key);
    ctx.rewrite = [["DEL", key]];
  } else if (atMs !== null) {
    ctx.db.setExpire(key, atMs);
    ctx.modified(key);
    ctx.rewrite = [["PEXPIREAT", key, String(atMs)]];
  } else if (o.persist && ctx.db.expireAtMs(key) !== null) {
    ctx.db.setExpire(key, null);
    ctx.modified(key);
    ctx.rewrite = [["PERSIST", key]];
  }
  return reply;
}

function mget(ctx: Ctx): RespValue {
  const out: RespValue[] = [];
  for (let i = 1; i < ctx.args.length; i++) {
    const entry = ctx.lookup(ctx.arg(i));
    out.push(entry !== undefined && typeof entry.value === "string" ? bulk(entry.value) : Resp.null);
  }
  return Resp.array(out);
}

function arityError(name: string): never {
  return fail(`ERR wrong number of arguments for '${name}' command`);
}

function mset(ctx: Ctx): RespValue {
  if (ctx.args.length % 2 === 0) arityError("mset");
  for (let i = 1; i < ctx.args.length; i += 2) {
    ctx.lookup(ctx.arg(i)); // a stale key is expired (and propagated) before it is replaced
    ctx.db.set(ctx.arg(i), ctx.arg(i + 1), false);
    ctx.modified(ctx.arg(i));
  }
  return Resp.ok;
}

function msetnx(ctx: Ctx): RespValue {
  if (ctx.args.length % 2 === 0) arityError("msetnx");
  for (let i = 1; i < ctx.args.length; i += 2) if (ctx.lookup(ctx.arg(i)) !== undefined) return Resp.integer(0);
  for (let i = 1; i < ctx.args.length; i += 2) {
    ctx.db.set(ctx.arg(i), ctx.arg(i + 1), false);
    ctx.modified(ctx.arg(i));
  }
  return Resp.integer(1);
}

/** incrDecrCommand: adds `incr` to the integer at `key` (0 when missing), keeping its TTL. */
function incrDecr(ctx: Ctx, incr: bigint): RespValue {
  const key = ctx.arg(1);
  const v = ctx.get(key, "string");
  const old = v === undefined ? 0n : parseInt64(v);
  if (old === null) fail(ERR.notInteger);
  if ((incr < 0n && old < 0n && incr < INT64_MIN - old) || (incr > 0n && old > 0n && incr > INT64_MAX - old)) fail(ERR.overflow);
  const next = old + incr;
  ctx.db.set(key, next.toString(), true);
  ctx.modified(key);
  return intReply(next);
}

function incrbyfloat(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const v = ctx.get(key, "string");
  const old = v === undefined ? parseLongDouble("0") : parseLongDouble(v);
  const incr = parseLongDouble(ctx.arg(2));
  if (old === null || incr === null) fail(ERR.notFloat);
  const sum = addLongDouble(old, incr);
  if (sum === null || sum.kind === "inf") fail(ERR.nanOrInfinity);
  const text = formatLongDoubleHuman(sum);
  ctx.db.set(key, text, true);
  ctx.modified(key);
  ctx.rewrite = [["SET", key, text, "KEEPTTL"]];
  return bulk(text);
}

/**
 * V8's longest string (2^29 - 24 chars), a little under Redis's 512MB default: a longer one
 * cannot be built, so it is refused with the same error rather than thrown as a RangeError.
 */
const JS_STRING_CHARS_MAX = 2 ** 29 - 24;

/** checkStringLength: whether a string of `size + append` bytes is allowed. */
function checkStringLength(ctx: Ctx, size: number, append: number): void {
  const total = size + append;
  if (total > ctx.limits.stringBytesMax || total > JS_STRING_CHARS_MAX) fail(ERR.stringTooLong);
}

function append(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const tail = ctx.arg(2);
  const v = ctx.get(key, "string");
  let value = tail;
  if (v !== undefined) {
    checkStringLength(ctx, v.length, tail.length);
    value = v + tail;
  }
  ctx.db.set(key, value, true);
  ctx.modified(key);
  return Resp.integer(value.length);
}

function strlen(ctx: Ctx): RespValue {
  const v = ctx.get(ctx.arg(1), "string");
  return Resp.integer(v === undefined ? 0 : v.length);
}

function getrange(ctx: Ctx): RespValue {
  let start = clampToSafe(intArg(ctx.arg(2)));
  let end = clampToSafe(intArg(ctx.arg(3)));
  const v = ctx.get(ctx.arg(1), "string");
  if (v === undefined) return bulk("");
  const n = v.length;
  if (start < 0 && end < 0 && start > end) return bulk("");
  if (start < 0) start = n + start;
  if (end < 0) end = n + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= n) end = n - 1;
  if (start > end || n === 0) return bulk("");
  return bulk(v.slice(start, end + 1));
}

function setrange(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const offsetBig = intArg(ctx.arg(2));
  const patch = ctx.arg(3);
  if (offsetBig < 0n) fail("ERR offset is out of range");
  const offset = clampToSafe(offsetBig);
  const v = ctx.get(key, "string");
  if (v === undefined && patch.length === 0) return Resp.integer(0);
  if (v !== undefined && patch.length === 0) return Resp.integer(v.length);
  checkStringLength(ctx, offset, patch.length);
  let value = v ?? "";
  if (value.length < offset) value += "\0".repeat(offset - value.length);
  value = value.slice(0, offset) + patch + value.slice(offset + patch.length);
  ctx.db.set(key, value, true);
  ctx.modified(key);
  return Resp.integer(value.length);
}

export const STRING_COMMANDS: Readonly<Record<string, Handler>> = {
  get,
  set,
  setnx,
  getdel,
  getex,
  mget,
  mset,
  msetnx,
  incr: (ctx) => incrDecr(ctx, 1n),
  decr: (ctx) => incrDecr(ctx, -1n),
  incrby: (ctx) => {
    const incr = intArg(ctx.arg(2));
    return incrDecr(ctx, incr);
  },
  decrby: (ctx) => {
    const decr = intArg(ctx.arg(2));
    if (decr === INT64_MIN) fail("ERR decrement would overflow");
    return incrDecr(ctx, -decr);
  },
  incrbyfloat,
  append,
  strlen,
  getrange,
  setrange,
};
