// The database: keys to values, the expiry index active expiry samples from, the scan order
// SCAN's cursor walks, and (in a cluster) the keys of each hash slot. Knows nothing of commands;
// the command code in ctx.ts and the per-type files decides what to look up, create and delete.

import { assert } from "../machine.js";
import type { Deque } from "./deque.js";

/** A value of one of the four types this keyspace holds; strings are byte strings. */
export type Value =
  | { readonly kind: "string"; value: string }
  | { readonly kind: "list"; readonly items: Deque }
  | { readonly kind: "set"; readonly members: Set<string> }
  | { readonly kind: "hash"; readonly fields: Map<string, string> };

export type ValueKind = Value["kind"];

export interface Entry {
  value: Value;
  /** Absolute expiry time in ms on the node's clock, or null for no TTL. */
  expireAtMs: number | null;
  /** Position in the scan order: set when the key is created, kept while it lives. */
  readonly seq: number;
  /** The key's hash slot, computed once at creation; -1 when the database keeps no slot index. */
  readonly slot: number;
  /** The key itself, so that a slot's list can name its keys. */
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

  /** Keys with a TTL, in no order, for uniform sampling; `ttlPos` is each key's index. */
  private readonly ttlKeys: string[] = [];
  private readonly ttlPos = new Map<string, number>();

  /**
   * The scan order: keys by creation sequence, ascending, with null holes for deleted keys.
   * Creation appends (sequences only grow), so the array stays sorted and a cursor — the last
   * sequence returned — is found by binary search. Holes are compacted once they are half of it.
   */
  private scanKeys: (string | null)[] = [];
  private scanSeqs: number[] = [];
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
    const slot = this.slotOf === null ? -1 : this.slotOf(key);
    const entry: Entry = { value, expireAtMs: null, seq: this.nextSeq++, slot, key, slotPrev: null, slotNext: null };
    this.entries.set(key, entry);
    this.scanKeys.push(key);
    this.scanSeqs.push(entry.seq);
    if (slot >= 0) {
      const list = this.slotKeys.get(slot);
      if (list === undefined) this.slotKeys.set(slot, { head: entry, tail: entry, size: 1 });
      else {
        entry.slotPrev = list.tail;
        list.tail.slotNext = entry;
        list.tail = entry;
        list.size++;
      }
    }
    return entry;
  }

  /** Sets `key` to `value`, creating it or overwriting it; without `keepTtl` its TTL goes. */
  set(key: string, value: Value, keepTtl: boolean): Entry {
    const entry = this.entries.get(key);
    if (entry === undefined) return this.add(key, value);
    entry.value = value;
    if (!keepTtl) this.setExpire(key, null);
    return entry;
  }

  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.setExpire(key, null);
    this.entries.delete(key);
    const at = this.scanIndexAfter(entry.seq - 1);
    assert(this.scanSeqs[at] === entry.seq, "scan order lost a key");
    this.scanKeys[at] = null;
    this.scanHoles++;
    if (this.scanHoles > 64 && this.scanHoles * 2 > this.scanKeys.length) this.compactScanOrder();
    if (entry.slot >= 0) this.unlinkFromSlot(entry);
    return true;
  }

  clear(): number {
    const n = this.entries.size;
    this.entries.clear();
    this.ttlKeys.length = 0;
    this.ttlPos.clear();
    this.scanKeys = [];
    this.scanSeqs = [];
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

  private unlinkFromSlot(entry: Entry): void {
    const list = this.slotKeys.get(entry.slot);
    assert(list !== undefined, "slot index lost a slot");
    if (--list.size === 0) {
      this.slotKeys.delete(entry.slot);
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

  /** Sets or (with null) removes the TTL of existing `key`. */
  setExpire(key: string, expireAtMs: number | null): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    entry.expireAtMs = expireAtMs;
    const pos = this.ttlPos.get(key);
    if (expireAtMs === null && pos !== undefined) {
      const last = this.ttlKeys.pop() as string;
      if (last !== key) {
        this.ttlKeys[pos] = last;
        this.ttlPos.set(last, pos);
      }
      this.ttlPos.delete(key);
    } else if (expireAtMs !== null && pos === undefined) {
      this.ttlPos.set(key, this.ttlKeys.length);
      this.ttlKeys.push(key);
    }
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
    return this.scanKeys[Math.floor(rng.next() * this.scanKeys.length)] ?? undefined;
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
    while (i < this.scanKeys.length && keys.length < count) {
      const key = this.scanKeys[i];
      if (key !== null && key !== undefined) {
        keys.push(key);
        last = this.scanSeqs[i] as number;
      }
      i++;
    }
    return { keys, next: i >= this.scanKeys.length ? 0 : last };
  }

  /** Index of the first scan-order slot whose sequence is greater than `seq`. */
  private scanIndexAfter(seq: number): number {
    let lo = 0;
    let hi = this.scanSeqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.scanSeqs[mid] as number) <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private compactScanOrder(): void {
    const keys: string[] = [];
    const seqs: number[] = [];
    for (let i = 0; i < this.scanKeys.length; i++) {
      const key = this.scanKeys[i];
      if (key !== null && key !== undefined) {
        keys.push(key);
        seqs.push(this.scanSeqs[i] as number);
      }
    }
    this.scanKeys = keys;
    this.scanSeqs = seqs;
    this.scanHoles = 0;
  }
}
