// Numbers as Redis reads and writes them in string values.
//
// Integers follow string2ll: an optional '-', then "0" or a digit 1-9 followed by digits, the
// whole within int64 — no '+', no leading zeros, no spaces. They are bigints here so INCRBY
// and friends are exact across the whole int64 range.
//
// INCRBYFLOAT and HINCRBYFLOAT compute in C `long double`, which on x86-64 is the 80-bit x87
// format (64-bit mantissa), and print with "%.17Lf" then trim trailing zeros (ld2string's
// LD_STR_HUMAN mode). A JS double would print `0.1 + 0.2` as 0.30000000000000004 where Redis
// prints 0.3, so this file emulates that format exactly with bigints: parse to the nearest
// 64-bit-mantissa value (strtold), add with one rounding, print with exact decimal rounding.
// Subnormal long doubles (below 2^-16382) are flushed to zero: no Redis user reaches them.

export const INT64_MAX = (1n << 63n) - 1n;
export const INT64_MIN = -(1n << 63n);

/** string2ll: the int64 `s` spells, or null. */
export function parseInt64(s: string): bigint | null {
  if (s.length === 0 || s.length > 20) return null;
  if (s === "0") return 0n;
  let i = 0;
  if (s.charCodeAt(0) === 0x2d) i = 1;
  const first = s.charCodeAt(i);
  if (!(first >= 0x31 && first <= 0x39)) return null;
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c < 0x30 || c > 0x39) return null;
  }
  const v = BigInt(s);
  return v > INT64_MAX || v < INT64_MIN ? null : v;
}

/**
 * An int64 as a JS number for index arithmetic: values beyond ±2^53 are clamped, which keeps
 * every comparison with a string or list length (always far below 2^53) the same.
 */
export function clampToSafe(v: bigint): number {
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  if (v > max) return Number.MAX_SAFE_INTEGER;
  if (v < -max) return -Number.MAX_SAFE_INTEGER;
  return Number(v);
}

// ---------------------------------------------------------------------------------------------
// x87 long double
// ---------------------------------------------------------------------------------------------

/** A long double: finite `(-1)^neg * mant * 2^exp` with mant < 2^64 (0 for zero), or an infinity. */
export type LongDouble =
  | { readonly kind: "finite"; readonly neg: boolean; readonly mant: bigint; readonly exp: number }
  | { readonly kind: "inf"; readonly neg: boolean };

const MANT_BITS = 64;
/** The largest finite long double is just below 2^16384; the smallest normal is 2^-16382. */
const EXP_OVERFLOW = 16384;
const EXP_UNDERFLOW = -16382;
/** MAX_LONG_DOUBLE_CHARS: string2ld refuses strings this long or longer. */
const LONG_DOUBLE_CHARS_MAX = 5 * 1024;

const ZERO: LongDouble = { kind: "finite", neg: false, mant: 0n, exp: 0 };

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

type Rounded = LongDouble | "overflow" | "underflow";

/** The long double nearest `num / den` (both ≥ 0, den > 0), ties to even. */
function roundRational(neg: boolean, num: bigint, den: bigint): Rounded {
  if (num === 0n) return { kind: "finite", neg, mant: 0n, exp: 0 };
  let exp = bitLength(num) - bitLength(den) - MANT_BITS;
  for (;;) {
    const n = exp < 0 ? num << BigInt(-exp) : num;
    const d = exp > 0 ? den << BigInt(exp) : den;
    let q = n / d;
    const r = n % d;
    if (q >= 1n << 64n) {
      exp += 1;
      continue;
    }
    if (q < 1n << 63n) {
      exp -= 1;
      continue;
    }
    const twice = 2n * r;
    if (twice > d || (twice === d && (q & 1n) === 1n)) q += 1n;
    if (q === 1n << 64n) {
      q = 1n << 63n;
      exp += 1;
    }
    if (exp + MANT_BITS > EXP_OVERFLOW) return "overflow";
    if (exp + MANT_BITS - 1 < EXP_UNDERFLOW) return "underflow";
    return { kind: "finite", neg, mant: q, exp };
  }
}

const DECIMAL_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const HEX_RE = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/;
const INF_RE = /^([+-]?)(?:inf|infinity)$/i;
/** Beyond this decimal exponent every nonzero long double overflows or underflows. */
const DEC_EXP_LIMIT = 5000;

/**
 * string2ld: the long double `s` spells, or null. Like strtold over the whole string, refusing
 * a leading space, NaN, and overflow or underflow (ERANGE); "inf" is accepted, as Redis does.
 */
export function parseLongDouble(s: string): LongDouble | null {
  if (s.length === 0 || s.length >= LONG_DOUBLE_CHARS_MAX) return null;
  const inf = INF_RE.exec(s);
  if (inf) return { kind: "inf", neg: inf[1] === "-" };
  const hex = HEX_RE.exec(s);
  if (hex) return parseParts(hex[1] === "-", hex[2] ?? "", hex[3] ?? "", hex[4], 16);
  const dec = DECIMAL_RE.exec(s);
  if (dec) return parseParts(dec[1] === "-", dec[2] ?? "", dec[3] ?? "", dec[4], 10);
  return null;
}

function parseParts(neg: boolean, intDigits: string, fracDigits: string, expText: string | undefined, radix: 10 | 16): LongDouble | null {
  if (intDigits.length + fracDigits.length === 0) return null;
  const digits = BigInt((radix === 16 ? "0x" : "") + (intDigits + fracDigits || "0"));
  if (digits === 0n) return { kind: "finite", neg, mant: 0n, exp: 0 };
  let expValue = expText === undefined ? 0 : Number(expText);
  if (!Number.isFinite(expValue) || Math.abs(expValue) > 1e9) expValue = Math.sign(expValue) * 1e9;
  let rounded: Rounded;
  if (radix === 10) {
    const scale = expValue - fracDigits.length;
    if (scale > DEC_EXP_LIMIT) return null;
    if (scale < -DEC_EXP_LIMIT - intDigits.length - fracDigits.length) return null;
    rounded = scale >= 0 ? roundRational(neg, digits * 10n ** BigInt(scale), 1n) : roundRational(neg, digits, 10n ** BigInt(-scale));
  } else {
    const scale = expValue - 4 * fracDigits.length;
    if (scale > 4 * DEC_EXP_LIMIT) return null;
    if (scale < -4 * DEC_EXP_LIMIT - 4 * (intDigits.length + fracDigits.length)) return null;
    rounded = scale >= 0 ? roundRational(neg, digits << BigInt(scale), 1n) : roundRational(neg, digits, 1n << BigInt(-scale));
  }
  return typeof rounded === "string" ? null : rounded;
}

/** A long double as an exact rational numerator over 2^shift (shift ≥ 0). */
function signedScaled(v: LongDouble & { kind: "finite" }, minExp: number): bigint {
  const m = v.mant << BigInt(v.exp - minExp);
  return v.neg ? -m : m;
}

/** `a + b` rounded once to long double; null for NaN (inf + -inf). */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | null {
  if (a.kind === "inf" || b.kind === "inf") {
    if (a.kind === "inf" && b.kind === "inf" && a.neg !== b.neg) return null;
    return a.kind === "inf" ? a : b;
  }
  if (a.mant === 0n && b.mant === 0n) return { kind: "finite", neg: a.neg && b.neg, mant: 0n, exp: 0 };
  if (a.mant === 0n) return b;
  if (b.mant === 0n) return a;
  const minExp = Math.min(a.exp, b.exp);
  const sum = signedScaled(a, minExp) + signedScaled(b, minExp);
  if (sum === 0n) return ZERO;
  const neg = sum < 0n;
  const abs = neg ? -sum : sum;
  const rounded = minExp >= 0 ? roundRational(neg, abs << BigInt(minExp), 1n) : roundRational(neg, abs, 1n << BigInt(-minExp));
  if (rounded === "overflow") return { kind: "inf", neg };
  if (rounded === "underflow") return { kind: "finite", neg, mant: 0n, exp: 0 };
  return rounded;
}

/**
 * `(long long)ceill(v * factor)` as x86-64 computes it: the product rounded once to long double,
 * rounded up to an integer, converted. Null where the x87 conversion yields its "integer
 * indefinite" value (LLONG_MIN): infinities and results outside int64.
 */
export function scaledCeilToInt64(v: LongDouble, factor: bigint): bigint | null {
  if (v.kind === "inf") return null;
  if (v.mant === 0n) return 0n;
  const num = v.mant * factor;
  const p = v.exp >= 0 ? roundRational(v.neg, num << BigInt(v.exp), 1n) : roundRational(v.neg, num, 1n << BigInt(-v.exp));
  if (p === "underflow") return v.neg ? 0n : 1n;
  if (p === "overflow" || p.kind === "inf") return null;
  let magnitude = p.exp >= 0 ? p.mant << BigInt(p.exp) : p.mant >> BigInt(-p.exp);
  const fractional = p.exp < 0 && magnitude << BigInt(-p.exp) !== p.mant;
  // Up means away from zero for a positive product, toward it (truncation) for a negative one.
  if (fractional && !p.neg) magnitude += 1n;
  const result = p.neg ? -magnitude : magnitude;
  return result >= -(1n << 63n) && result < 1n << 63n ? result : null;
}

const FRACTION_DIGITS = 17;
const FRACTION_SCALE = 10n ** BigInt(FRACTION_DIGITS);

/**
 * ld2string(LD_STR_HUMAN): "%.17Lf" with exact round-half-even, trailing zeros and a trailing
 * '.' removed, and "-0" written "0". Only for finite values.
 */
export function formatLongDoubleHuman(v: LongDouble): string {
  if (v.kind === "inf") return v.neg ? "-inf" : "inf";
  let scaled: bigint;
  if (v.exp >= 0) {
    scaled = (v.mant << BigInt(v.exp)) * FRACTION_SCALE;
  } else {
    const num = v.mant * FRACTION_SCALE;
    const den = 1n << BigInt(-v.exp);
    scaled = num / den;
    const twice = 2n * (num % den);
    if (twice > den || (twice === den && (scaled & 1n) === 1n)) scaled += 1n;
  }
  const intPart = (scaled / FRACTION_SCALE).toString();
  const frac = (scaled % FRACTION_SCALE).toString().padStart(FRACTION_DIGITS, "0").replace(/0+$/, "");
  let out = (v.neg ? "-" : "") + intPart + (frac.length > 0 ? "." + frac : "");
  if (out === "-0") out = "0";
  return out;
}
