// The Raft store's key-value semantics (core/raft/kv.ts) as a sequential model for the
// linearizability checker: one key holds a string or nothing; get reads it; put, delete and cas
// write it and reply what was there before. What a write does comes from the store's own `decide`,
// so the model cannot drift from the store: the checker judges ordering, not the write rules.

import { decide, type WriteCommand } from "../../core/raft/kv.js";
import type { Model } from "./linearizable.js";

/** A read of the key, or a write (put, delete, cas) on it. */
export type KvCall = { readonly kind: "get" } | { readonly kind: "write"; readonly command: WriteCommand };

/** A read's value, or a write's previous value and whether it wrote (false only for a cas that did not match). */
export type KvResult = { readonly value: string | null } | { readonly prev: string | null; readonly swapped: boolean };

function show(v: string | null): string {
  return v === null ? "nil" : JSON.stringify(v);
}

export const kvModel: Model<string | null, KvCall, KvResult> = {
  name: "kv",
  init: () => null,
  step(state, call) {
    if (call.kind === "get") return { state, result: { value: state } };
    const { next, swapped } = decide(state, call.command);
    return { state: next, result: { prev: state, swapped } };
  },
  equal(actual, observed) {
    if ("value" in actual) return "value" in observed && actual.value === observed.value;
    return "prev" in observed && actual.prev === observed.prev && actual.swapped === observed.swapped;
  },
  key: (state) => (state === null ? "nil" : `=${state}`),
  readOnly: (call) => call.kind === "get",
  describeCall(call) {
    if (call.kind === "get") return "get";
    const c = call.command;
    switch (c.op) {
      case "put":
        return `put ${c.value}`;
      case "delete":
        return "delete";
      case "cas":
        return `cas ${show(c.expected)}→${show(c.value)}`;
      case "register":
        return `register ${c.address}`;
    }
  },
  showResult: (r) => ("value" in r ? show(r.value) : r.swapped ? `prev ${show(r.prev)}` : `not swapped, was ${show(r.prev)}`),
};
