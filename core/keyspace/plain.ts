// Replies as plain JSON-able data, for tests, checkers and traces: a bulk string becomes its byte
// string, other types keep a tag so that no two reply types look alike — except verbatim text
// (CLUSTER NODES, INFO), which is its text, as a RESP2 client reads it.

import type { RespValue } from "../resp/codec.js";
import { bytesToByteString } from "./bytes.js";

export type Plain =
  | string
  | number
  | null
  | readonly Plain[]
  | { readonly simple: string }
  | { readonly err: string }
  | { readonly big: string }
  | { readonly nullArray: true }
  | { readonly set: readonly Plain[] }
  | { readonly map: readonly (readonly [Plain, Plain])[] }
  | { readonly push: readonly Plain[] }
  | { readonly other: string };

/** `reply` as plain data. Set members are sorted (their order is unspecified, as in Redis). */
export function plain(reply: RespValue): Plain {
  switch (reply.type) {
    case "bulk":
      return bytesToByteString(reply.value);
    case "integer":
      return typeof reply.value === "number" ? reply.value : { big: reply.value.toString() };
    case "null":
      return reply.array === true ? { nullArray: true } : null;
    case "simple":
      return { simple: reply.value };
    case "error":
      return { err: reply.value };
    case "array":
      return reply.value.map(plain);
    case "set":
      return { set: reply.value.map(plain).sort(comparePlain) };
    case "map":
      return { map: reply.value.map(([k, v]) => [plain(k), plain(v)] as const) };
    case "push":
      return { push: reply.value.map(plain) };
    case "verbatim":
      // What a RESP2 client reads: the text as a bulk string.
      return bytesToByteString(reply.value);
    default:
      return { other: reply.type };
  }
}

function comparePlain(a: Plain, b: Plain): number {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
