import { describe, expect, it } from "vitest";
import { formatRanges, parseRanges, rangesSize, SlotTable, subtract, union } from "./slots.js";

describe("slot ranges", () => {
  it("parse, format, size", () => {
    expect(parseRanges("0-5460,5462,5461")).toEqual([[0, 5462]]);
    expect(parseRanges("")).toEqual([]);
    expect(formatRanges(parseRanges("7,1-3"))).toBe("1-3,7");
    expect(rangesSize(parseRanges("0-16383"))).toBe(16384);
    expect(() => parseRanges("3-1")).toThrow('bad slot range "3-1"');
    expect(() => parseRanges("16384")).toThrow("bad slot range");
  });

  it("union and subtract", () => {
    expect(union(parseRanges("0-9"), parseRanges("5-20"))).toEqual([[0, 20]]);
    expect(subtract(parseRanges("0-99"), parseRanges("10-19,50,90-200"))).toEqual([
      [0, 9],
      [20, 49],
      [51, 89],
    ]);
  });

  it("a slot table assigns ranges, splitting and merging", () => {
    const t = SlotTable.empty.assign(parseRanges("0-99"), "a").assign(parseRanges("40-59"), "b").assign(parseRanges("40-59"), "a");
    expect(t.ranges).toEqual([{ lo: 0, hi: 99, owner: "a" }]);
    const u = t.assign(parseRanges("10,20-29"), null);
    expect([u.ownerOf(10), u.ownerOf(11), u.ownerOf(500)]).toEqual([null, "a", undefined]);
    expect(u.slotsOf("a")).toEqual([
      [0, 9],
      [11, 19],
      [30, 99],
    ]);
    expect(SlotTable.empty.ranges).toEqual([]);
  });
});
