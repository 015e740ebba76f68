// Linearizability of client histories, one key at a time: is there a total order of the
// operations that respects real time (an op that completed before another was invoked comes
// first) and in which every acknowledged result is what a sequential Redis would have replied?
//
// Method: the Wing & Gong search with Lowe's and Horn & Kroening's improvements (the "WGL"
// algorithm Knossos and Porcupine use). The history becomes a list of call and return events
// sorted by time. Walking it from the front, we try to linearize each pending call: step the
// model, and if the result matches, lift the op (its call and return) out of the list and start
// again from the front. Meeting a return event means the op it belongs to was not linearized in
// time, so we backtrack: undo the last linearization and try the next call after it. A cache of
// (set of linearized ops, model state) pairs already explored prunes the search: two paths that
// reach the same pair have the same future. Keys are independent, so a multi-key history is split
// per key and each part is checked alone (P-compositionality); `checkKeyed` does that.
//
// Outcomes:
// - completed ops (`completeMs` set) must carry the reply the client got, and are linearized
//   between invocation and completion;
// - unknown-outcome ops (`completeMs: null`, the client timed out) may take effect at any time
//   after their invocation, or never; their reply is not checked. The search treats their
//   return as lying after every completion, and stops as soon as every completed op is placed,
//   so unknown ops it never needed are left out of `order`;
// - failed ops (a definite error such as MOVED or CLUSTERDOWN) took no effect: drop them
//   before calling.
// At equal times a call sorts before a return, so an op invoked in the same millisecond another
// completed counts as concurrent with it (the permissive reading).
//
// Bounds: the search is exponential in the worst case (linearizability checking is NP-complete),
// so it stops after `maxSteps` steps (one step = one event looked at) and answers "unknown",
// never a verdict it has not proved. The cache holds at most one entry per step, so memory is
// bounded by the same budget. Unknown-outcome reads are dropped up front (they change nothing,
// see `Model.readOnly`); unknown-outcome writes stay pending to the end of the history, and they
// are what makes the search expensive: a linearizable history of 200 ops from 5 clients with ~30
// timed-out writes takes a few hundred steps, but proving a violation late in it may need more
// than the default budget (every subset of the pending writes is a configuration), and then the
// answer is "unknown".
//
// API:
// - `checkLinearizable(ops, model, { maxSteps })` → `{ verdict, steps, order?, culprit? }`:
//   `order` (on "ok") lists indices into `ops` in linearization order; `culprit` (on
//   "violation") names the op that no order explains and the best order found before it.
// - `checkKeyed(ops, modelFor, { maxSteps })`: split by `op.key`, check each key, combine.
// - `registerModel` (GET, SET, INCR, DEL on a string) and `listModel` (RPUSH, LRANGE 0 -1, DEL).
// - Other stores bring their own calls and replies: `Op`, `Model` and the checks are generic in
//   the call type `C` and the reply type `R` (Redis's `Call` and `Result` by default); the Raft
//   store's model is in kv-model.ts.

import { assert } from "../../core/machine.js";

/** One command on the key. `lrange` is `LRANGE key 0 -1` (the whole list). */
export type Call =
  | { readonly kind: "get" }
  | { readonly kind: "set"; readonly value: string }
  | { readonly kind: "incr" }
  | { readonly kind: "rpush"; readonly value: string }
  | { readonly kind: "lrange" }
  | { readonly kind: "del" };

/**
 * A reply: "OK" for SET, the value or null for GET, an integer for INCR, RPUSH and DEL, the
 * elements for LRANGE. `{ error }` is what the model replies when Redis would refuse (INCR on a
 * non-integer); such an op took no effect.
 */
export type Result = string | number | null | readonly string[] | { readonly error: string };

export interface Op<C = Call, R = Result> {
  readonly client: string;
  readonly invokeMs: number;
  /** When the reply arrived; null when the outcome is unknown (timeout, connection lost). */
  readonly completeMs: number | null;
  readonly call: C;
  /** The reply the client got; required when `completeMs` is set, ignored otherwise. */
  readonly result?: R;
}

export type KeyedOp<C = Call, R = Result> = Op<C, R> & { readonly key: string };

/** How ops print in verdicts: the call with its arguments, and a reply. */
export interface OpFormat<C, R> {
  describeCall(call: C): string;
  showResult(result: R): string;
}

/** A sequential specification. States must be treated as immutable values. */
export interface Model<S, C = Call, R = Result> extends OpFormat<C, R> {
  readonly name: string;
  init(): S;
  step(state: S, call: C): { readonly state: S; readonly result: R };
  /**
   * Does the model's reply `actual` match the reply `observed` the client got? A refusal the
   * model replies (an error: the call took no effect) matches nothing the client was acknowledged.
   */
  equal(actual: R, observed: R): boolean;
  /** A string that is equal for two states exactly when the states are equal (the cache key). */
  key(state: S): string;
  /**
   * True if the call never changes the state. An unknown-outcome call that is read-only can
   * neither explain nor contradict anything, so the checker drops it before searching.
   */
  readOnly(call: C): boolean;
}

export interface CheckOptions {
  /** Search steps allowed before giving up with "unknown" (per key, for `checkKeyed`). */
  readonly maxSteps?: number;
}

export type Verdict = "ok" | "violation" | "unknown";

export interface CheckResult {
  readonly verdict: Verdict;
  /** Search steps taken: events looked at, including those revisited after backtracking. */
  readonly steps: number;
  /** On "ok": indices into the input, in a linearization order; unneeded unknown ops are left out. */
  readonly order?: readonly number[];
  /** On "violation": one line saying which op no order explains, for run summaries. */
  readonly culprit?: string;
}

/** Enough for a few hundred ops with a handful of concurrent clients; under ~100 MB of cache, ~1 s. */
export const MAX_STEPS_DEFAULT = 500_000;

// ---------------------------------------------------------------------------------------------
// Models

const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;

function wrongModel(model: string, call: Call): never {
  throw new Error(`${model} model has no ${call.kind}: a key holds one type`);
}

/** Equality of replies: by value, element by element for lists. */
export function sameResult(a: Result, b: Result): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (isError(a) && isError(b)) return a.error === b.error;
  return false;
}

function isError(r: Result): r is { readonly error: string } {
  return r !== null && typeof r === "object" && !Array.isArray(r);
}

/** Redis replies match when equal, and a refusal (the command took no effect) matches nothing. */
function redisEqual(actual: Result, observed: Result): boolean {
  return !isError(actual) && sameResult(actual, observed);
}

/** Redis calls print as the command and its value, e.g. `rpush x`; replies as JSON or `error …`. */
export const REDIS_FORMAT: OpFormat<Call, Result> = {
  describeCall: (call) => (call.kind === "set" || call.kind === "rpush" ? `${call.kind} ${call.value}` : call.kind),
  showResult: (r) => (isError(r) ? `error ${r.error}` : JSON.stringify(r)),
};

/** A string key: GET, SET, DEL, and INCR (integers within ±2^53; Redis allows 64 bits). */
export const registerModel: Model<string | null> = {
  name: "register",
  init: () => null,
  step(state, call) {
    switch (call.kind) {
      case "get":
        return { state, result: state };
      case "set":
        return { state: call.value, result: "OK" };
      case "del":
        return { state: null, result: state === null ? 0 : 1 };
      case "incr": {
        const now = state === null ? 0 : INTEGER.test(state) ? Number(state) : Number.NaN;
        if (!Number.isSafeInteger(now + 1)) return { state, result: { error: "value is not an integer or out of range" } };
        return { state: String(now + 1), result: now + 1 };
      }
      case "rpush":
      case "lrange":
        return wrongModel("register", call);
    }
  },
  equal: redisEqual,
  key: (state) => (state === null ? "nil" : `=${state}`),
  readOnly: (call) => call.kind === "get",
  ...REDIS_FORMAT,
};

/** A list key: RPUSH, LRANGE 0 -1, DEL. An empty list is no key (DEL replies 0). */
export const listModel: Model<readonly string[]> = {
  name: "list",
  init: () => [],
  step(state, call) {
    switch (call.kind) {
      case "rpush": {
        const next = [...state, call.value];
        return { state: next, result: next.length };
      }
      case "lrange":
        return { state, result: state };
      case "del":
        return { state: [], result: state.length === 0 ? 0 : 1 };
      case "get":
      case "set":
      case "incr":
        return wrongModel("list", call);
    }
  },
  equal: redisEqual,
  key: (state) => JSON.stringify(state),
  readOnly: (call) => call.kind === "lrange",
  ...REDIS_FORMAT,
};

// ---------------------------------------------------------------------------------------------
// The search

/** One call or return event in the doubly linked list the search walks. */
interface Entry {
  readonly op: number;
  readonly isCall: boolean;
  /** Rank in time order; the search remembers the furthest return it reached by this. */
  readonly rank: number;
  /** The call's return event (set on calls only). */
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/** A linearization made, kept to undo it when backtracking. */
interface Frame<S> {
  readonly call: Entry;
  readonly stateBefore: S;
}

export function checkLinearizable<S, C = Call, R = Result>(ops: readonly Op<C, R>[], model: Model<S, C, R>, opts: CheckOptions = {}): CheckResult {
  const maxSteps = opts.maxSteps ?? MAX_STEPS_DEFAULT;
  assert(Number.isInteger(maxSteps) && maxSteps >= 0, `maxSteps must be a whole number ≥ 0, got ${maxSteps}`);
  ops.forEach(validate);
  const head = buildList(ops, (o) => o.completeMs !== null || !model.readOnly(o.call));
  const linearized = new Bitset(ops.length);
  const cache = new Set<string>();
  const stack: Frame<S>[] = [];
  let okLeft = ops.filter((o) => o.completeMs !== null).length;
  let state = model.init();
  let entry = head.next;
  let steps = 0;
  // The return event furthest in time the search reached without having linearized its op, and
  // the order that got there: no linearization gets past it, so it names the violation.
  let stuck: { at: Entry; order: number[]; state: S } | null = null;

  while (okLeft > 0) {
    if (steps >= maxSteps) return { verdict: "unknown", steps };
    steps += 1;
    assert(entry !== null, "the event list ends with a return");
    const op = ops[entry.op] as Op<C, R>;
    if (entry.isCall) {
      const next = model.step(state, op.call);
      const fits = op.completeMs === null || model.equal(next.result, op.result as R);
      if (fits) {
        linearized.set(entry.op);
        if (!seen(cache, linearized, model.key(next.state))) {
          stack.push({ call: entry, stateBefore: state });
          state = next.state;
          if (op.completeMs !== null) okLeft -= 1;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized.clear(entry.op);
      }
      entry = entry.next;
      continue;
    }
    // A return whose op is not linearized: nothing placed so far lets it be; undo the last move.
    if (stuck === null || entry.rank > stuck.at.rank) stuck = { at: entry, order: stack.map((f) => f.call.op), state };
    const frame = stack.pop();
    if (frame === undefined) break;
    const undone = ops[frame.call.op] as Op<C, R>;
    if (undone.completeMs !== null) okLeft += 1;
    linearized.clear(frame.call.op);
    state = frame.stateBefore;
    unlift(frame.call);
    entry = frame.call.next;
  }
  if (okLeft === 0) return { verdict: "ok", steps, order: stack.map((f) => f.call.op) };
  assert(stuck !== null, "a failed search met a return");
  return { verdict: "violation", steps, culprit: explain(ops, model, stuck) };
}

/**
 * Marks a (linearized set, state) configuration explored; true if it already was. A configuration
 * met again is never on the current path (the linearized set only grows along a path), so it was
 * explored and failed: two paths to one configuration have the same futures.
 */
function seen(cache: Set<string>, linearized: Bitset, stateKey: string): boolean {
  const k = `${linearized.key()}|${stateKey}`;
  if (cache.has(k)) return true;
  cache.add(k);
  return false;
}

function validate<C, R>(op: Op<C, R>, i: number): void {
  assert(Number.isFinite(op.invokeMs), `op ${i}: invokeMs must be a finite number`);
  if (op.completeMs === null) return;
  assert(Number.isFinite(op.completeMs) && op.completeMs >= op.invokeMs, `op ${i}: completes before it is invoked`);
  assert(op.result !== undefined, `op ${i}: a completed op needs its result (drop failed ops)`);
}

/** Sorted call/return events of the ops kept, linked after a head sentinel; each call points at its return. */
function buildList<C, R>(ops: readonly Op<C, R>[], keep: (op: Op<C, R>) => boolean): Entry {
  const events: { op: number; isCall: boolean; atMs: number }[] = [];
  ops.forEach((o, i) => {
    if (!keep(o)) return;
    events.push({ op: i, isCall: true, atMs: o.invokeMs });
    events.push({ op: i, isCall: false, atMs: o.completeMs ?? Number.POSITIVE_INFINITY });
  });
  // Time, then calls before returns (equal times are concurrent), then input order.
  events.sort((a, b) => a.atMs - b.atMs || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1) || a.op - b.op);
  const head: Entry = { op: -1, isCall: false, rank: -1, match: null, prev: null, next: null };
  const calls = new Map<number, Entry>();
  let last = head;
  events.forEach((e, rank) => {
    const entry: Entry = { op: e.op, isCall: e.isCall, rank, match: null, prev: last, next: null };
    last.next = entry;
    last = entry;
    if (e.isCall) calls.set(e.op, entry);
    else (calls.get(e.op) as Entry).match = entry;
  });
  return head;
}

/** Takes a call and its return out of the list; `unlift` puts them back in the same places. */
function lift(call: Entry): void {
  const ret = call.match as Entry;
  (call.prev as Entry).next = call.next;
  if (call.next !== null) call.next.prev = call.prev;
  (ret.prev as Entry).next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

function unlift(call: Entry): void {
  const ret = call.match as Entry;
  (ret.prev as Entry).next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  (call.prev as Entry).next = call;
  if (call.next !== null) call.next.prev = call;
}

/** Which ops are linearized: a fixed-size bitset with a string form for the cache. */
class Bitset {
  private readonly words: Uint32Array;
  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }
  set(i: number): void {
    this.words[i >>> 5] = (this.words[i >>> 5] as number) | (1 << (i & 31));
  }
  clear(i: number): void {
    this.words[i >>> 5] = (this.words[i >>> 5] as number) & ~(1 << (i & 31));
  }
  key(): string {
    return this.words.join(",");
  }
}

// ---------------------------------------------------------------------------------------------
// Reporting

/** A short form of an op, e.g. `c2 get → "1" [10–20 ms]`. */
export function describeOp<C = Call, R = Result>(op: Op<C, R>, format: OpFormat<C, R> = REDIS_FORMAT as unknown as OpFormat<C, R>): string {
  const reply = op.completeMs === null ? "?" : format.showResult(op.result as R);
  const span = op.completeMs === null ? `${op.invokeMs}– ms` : `${op.invokeMs}–${op.completeMs} ms`;
  return `${op.client} ${format.describeCall(op.call)} → ${reply} [${span}]`;
}

const ORDER_SHOWN_MAX = 6;

function explain<S, C, R>(ops: readonly Op<C, R>[], model: Model<S, C, R>, stuck: { at: Entry; order: number[]; state: S }): string {
  const op = ops[stuck.at.op] as Op<C, R>;
  const placed = stuck.order.length;
  const shown = stuck.order.slice(-ORDER_SHOWN_MAX).map((i) => describeOp(ops[i] as Op<C, R>, model));
  const best = placed === 0 ? "nothing before it" : `${placed > ORDER_SHOWN_MAX ? "…, " : ""}${shown.join(", ")}`;
  const reply = model.step(stuck.state, op.call).result;
  return (
    `${describeOp(op, model)} is not linearizable: no order of the ops invoked before it completed explains it ` +
    `(best order: ${best}; the ${model.name} model would then reply ${model.showResult(reply)})`
  );
}

// ---------------------------------------------------------------------------------------------
// Many keys

export interface KeyedResult {
  readonly verdict: Verdict;
  readonly steps: number;
  /** Per key, in key order; each `order` holds indices into the whole input. */
  readonly keys: ReadonlyMap<string, CheckResult>;
  /** On "violation": the first violating key's culprit, prefixed with the key. */
  readonly culprit?: string;
}

/**
 * Splits a history by key and checks each key on its own (keys are independent objects, so the
 * whole is linearizable exactly when every key is). Any violation makes the verdict "violation";
 * otherwise any key that ran out of budget makes it "unknown".
 */
export function checkKeyed<S, C = Call, R = Result>(ops: readonly KeyedOp<C, R>[], modelFor: (key: string) => Model<S, C, R>, opts: CheckOptions = {}): KeyedResult {
  // Per key, the indices of its ops in the input, so orders can name input indices.
  const byKey = new Map<string, number[]>();
  ops.forEach((op, i) => {
    const list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, [i]);
    else list.push(i);
  });
  const keys = new Map<string, CheckResult>();
  let steps = 0;
  let culprit: string | undefined;
  let unknown = false;
  for (const key of [...byKey.keys()].sort()) {
    const indices = byKey.get(key) as number[];
    const r = checkLinearizable(indices.map((i) => ops[i] as KeyedOp<C, R>), modelFor(key), opts);
    keys.set(key, r.order === undefined ? r : { ...r, order: r.order.map((j) => indices[j] as number) });
    steps += r.steps;
    if (r.verdict === "unknown") unknown = true;
    if (r.verdict === "violation" && culprit === undefined) culprit = `key ${key}: ${r.culprit ?? ""}`;
  }
  if (culprit !== undefined) return { verdict: "violation", steps, keys, culprit };
  return { verdict: unknown ? "unknown" : "ok", steps, keys };
}
