// CRC-64/Jones, the checksum Redis puts on DUMP payloads and RDB files (crc64.c): polynomial
// 0xad93d23594c935a9, reflected in and out, initial value 0, no final xor. Check value:
// crc64("123456789") = 0xe9c6d914c4b8d9ca. Table-driven, one byte at a time; the 64-bit state is
// kept as two 32-bit halves so the hot loop stays in small integers (no bigint per byte).

/** The polynomial bit-reversed, for the reflected (LSB-first) algorithm, as high and low halves. */
const POLY_REFLECTED_HI = 0x95ac9329;
const POLY_REFLECTED_LO = 0xac4bc9b5;

/** The CRC of each byte value on a zero state: high halves and low halves. */
const TABLE_HI = new Uint32Array(256);
const TABLE_LO = new Uint32Array(256);

for (let i = 0; i < 256; i++) {
  let hi = 0;
  let lo = i;
  for (let bit = 0; bit < 8; bit++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi >>>= 1;
    if (carry !== 0) {
      hi = (hi ^ POLY_REFLECTED_HI) >>> 0;
      lo = (lo ^ POLY_REFLECTED_LO) >>> 0;
    }
  }
  TABLE_HI[i] = hi;
  TABLE_LO[i] = lo;
}

/**
 * The CRC-64/Jones of byte string `s` (chars 0..255) from position 0 up to `end`, as the eight
 * bytes of its little-endian encoding — the form Redis appends to a payload.
 */
export function crc64LittleEndian(s: string, end: number = s.length): string {
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < end; i++) {
    const index = (lo ^ s.charCodeAt(i)) & 0xff;
    lo = (((lo >>> 8) | (hi << 24)) ^ (TABLE_LO[index] as number)) >>> 0;
    hi = ((hi >>> 8) ^ (TABLE_HI[index] as number)) >>> 0;
  }
  return u32LittleEndian(lo) + u32LittleEndian(hi);
}

/** The four bytes of `n` (0..2^32-1), least significant first, as a byte string. */
export function u32LittleEndian(n: number): string {
  return String.fromCharCode(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
}
