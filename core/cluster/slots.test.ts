import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { textToByteString } from "../keyspace/bytes.js";
import { crc16, keySlot, SLOTS, SlotSet, splitSlots } from "./slots.js";

/** CRC16-XMODEM bit by bit over bytes (no table): the reference the table version must match. */
function crc16Reference(bytes: readonly number[]): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let k = 0; k < 8; k++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

/** UTF-8 bytes of a string of code points (no lone surrogates), written out by hand. */
function utf8Bytes(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return out;
}

/** Slots of a set, computed the slow way from `has`. */
function slotsByHas(set: SlotSet): number[] {
  const out: number[] = [];
  for (let s = 0; s < SLOTS; s++) if (set.has(s)) out.push(s);
  return out;
}

/** Inclusive ranges of a sorted list of distinct slots. */
function rangesOf(sorted: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last[1] === s - 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

/** Any Unicode text (code points, surrogates excluded). */
const unicodeString = fc
  .array(fc.oneof(fc.integer({ min: 0, max: 0xd7ff }), fc.integer({ min: 0xe000, max: 0x10ffff })), { maxLength: 30 })
  .map((cps) => String.fromCodePoint(...cps));
const slotArb = fc.integer({ min: 0, max: SLOTS - 1 });
/** Sets with long runs too, so whole 0xff bytes and byte-boundary runs occur. */
const rangesArb = fc.array(
  fc.tuple(slotArb, fc.integer({ min: 0, max: 700 })).map(([lo, len]) => [lo, Math.min(SLOTS - 1, lo + len)] as const),
  { maxLength: 12 },
);

describe("crc16", () => {
  it('is CRC16-XMODEM: "123456789" → 0x31C3', () => {
    expect(crc16("123456789")).toBe(0x31c3);
  });

  it("is 0 for the empty string", () => {
    expect(crc16("")).toBe(0);
  });

  it("matches a bitwise reference implementation on ASCII strings", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        expect(crc16(s)).toBe(crc16Reference(ascii(s)));
      }),
      { seed: 101 },
    );
  });

  it("hashes the bytes of a key (text keys arrive as their UTF-8 bytes)", () => {
    expect(crc16(textToByteString("é"))).toBe(crc16Reference([0xc3, 0xa9]));
    expect(crc16(textToByteString("€"))).toBe(crc16Reference([0xe2, 0x82, 0xac]));
    expect(crc16(textToByteString("😀"))).toBe(crc16Reference([0xf0, 0x9f, 0x98, 0x80]));
  });

  it("property: matches the reference over the UTF-8 bytes of any text", () => {
    fc.assert(
      fc.property(unicodeString, (s) => {
        expect(crc16(textToByteString(s))).toBe(crc16Reference(utf8Bytes(s)));
      }),
      { seed: 102 },
    );
  });
});

describe("keySlot", () => {
  it("is crc16 mod 16384 for keys without a hash tag", () => {
    expect(keySlot("123456789")).toBe(0x31c3 % SLOTS);
    // Values `CLUSTER KEYSLOT` prints in redis-server.
    expect(keySlot("somekey")).toBe(11058);
    expect(keySlot("foo")).toBe(12182);
  });

  it("hashes only the tag between the first { and the next }", () => {
    expect(keySlot("foo{hash_tag}")).toBe(2515);
    expect(keySlot("bar{hash_tag}")).toBe(2515);
    expect(keySlot("{user1000}.following")).toBe(keySlot("{user1000}.followers"));
    expect(keySlot("{user1000}.following")).toBe(keySlot("user1000"));
    expect(keySlot("{user1000}.following")).not.toBe(keySlot("{user1001}.following"));
  });

  it('hashes the whole key when the first tag is empty: "foo{}{bar}"', () => {
    expect(keySlot("foo{}{bar}")).toBe(crc16("foo{}{bar}") % SLOTS);
    expect(keySlot("foo{}{bar}")).not.toBe(keySlot("bar"));
  });

  it('takes "{bar" as the tag of "foo{{bar}}zap"', () => {
    expect(keySlot("foo{{bar}}zap")).toBe(crc16("{bar") % SLOTS);
  });

  it("hashes the whole key for an empty tag or an unclosed brace", () => {
    expect(keySlot("{}")).toBe(crc16("{}") % SLOTS);
    expect(keySlot("{}abc")).toBe(crc16("{}abc") % SLOTS);
    expect(keySlot("foo{bar")).toBe(crc16("foo{bar") % SLOTS);
    expect(keySlot("foo}bar{")).toBe(crc16("foo}bar{") % SLOTS);
  });

  it("uses the first tag only", () => {
    expect(keySlot("{a}{b}")).toBe(keySlot("a"));
    expect(keySlot("x{a}y{b}z")).toBe(keySlot("a"));
  });

  it("always lands in 0..16383", () => {
    fc.assert(
      fc.property(unicodeString, (k) => {
        const s = keySlot(k);
        expect(Number.isInteger(s) && s >= 0 && s < SLOTS).toBe(true);
      }),
      { seed: 103 },
    );
  });
});

describe("SlotSet", () => {
  it("EMPTY has nothing", () => {
    expect(SlotSet.EMPTY.size).toBe(0);
    expect(SlotSet.EMPTY.toString()).toBe("");
    expect(SlotSet.EMPTY.ranges()).toEqual([]);
    expect([...SlotSet.EMPTY]).toEqual([]);
  });

  it("fromRanges builds inclusive ranges and merges overlaps", () => {
    const s = SlotSet.fromRanges([
      [0, 5460],
      [5000, 5462],
      [10923, 16383],
    ]);
    expect(s.size).toBe(5463 + 5461);
    expect(s.ranges()).toEqual([
      [0, 5462],
      [10923, 16383],
    ]);
    expect(s.has(0) && s.has(5462) && s.has(16383) && s.has(10923)).toBe(true);
    expect(s.has(5463) || s.has(10922)).toBe(false);
  });

  it("rejects bad ranges", () => {
    expect(() => SlotSet.fromRanges([[5, 4]])).toThrow();
    expect(() => SlotSet.fromRanges([[-1, 4]])).toThrow();
    expect(() => SlotSet.fromRanges([[0, SLOTS]])).toThrow();
    expect(() => SlotSet.fromRanges([[0.5, 3]])).toThrow();
    expect(() => SlotSet.parse("3-x")).toThrow();
  });

  it("ranges() and toString() at byte and set boundaries", () => {
    const cases: [number[], string][] = [
      [[0], "0"],
      [[16383], "16383"],
      [[0, 16383], "0,16383"],
      [[7, 8], "7-8"],
      [[0, 1, 2, 3, 4, 5, 6, 7], "0-7"],
      [[8, 9, 10, 11, 12, 13, 14, 15, 16], "8-16"],
      [[6, 7, 8, 9, 10, 11, 12, 13, 14, 15], "6-15"],
      [[16376, 16377, 16378, 16379, 16380, 16381, 16382, 16383], "16376-16383"],
      [[1, 3, 5], "1,3,5"],
    ];
    for (const [slots, text] of cases) {
      const s = SlotSet.of(slots);
      expect(s.toString()).toBe(text);
      expect(s.ranges()).toEqual(rangesOf(slots));
      expect(SlotSet.parse(text).equals(s)).toBe(true);
    }
    expect(SlotSet.fromRanges([[0, SLOTS - 1]]).toString()).toBe("0-16383");
    expect(SlotSet.fromRanges([[0, SLOTS - 1]]).size).toBe(SLOTS);
  });

  it("with() returns a new set and leaves the original unchanged", () => {
    const a = SlotSet.fromRanges([[0, 10]]);
    const before = a.toString();
    const b = a.with([11, 20, 5]);
    expect(b).not.toBe(a);
    expect(a.toString()).toBe(before);
    expect(a.size).toBe(11);
    expect(a.has(11) || a.has(20)).toBe(false);
    expect(b.size).toBe(13);
    expect(b.toString()).toBe("0-11,20");
    // Adding only slots already there changes nothing (the same value is fine: it is immutable).
    expect(a.with([3, 4]).equals(a)).toBe(true);
    expect(a.toString()).toBe(before);
  });

  it("without() returns a new set and leaves the original unchanged", () => {
    const a = SlotSet.fromRanges([[0, 10]]);
    const b = a.without([0, 5, 99]);
    expect(b).not.toBe(a);
    expect(a.size).toBe(11);
    expect(a.has(0) && a.has(5)).toBe(true);
    expect(b.size).toBe(9);
    expect(b.toString()).toBe("1-4,6-10");
    const empty = a.without(a);
    expect(empty.size).toBe(0);
    expect(empty.toString()).toBe("");
    expect(a.size).toBe(11);
    expect(a.toString()).toBe("0-10");
  });

  it("a set whose ranges were computed is not changed by deriving others from it", () => {
    const a = SlotSet.fromRanges([[100, 200]]);
    expect(a.ranges()).toEqual([[100, 200]]);
    const b = a.with([201]).without([100]);
    expect(b.ranges()).toEqual([[101, 201]]);
    expect(a.ranges()).toEqual([[100, 200]]);
    expect(a.toString()).toBe("100-200");
    expect([...a].length).toBe(101);
  });

  it("equals compares contents, not identity", () => {
    expect(SlotSet.of([1, 2, 3]).equals(SlotSet.fromRanges([[1, 3]]))).toBe(true);
    expect(SlotSet.of([1, 2, 3]).equals(SlotSet.of([1, 2, 4]))).toBe(false);
    expect(SlotSet.of([1, 2]).equals(SlotSet.of([1, 2, 3]))).toBe(false);
    expect(SlotSet.parse("").equals(SlotSet.EMPTY)).toBe(true);
  });

  it("toJSON is the toString form", () => {
    expect(JSON.stringify({ s: SlotSet.fromRanges([[0, 5], [9, 9]]) })).toBe('{"s":"0-5,9"}');
  });

  it("property: SlotSet.of(xs) has exactly the distinct xs", () => {
    fc.assert(
      fc.property(fc.array(slotArb, { maxLength: 300 }), (xs) => {
        const distinct = [...new Set(xs)].sort((p, q) => p - q);
        const s = SlotSet.of(xs);
        expect(s.size).toBe(distinct.length);
        expect(slotsByHas(s)).toEqual(distinct);
        expect([...s]).toEqual(distinct);
        expect(s.toArray()).toEqual(distinct);
        expect(s.ranges()).toEqual(rangesOf(distinct));
      }),
      { seed: 104 },
    );
  });

  it("property: parse(toString(s)) equals s, and ranges are exact (dense sets too)", () => {
    fc.assert(
      fc.property(rangesArb, fc.array(slotArb, { maxLength: 30 }), (ranges, singles) => {
        const s = SlotSet.fromRanges(ranges).with(singles);
        const expected = new Set<number>(singles);
        for (const [lo, hi] of ranges) for (let x = lo; x <= hi; x++) expected.add(x);
        const sorted = [...expected].sort((p, q) => p - q);
        expect(s.size).toBe(sorted.length);
        expect(s.ranges()).toEqual(rangesOf(sorted));
        const back = SlotSet.parse(s.toString());
        expect(back.equals(s)).toBe(true);
        expect(back.toString()).toBe(s.toString());
      }),
      { seed: 105 },
    );
  });

  it("property: with/without agree with set operations and never touch their input", () => {
    fc.assert(
      fc.property(rangesArb, fc.array(slotArb, { maxLength: 40 }), fc.array(slotArb, { maxLength: 40 }), (ranges, add, del) => {
        const a = SlotSet.fromRanges(ranges);
        const aText = a.toString();
        const aSize = a.size;
        const b = a.with(add);
        const c = b.without(del);
        const model = new Set<number>(slotsByHas(a));
        for (const x of add) model.add(x);
        expect(slotsByHas(b)).toEqual([...model].sort((p, q) => p - q));
        for (const x of del) model.delete(x);
        expect(slotsByHas(c)).toEqual([...model].sort((p, q) => p - q));
        expect(c.size).toBe(model.size);
        expect(a.toString()).toBe(aText);
        expect(a.size).toBe(aSize);
      }),
      { numRuns: 60, seed: 106 },
    );
  });
});

describe("splitSlots", () => {
  it("splits three ways as redis-cli --cluster create does", () => {
    expect(splitSlots(3)).toEqual([
      [0, 5460],
      [5461, 10922],
      [10923, 16383],
    ]);
  });

  it("one way is everything", () => {
    expect(splitSlots(1)).toEqual([[0, 16383]]);
  });

  it("rejects 0, fractions and more ways than slots", () => {
    expect(() => splitSlots(0)).toThrow();
    expect(() => splitSlots(2.5)).toThrow();
    expect(() => splitSlots(SLOTS + 1)).toThrow();
  });

  it("property: n contiguous, non-empty ranges covering 0..16383, sizes within one of each other", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), (n) => {
        const r = splitSlots(n);
        expect(r.length).toBe(n);
        expect(r[0]?.[0]).toBe(0);
        expect(r[n - 1]?.[1]).toBe(SLOTS - 1);
        let prev = -1;
        const sizes: number[] = [];
        for (const [lo, hi] of r) {
          expect(lo).toBe(prev + 1);
          expect(hi).toBeGreaterThanOrEqual(lo);
          sizes.push(hi - lo + 1);
          prev = hi;
        }
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 50, seed: 107 },
    );
  });
});
