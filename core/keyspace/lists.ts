// List commands (t_list.c): LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LRANGE LLEN LINDEX LSET LREM
// LTRIM LINSERT, and the non-blocking half of BLPOP/BRPOP.
//
// Blocking is the host's job: BLPOP/BRPOP either serve at once (one key's list has elements) or
// return a Result whose `block` says which keys to wait on and until when. The host parks the
// client and, whenever one of those keys may have been pushed to, calls Keyspace.serveBlockedPop,
// which pops and answers exactly as BLPOP would have, or returns null to keep waiting.

import { Resp, type RespValue } from "../resp/codec.js";
import { bulk, upperAscii } from "./bytes.js";
import { type Ctx, ERR, type Handler, fail, intArg } from "./ctx.js";
import { isExpiredAt, kindOf } from "./db.js";
import { clampToSafe, parseLongDouble, scaledCeilToInt64 } from "./numbers.js";

export type ListEnd = "left" | "right";

function push(ctx: Ctx, end: ListEnd, onlyIfExists: boolean): RespValue {
  const key = ctx.arg(1);
  const existing = ctx.get(key, "list");
  if (existing === undefined && onlyIfExists) return Resp.integer(0);
  const list = existing ?? ctx.getOrCreate(key, "list");
  for (let i = 2; i < ctx.args.length; i++) {
    if (end === "left") list.items.pushFront(ctx.arg(i));
    else list.items.pushBack(ctx.arg(i));
  }
  ctx.modified(key, ctx.args.length - 2);
  return Resp.integer(list.items.length);
}

function pop(ctx: Ctx, end: ListEnd): RespValue {
  if (ctx.args.length > 3) fail(`ERR wrong number of arguments for '${end === "left" ? "lpop" : "rpop"}' command`);
  let count: number | null = null;
  if (ctx.args.length === 3) {
    // getPositiveLongFromObjectOrReply: one message whether the count is not a number or negative.
    const n = intArg(ctx.arg(2), ERR.notPositive);
    if (n < 0n) fail(ERR.notPositive);
    count = clampToSafe(n);
  }
  const key = ctx.arg(1);
  const list = ctx.get(key, "list");
  if (list === undefined) return count === null ? Resp.null : Resp.nullArray;
  if (count === 0) return Resp.array([]);
  const take = (): string => (end === "left" ? list.items.popFront() : list.items.popBack()) as string;
  let reply: RespValue;
  if (count === null) {
    reply = bulk(take());
    ctx.modified(key);
  } else {
    const out: RespValue[] = [];
    while (out.length < count && list.items.length > 0) out.push(bulk(take()));
    reply = Resp.array(out);
    ctx.modified(key, out.length);
  }
  ctx.deleteIfEmpty(key, list);
  return reply;
}

/** Normalizes a [start, end] range over `n` items as LRANGE and LTRIM do; null when empty. */
function listRange(start: number, end: number, n: number): readonly [number, number] | null {
  if (start < 0) start = n + start;
  if (end < 0) end = n + end;
  if (start < 0) start = 0;
  if (start > end || start >= n) return null;
  if (end >= n) end = n - 1;
  return [start, end];
}

function lrange(ctx: Ctx): RespValue {
  const start = clampToSafe(intArg(ctx.arg(2)));
  const end = clampToSafe(intArg(ctx.arg(3)));
  const list = ctx.get(ctx.arg(1), "list");
  if (list === undefined) return Resp.array([]);
  const range = listRange(start, end, list.items.length);
  if (range === null) return Resp.array([]);
  return Resp.array(list.items.toArray(range[0], range[1] + 1).map(bulk));
}

function llen(ctx: Ctx): RespValue {
  const list = ctx.get(ctx.arg(1), "list");
  return Resp.integer(list === undefined ? 0 : list.items.length);
}

function listIndex(index: number, n: number): number {
  return index < 0 ? n + index : index;
}

function lindex(ctx: Ctx): RespValue {
  const list = ctx.get(ctx.arg(1), "list");
  if (list === undefined) return Resp.null;
  const index = clampToSafe(intArg(ctx.arg(2)));
  const item = list.items.at(listIndex(index, list.items.length));
  return item === undefined ? Resp.null : bulk(item);
}

function lset(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const list = ctx.get(key, "list");
  if (list === undefined) fail(ERR.noSuchKey);
  const index = listIndex(clampToSafe(intArg(ctx.arg(2))), list.items.length);
  if (index < 0 || index >= list.items.length) fail(ERR.indexOutOfRange);
  list.items.set(index, ctx.arg(3));
  ctx.modified(key);
  return Resp.ok;
}

function lrem(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const count = clampToSafe(intArg(ctx.arg(2)));
  const element = ctx.arg(3);
  const list = ctx.get(key, "list");
  if (list === undefined) return Resp.integer(0);
  const items = list.items.toArray();
  const limit = count === 0 ? Infinity : Math.abs(count);
  let removed = 0;
  if (count >= 0) {
    const kept: string[] = [];
    for (const item of items) {
      if (item === element && removed < limit) removed++;
      else kept.push(item);
    }
    list.items.replaceAll(kept);
  } else {
    const kept: string[] = [];
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i] as string;
      if (item === element && removed < limit) removed++;
      else kept.push(item);
    }
    list.items.replaceAll(kept.reverse());
  }
  if (removed > 0) ctx.modified(key, removed);
  ctx.deleteIfEmpty(key, list);
  return Resp.integer(removed);
}

function ltrim(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const start = clampToSafe(intArg(ctx.arg(2)));
  const end = clampToSafe(intArg(ctx.arg(3)));
  const list = ctx.get(key, "list");
  if (list === undefined) return Resp.ok;
  const n = list.items.length;
  const range = listRange(start, end, n);
  const kept = range === null ? [] : list.items.toArray(range[0], range[1] + 1);
  const removed = n - kept.length;
  list.items.replaceAll(kept);
  ctx.dirty += removed;
  ctx.touch(key);
  ctx.deleteIfEmpty(key, list);
  return Resp.ok;
}

function linsert(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const where = upperAscii(ctx.arg(2));
  if (where !== "BEFORE" && where !== "AFTER") fail(ERR.syntax);
  const list = ctx.get(key, "list");
  if (list === undefined) return Resp.integer(0);
  const items = list.items.toArray();
  const at = items.indexOf(ctx.arg(3));
  if (at < 0) return Resp.integer(-1);
  items.splice(where === "BEFORE" ? at : at + 1, 0, ctx.arg(4));
  list.items.replaceAll(items);
  ctx.modified(key);
  return Resp.integer(items.length);
}

/** What a BLPOP/BRPOP that found nothing waits for. */
export interface BlockOn {
  readonly keys: readonly string[];
  readonly end: ListEnd;
  /** Absolute time on the node's clock to give up (reply a null array), or null for never. */
  readonly deadlineMs: number | null;
}

/**
 * Pops from the first of `keys` holding a non-empty list: [key, element], or null. A key of
 * another type is WRONGTYPE when BLPOP first runs (`strict`), and skipped when serving a parked
 * client, as Redis leaves such a client blocked.
 */
export function tryServePop(ctx: Ctx, keys: readonly string[], end: ListEnd, strict: boolean): RespValue | null {
  for (const key of keys) {
    if (!strict) {
      // Serving a parked client must not expire keys on its own: a stale key is skipped.
      const entry = ctx.db.peek(key);
      if (entry === undefined || isExpiredAt(ctx.db.expireAtMs(key), ctx.nowMs) || kindOf(entry.value) !== "list") continue;
    }
    const list = ctx.get(key, "list");
    if (list === undefined || list.items.length === 0) continue;
    const item = (end === "left" ? list.items.popFront() : list.items.popBack()) as string;
    ctx.modified(key);
    ctx.deleteIfEmpty(key, list);
    ctx.rewrite = [[end === "left" ? "LPOP" : "RPOP", key]];
    return Resp.array([bulk(key), bulk(item)]);
  }
  return null;
}

/**
 * getTimeoutFromObjectOrReply (Redis 7.0): seconds as a long double, `(long long)ceill(seconds *
 * 1000)` as x86-64 converts it, then refused if negative. So "0.0001" waits 1 ms, "-0.0009" rounds
 * up to 0 and waits forever, and "inf" or 1e400 — which the conversion turns into LLONG_MIN — are
 * "negative". Null means no deadline: 0, or a deadline past 2^53 ms, which no clock reaches
 * (Redis 7.0 adds now to it unchecked, and wraps to an immediate timeout only within `now` of
 * LLONG_MAX).
 */
function parseTimeoutMs(text: string): number | null {
  const v = parseLongDouble(text);
  if (v === null) fail("ERR timeout is not a float or out of range");
  const ms = scaledCeilToInt64(v, 1000n);
  if (ms === null || ms < 0n) fail("ERR timeout is negative");
  return ms === 0n || ms > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(ms);
}

/** BLPOP/BRPOP: serve now, or reply null and ask the host to block (see `Keyspace.exec`). */
export function blockingPop(ctx: Ctx, end: ListEnd): { readonly reply: RespValue; readonly block: BlockOn | null } {
  const timeoutMs = parseTimeoutMs(ctx.arg(ctx.args.length - 1));
  const keys = ctx.args.slice(1, -1);
  const served = tryServePop(ctx, keys, end, true);
  if (served !== null) return { reply: served, block: null };
  return { reply: Resp.nullArray, block: { keys, end, deadlineMs: timeoutMs === null ? null : ctx.nowMs + timeoutMs } };
}

export const LIST_COMMANDS: Readonly<Record<string, Handler>> = {
  lpush: (ctx) => push(ctx, "left", false),
  rpush: (ctx) => push(ctx, "right", false),
  lpushx: (ctx) => push(ctx, "left", true),
  rpushx: (ctx) => push(ctx, "right", true),
  lpop: (ctx) => pop(ctx, "left"),
  rpop: (ctx) => pop(ctx, "right"),
  lrange,
  llen,
  lindex,
  lset,
  lrem,
  ltrim,
  linsert,
};
