// The database: keys to values, the expiry index active expiry samples from, and the scan order
// SCAN's cursor walks. Knows nothing of commands; the command code in ctx.ts and the per-type
// files decides what to look up, create and delete.

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
}

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
    const entry: Entry = { value, expireAtMs: null, seq: this.nextSeq++ };
    this.entries.set(key, entry);
    this.scanKeys.push(key);
    this.scanSeqs.push(entry.seq);
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
    return n;
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
