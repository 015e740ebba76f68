// Byte strings: how the keyspace holds binary-safe Redis strings.
//
// A byte string is a JS string whose every char code is 0..255, one char per byte (latin1-style).
// Lengths, slicing and comparison are then byte-exact, and keys work as Map keys. Hosts convert at
// the edge with the two functions below; replies carry the bytes back out as bulk strings.

import { Resp, decodeUtf8, encodeUtf8, type RespValue } from "../resp/codec.js";

/** Chunk size for String.fromCharCode.apply, below every engine's argument limit. */
const CHUNK_BYTES_MAX = 8192;

/** The byte string of `bytes`. */
export function bytesToByteString(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += CHUNK_BYTES_MAX) {
    out += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + CHUNK_BYTES_MAX)));
  }
  return out;
}

/** The bytes of byte string `s` (a char above 255 is a programmer error and keeps its low byte). */
export function byteStringToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** The byte string of text `s` encoded as UTF-8: for tests and hosts that start from text. */
export function textToByteString(s: string): string {
  return bytesToByteString(encodeUtf8(s));
}

/** A byte string read as UTF-8 text: for error messages that quote a client's arguments. */
export function byteStringToText(s: string): string {
  return decodeUtf8(byteStringToBytes(s));
}

/** A bulk-string reply holding byte string `s`. */
export function bulk(s: string): RespValue {
  return Resp.bulk(byteStringToBytes(s));
}

/** ASCII upper-casing, as strcasecmp compares: other bytes are left alone. */
export function upperAscii(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x61 && c <= 0x7a ? String.fromCharCode(c - 32) : s[i];
  }
  return out;
}
