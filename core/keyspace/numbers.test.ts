import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesToByteString, byteStringToBytes } from "./bytes.js";
import { globMatch } from "./glob.js";
import { addLongDouble, formatLongDoubleHuman, parseInt64, parseLongDouble, scaledCeilToInt64 } from "./numbers.js";

describe("parseInt64 (string2ll)", () => {
  it.each([
    ["0", 0n],
    ["-1", -1n],
    ["99", 99n],
    ["9223372036854775807", 9223372036854775807n],
    ["-9223372036854775808", -9223372036854775808n],
  ])("accepts %s", (s, v) => {
    expect(parseInt64(s)).toBe(v);
  });

  it.each(["", "+1", " 1", "1 ", "01", "-0", "-", "1.0", "9223372036854775808", "-9223372036854775809", "1e3", "0x10"])("refuses %j", (s) => {
    expect(parseInt64(s)).toBeNull();
  });

  it("round-trips every int64", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), (v) => parseInt64(v.toString()) === v),
      { seed: 7, numRuns: 500 },
    );
  });
});

describe("long double (INCRBYFLOAT)", () => {
  const add = (a: string, b: string): string => {
    const x = parseLongDouble(a);
    const y = parseLongDouble(b);
    if (x === null || y === null) throw new Error("parse");
    const s = addLongDouble(x, y);
    if (s === null) throw new Error("nan");
    return formatLongDoubleHuman(s);
  };

  it.each([
    ["10.50", "0.1", "10.6"],
    ["5.0e3", "2.0e2", "5200"],
    ["0.1", "0.2", "0.3"],
    ["1", "-1.1", "-0.1"],
    ["0", "-0", "0"],
    ["-0", "-0", "0"],
    ["1e20", "0.1", "100000000000000000000"],
    ["3", "1e-20", "3"],
    ["0", "0.000000000000000001", "0"],
    ["1.5", "1.1", "2.6"],
    ["0x1p-2", "0", "0.25"],
    ["0", ".5", "0.5"],
    ["0", "5.", "5"],
    ["0", "1E3", "1000"],
    ["0", "123456789012345678901234567890", "123456789012345678899921813504"], // 64-bit mantissa
  ])("%s + %s = %s", (a, b, sum) => {
    expect(add(a, b)).toBe(sum);
  });

  it("prints dyadic values exactly (m / 2^e has e decimals, so %.17Lf is exact for e <= 17)", () => {
    const exact = (m: number, e: number): string => {
      const digits = (BigInt(Math.abs(m)) * 5n ** BigInt(e)).toString().padStart(e + 1, "0");
      const text = e === 0 ? digits : `${digits.slice(0, -e)}.${digits.slice(-e)}`.replace(/\.?0+$/, "");
      return m < 0 && text !== "0" ? `-${text}` : text;
    };
    fc.assert(
      fc.property(fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: 0, max: 17 }), (m, e) => {
        return add(exact(m, e), "0") === exact(m, e) && add(exact(m, e), exact(-m, e)) === "0";
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it.each(["", " 1", "1 ", "abc", "nan", "NaN", "1e", "1e5000", "-1e5000", "1e-5000", "0x", "--1", "1\0"])("refuses %j", (s) => {
    expect(parseLongDouble(s)).toBeNull();
  });

  it("accepts infinity, as string2ld does", () => {
    expect(parseLongDouble("inf")).toEqual({ kind: "inf", neg: false });
    expect(parseLongDouble("-Infinity")).toEqual({ kind: "inf", neg: true });
    expect(parseLongDouble("0e99999")).toMatchObject({ kind: "finite", mant: 0n });
  });
});

describe("globMatch (stringmatchlen)", () => {
  it.each([
    ["*", "", true],
    ["*", "anything", true],
    ["h?llo", "hello", true],
    ["h?llo", "hllo", false],
    ["h*llo", "heeeello", true],
    ["h[ae]llo", "hallo", true],
    ["h[ae]llo", "hillo", false],
    ["h[^e]llo", "hallo", true],
    ["h[^e]llo", "hello", false],
    ["h[a-b]llo", "hbllo", true],
    ["h[b-a]llo", "hallo", true],
    ["h[a-b]llo", "hcllo", false],
    ["a\\*b", "a*b", true],
    ["a\\*b", "axb", false],
    ["[\\]]", "]", true],
    ["[abc", "a", true],
    ["[abc", "d", false],
    ["a*", "a", true],
    ["a**b", "ab", true],
    ["*a", "ba", true],
    ["*a", "ab", false],
    ["", "", true],
    ["", "a", false],
    ["a", "", false],
    ["?", "", false],
    ["[a-]", "-", false],
  ])("%j ~ %j is %s", (pattern, s, expected) => {
    expect(globMatch(pattern, s)).toBe(expected);
  });
});

describe("scaledCeilToInt64 ((long long)ceill(x * factor) on x86-64)", () => {
  // The C program `(long long)ceill(strtold(s) * 1000.0)`, compiled with gcc 12 on x86-64, prints these.
  it.each([
    ["1.5", 1500n],
    ["0.0015", 2n],
    ["0.001", 1n], // 0.001L * 1000 is 0.99999999999999999995: ceill makes it 1
    ["0.0001", 1n],
    ["1e-4000", 1n],
    ["0", 0n],
    ["-0.0009", 0n],
    ["-0.5", -500n],
    ["-1e-4000", 0n],
    ["9.2e15", 9200000000000000000n],
    ["1e16", null],
    ["-1e16", null],
    ["1e400", null],
    ["inf", null],
    ["-inf", null],
  ])("%s seconds as ms is %s", (s, ms) => {
    expect(scaledCeilToInt64(parseLongDouble(s) as NonNullable<ReturnType<typeof parseLongDouble>>, 1000n)).toBe(ms);
  });
});

describe("byte strings", () => {
  it("round-trip every byte", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20_000 }), (bytes) => {
        expect(byteStringToBytes(bytesToByteString(bytes))).toEqual(bytes);
      }),
      { seed: 3, numRuns: 50 },
    );
  });
});
