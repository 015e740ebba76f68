// Hash slots: the CRC16 key → slot map Redis Cluster clients and servers share, and an immutable
// set of slots that messages can carry by reference.

import { assert } from "../machine.js";

export const SLOTS = 16384;

/** CRC16-XMODEM (poly 0x1021, init 0), the variant Redis Cluster uses: "123456789" → 0x31C3. */
const CRC16_TABLE: Uint16Array = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/** CRC16 over byte string `s` (one char per byte, as keys are held: core/keyspace/bytes.ts). */
export function crc16(s: string): number {
  let crc = 0;
  for (let i = 0; i < s.length; i++) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ s.charCodeAt(i)) & 0xff] as number);
  return crc;
}

/** The slot of a key: its hash tag (text between the first `{` and the next `}`, if non-empty) decides. */
export function keySlot(key: string): number {
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) return crc16(key.slice(open + 1, close)) % SLOTS;
  }
  return crc16(key) % SLOTS;
}

/**
 * An immutable set of slots. Nodes put these in message headers by reference, so no receiver may
 * ever see one change: every "mutation" returns a new set. Serializes as "0-5460,5462".
 */
export class SlotSet {
  static readonly EMPTY = new SlotSet(new Uint8Array(SLOTS / 8), 0);

  /** Computed once: a set never changes. */
  private rangesMemo: readonly (readonly [number, number])[] | null = null;
  private textMemo: string | null = null;

  private constructor(
    private readonly bits: Uint8Array,
    /** How many slots are in the set. */
    readonly size: number,
  ) {}

  /** Inclusive ranges, as `[[0, 5460], [10923, 16383]]`. */
  static fromRanges(ranges: readonly (readonly [number, number])[]): SlotSet {
    const bits = new Uint8Array(SLOTS / 8);
    let size = 0;
    for (const [lo, hi] of ranges) {
      assert(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 0 && hi < SLOTS && lo <= hi, `bad slot range ${lo}-${hi}`);
      for (let s = lo; s <= hi; s++) {
        if (((bits[s >> 3] as number) & (1 << (s & 7))) === 0) size += 1;
        bits[s >> 3] = (bits[s >> 3] as number) | (1 << (s & 7));
      }
    }
    return new SlotSet(bits, size);
  }

  /** Parses the `toString` form ("0-5460,5462"); the empty string is the empty set. */
  static parse(text: string): SlotSet {
    if (text === "") return SlotSet.EMPTY;
    return SlotSet.fromRanges(
      text.split(",").map((part) => {
        const [a, b] = part.split("-");
        const lo = Number(a);
        return [lo, b === undefined ? lo : Number(b)] as const;
      }),
    );
  }

  static of(slots: Iterable<number>): SlotSet {
    return SlotSet.fromRanges([...slots].map((s) => [s, s] as const));
  }

  has(slot: number): boolean {
    return ((this.bits[slot >> 3] as number) & (1 << (slot & 7))) !== 0;
  }

  with(slots: Iterable<number>): SlotSet {
    const bits = this.bits.slice();
    let size = this.size;
    for (const s of slots) {
      if (((bits[s >> 3] as number) & (1 << (s & 7))) === 0) size += 1;
      bits[s >> 3] = (bits[s >> 3] as number) | (1 << (s & 7));
    }
    return size === this.size ? this : new SlotSet(bits, size);
  }

  without(slots: Iterable<number>): SlotSet {
    const bits = this.bits.slice();
    let size = this.size;
    for (const s of slots) {
      if (((bits[s >> 3] as number) & (1 << (s & 7))) !== 0) size -= 1;
      bits[s >> 3] = (bits[s >> 3] as number) & ~(1 << (s & 7));
    }
    return size === this.size ? this : size === 0 ? SlotSet.EMPTY : new SlotSet(bits, size);
  }

  equals(other: SlotSet): boolean {
    if (other === this) return true;
    if (other.size !== this.size) return false;
    for (let i = 0; i < this.bits.length; i++) if (this.bits[i] !== other.bits[i]) return false;
    return true;
  }

  /** The slots in ascending order. */
  *[Symbol.iterator](): IterableIterator<number> {
    for (const [lo, hi] of this.ranges()) for (let s = lo; s <= hi; s++) yield s;
  }

  /** The slots as an array, ascending (faster than iterating when all are needed). */
  toArray(): number[] {
    const out: number[] = [];
    for (const [lo, hi] of this.ranges()) for (let s = lo; s <= hi; s++) out.push(s);
    return out;
  }

  /** Inclusive ranges in ascending order; scans whole bytes where it can. */
  ranges(): readonly (readonly [number, number])[] {
    if (this.rangesMemo !== null) return this.rangesMemo;
    const out: [number, number][] = [];
    let start = -1;
    for (let i = 0; i < this.bits.length; i++) {
      const byte = this.bits[i] as number;
      if (byte === 0xff) {
        if (start < 0) start = i * 8;
        continue;
      }
      if (byte === 0) {
        if (start >= 0) out.push([start, i * 8 - 1]);
        start = -1;
        continue;
      }
      for (let k = 0; k < 8; k++) {
        const slot = i * 8 + k;
        if (byte & (1 << k)) {
          if (start < 0) start = slot;
        } else if (start >= 0) {
          out.push([start, slot - 1]);
          start = -1;
        }
      }
    }
    if (start >= 0) out.push([start, SLOTS - 1]);
    this.rangesMemo = out;
    return out;
  }

  toString(): string {
    if (this.textMemo === null) this.textMemo = this.ranges().map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(",");
    return this.textMemo;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** Splits 0..16383 into `n` contiguous ranges as `redis-cli --cluster create` does. */
export function splitSlots(n: number): [number, number][] {
  assert(Number.isInteger(n) && n >= 1 && n <= SLOTS, `cannot split the slots ${n} ways`);
  const per = SLOTS / n;
  const out: [number, number][] = [];
  let first = 0;
  let cursor = 0;
  for (let i = 0; i < n; i++) {
    const last = i === n - 1 ? SLOTS - 1 : Math.round(cursor + per - 1);
    out.push([first, last]);
    first = last + 1;
    cursor += per;
  }
  return out;
}
