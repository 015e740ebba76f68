// The in-memory Raft log: the entries after a base (the last snapshot's index and term).
//
// Index `base` is the snapshot's last entry (0 for the empty log); entries hold base+1 … last.
// Everything at or below `base` is committed and compacted: only its term at `base` is known.

import { assert } from "../machine.js";
import type { Entry } from "./types.js";

export class RaftLog {
  /** Index and term of the last compacted entry (the snapshot's); 0/0 for a log never compacted. */
  private baseIdx: number;
  private baseTrm: number;
  /** entries[k] is the entry at index base + 1 + k. */
  private entries: Entry[];

  constructor(baseIndex = 0, baseTerm = 0, entries: readonly Entry[] = []) {
    this.baseIdx = baseIndex;
    this.baseTrm = baseTerm;
    this.entries = entries.slice();
  }

  get baseIndex(): number {
    return this.baseIdx;
  }

  get baseTerm(): number {
    return this.baseTrm;
  }

  get lastIndex(): number {
    return this.baseIdx + this.entries.length;
  }

  get lastTerm(): number {
    return this.entries.at(-1)?.term ?? this.baseTrm;
  }

  /** The term of the entry at `index`, or null when it is compacted away or beyond the end. */
  termAt(index: number): number | null {
    if (index === this.baseIdx) return this.baseTrm;
    return this.entryAt(index)?.term ?? null;
  }

  /** The entry at `index`, or null when it is compacted away (or the base) or beyond the end. */
  entryAt(index: number): Entry | null {
    if (index <= this.baseIdx) return null;
    return this.entries[index - this.baseIdx - 1] ?? null;
  }

  /** Entries from `from` (> base) through `to` inclusive, clamped to the log. */
  slice(from: number, to: number): Entry[] {
    assert(from > this.baseIdx, `slice from ${from} reaches into the snapshot (base ${this.baseIdx})`);
    return this.entries.slice(from - this.baseIdx - 1, Math.max(0, to - this.baseIdx));
  }

  append(entries: readonly Entry[]): void {
    for (const e of entries) this.entries.push(e);
  }

  /** Drops the entries at `index` and after. */
  truncateFrom(index: number): void {
    assert(index > this.baseIdx, `truncating at ${index} would cut into the snapshot (base ${this.baseIdx})`);
    this.entries.length = Math.max(0, Math.min(this.entries.length, index - this.baseIdx - 1));
  }

  /**
   * Makes (index, term) the new base. The entries after it survive if the log holds that entry with
   * that term; otherwise the whole log is discarded (dissertation §5.3, InstallSnapshot step 6).
   */
  compactTo(index: number, term: number): void {
    if (index <= this.baseIdx) return;
    if (this.termAt(index) === term) this.entries = this.entries.slice(index - this.baseIdx);
    else this.entries = [];
    this.baseIdx = index;
    this.baseTrm = term;
  }

  /** Raft's election restriction: is a log ending at (lastIndex, lastTerm) at least as up to date as this one? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  /**
   * Why an append at `prevIndex` does not fit, as the fast back-off hint: the term this log has
   * there and the first index of that term, or (null, last + 1) when the log is too short.
   */
  conflictHint(prevIndex: number): { conflictIndex: number; conflictTerm: number | null } {
    const term = this.termAt(prevIndex);
    if (term === null) return { conflictIndex: this.lastIndex + 1, conflictTerm: null };
    let first = prevIndex;
    while (first - 1 > this.baseIdx && this.termAt(first - 1) === term) first--;
    return { conflictIndex: first, conflictTerm: term };
  }

  /** The last index at or below `atOrBelow` whose entry has `term`, or null (searches back to the base). */
  lastIndexOfTerm(term: number, atOrBelow: number): number | null {
    for (let i = Math.min(atOrBelow, this.lastIndex); i >= this.baseIdx; i--) {
      const t = this.termAt(i) as number;
      if (t === term) return i;
      if (t < term) return null; // terms only grow along the log
    }
    return null;
  }

  /** The latest config entry at or below `atOrBelow`, with its index, or null if none after the base. */
  lastConfigAtOrBelow(atOrBelow: number): { index: number; entry: Entry & { kind: "config" } } | null {
    for (let i = Math.min(atOrBelow, this.lastIndex); i > this.baseIdx; i--) {
      const e = this.entryAt(i) as Entry;
      if (e.kind === "config") return { index: i, entry: e };
    }
    return null;
  }
}
