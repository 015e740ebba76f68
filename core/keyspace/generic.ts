// Keyspace-wide commands (db.c, expire.c): DEL UNLINK EXISTS EXPIRE PEXPIRE EXPIREAT PEXPIREAT
// TTL PTTL EXPIRETIME PEXPIRETIME PERSIST TYPE RENAME RENAMENX DBSIZE FLUSHALL FLUSHDB KEYS SCAN.

import { Resp, type RespValue } from "../resp/codec.js";
import { bulk, byteStringToText, upperAscii } from "./bytes.js";
import { type Ctx, ERR, type Handler, fail, intArg } from "./ctx.js";
import { isExpiredAt, kindOf } from "./db.js";
import { globMatch } from "./glob.js";
import { INT64_MAX, INT64_MIN } from "./numbers.js";
import { intReply, invalidExpireTime } from "./strings.js";

function del(ctx: Ctx): RespValue {
  let deleted = 0;
  for (let i = 1; i < ctx.args.length; i++) {
    const key = ctx.arg(i);
    if (ctx.lookup(key) !== undefined && ctx.db.delete(key)) {
      deleted++;
      ctx.modified(key);
    }
  }
  return Resp.integer(deleted);
}

function exists(ctx: Ctx): RespValue {
  let n = 0;
  for (let i = 1; i < ctx.args.length; i++) if (ctx.lookup(ctx.arg(i)) !== undefined) n++;
  return Resp.integer(n);
}

interface ExpireFlags {
  nx: boolean;
  xx: boolean;
  gt: boolean;
  lt: boolean;
}

/** parseExtendedExpireArgumentsOrReply: NX XX GT LT after the time. */
function parseExpireFlags(ctx: Ctx): ExpireFlags {
  const f: ExpireFlags = { nx: false, xx: false, gt: false, lt: false };
  for (let j = 3; j < ctx.args.length; j++) {
    const opt = upperAscii(ctx.arg(j));
    if (opt === "NX") f.nx = true;
    else if (opt === "XX") f.xx = true;
    else if (opt === "GT") f.gt = true;
    else if (opt === "LT") f.lt = true;
    else fail(`ERR Unsupported option ${byteStringToText(ctx.arg(j))}`);
  }
  if (f.nx && (f.xx || f.gt || f.lt)) fail("ERR NX and XX, GT or LT options at the same time are not compatible");
  if (f.gt && f.lt) fail("ERR GT and LT options at the same time are not compatible");
  return f;
}

/**
 * expireGenericCommand. A time at or before now deletes the key (and propagates DEL); otherwise
 * the TTL is set and the command propagates as PEXPIREAT with the absolute time in ms.
 */
function expireGeneric(ctx: Ctx, name: string, relative: boolean, unit: "s" | "ms"): RespValue {
  const key = ctx.arg(1);
  const flags = parseExpireFlags(ctx);
  let when = intArg(ctx.arg(2));
  const basetime = relative ? BigInt(ctx.nowMs) : 0n;
  if (unit === "s") {
    if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) invalidExpireTime(name);
    when *= 1000n;
  }
  if (when > INT64_MAX - basetime) invalidExpireTime(name);
  when += basetime;
  if (ctx.lookup(key) === undefined) return Resp.integer(0);
  const expireAtMs = ctx.db.expireAtMs(key);
  const current = expireAtMs === null ? -1n : BigInt(expireAtMs);
  if (flags.nx && current !== -1n) return Resp.integer(0);
  if (flags.xx && current === -1n) return Resp.integer(0);
  if (flags.gt && (when <= current || current === -1n)) return Resp.integer(0);
  if (flags.lt && current !== -1n && when >= current) return Resp.integer(0);
  if (when <= BigInt(ctx.nowMs)) {
    ctx.db.delete(key);
    ctx.modified(key);
    ctx.rewrite = [["DEL", key]];
    return Resp.integer(1);
  }
  ctx.db.setExpire(key, Number(when));
  ctx.modified(key);
  if (name !== "pexpireat") {
    const cmd = [...ctx.args];
    cmd[0] = "PEXPIREAT";
    cmd[2] = when.toString();
    ctx.rewrite = [cmd];
  }
  return Resp.integer(1);
}

/** TTL PTTL EXPIRETIME PEXPIRETIME: -2 for a missing key, -1 for no TTL. */
function ttlGeneric(ctx: Ctx, unit: "s" | "ms", absolute: boolean): RespValue {
  const key = ctx.arg(1);
  if (ctx.lookup(key) === undefined) return Resp.integer(-2);
  const expireAtMs = ctx.db.expireAtMs(key);
  if (expireAtMs === null) return Resp.integer(-1);
  const ms = absolute ? expireAtMs : Math.max(0, expireAtMs - ctx.nowMs);
  return intReply(unit === "ms" ? ms : Math.floor((ms + 500) / 1000));
}

function persist(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  if (ctx.lookup(key) === undefined || ctx.db.expireAtMs(key) === null) return Resp.integer(0);
  ctx.db.setExpire(key, null);
  ctx.modified(key);
  return Resp.integer(1);
}

function type(ctx: Ctx): RespValue {
  const entry = ctx.lookup(ctx.arg(1));
  return Resp.simple(entry === undefined ? "none" : kindOf(entry.value));
}

function renameGeneric(ctx: Ctx, nx: boolean): RespValue {
  const src = ctx.arg(1);
  const dst = ctx.arg(2);
  const entry = ctx.lookup(src);
  if (entry === undefined) fail(ERR.noSuchKey);
  if (src === dst) return nx ? Resp.integer(0) : Resp.ok;
  if (ctx.lookup(dst) !== undefined) {
    if (nx) return Resp.integer(0);
    ctx.db.delete(dst);
  }
  const expireAtMs = ctx.db.expireAtMs(src);
  ctx.db.delete(src);
  ctx.db.add(dst, entry.value);
  ctx.db.setExpire(dst, expireAtMs);
  ctx.modified(src);
  ctx.touch(dst);
  return nx ? Resp.integer(1) : Resp.ok;
}

function flush(ctx: Ctx): RespValue {
  const opt = ctx.args.length === 2 ? upperAscii(ctx.arg(1)) : null;
  if (ctx.args.length > 2 || (opt !== null && opt !== "ASYNC" && opt !== "SYNC")) fail(ERR.syntax);
  for (const key of ctx.db.keys()) ctx.touch(key);
  ctx.dirty += ctx.db.clear();
  ctx.rewrite = [[...ctx.args]]; // always propagated, even when the database was empty
  return Resp.ok;
}

function keys(ctx: Ctx): RespValue {
  const pattern = ctx.arg(1);
  const out: RespValue[] = [];
  for (const key of ctx.db.keys()) {
    if (isExpiredAt(ctx.db.expireAtMs(key), ctx.nowMs)) continue;
    if (pattern === "*" || globMatch(pattern, key)) out.push(bulk(key));
  }
  return Resp.array(out);
}

const SCAN_COUNT_DEFAULT = 10;

/**
 * SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]. The cursor is a position in the database's
 * creation order (see Db.scan): a key present for the whole scan is returned exactly once; keys
 * created or deleted meanwhile may or may not be. COUNT bounds the keys examined per call.
 */
function scan(ctx: Ctx): RespValue {
  const cursorText = ctx.arg(1);
  if (!/^\d+$/.test(cursorText) || BigInt(cursorText) > (1n << 64n) - 1n) fail("ERR invalid cursor");
  const cursor = Number(cursorText);
  let count = SCAN_COUNT_DEFAULT;
  let pattern: string | null = null;
  let typeName: string | null = null;
  for (let i = 2; i < ctx.args.length; i += 2) {
    const opt = upperAscii(ctx.arg(i));
    const hasValue = i + 1 < ctx.args.length;
    if (opt === "COUNT" && hasValue) {
      const n = intArg(ctx.arg(i + 1));
      if (n < 1n) fail(ERR.syntax);
      count = n > 1_000_000_000n ? 1_000_000_000 : Number(n);
    } else if (opt === "MATCH" && hasValue) {
      pattern = ctx.arg(i + 1) === "*" ? null : ctx.arg(i + 1);
    } else if (opt === "TYPE" && hasValue) {
      typeName = ctx.arg(i + 1).toLowerCase();
    } else fail(ERR.syntax);
  }
  const page = ctx.db.scan(Number.isSafeInteger(cursor) ? cursor : Number.MAX_SAFE_INTEGER, count);
  const out: RespValue[] = [];
  for (const key of page.keys) {
    if (pattern !== null && !globMatch(pattern, key)) continue;
    const entry = ctx.lookup(key);
    if (entry === undefined) continue;
    if (typeName !== null && kindOf(entry.value) !== typeName) continue;
    out.push(bulk(key));
  }
  return Resp.array([bulk(String(page.next)), Resp.array(out)]);
}

export const GENERIC_COMMANDS: Readonly<Record<string, Handler>> = {
  del,
  unlink: del,
  exists,
  expire: (ctx) => expireGeneric(ctx, "expire", true, "s"),
  pexpire: (ctx) => expireGeneric(ctx, "pexpire", true, "ms"),
  expireat: (ctx) => expireGeneric(ctx, "expireat", false, "s"),
  pexpireat: (ctx) => expireGeneric(ctx, "pexpireat", false, "ms"),
  ttl: (ctx) => ttlGeneric(ctx, "s", false),
  pttl: (ctx) => ttlGeneric(ctx, "ms", false),
  expiretime: (ctx) => ttlGeneric(ctx, "s", true),
  pexpiretime: (ctx) => ttlGeneric(ctx, "ms", true),
  persist,
  type,
  rename: (ctx) => renameGeneric(ctx, false),
  renamenx: (ctx) => renameGeneric(ctx, true),
  dbsize: (ctx) => Resp.integer(ctx.db.size),
  flushall: flush,
  flushdb: flush,
  keys,
  scan,
};
