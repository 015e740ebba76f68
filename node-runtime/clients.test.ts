import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { latin1 } from "./clients.js";

describe("latin1 (arguments decoded from the parser's buffer)", () => {
  it("always gives the bytes' latin1 text, whatever it decoded before (the short-argument cache never answers for other bytes)", () => {
    // Few distinct byte values and short lengths, so that cache slots collide often: equal
    // lengths with equal first and last bytes, and prefixes of one another (0x60 and 0x41 are 31
    // apart, which puts "x`" and "x`A" in one slot).
    const arg = fc.uint8Array({ minLength: 0, maxLength: 14 }).map((a) => a.map((b) => [0x41, 0x60, 0x78, 0x00, 0xff][b % 5] as number));
    fc.assert(
      fc.property(fc.array(fc.tuple(arg, fc.nat(4)), { minLength: 1, maxLength: 60 }), (items) => {
        for (const [bytes, pad] of items) {
          const buf = new Uint8Array(bytes.length + pad * 2);
          buf.set(bytes, pad);
          expect(latin1(buf, pad, pad + bytes.length)).toBe(Buffer.from(bytes).toString("latin1"));
        }
      }),
      { numRuns: 500 },
    );
  });

  it("does not answer a shorter argument with a longer one that shares its cache slot and prefix", () => {
    expect(latin1(Buffer.from("x`A"), 0, 3)).toBe("x`A");
    expect(latin1(Buffer.from("x`"), 0, 2)).toBe("x`");
  });

  it("hands out the same string again for a repeated short argument, and decodes long ones whole", () => {
    const a = latin1(Buffer.from("*SET*"), 1, 4);
    const b = latin1(Buffer.from("xxSETxx"), 2, 5);
    expect(a).toBe("SET");
    expect(b).toBe("SET");
    const long = Buffer.from(`k${"\u00e9".repeat(5)}${"z".repeat(40)}`, "latin1");
    expect(latin1(long, 0, long.length)).toBe(long.toString("latin1"));
  });
});
