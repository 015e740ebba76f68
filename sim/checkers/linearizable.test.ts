import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Call,
  checkKeyed,
  checkLinearizable,
  describeOp,
  type KeyedOp,
  listModel,
  type Model,
  type Op,
  registerModel,
  type Result,
} from "./linearizable.js";

const get: Call = { kind: "get" };
const set = (value: string): Call => ({ kind: "set", value });
const incr: Call = { kind: "incr" };
const rpush = (value: string): Call => ({ kind: "rpush", value });
const lrange: Call = { kind: "lrange" };
const del: Call = { kind: "del" };

/** A completed op and the reply its client got. */
const ok = (client: string, invokeMs: number, completeMs: number, call: Call, result: Result): Op => ({ client, invokeMs, completeMs, call, result });
/** An op whose outcome is unknown (the client timed out). */
const info = (client: string, invokeMs: number, call: Call): Op => ({ client, invokeMs, completeMs: null, call });

const verdict = (ops: readonly Op[], model: Model<never> | Model<string | null> | Model<readonly string[]>): string =>
  checkLinearizable(ops, model as Model<unknown>).verdict;

describe("checkLinearizable on a register", () => {
  it.each<[string, string, Op[]]>([
    ["empty history", "ok", []],
    ["sequential history", "ok", [ok("c1", 0, 1, set("a"), "OK"), ok("c1", 2, 3, get, "a"), ok("c2", 4, 5, set("b"), "OK"), ok("c2", 6, 7, get, "b")]],
    ["read before any write sees nil", "ok", [ok("c1", 0, 1, get, null), ok("c1", 2, 3, set("a"), "OK")]],
    ["concurrent writes, read sees the second", "ok", [ok("c1", 0, 10, set("a"), "OK"), ok("c2", 0, 10, set("b"), "OK"), ok("c3", 11, 12, get, "b")]],
    ["concurrent writes, read sees the first", "ok", [ok("c1", 0, 10, set("a"), "OK"), ok("c2", 0, 10, set("b"), "OK"), ok("c3", 11, 12, get, "a")]],
    ["reads disagree on the order of concurrent writes", "violation", [ok("c1", 0, 10, set("a"), "OK"), ok("c2", 0, 10, set("b"), "OK"), ok("c3", 11, 12, get, "a"), ok("c3", 13, 14, get, "b")]],
    ["read concurrent with a write may see either", "ok", [ok("c1", 0, 1, set("a"), "OK"), ok("c2", 2, 10, set("b"), "OK"), ok("c3", 3, 4, get, "a"), ok("c4", 5, 6, get, "b")]],
    ["stale read after a completed write", "violation", [ok("c1", 0, 1, set("a"), "OK"), ok("c1", 2, 3, set("b"), "OK"), ok("c2", 4, 5, get, "a")]],
    ["read of a value never written", "violation", [ok("c1", 0, 1, set("a"), "OK"), ok("c2", 2, 3, get, "z")]],
    ["new value seen, then the old one (no going back)", "violation", [ok("c1", 0, 1, set("a"), "OK"), ok("c1", 2, 20, set("b"), "OK"), ok("c2", 3, 4, get, "b"), ok("c3", 5, 6, get, "a")]],
    ["unknown write that later appears", "ok", [ok("c1", 0, 1, set("a"), "OK"), info("c2", 2, set("b")), ok("c3", 50, 51, get, "b")]],
    ["unknown write that never appears", "ok", [ok("c1", 0, 1, set("a"), "OK"), info("c2", 2, set("b")), ok("c3", 50, 51, get, "a"), ok("c3", 52, 53, get, "a")]],
    ["unknown write seen, then gone (once in effect it stays)", "violation", [ok("c1", 0, 1, set("a"), "OK"), info("c2", 2, set("b")), ok("c3", 50, 51, get, "b"), ok("c3", 52, 53, get, "a")]],
    ["unknown write cannot explain a read before its invocation", "violation", [ok("c1", 0, 1, set("a"), "OK"), ok("c3", 2, 3, get, "b"), info("c2", 4, set("b"))]],
    ["unknown write can explain a read concurrent with its invocation", "ok", [ok("c1", 0, 1, set("a"), "OK"), ok("c3", 2, 5, get, "b"), info("c2", 4, set("b"))]],
    ["an invocation at the instant of a completion is concurrent with it", "ok", [ok("c1", 0, 5, set("a"), "OK"), ok("c2", 5, 6, get, null)]],
    ["incr sequence", "ok", [ok("c1", 0, 1, incr, 1), ok("c1", 2, 3, incr, 2), ok("c2", 4, 5, get, "2"), ok("c2", 6, 7, set("10"), "OK"), ok("c1", 8, 9, incr, 11)]],
    ["concurrent incrs, replies in either order", "ok", [ok("c1", 0, 10, incr, 2), ok("c2", 0, 10, incr, 1), ok("c3", 11, 12, get, "2")]],
    ["two incrs both reply 1", "violation", [ok("c1", 0, 10, incr, 1), ok("c2", 0, 10, incr, 1)]],
    ["incr skips a number", "violation", [ok("c1", 0, 1, incr, 1), ok("c1", 2, 3, incr, 3)]],
    ["unknown incr explains the gap", "ok", [ok("c1", 0, 1, incr, 1), info("c2", 1, incr), ok("c1", 2, 3, incr, 3)]],
    ["incr on a non-integer takes no effect", "ok", [ok("c1", 0, 1, set("x"), "OK"), info("c2", 2, incr), ok("c1", 3, 4, get, "x")]],
    ["del then read nil", "ok", [ok("c1", 0, 1, set("a"), "OK"), ok("c1", 2, 3, del, 1), ok("c2", 4, 5, get, null), ok("c2", 6, 7, del, 0)]],
    ["del replies 1 on a missing key", "violation", [ok("c1", 0, 1, del, 1)]],
  ])("%s → %s", (_what, expected, ops) => {
    expect(verdict(ops, registerModel)).toBe(expected);
  });
});

describe("checkLinearizable on a list", () => {
  it.each<[string, string, Op[]]>([
    ["pushes then the whole list", "ok", [ok("c1", 0, 1, rpush("a"), 1), ok("c2", 2, 3, rpush("b"), 2), ok("c3", 4, 5, lrange, ["a", "b"])]],
    ["concurrent pushes in either order", "ok", [ok("c1", 0, 10, rpush("a"), 2), ok("c2", 0, 10, rpush("b"), 1), ok("c3", 11, 12, lrange, ["b", "a"])]],
    ["order contradicts the lengths replied", "violation", [ok("c1", 0, 10, rpush("a"), 1), ok("c2", 0, 10, rpush("b"), 2), ok("c3", 11, 12, lrange, ["b", "a"])]],
    ["order contradicts real time", "violation", [ok("c1", 0, 1, rpush("a"), 1), ok("c2", 2, 3, rpush("b"), 2), ok("c3", 4, 5, lrange, ["b", "a"])]],
    ["acknowledged push lost later", "violation", [ok("c1", 0, 1, rpush("a"), 1), ok("c2", 2, 3, rpush("b"), 2), ok("c3", 4, 5, lrange, ["a", "b"]), ok("c3", 6, 7, lrange, ["a"])]],
    ["acknowledged push never seen", "violation", [ok("c1", 0, 1, rpush("a"), 1), ok("c3", 4, 5, lrange, [])]],
    ["unknown push that later appears", "ok", [ok("c1", 0, 1, rpush("a"), 1), info("c2", 2, rpush("b")), ok("c3", 50, 51, lrange, ["a", "b"])]],
    ["unknown push that never appears", "ok", [ok("c1", 0, 1, rpush("a"), 1), info("c2", 2, rpush("b")), ok("c3", 50, 51, lrange, ["a"]), ok("c1", 52, 53, rpush("c"), 2)]],
    ["unknown push cannot appear before its invocation", "violation", [ok("c1", 0, 1, rpush("a"), 1), ok("c3", 2, 3, lrange, ["a", "b"]), info("c2", 4, rpush("b"))]],
    ["del empties the list", "ok", [ok("c1", 0, 1, rpush("a"), 1), ok("c2", 2, 3, del, 1), ok("c1", 4, 5, rpush("b"), 1), ok("c3", 6, 7, lrange, ["b"])]],
  ])("%s → %s", (_what, expected, ops) => {
    expect(verdict(ops, listModel)).toBe(expected);
  });
});

describe("verdict details", () => {
  it("an ok verdict gives an order that respects real time and replays to the replies", () => {
    const ops = [ok("c3", 11, 12, get, "a"), ok("c2", 0, 10, set("b"), "OK"), ok("c1", 0, 10, set("a"), "OK"), info("c4", 20, set("z"))];
    const r = checkLinearizable(ops, registerModel);
    expect(r).toMatchObject({ verdict: "ok", order: [1, 2, 0] });
  });

  it("a violation names the op no order explains and the best order before it", () => {
    const ops = [ok("c1", 0, 1, set("a"), "OK"), ok("c1", 2, 3, set("b"), "OK"), ok("c2", 4, 5, get, "a")];
    const r = checkLinearizable(ops, registerModel);
    expect(r.verdict).toBe("violation");
    expect(r.culprit).toBe(
      'c2 get → "a" [4–5 ms] is not linearizable: no order of the ops invoked before it completed explains it ' +
        '(best order: c1 set a → "OK" [0–1 ms], c1 set b → "OK" [2–3 ms]; the register model would then reply "b")',
    );
  });

  it("describes unknown ops with an open interval", () => {
    expect(describeOp(info("c9", 7, rpush("x")))).toBe("c9 rpush x → ? [7– ms]");
  });

  it("rejects malformed ops as programmer errors", () => {
    expect(() => checkLinearizable([{ client: "c1", invokeMs: 0, completeMs: 1, call: get }], registerModel)).toThrow("needs its result");
    expect(() => checkLinearizable([ok("c1", 5, 1, get, null)], registerModel)).toThrow("completes before it is invoked");
    expect(() => checkLinearizable([ok("c1", 0, 1, rpush("a"), 1)], registerModel)).toThrow("register model has no rpush");
  });
});

describe("checkKeyed", () => {
  const at = (key: string, op: Op): KeyedOp => ({ ...op, key });
  const modelFor = (key: string): Model<unknown> => (key.startsWith("list") ? listModel : registerModel) as Model<unknown>;

  it("checks each key alone; orders name indices into the whole input", () => {
    const ops = [
      at("r", ok("c1", 0, 1, set("a"), "OK")),
      at("list", ok("c2", 0, 1, rpush("x"), 1)),
      at("r", ok("c1", 2, 3, get, "a")),
      at("list", ok("c2", 2, 3, lrange, ["x"])),
    ];
    const r = checkKeyed(ops, modelFor);
    expect(r.verdict).toBe("ok");
    expect([...r.keys.keys()]).toEqual(["list", "r"]);
    expect(r.keys.get("list")?.order).toEqual([1, 3]);
    expect(r.keys.get("r")?.order).toEqual([0, 2]);
  });

  it("a value read under one key cannot come from a write to another", () => {
    const ops = [at("a", ok("c1", 0, 1, set("1"), "OK")), at("b", ok("c2", 2, 3, get, "1"))];
    const r = checkKeyed(ops, modelFor);
    expect(r.verdict).toBe("violation");
    expect(r.culprit).toMatch(/^key b: c2 get → "1"/);
    expect(r.keys.get("a")?.verdict).toBe("ok");
  });

  it("one key out of budget and none violated is unknown", () => {
    const ops = [at("a", ok("c1", 0, 1, set("1"), "OK")), at("b", ok("c2", 2, 3, get, null))];
    expect(checkKeyed(ops, modelFor, { maxSteps: 0 }).verdict).toBe("unknown");
  });
});

// -----------------------------------------------------------------------------------------------
// Generated histories: ops run one after another against the sequential model, each at its own
// linearization point (10 ms apart), with a real-time interval drawn around that point. Such a
// history is linearizable by construction.

interface Planned {
  readonly client: number;
  /** Picks the command and its value. */
  readonly pick: number;
  readonly beforeMs: number;
  readonly afterMs: number;
  /** 0: unknown outcome, took effect; 1: unknown outcome, took none; otherwise completed. */
  readonly fate: number;
}

const plannedArb = (spanMs: number): fc.Arbitrary<Planned> =>
  fc.record({
    client: fc.nat(4),
    pick: fc.nat(99),
    beforeMs: fc.nat(spanMs),
    afterMs: fc.nat(spanMs),
    fate: fc.nat(19),
  });

const registerCall = (p: Planned): Call => (p.pick < 40 ? get : p.pick < 70 ? set(String(p.pick)) : p.pick < 90 ? incr : del);
const listCall = (p: Planned, i: number): Call => (p.pick < 40 ? lrange : p.pick < 90 ? rpush(`e${i}`) : del);

function runPlan<S>(plan: readonly Planned[], model: Model<S>, callOf: (p: Planned, i: number) => Call): Op[] {
  let state = model.init();
  const ops: Op[] = [];
  plan.forEach((p, i) => {
    const atMs = 10 * (i + 1);
    const call = callOf(p, i);
    const client = `c${p.client}`;
    const invokeMs = atMs - p.beforeMs;
    if (p.fate === 1) {
      ops.push({ client, invokeMs, completeMs: null, call });
      return;
    }
    const next = model.step(state, call);
    if (typeof next.result === "object" && next.result !== null && !Array.isArray(next.result)) return; // an error: failed, dropped
    state = next.state;
    ops.push(p.fate === 0 ? { client, invokeMs, completeMs: null, call } : { client, invokeMs, completeMs: atMs + p.afterMs, call, result: next.result });
  });
  // The checker must not depend on input order.
  return ops.map((op, i) => ({ op, rank: (i * 7919) % (ops.length + 1) })).sort((a, b) => a.rank - b.rank).map((x) => x.op);
}

const kinds = [
  { name: "register", model: registerModel as Model<unknown>, callOf: registerCall },
  { name: "list", model: listModel as Model<unknown>, callOf: listCall },
] as const;

/** Replaces one completed read's reply with one no interleaving can produce: a value never written. */
function corrupt(ops: readonly Op[], victim: number): Op[] | null {
  const reads = ops.flatMap((op, i) => (op.completeMs !== null && (op.call.kind === "get" || op.call.kind === "lrange") ? [i] : []));
  if (reads.length === 0) return null;
  const target = reads[victim % reads.length] as number;
  return ops.map((op, i) => {
    if (i !== target) return op;
    const result: Result = op.call.kind === "get" ? "never-written" : [...(op.result as readonly string[]), "never-pushed"];
    return { ...op, result };
  });
}

describe("generated histories", () => {
  for (const kind of kinds) {
    it(`property (${kind.name}): a history run against the model with intervals around each linearization point is ok`, () => {
      fc.assert(
        fc.property(fc.array(plannedArb(30), { maxLength: 40 }), (plan) => {
          const ops = runPlan(plan, kind.model, kind.callOf);
          const r = checkLinearizable(ops, kind.model);
          expect(r.verdict).toBe("ok");
          expect(r.order?.filter((i) => ops[i]?.completeMs !== null)).toHaveLength(ops.filter((o) => o.completeMs !== null).length);
        }),
        { seed: 7, numRuns: 200 },
      );
    });

    it(`property (${kind.name}): one read corrupted to a value never written is a violation`, () => {
      fc.assert(
        fc.property(fc.array(plannedArb(30), { minLength: 1, maxLength: 40 }), fc.nat(), (plan, victim) => {
          const ops = corrupt(runPlan(plan, kind.model, kind.callOf), victim);
          fc.pre(ops !== null);
          const r = checkLinearizable(ops, kind.model);
          expect(r.verdict).toBe("violation");
          expect(r.culprit).toMatch(/never-(written|pushed)/);
        }),
        { seed: 8, numRuns: 200 },
      );
    });

    it(`property (${kind.name}): a small budget answers unknown or the true verdict, never a false one`, () => {
      fc.assert(
        fc.property(fc.array(plannedArb(30), { minLength: 1, maxLength: 30 }), fc.nat(), fc.nat(60), (plan, victim, maxSteps) => {
          const good = runPlan(plan, kind.model, kind.callOf);
          expect(checkLinearizable(good, kind.model, { maxSteps }).verdict).not.toBe("violation");
          const bad = corrupt(good, victim);
          if (bad !== null) expect(checkLinearizable(bad, kind.model, { maxSteps }).verdict).not.toBe("ok");
        }),
        { seed: 9, numRuns: 200 },
      );
    });
  }
});

describe("budget and size", () => {
  // Twelve writes of unknown outcome, all pending, and a read of a value none of them wrote: to
  // prove the violation the search must try every subset of the writes.
  const hard = [...Array.from({ length: 12 }, (_, i) => info(`w${i}`, 0, set(`s${i}`))), ok("r", 100, 110, get, "never-written")];

  it("a tiny budget on a hard history returns unknown, never violation", () => {
    const r = checkLinearizable(hard, registerModel, { maxSteps: 50 });
    expect(r).toEqual({ verdict: "unknown", steps: 50 });
  });

  it("the default budget proves the hard history violates", () => {
    expect(checkLinearizable(hard, registerModel).verdict).toBe("violation");
  });

  // Timed-out reads are dropped (they change nothing), but each timed-out write stays pending to
  // the end, so proving a violation late in a history with many of them can take exponentially
  // many steps; the checker then says "unknown", never "ok".
  const plan200 = (noTimeouts: boolean): Planned[] => {
    const [plan] = fc.sample(fc.array(plannedArb(20), { minLength: 200, maxLength: 200 }), { seed: 11, numRuns: 1 });
    return (plan as Planned[]).map((p) => (noTimeouts ? { ...p, fate: 2 } : p));
  };

  for (const kind of kinds) {
    it(`200 ops from 5 concurrent clients on one ${kind.name}: a verdict within the default budget`, () => {
      const ops = runPlan(plan200(false), kind.model, kind.callOf);
      expect(ops.length).toBeGreaterThan(150);
      expect(ops.filter((o) => o.completeMs === null).length).toBeGreaterThan(10);
      expect(checkLinearizable(ops, kind.model).verdict).toBe("ok");
      expect(checkLinearizable(corrupt(ops, 97) as Op[], kind.model).verdict).not.toBe("ok");
    });

    it(`200 ops from 5 concurrent clients on one ${kind.name}, none timed out: a corrupted read is found`, () => {
      const ops = runPlan(plan200(true), kind.model, kind.callOf);
      for (const victim of [0, 33, 66, 99]) expect(checkLinearizable(corrupt(ops, victim) as Op[], kind.model).verdict).toBe("violation");
    });
  }

  it("reads of unknown outcome are dropped: they cannot slow the search", () => {
    const reads = Array.from({ length: 30 }, (_, i) => info(`r${i}`, 0, get));
    const ops = [...reads, ok("c1", 1, 2, set("a"), "OK"), ok("c1", 3, 4, set("b"), "OK"), ok("c2", 5, 6, get, "a")];
    expect(checkLinearizable(ops, registerModel, { maxSteps: 20 }).verdict).toBe("violation");
  });
});
