import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventQueue, type Scheduled } from "./queue.js";

interface Ev extends Scheduled {
  readonly tag: number;
}

const byTimeThenSeq = (a: Scheduled, b: Scheduled): number => a.atUs - b.atUs || a.seq - b.seq;

function drain(q: EventQueue<Ev>): Ev[] {
  const out: Ev[] = [];
  for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(e);
  return out;
}

describe("EventQueue", () => {
  it("is empty when new: pop and peek return undefined", () => {
    const q = new EventQueue<Ev>();
    expect(q.size).toBe(0);
    expect(q.peek()).toBeUndefined();
    expect(q.pop()).toBeUndefined();
  });

  it("hands out increasing sequence numbers", () => {
    const q = new EventQueue<Ev>();
    expect([q.nextSeq(), q.nextSeq(), q.nextSeq()]).toEqual([0, 1, 2]);
  });

  it("breaks ties between equal times by seq, whatever the push order", () => {
    const q = new EventQueue<Ev>();
    for (const seq of [5, 1, 4, 0, 3, 2]) q.push({ atUs: 10, seq, tag: seq });
    q.push({ atUs: 9, seq: 99, tag: -1 });
    expect(drain(q).map((e) => e.seq)).toEqual([99, 0, 1, 2, 3, 4, 5]);
  });

  it("property: popping yields every pushed event once, sorted by (atUs, seq), for any push order", () => {
    // Times from a small range so ties are common; seqs distinct (as nextSeq makes them) but
    // pushed in arbitrary order.
    const events = fc.uniqueArray(fc.record({ atUs: fc.integer({ min: 0, max: 20 }), seq: fc.nat({ max: 10_000 }) }), {
      selector: (e) => e.seq,
      maxLength: 200,
    });
    fc.assert(
      fc.property(events, (evs) => {
        const q = new EventQueue<Ev>();
        const pushed = evs.map((e, tag) => ({ ...e, tag }));
        for (const e of pushed) q.push(e);
        expect(q.size).toBe(pushed.length);
        expect(drain(q)).toEqual([...pushed].sort(byTimeThenSeq));
        expect(q.size).toBe(0);
      }),
      { seed: 1, numRuns: 300 },
    );
  });

  it("property: interleaved pushes and pops always pop the least pending (atUs, seq), and peek agrees", () => {
    type Op = { readonly push: number } | { readonly pop: true };
    const ops = fc.array(fc.oneof(fc.record({ push: fc.integer({ min: 0, max: 15 }) }), fc.constant({ pop: true as const })), { maxLength: 300 });
    fc.assert(
      fc.property(ops, (script: Op[]) => {
        const q = new EventQueue<Ev>();
        const model: Ev[] = [];
        for (const op of script) {
          if ("push" in op) {
            const e = { atUs: op.push, seq: q.nextSeq(), tag: model.length };
            q.push(e);
            model.push(e);
          } else {
            model.sort(byTimeThenSeq);
            const want = model.shift();
            expect(q.peek()).toBe(want);
            expect(q.pop()).toBe(want);
          }
          expect(q.size).toBe(model.length);
        }
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});
