import { describe, expect, it } from "vitest";
import { Kv } from "../../core/raft/kv.js";
import { type KvCall, type KvResult, kvModel } from "./kv-model.js";
import { checkKeyed, checkLinearizable, type KeyedOp, type Op } from "./linearizable.js";

type KvOp = Op<KvCall, KvResult>;
const get: KvCall = { kind: "get" };
const put = (value: string): KvCall => ({ kind: "write", command: Kv.put("k", value) });
const cas = (expected: string | null, value: string | null): KvCall => ({ kind: "write", command: Kv.cas("k", expected, value) });
const del: KvCall = { kind: "write", command: Kv.delete("k") };
const ok = (client: string, invokeMs: number, completeMs: number, call: KvCall, result: KvResult): KvOp => ({ client, invokeMs, completeMs, call, result });
const info = (client: string, invokeMs: number, call: KvCall): KvOp => ({ client, invokeMs, completeMs: null, call });
const read = (value: string | null): KvResult => ({ value });
const wrote = (prev: string | null, swapped = true): KvResult => ({ prev, swapped });

describe("the key-value model", () => {
  it.each<[string, "ok" | "violation", KvOp[]]>([
    ["put then get", "ok", [ok("c1", 0, 1, put("a"), wrote(null)), ok("c2", 2, 3, get, read("a"))]],
    ["put replies the value before", "ok", [ok("c1", 0, 1, put("a"), wrote(null)), ok("c1", 2, 3, put("b"), wrote("a"))]],
    ["put replies a wrong previous value", "violation", [ok("c1", 0, 1, put("a"), wrote(null)), ok("c1", 2, 3, put("b"), wrote(null))]],
    ["cas from the current value swaps", "ok", [ok("c1", 0, 1, put("a"), wrote(null)), ok("c2", 2, 3, cas("a", "b"), wrote("a")), ok("c3", 4, 5, get, read("b"))]],
    ["cas from another value does not swap", "ok", [ok("c1", 0, 1, put("a"), wrote(null)), ok("c2", 2, 3, cas("z", "b"), wrote("a", false)), ok("c3", 4, 5, get, read("a"))]],
    ["a cas that claims a swap it could not make", "violation", [ok("c1", 0, 1, put("a"), wrote(null)), ok("c2", 2, 3, cas("z", "b"), wrote("a", true))]],
    ["two concurrent cas from one value cannot both swap", "violation", [ok("c1", 0, 1, put("a"), wrote(null)), ok("c2", 2, 9, cas("a", "b"), wrote("a")), ok("c3", 2, 9, cas("a", "c"), wrote("a"))]],
    ["of two concurrent cas one swaps", "ok", [ok("c1", 0, 1, put("a"), wrote(null)), ok("c2", 2, 9, cas("a", "b"), wrote("a")), ok("c3", 2, 9, cas("a", "c"), wrote("b", false))]],
    ["cas from absent creates", "ok", [ok("c1", 0, 1, cas(null, "a"), wrote(null)), ok("c2", 2, 3, get, read("a"))]],
    ["delete then read nothing", "ok", [ok("c1", 0, 1, put("a"), wrote(null)), ok("c1", 2, 3, del, wrote("a")), ok("c2", 4, 5, get, read(null))]],
    ["stale read after a write completed", "violation", [ok("c1", 0, 1, put("a"), wrote(null)), ok("c1", 2, 3, put("b"), wrote("a")), ok("c2", 4, 5, get, read("a"))]],
    ["an unknown put seen later", "ok", [ok("c1", 0, 1, put("a"), wrote(null)), info("c2", 2, put("b")), ok("c3", 10, 11, get, read("b"))]],
    ["an unknown put seen, then gone", "violation", [info("c2", 2, put("b")), ok("c3", 10, 11, get, read("b")), ok("c3", 12, 13, get, read(null))]],
  ])("%s → %s", (_what, expected, ops) => {
    expect(checkLinearizable(ops, kvModel).verdict).toBe(expected);
  });

  it("explains a violation in the store's words", () => {
    const r = checkLinearizable([ok("c1", 0, 1, put("a"), wrote(null)), ok("c2", 2, 3, cas("a", "b"), wrote("a", false))], kvModel);
    expect(r.culprit).toBe(
      'c2 cas "a"→"b" → not swapped, was "a" [2–3 ms] is not linearizable: no order of the ops invoked before it completed explains it ' +
        '(best order: c1 put a → prev nil [0–1 ms]; the kv model would then reply prev "a")',
    );
  });

  it("finishes on 10,000 operations over 100 keys from 10 clients", () => {
    // Each client works through the keys in turn; ops of different clients overlap in time.
    const ops: KeyedOp<KvCall, KvResult>[] = [];
    const values = new Map<string, string | null>();
    for (let i = 0; i < 10_000; i++) {
      const key = `k${i % 100}`;
      const client = `c${i % 10}`;
      const t = i * 2;
      const prev = values.get(key) ?? null;
      if (i % 3 === 0) ops.push({ key, client, invokeMs: t, completeMs: t + 3, call: { kind: "get" }, result: { value: prev } });
      else {
        const value = `v${i}`;
        values.set(key, value);
        ops.push({ key, client, invokeMs: t, completeMs: t + 3, call: { kind: "write", command: Kv.put(key, value) }, result: { prev, swapped: true } });
      }
    }
    const r = checkKeyed(ops, () => kvModel);
    expect(r.verdict).toBe("ok");
    expect(r.keys.size).toBe(100);
  });
});
