import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Effect, Input, Machine } from "./machine.js";
import { DurableGate, NodeRunner } from "./runner.js";

type Msg = { readonly type: "m"; readonly n: number };
type Fx = Effect<Msg, string>;

const persist = (id: number, file = "f"): Fx => ({ kind: "persist", id, file, op: "append", record: id, sync: true });
const send = (n: number, after?: number): Fx =>
  after === undefined ? { kind: "send", to: "b", msg: { type: "m", n } } : { kind: "send", to: "b", msg: { type: "m", n }, after };
const reply = (v: string, after?: number): Fx =>
  after === undefined ? { kind: "reply", client: "c", reqId: 1, value: v } : { kind: "reply", client: "c", reqId: 1, value: v, after };
const trace = (tag: string, after?: number): Fx =>
  after === undefined ? { kind: "trace", event: { type: tag } } : { kind: "trace", event: { type: tag }, after };

/** A short label per effect, so orders compare readably. */
function label(e: Fx): string {
  switch (e.kind) {
    case "send":
      return `send:${e.msg.n}`;
    case "reply":
      return `reply:${e.value}`;
    case "trace":
      return `trace:${e.event.type}`;
    case "persist":
      return `persist:${e.id}`;
    case "set-timer":
      return `set:${e.name}`;
    case "cancel-timer":
      return `cancel:${e.name}`;
    case "push":
      return `push:${e.value}`;
    case "close":
      return `close:${e.client}`;
  }
}
const labels = (fx: readonly Fx[]): string[] => fx.map(label);

describe("DurableGate", () => {
  it("passes effects without `after` through at once, persists included", () => {
    const g = new DurableGate<Msg, string>();
    const fx: Fx[] = [persist(0), send(1), { kind: "set-timer", name: "t", atMs: 5 }, reply("r"), trace("x")];
    expect(labels(g.admit(fx))).toEqual(["persist:0", "send:1", "set:t", "reply:r", "trace:x"]);
    expect(g.heldCount).toBe(0);
  });

  it("holds send, reply and trace effects behind their persist and releases them in emission order", () => {
    const g = new DurableGate<Msg, string>();
    const out = g.admit([persist(0), send(1, 0), trace("vote", 0), send(2), reply("ok", 0), send(3, 0)]);
    expect(labels(out)).toEqual(["persist:0", "send:2"]);
    expect(g.heldCount).toBe(4);
    expect(labels(g.complete(0))).toEqual(["send:1", "trace:vote", "reply:ok", "send:3"]);
    expect(g.heldCount).toBe(0);
  });

  it("keeps each client's replies, pushes and close in order: nothing to a client overtakes its held reply", () => {
    const g = new DurableGate<Msg, string>();
    const to = (client: string, value: string, after?: number): Fx =>
      after === undefined ? { kind: "reply", client, reqId: 1, value } : { kind: "reply", client, reqId: 1, value, after };
    // A SET held for its fsync, then (later steps) a GET, a pub/sub message and QUIT to the same client.
    expect(labels(g.admit([persist(0), to("c", "set-ok", 0)]))).toEqual(["persist:0"]);
    expect(labels(g.admit([to("c", "get"), to("d", "other client")]))).toEqual(["reply:other client"]);
    expect(labels(g.admit([{ kind: "push", client: "c", value: "message" }, { kind: "close", client: "c" }]))).toEqual([]);
    // A later persist the client's next write waits for: released after both, in order.
    expect(labels(g.admit([persist(1), to("c", "set2-ok", 1)]))).toEqual(["persist:1"]);
    expect(labels(g.complete(0))).toEqual(["reply:set-ok", "reply:get", "push:message", "close:c"]);
    expect(labels(g.complete(1))).toEqual(["reply:set2-ok"]);
    // Once nothing is held for it, the client's replies pass at once again.
    expect(labels(g.admit([to("c", "ping")]))).toEqual(["reply:ping"]);
  });

  it("releases only the effects whose own persist completed, even when persists complete out of order", () => {
    const g = new DurableGate<Msg, string>();
    g.admit([persist(1), persist(2), send(10, 1), send(20, 2), send(11, 1), send(21, 2)]);
    expect(labels(g.complete(2))).toEqual(["send:20", "send:21"]);
    expect(g.heldCount).toBe(2);
    expect(labels(g.complete(1))).toEqual(["send:10", "send:11"]);
    expect(g.heldCount).toBe(0);
  });

  it("lets an effect that depends on a completed persist pass straight through", () => {
    const g = new DurableGate<Msg, string>();
    g.admit([persist(0)]);
    expect(g.complete(0)).toEqual([]);
    expect(labels(g.admit([send(1, 0), trace("late", 0)]))).toEqual(["send:1", "trace:late"]);
    expect(g.heldCount).toBe(0);
  });

  it("ignores a completion it does not know, and a repeated one", () => {
    const g = new DurableGate<Msg, string>();
    g.admit([persist(0), send(1, 0)]);
    expect(g.complete(7)).toEqual([]);
    expect(g.heldCount).toBe(1);
    expect(labels(g.complete(0))).toEqual(["send:1"]);
    expect(g.complete(0)).toEqual([]);
  });

  it("does not track a persist with notify: false (nothing waits for it), but keeps its id in order", () => {
    const g = new DurableGate<Msg, string>();
    const quiet: Fx = { kind: "persist", id: 0, file: "aof", op: "append", record: 0, sync: false, notify: false };
    // A client's reply emitted with it is not held: no completion is coming.
    expect(labels(g.admit([quiet, reply("ok")]))).toEqual(["persist:0", "reply:ok"]);
    expect(g.heldCount).toBe(0);
    // A completion reported anyway changes nothing; a later persist still needs a greater id.
    expect(g.complete(0)).toEqual([]);
    expect(() => g.admit([persist(0)])).toThrow(/increase/);
    expect(labels(g.admit([persist(1), send(1, 1)]))).toEqual(["persist:1"]);
    expect(labels(g.complete(1))).toEqual(["send:1"]);
  });

  it("asserts that persist ids increase", () => {
    const g = new DurableGate<Msg, string>();
    g.admit([persist(3)]);
    expect(() => g.admit([persist(3)])).toThrow(/persist ids must increase \(3 after 3\)/);
    expect(() => g.admit([persist(2)])).toThrow(/persist ids must increase/);
    expect(() => new DurableGate<Msg, string>().admit([persist(5), persist(4)])).toThrow(/persist ids must increase \(4 after 5\)/);
  });

  it("asserts that an effect depends on a persist that was requested", () => {
    const g = new DurableGate<Msg, string>();
    expect(() => g.admit([send(1, 0)])).toThrow(/never requested/);
    g.admit([persist(0)]);
    expect(() => g.admit([trace("x", 1)])).toThrow(/never requested/);
  });

  it("holds an effect emitted in a later step behind a persist still in flight", () => {
    const g = new DurableGate<Msg, string>();
    g.admit([persist(0)]);
    expect(g.admit([send(1, 0), send(2)]).map(label)).toEqual(["send:2"]);
    expect(labels(g.complete(0))).toEqual(["send:1"]);
  });

  it("property: every gated effect leaves exactly once, after its persist completed, in emission order per persist", () => {
    // A random program: persists with increasing ids, effects depending on some earlier persist
    // (or on none), completions in a random order.
    const program = fc
      .tuple(fc.integer({ min: 1, max: 6 }), fc.array(fc.option(fc.nat(), { nil: undefined }), { maxLength: 30 }))
      .chain(([persists, effects]) =>
        fc.tuple(fc.constant(persists), fc.constant(effects), fc.shuffledSubarray([...Array(persists).keys()], { minLength: persists, maxLength: persists })),
      );
    fc.assert(
      fc.property(program, ([persists, effects, completionOrder]) => {
        const g = new DurableGate<Msg, string>();
        g.admit([...Array(persists).keys()].map((i) => persist(i)));
        const done = new Set<number>();
        const out: { n: number; after: number | undefined }[] = [];
        const emitted: { n: number; after: number | undefined }[] = [];
        const record = (fx: Fx[]): void => {
          for (const e of fx) {
            if (e.kind !== "send") continue;
            const after = emitted[e.msg.n]?.after;
            // Nothing leaves before its persist completed.
            if (after !== undefined) expect(done.has(after)).toBe(true);
            out.push({ n: e.msg.n, after });
          }
        };
        // Interleave: emit half the effects, then complete persists one by one, emitting the rest between.
        let i = 0;
        const emitSome = (k: number): void => {
          const batch: Fx[] = [];
          for (; i < effects.length && k > 0; i++, k--) {
            const dep = effects[i];
            const after = dep === undefined ? undefined : dep % persists;
            emitted.push({ n: i, after });
            batch.push(send(i, after));
          }
          record(g.admit(batch));
        };
        emitSome(Math.ceil(effects.length / 2));
        for (const id of completionOrder) {
          done.add(id);
          record(g.complete(id));
          emitSome(2);
        }
        emitSome(effects.length);
        // Exactly once each.
        expect(out.map((o) => o.n).sort((a, b) => a - b)).toEqual(emitted.map((e) => e.n));
        expect(g.heldCount).toBe(0);
        // Per persist, effects leave in the order they were emitted.
        for (let p = 0; p < persists; p++) {
          const seq = out.filter((o) => o.after === p).map((o) => o.n);
          expect(seq).toEqual([...seq].sort((a, b) => a - b));
        }
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});

/** A scripted machine: returns the next prepared effect list at every step, recording its inputs. */
class Scripted implements Machine<Msg, string, string> {
  readonly inputs: string[] = [];
  constructor(private readonly script: Fx[][]) {}
  step(input: Input<Msg, string>, _nowMs: number): Fx[] {
    this.inputs.push(input.kind === "persisted" ? `persisted:${input.id}` : input.kind);
    return this.script.shift() ?? [];
  }
}

describe("NodeRunner", () => {
  it("releases held effects on the persisted input, before the machine's own reaction to it", () => {
    const m = new Scripted([[persist(0), trace("vote", 0), send(1, 0), send(2)], [send(3)]]);
    const r = new NodeRunner(m);
    expect(labels(r.step({ kind: "start", recovered: null }, 0))).toEqual(["persist:0", "send:2"]);
    expect(r.heldCount).toBe(2);
    expect(labels(r.step({ kind: "persisted", id: 0 }, 1))).toEqual(["trace:vote", "send:1", "send:3"]);
    expect(r.heldCount).toBe(0);
    expect(m.inputs).toEqual(["start", "persisted:0"]);
  });

  it("holds a trace effect with `after` like a send: a vote event is not visible before the vote is durable", () => {
    const m = new Scripted([[persist(0), trace("vote", 0)], [], []]);
    const r = new NodeRunner(m);
    expect(labels(r.step({ kind: "start", recovered: null }, 0))).toEqual(["persist:0"]);
    expect(labels(r.step({ kind: "timer", name: "t" }, 1))).toEqual([]);
    expect(labels(r.step({ kind: "persisted", id: 0 }, 2))).toEqual(["trace:vote"]);
  });

  it("effects of a later step that depend on a completed persist pass through", () => {
    const m = new Scripted([[persist(0)], [], [reply("r", 0)]]);
    const r = new NodeRunner(m);
    r.step({ kind: "start", recovered: null }, 0);
    r.step({ kind: "persisted", id: 0 }, 1);
    expect(labels(r.step({ kind: "timer", name: "t" }, 2))).toEqual(["reply:r"]);
  });

  it("propagates the gate's assertion when a machine reuses a persist id", () => {
    const m = new Scripted([[persist(1)], [persist(1)]]);
    const r = new NodeRunner(m);
    r.step({ kind: "start", recovered: null }, 0);
    expect(() => r.step({ kind: "timer", name: "t" }, 1)).toThrow(/persist ids must increase/);
  });
});
