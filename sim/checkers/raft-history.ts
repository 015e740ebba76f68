// Linearizability of the Raft store's client history, judged at the end of a run: the clients'
// `client-op` events (invoke, then ok, fail or info) become per-key operations for the checker
// with the key-value model. A definite failure took no effect and is left out; an `info` op, or
// one still open at the end, may or may not have taken effect.

import type { Json } from "../../core/trace.js";
import type { ClusterView, InvariantChecker, RunReporter, TraceLine } from "../machines/adapter.js";
import { type KvCall, type KvResult, kvModel } from "./kv-model.js";
import { checkKeyed, type KeyedOp, type KeyedResult } from "./linearizable.js";

/** Which key and call a request is (null: not a key operation), and the result a success reply carries (null: none). */
export type CallOf = (req: Json) => { readonly key: string; readonly call: KvCall } | null;
export type ResultOf = (reply: Json) => KvResult | null;

/** Collects key operations from the trace. */
class History {
  private readonly open = new Map<string, { key: string; call: KvCall; client: string; invokeMs: number }>();
  private readonly ops: KeyedOp<KvCall, KvResult>[] = [];

  constructor(
    private readonly callOf: CallOf,
    private readonly resultOf: ResultOf,
  ) {}

  onTrace(line: TraceLine): void {
    if (line.type !== "client-op" || line.node === undefined) return;
    const k = `${line.node}\u0000${String(line["op"])}`;
    if (line["phase"] === "invoke") {
      const c = this.callOf((line["req"] ?? null) as Json);
      if (c !== null) this.open.set(k, { ...c, client: line.node, invokeMs: line.t });
      return;
    }
    const o = this.open.get(k);
    if (o === undefined) return;
    this.open.delete(k);
    if (line["phase"] === "info") {
      this.ops.push({ ...o, completeMs: null });
      return;
    }
    const result = line["phase"] === "ok" ? this.resultOf((line["value"] ?? null) as Json) : null;
    if (result !== null) this.ops.push({ ...o, completeMs: line.t, result });
  }

  check(): { result: KeyedResult; ops: number; keys: number } {
    const ops = [...this.ops, ...[...this.open.values()].map((o) => ({ ...o, completeMs: null }))];
    return { result: checkKeyed(ops, () => kvModel), ops: ops.length, keys: new Set(ops.map((o) => o.key)).size };
  }
}

/** Fails the run when some key's history has no linearization; "unknown" (budget spent) is not a failure, the reporter says it. */
export function raftLinearizable(callOf: CallOf, resultOf: ResultOf): InvariantChecker {
  const history = new History(callOf, resultOf);
  return {
    name: "linearizable",
    description: "the clients' history on every key has a linearization (Wing & Gong / Lowe search, kv model)",
    onTrace(line) {
      history.onTrace(line);
      return null;
    },
    atEnd() {
      const r = history.check().result;
      return r.verdict === "violation" ? `not linearizable: ${r.culprit ?? "a key's history has no valid order"}` : null;
    },
  };
}

/** The same check as a summary line and figures: "yes: N operations on K keys", or why not. */
export function raftLinearizableReport(callOf: CallOf, resultOf: ResultOf): RunReporter {
  const history = new History(callOf, resultOf);
  return {
    name: "linearizable",
    onTrace: (line) => history.onTrace(line),
    report(_view: ClusterView) {
      const { result: r, ops, keys } = history.check();
      const text =
        r.verdict === "ok"
          ? `yes: ${ops} operations on ${keys} keys`
          : r.verdict === "violation"
            ? `no: ${r.culprit ?? "a key's history has no valid order"}`
            : `unknown: the search ran out of budget (${r.steps} steps)`;
      return { text, figures: { verdict: r.verdict, operations: ops, keys, steps: r.steps } };
    },
  };
}
