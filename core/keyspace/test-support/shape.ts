// A keyspace value as plain data, for comparing stores in tests (excluded from the build).

import type { Value } from "../db.js";

export function shape(v: Value | undefined): unknown {
  if (v === undefined) return undefined;
  if (typeof v === "string") return ["string", v];
  switch (v.kind) {
    case "list":
      return ["list", v.items.toArray()];
    case "set":
      return ["set", [...v.members]];
    case "hash":
      return ["hash", [...v.fields]];
  }
}
