// Slot ranges as the trace writes them ("0-5460,5462,6000-6010") and a table of slot owners kept
// as ranges, so a node's view of 16384 slots costs a handful of entries, and copying it for a
// checkpoint is cheap even with hundreds of nodes.

export const SLOTS = 16384;

/** Inclusive ranges, sorted and disjoint. */
export type Ranges = readonly (readonly [number, number])[];

/** Parses the trace's slot text; an empty string is no slots. Throws on anything else. */
export function parseRanges(text: string): Ranges {
  if (text === "") return [];
  const out: [number, number][] = [];
  for (const part of text.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) throw new Error(`bad slot range "${part}"`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi >= SLOTS) throw new Error(`bad slot range "${part}"`);
    out.push([lo, hi]);
  }
  return normalize(out);
}

/** Sorts and merges overlapping or touching ranges. */
export function normalize(ranges: readonly (readonly [number, number])[]): Ranges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out.at(-1);
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

export function rangesSize(ranges: Ranges): number {
  let n = 0;
  for (const [lo, hi] of ranges) n += hi - lo + 1;
  return n;
}

export function union(a: Ranges, b: Ranges): Ranges {
  return normalize([...a, ...b]);
}

/** The slots of `a` that are not in `b`. */
export function subtract(a: Ranges, b: Ranges): Ranges {
  const out: [number, number][] = [];
  for (const [lo, hi] of a) {
    let from = lo;
    for (const [blo, bhi] of b) {
      if (bhi < from || blo > hi) continue;
      if (blo > from) out.push([from, blo - 1]);
      from = bhi + 1;
      if (from > hi) break;
    }
    if (from <= hi) out.push([from, hi]);
  }
  return out;
}

export function formatRanges(ranges: Ranges): string {
  return ranges.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(",");
}

/** One stretch of slots with one owner (null: nobody serves it). */
export interface OwnedRange {
  readonly lo: number;
  readonly hi: number;
  readonly owner: string | null;
}

/**
 * Who owns which slot, as ranges sorted by `lo`; slots not covered are unknown. Immutable: every
 * change returns a new table, so a checkpoint can share it with the live state.
 */
export class SlotTable {
  static readonly empty = new SlotTable([]);

  private constructor(readonly ranges: readonly OwnedRange[]) {}

  /** Gives `slots` to `owner`, splitting the ranges they overlap. */
  assign(slots: Ranges, owner: string | null): SlotTable {
    let cur = this.ranges;
    for (const [lo, hi] of slots) {
      const next: OwnedRange[] = [];
      for (const r of cur) {
        if (r.hi < lo || r.lo > hi) {
          next.push(r);
          continue;
        }
        if (r.lo < lo) next.push({ lo: r.lo, hi: lo - 1, owner: r.owner });
        if (r.hi > hi) next.push({ lo: hi + 1, hi: r.hi, owner: r.owner });
      }
      next.push({ lo, hi, owner });
      next.sort((a, b) => a.lo - b.lo);
      cur = mergeAdjacent(next);
    }
    return new SlotTable(cur);
  }

  ownerOf(slot: number): string | null | undefined {
    for (const r of this.ranges) if (slot >= r.lo && slot <= r.hi) return r.owner;
    return undefined;
  }

  /** The slots this table gives to `owner`. */
  slotsOf(owner: string): Ranges {
    return this.ranges.filter((r) => r.owner === owner).map((r) => [r.lo, r.hi] as const);
  }
}

function mergeAdjacent(ranges: readonly OwnedRange[]): OwnedRange[] {
  const out: OwnedRange[] = [];
  for (const r of ranges) {
    const last = out.at(-1);
    if (last !== undefined && last.owner === r.owner && last.hi + 1 === r.lo) out[out.length - 1] = { lo: last.lo, hi: r.hi, owner: r.owner };
    else out.push(r);
  }
  return out;
}
