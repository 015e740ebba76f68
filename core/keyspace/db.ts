// The database: keys to values, the expiry index active expiry samples from, the scan order
// SCAN's cursor walks, and (in a cluster) the keys of each hash slot. Knows nothing of commands;
// the command code in ctx.ts and the per-type files decides what to look up, create and delete.

import { assert } from "../machine.js";
import type { Deque } from "./deque.js";

export interface ListValue {
  readonly kind: "list";
  readonly items: Deque;
}
export interface SetValue {
  readonly kind: "set";
  readonly members: Set<string>;
}
export interface HashValue {
  readonly kind: "hash";
  readonly fields: Map<string, string>;
}

/**
 * A value of one of the four types this keyspace holds. A string value is the (byte) string
 * itself, not an object around it: most keys hold strings, and a wrapper would cost each of them
 * an object header and two fields (40 bytes on a 64-bit V8). `kindOf` names the type.
 */
export type Value = string | ListValue | SetValue | HashValue;

export type ValueKind = "string" | ListValue["kind"] | SetValue["kind"] | HashValue["kind"];

/** The value type of each kind, for lookups that expect one. */
export interface ValueOfKind {
  string: string;
  list: ListValue;
  set: SetValue;
  hash: HashValue;
}

/** The type of `value`, as TYPE names it. */
export function kindOf(value: Value): ValueKind {
  return typeof value === "string" ? "string" : value.kind;
}

/**
 * One key. Every field costs 8 bytes per key (V8 without pointer compression), so only what most
 * keys need is here: the hash slot is computed again from the key when the key goes, and expiry
 * times live in the database's TTL index (`Db.expireAtMs`), as Redis keeps them in a dict of
 * their own.
 */
export interface Entry {
  value: Value;
  /** Position in the scan order: set when the key is created, kept while it lives. */
  readonly seq: number;
  /** The key itself, so that the scan order and a slot's list can name their keys. */
  readonly key: string;
  /** Neighbours in the slot's creation-order list (Redis 7.0 links dict entries the same way). */
  slotPrev: Entry | null;
  slotNext: Entry | null;
}

/** The keys of one slot as a doubly linked list of their entries, oldest first. */
interface SlotList {
  head: Entry;
  tail: Entry;
  size: number;
}

/** The hash slot of a key (the cluster's CRC16 mod 16384); core/keyspace knows no cluster. */
export type SlotOf = (key: string) => number;

/**
 * Redis's keyIsExpired: a key whose expiry time is `t` still exists at `t` and is gone after it.
 * (EXPIRE with a time `<= now` deletes at once instead: see checkAlreadyExpired in expire.ts.)
 */
export function isExpiredAt(expireAtMs: number | null, nowMs: number): boolean {
  return expireAtMs !== null && nowMs > expireAtMs;
}

export class Db {
  private readonly entries = new Map<string, Entry>();

  /**
   * Keys with a TTL, in no order, for uniform sampling, and their absolute expiry times in ms at
   * the same index (an array of doubles: no boxed number per key); `ttlPos` is each key's index.
   */
  private readonly ttlKeys: string[] = [];
  private readonly ttlAtMs: number[] = [];
  private readonly ttlPos = new Map<string, number>();

  /**
   * The scan order: entries by creation sequence, ascending. A deleted key leaves a hole holding
   * its sequence number, so the array stays sorted by sequence (an entry's is `seq`) and a cursor —
   * the last sequence returned — is found by binary search. One slot per key, where keys and
   * sequences in two arrays took two; holes are compacted once they are half of it.
   */
  private scanOrder: (Entry | number)[] = [];
  private scanHoles = 0;
  private nextSeq = 1;

  /**
   * With a slotOf, the keys of each slot in creation order, so that counting, listing and
   * deleting a slot's keys costs the keys in that slot, not the whole database. As in Redis 7.0
   * (slots_to_keys), the list runs through the entries themselves: linking and unlinking is a
   * few pointer writes, measured at about half the cost of a Set per slot. Redis links a new key
   * at the head (newest first); it is appended here, so a slot lists its keys in the order SCAN
   * and snapshots use. A slot's list head exists only while the slot has keys.
   */
  private readonly slotKeys = new Map<number, SlotList>();

  constructor(private readonly slotOf: SlotOf | null = null) {}

  get size(): number {
    return this.entries.size;
  }

  /** The entry of `key` whether or not it has expired (callers apply expiry). */
  peek(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  /** Creates `key` (which must not exist) with no TTL. */
  add(key: string, value: Value): Entry {
    assert(!this.entries.has(key), "add of an existing key");
    const entry: Entry = { value, seq: this.nextSeq++, key, slotPrev: null, slotNext: null };
    this.entries.set(key, entry);
    this.scanOrder.push(entry);
    if (this.slotOf !== null) this.linkToSlot(entry, this.slotOf(key));
    return entry;
  }

  /** Sets `key` to `value`, creating it or overwriting it; without `keepTtl` its TTL goes. */
  set(key: string, value: Value, keepTtl: boolean): Entry {
    const entry = this.entries.get(key);
    if (entry === undefined) return this.add(key, value);
    entry.value = value;
    if (!keepTtl) this.dropTtl(key);
    return entry;
  }

  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.dropTtl(key);
    this.entries.delete(key);
    const at = this.scanIndexAfter(entry.seq - 1);
    assert(this.scanOrder[at] === entry, "scan order lost a key");
    this.scanOrder[at] = entry.seq;
    this.scanHoles++;
    if (this.scanHoles > 64 && this.scanHoles * 2 > this.scanOrder.length) this.compactScanOrder();
    if (this.slotOf !== null) this.unlinkFromSlot(entry, this.slotOf(key));
    return true;
  }

  clear(): number {
    const n = this.entries.size;
    this.entries.clear();
    this.ttlKeys.length = 0;
    this.ttlAtMs.length = 0;
    this.ttlPos.clear();
    this.scanOrder = [];
    this.scanHoles = 0;
    this.slotKeys.clear();
    return n;
  }

  /** Keys in `slot`, expired-but-not-yet-removed ones included (as CLUSTER COUNTKEYSINSLOT). */
  slotSize(slot: number): number {
    this.assertSlotIndex();
    return this.slotKeys.get(slot)?.size ?? 0;
  }

  /** Up to `count` keys of `slot` in creation order, expired-but-not-yet-removed ones included. */
  keysInSlot(slot: number, count: number = Number.POSITIVE_INFINITY): string[] {
    this.assertSlotIndex();
    const out: string[] = [];
    for (let e = this.slotKeys.get(slot)?.head ?? null; e !== null && out.length < count; e = e.slotNext) out.push(e.key);
    return out;
  }

  private linkToSlot(entry: Entry, slot: number): void {
    const list = this.slotKeys.get(slot);
    if (list === undefined) {
      this.slotKeys.set(slot, { head: entry, tail: entry, size: 1 });
      return;
    }
    entry.slotPrev = list.tail;
    list.tail.slotNext = entry;
    list.tail = entry;
    list.size++;
  }

  private unlinkFromSlot(entry: Entry, slot: number): void {
    const list = this.slotKeys.get(slot);
    assert(list !== undefined, "slot index lost a slot");
    if (--list.size === 0) {
      this.slotKeys.delete(slot);
      return;
    }
    if (entry.slotPrev === null) list.head = entry.slotNext as Entry;
    else entry.slotPrev.slotNext = entry.slotNext;
    if (entry.slotNext === null) list.tail = entry.slotPrev as Entry;
    else entry.slotNext.slotPrev = entry.slotPrev;
    entry.slotPrev = null; // a deleted entry must not keep its old neighbours alive
    entry.slotNext = null;
  }

  /** Asking a database without slots about slots is a programmer error. */
  private assertSlotIndex(): void {
    assert(this.slotOf !== null, "slot index queried on a keyspace created without slotOf");
  }

  /** The absolute expiry time in ms of `key`, or null when it has no TTL (or does not exist). */
  expireAtMs(key: string): number | null {
    if (this.ttlKeys.length === 0) return null; // most databases: no lookup at all
    const pos = this.ttlPos.get(key);
    return pos === undefined ? null : (this.ttlAtMs[pos] as number);
  }

  /** Sets or (with null) removes the TTL of existing `key`. */
  setExpire(key: string, expireAtMs: number | null): void {
    if (expireAtMs === null) return this.dropTtl(key);
    if (!this.entries.has(key)) return;
    const pos = this.ttlPos.get(key);
    if (pos !== undefined) {
      this.ttlAtMs[pos] = expireAtMs;
      return;
    }
    this.ttlPos.set(key, this.ttlKeys.length);
    this.ttlKeys.push(key);
    this.ttlAtMs.push(expireAtMs);
  }

  /** Removes the TTL of `key`, if it has one: the last TTL key moves into its place. */
  private dropTtl(key: string): void {
    if (this.ttlKeys.length === 0) return;
    const pos = this.ttlPos.get(key);
    if (pos === undefined) return;
    const last = this.ttlKeys.pop() as string;
    const lastAtMs = this.ttlAtMs.pop() as number;
    if (last !== key) {
      this.ttlKeys[pos] = last;
      this.ttlAtMs[pos] = lastAtMs;
      this.ttlPos.set(last, pos);
    }
    this.ttlPos.delete(key);
  }

  /** How many keys have a TTL. */
  get ttlCount(): number {
    return this.ttlKeys.length;
  }

  /** A uniformly chosen key with a TTL, or undefined when none has one. */
  randomTtlKey(rng: { next(): number }): string | undefined {
    if (this.ttlKeys.length === 0) return undefined;
    return this.ttlKeys[Math.floor(rng.next() * this.ttlKeys.length)];
  }

  /** A uniformly chosen key, or undefined when empty (RANDOMKEY). */
  randomKey(rng: { next(): number }): string | undefined {
    if (this.entries.size === 0) return undefined;
    if (this.scanHoles > 0) this.compactScanOrder();
    return (this.scanOrder[Math.floor(rng.next() * this.scanOrder.length)] as Entry).key;
  }

  /**
   * Up to `count` live keys created after scan position `cursor`, and the position to continue
   * from (0 when the end was reached). Every key that exists for a whole scan is returned once:
   * a key keeps its position while it lives, and positions only grow.
   */
  scan(cursor: number, count: number): { readonly keys: string[]; readonly next: number } {
    const keys: string[] = [];
    let i = this.scanIndexAfter(cursor);
    let last = cursor;
    while (i < this.scanOrder.length && keys.length < count) {
      const e = this.scanOrder[i] as Entry | number;
      if (typeof e !== "number") {
        keys.push(e.key);
        last = e.seq;
      }
      i++;
    }
    return { keys, next: i >= this.scanOrder.length ? 0 : last };
  }

  /** Index of the first scan-order slot whose sequence is greater than `seq`. */
  private scanIndexAfter(seq: number): number {
    let lo = 0;
    let hi = this.scanOrder.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqAt(this.scanOrder, mid) <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private compactScanOrder(): void {
    this.scanOrder = this.scanOrder.filter((e) => typeof e !== "number");
    this.scanHoles = 0;
  }
}

/** The sequence at scan-order position `i`: the entry's, or the one a deleted key left there. */
function seqAt(order: readonly (Entry | number)[], i: number): number {
  const e = order[i] as Entry | number;
  return typeof e === "number" ? e : e.seq;
}
