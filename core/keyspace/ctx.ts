// What a command sees while it runs: the database at one instant (`nowMs`), lookups that apply
// lazy expiry, and the bookkeeping its Result reports — dirty count, propagation, touched keys.

import { Resp, type RespValue } from "../resp/codec.js";
import { type Db, type Entry, isExpiredAt, kindOf, type Value, type ValueKind, type ValueOfKind } from "./db.js";
import { Deque } from "./deque.js";
import { parseInt64 } from "./numbers.js";

/** Redis 7's error texts, each with its code. */
export const ERR = {
  wrongType: "WRONGTYPE Operation against a key holding the wrong kind of value",
  notInteger: "ERR value is not an integer or out of range",
  notFloat: "ERR value is not a valid float",
  overflow: "ERR increment or decrement would overflow",
  syntax: "ERR syntax error",
  noSuchKey: "ERR no such key",
  indexOutOfRange: "ERR index out of range",
  notPositive: "ERR value is out of range, must be positive",
  stringTooLong: "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
  nanOrInfinity: "ERR increment would produce NaN or Infinity",
} as const;

export const WRONGTYPE: RespValue = Resp.error(ERR.wrongType);

/** Thrown by a command to reply with an error from deep inside a helper; caught by exec. */
export class ReplyError extends Error {
  constructor(readonly reply: RespValue) {
    super("reply error");
  }
}

export function fail(text: string): never {
  throw new ReplyError(Resp.error(text));
}

export interface KeyspaceLimits {
  /** proto-max-bulk-len: the longest string APPEND and SETRANGE may build, in bytes. */
  readonly stringBytesMax: number;
}

/** Touched keys searched in an array up to this many; a Set takes over beyond. */
const TOUCHED_SCAN_MAX = 8;

export class Ctx {
  /** Changes to the dataset, counted as Redis's server.dirty counts them. */
  dirty = 0;
  /** What to propagate instead of the command itself; null propagates `args` when dirty. */
  rewrite: (readonly string[])[] | null = null;
  /**
   * Keys this command modified (WATCH would be invalidated on them), in order, once each. Most
   * commands touch one key, so this is an array searched linearly, with a Set beside it only
   * once it grows past TOUCHED_SCAN_MAX keys (MSET, DEL of many keys, FLUSHALL).
   */
  readonly touched: string[] = [];
  private touchedSet: Set<string> | null = null;
  /** Keys lazy expiry deleted during this command (each propagates as DEL before it); null: none. */
  expired: string[] | null = null;

  constructor(
    readonly db: Db,
    readonly nowMs: number,
    readonly args: readonly string[],
    readonly limits: KeyspaceLimits,
    private readonly onExpired: (key: string) => void,
  ) {}

  /** Adds `key` to the touched keys unless it is there already. */
  touch(key: string): void {
    const set = this.touchedSet;
    if (set !== null) {
      if (set.has(key)) return;
      set.add(key);
    } else if (this.touched.includes(key)) {
      return;
    } else if (this.touched.length >= TOUCHED_SCAN_MAX) {
      this.touchedSet = new Set(this.touched).add(key);
    }
    this.touched.push(key);
  }

  /** Argument `i`; arity has been checked, so it exists. */
  arg(i: number): string {
    return this.args[i] as string;
  }

  /** The live entry of `key`, deleting it first if it has expired (lazy expiry). */
  lookup(key: string): Entry | undefined {
    const entry = this.db.peek(key);
    if (entry === undefined) return undefined;
    if (!isExpiredAt(this.db.expireAtMs(key), this.nowMs)) return entry;
    this.db.delete(key);
    (this.expired ??= []).push(key);
    this.touch(key);
    this.onExpired(key);
    return undefined;
  }

  /** The value of `key` if it is of `kind`; undefined when missing; WRONGTYPE otherwise. */
  get<K extends ValueKind>(key: string, kind: K): ValueOfKind[K] | undefined {
    const entry = this.lookup(key);
    if (entry === undefined) return undefined;
    if (kindOf(entry.value) !== kind) throw new ReplyError(WRONGTYPE);
    return entry.value as ValueOfKind[K];
  }

  /** The value of `key` of `kind`, created empty when missing. */
  getOrCreate<K extends "list" | "set" | "hash">(key: string, kind: K): ValueOfKind[K] {
    const existing = this.get(key, kind);
    if (existing !== undefined) return existing;
    const value = (kind === "list" ? { kind, items: new Deque() } : kind === "set" ? { kind, members: new Set<string>() } : { kind, fields: new Map<string, string>() }) as ValueOfKind[K];
    this.db.add(key, value);
    return value;
  }

  /** Records a modification of `key` worth `dirty` changes. */
  modified(key: string, dirty = 1): void {
    this.dirty += dirty;
    this.touch(key);
  }

  /** Deletes `key` if its aggregate became empty, as Redis does after every removal. */
  deleteIfEmpty(key: string, value: Value): void {
    const size = typeof value === "string" ? 1 : value.kind === "list" ? value.items.length : value.kind === "set" ? value.members.size : value.fields.size;
    if (size === 0) this.db.delete(key);
  }
}

/** The int64 in argument text `s`, or an error reply (`ERR value is not an integer…`). */
export function intArg(s: string, error: string = ERR.notInteger): bigint {
  const v = parseInt64(s);
  if (v === null) fail(error);
  return v;
}

export type Handler = (ctx: Ctx) => RespValue;
