import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Distribution } from "./latency.js";
import { CLOGGED_MESSAGES_MAX, Network, type NetworkConfig, type NetworkMode, Partition, type Plan } from "./network.js";
import { Streams } from "./random.js";

const NODES = ["a", "b", "c", "d", "e", "f"];

function net(mode: NetworkMode, over: Partial<NetworkConfig> = {}, seed = 1): Network<number> {
  const latency: Distribution = { dist: "uniform", minMs: 1, maxMs: 50 };
  return new Network<number>({ mode, latency, links: [], loss: 0, duplicate: 0, ...over }, new Streams(seed));
}

function deliver(p: Plan): { arrivalsUs: readonly number[]; epoch: number } {
  if (p.kind !== "deliver") throw new Error(`expected deliver, got ${JSON.stringify(p)}`);
  return p;
}

/** Any assignment of nodes to groups 0..k-1, or to no group; empty groups dropped, at least two kept. */
const groupsArb = fc
  .tuple(fc.integer({ min: 2, max: 4 }), fc.array(fc.integer({ min: -1, max: 3 }), { minLength: NODES.length, maxLength: NODES.length }))
  .map(([k, assign]) => {
    const groups: string[][] = Array.from({ length: k }, () => []);
    assign.forEach((g, i) => {
      if (g >= 0 && g < k) groups[g]?.push(NODES[i] as string);
    });
    return groups;
  });

const groupOf = (groups: readonly (readonly string[])[], n: string): number => groups.findIndex((g) => g.includes(n));

describe("Partition", () => {
  it("property: a two-way partition blocks exactly the pairs in different groups, and symmetrically", () => {
    fc.assert(
      fc.property(groupsArb, (groups) => {
        const p = new Partition("p1", groups, false);
        for (const x of NODES) {
          for (const y of NODES) {
            const gx = groupOf(groups, x);
            const gy = groupOf(groups, y);
            expect(p.blocks(x, y)).toBe(p.blocks(y, x));
            expect(p.blocks(x, y)).toBe(gx >= 0 && gy >= 0 && gx !== gy);
          }
        }
      }),
      { seed: 21, numRuns: 300 },
    );
  });

  it("property: a one-way partition blocks only traffic from group 0 to group 1", () => {
    fc.assert(
      fc.property(groupsArb, (groups) => {
        const p = new Partition("p1", groups, true);
        for (const x of NODES) {
          for (const y of NODES) expect(p.blocks(x, y)).toBe(groupOf(groups, x) === 0 && groupOf(groups, y) === 1);
        }
      }),
      { seed: 22, numRuns: 300 },
    );
  });

  it("never blocks a node that is in no group (a client, say)", () => {
    const p = new Partition("p1", [["a"], ["b"]], false);
    expect(p.blocks("a", "client")).toBe(false);
    expect(p.blocks("client", "b")).toBe(false);
  });

  it("describes itself", () => {
    expect(new Partition("p1", [["a", "b"], ["c"]], false).describe()).toBe("[a,b] | [c]");
    expect(new Partition("p2", [["a"], ["b", "c"]], true).describe()).toBe("[a] -/-> [b,c]");
  });
});

describe("Network partitions", () => {
  it("property: declared-symmetric partitions drop messages both ways, in both modes", () => {
    fc.assert(
      fc.property(groupsArb, fc.constantFrom<NetworkMode>("tcp", "datagram"), (groups, mode) => {
        const n = net(mode);
        n.addPartition(groups, false);
        for (const x of NODES) {
          for (const y of NODES) {
            if (x === y) continue;
            expect(n.blocked(x, y)).toBe(n.blocked(y, x));
            const there = n.plan(x, y, 0);
            const back = n.plan(y, x, 0);
            expect(there.kind === "drop").toBe(back.kind === "drop");
            if (n.blocked(x, y)) expect(there).toEqual({ kind: "drop", reason: "partition" });
          }
        }
      }),
      { seed: 23, numRuns: 100 },
    );
  });

  it("a one-way partition drops group 0 → group 1 only", () => {
    const n = net("tcp");
    n.addPartition([["a"], ["b", "c"]], true);
    expect(n.plan("a", "b", 0)).toEqual({ kind: "drop", reason: "partition" });
    expect(n.plan("a", "c", 0)).toEqual({ kind: "drop", reason: "partition" });
    expect(n.plan("b", "a", 0).kind).toBe("deliver");
    expect(n.plan("b", "c", 0).kind).toBe("deliver");
  });

  it("heals one partition by id, or all of them", () => {
    const n = net("tcp");
    const p1 = n.addPartition([["a"], ["b"]], false);
    const p2 = n.addPartition([["c"], ["d"]], false);
    expect(p1.id).not.toBe(p2.id);
    expect(n.heal("nope")).toBeUndefined();
    expect(n.heal(p1.id)).toBe(p1);
    expect(n.blocked("a", "b")).toBe(false);
    expect(n.blocked("c", "d")).toBe(true);
    expect(n.activePartitions()).toEqual([p2]);
    n.addPartition([["e"], ["f"]], true);
    expect(n.healAll()).toHaveLength(2);
    expect(n.activePartitions()).toEqual([]);
    expect(n.blocked("c", "d")).toBe(false);
    expect(n.blocked("e", "f")).toBe(false);
  });

  it("tcp: a partition breaks the connections it cuts (in-flight messages die), and only those", () => {
    const n = net("tcp");
    const ab = deliver(n.plan("a", "b", 0)).epoch;
    const ba = deliver(n.plan("b", "a", 0)).epoch;
    const cd = deliver(n.plan("c", "d", 0)).epoch;
    n.addPartition([["a"], ["b"]], false);
    expect(n.alive("a", "b", ab)).toBe(false);
    expect(n.alive("b", "a", ba)).toBe(false);
    expect(n.alive("c", "d", cd)).toBe(true);
  });

  it("tcp: a one-way partition breaks only the connection it cuts", () => {
    const n = net("tcp");
    const ab = deliver(n.plan("a", "b", 0)).epoch;
    const ba = deliver(n.plan("b", "a", 0)).epoch;
    n.addPartition([["a"], ["b"]], true);
    expect(n.alive("a", "b", ab)).toBe(false);
    expect(n.alive("b", "a", ba)).toBe(true);
  });

  it("datagram: a partition does not kill messages already on the wire (the world checks at arrival)", () => {
    const n = net("datagram");
    const ab = deliver(n.plan("a", "b", 0)).epoch;
    n.addPartition([["a"], ["b"]], false);
    expect(n.alive("a", "b", ab)).toBe(true);
  });
});

describe("Network ordering", () => {
  type Op = { readonly send: number } | { readonly clog: true } | { readonly unclog: true };
  const ops = fc.array(
    fc.oneof(
      { weight: 8, arbitrary: fc.record({ send: fc.nat({ max: 20_000 }) }) },
      { weight: 1, arbitrary: fc.constant<Op>({ clog: true }) },
      { weight: 1, arbitrary: fc.constant<Op>({ unclog: true }) },
    ),
    { maxLength: 200 },
  );

  it("property: tcp links are FIFO — arrival times never decrease in send order, clogging included", () => {
    fc.assert(
      fc.property(ops, fc.integer({ min: 1, max: 1000 }), (script, seed) => {
        const n = net("tcp", { latency: { dist: "uniform", minMs: 0.1, maxMs: 30 } }, seed);
        let now = 0;
        let sent = 0;
        const arrival = new Map<number, number>();
        const sentAt: number[] = [];
        for (const op of script) {
          if ("send" in op) {
            now += op.send; // send gaps in µs, often shorter than the latency spread
            const id = sent++;
            sentAt.push(now);
            const p = n.plan("a", "b", now);
            if (p.kind === "held") n.hold("a", "b", id);
            else for (const t of deliver(p).arrivalsUs) arrival.set(id, t);
          } else if ("clog" in op) n.clog("a", "b");
          else for (const r of n.unclog("a", "b", now)) arrival.set(r.payload, r.arrivalUs);
        }
        for (const r of n.unclog("a", "b", now)) arrival.set(r.payload, r.arrivalUs);
        expect(arrival.size).toBe(sent);
        const times = [...Array(sent).keys()].map((i) => arrival.get(i) as number);
        for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1] as number);
        for (const [id, t] of arrival) expect(t).toBeGreaterThan(sentAt[id] as number);
      }),
      { seed: 31, numRuns: 200 },
    );
  });

  it("datagram links reorder", () => {
    const n = net("datagram");
    const times = Array.from({ length: 50 }, () => deliver(n.plan("a", "b", 0)).arrivalsUs[0] as number);
    expect(times).not.toEqual([...times].sort((x, y) => x - y));
  });

  it("arrivals are at least 1 µs after the send and use per-link overrides", () => {
    const n = net("tcp", { links: [{ from: "a", to: "b", latency: { dist: "constant", ms: 7 } }] });
    expect(deliver(n.plan("a", "b", 100)).arrivalsUs).toEqual([7_100]);
    const other = deliver(n.plan("b", "a", 100)).arrivalsUs[0] as number;
    expect(other).toBeGreaterThanOrEqual(100 + 1_000);
    expect(other).toBeLessThanOrEqual(100 + 50_000);
  });
});

describe("Network loss and duplication", () => {
  it("tcp: a lost message resets the connection — the link epoch moves, so what was in flight dies", () => {
    const n = net("tcp");
    const before = deliver(n.plan("a", "b", 0)).epoch;
    n.config = { ...n.config, loss: 1 };
    expect(n.plan("a", "b", 10)).toEqual({ kind: "drop", reason: "loss" });
    expect(n.alive("a", "b", before)).toBe(false);
    n.config = { ...n.config, loss: 0 };
    const after = deliver(n.plan("a", "b", 20)).epoch;
    expect(after).toBeGreaterThan(before);
    expect(n.alive("a", "b", after)).toBe(true);
    // The reverse direction is its own connection.
    const back = deliver(n.plan("b", "a", 20)).epoch;
    expect(n.alive("b", "a", back)).toBe(true);
  });

  it("datagram: a lost message takes nothing else with it", () => {
    const n = net("datagram");
    const before = deliver(n.plan("a", "b", 0)).epoch;
    n.config = { ...n.config, loss: 1 };
    expect(n.plan("a", "b", 10)).toEqual({ kind: "drop", reason: "loss" });
    expect(n.alive("a", "b", before)).toBe(true);
  });

  it("loses about the configured fraction of messages", () => {
    const n = net("datagram", { loss: 0.3 });
    let lost = 0;
    for (let i = 0; i < 2000; i++) if (n.plan("a", "b", i).kind === "drop") lost += 1;
    expect(lost).toBeGreaterThan(2000 * 0.25);
    expect(lost).toBeLessThan(2000 * 0.35);
  });

  it("duplicates only in datagram mode", () => {
    const tcp = net("tcp", { duplicate: 1 });
    const dgram = net("datagram", { duplicate: 1 });
    for (let i = 0; i < 20; i++) {
      expect(deliver(tcp.plan("a", "b", i)).arrivalsUs).toHaveLength(1);
      expect(deliver(dgram.plan("a", "b", i)).arrivalsUs).toHaveLength(2);
    }
    expect(deliver(net("datagram", { duplicate: 0 }).plan("a", "b", 0)).arrivalsUs).toHaveLength(1);
  });

  it("resetNode breaks every tcp connection to and from the node, and no other", () => {
    const n = net("tcp");
    const ab = deliver(n.plan("a", "b", 0)).epoch;
    const ca = deliver(n.plan("c", "a", 0)).epoch;
    const bc = deliver(n.plan("b", "c", 0)).epoch;
    n.resetNode("a");
    expect(n.alive("a", "b", ab)).toBe(false);
    expect(n.alive("c", "a", ca)).toBe(false);
    expect(n.alive("b", "c", bc)).toBe(true);
    const d = net("datagram");
    const e = deliver(d.plan("a", "b", 0)).epoch;
    d.resetNode("a");
    expect(d.alive("a", "b", e)).toBe(true);
  });
});

describe("Network clogging", () => {
  it("holds messages on a clogged link and releases them in order on unclog", () => {
    const n = net("tcp");
    n.clog("a", "b");
    expect(n.cloggedLinks()).toEqual([["a", "b"]]);
    for (let i = 0; i < 5; i++) {
      expect(n.plan("a", "b", i * 10)).toEqual({ kind: "held" });
      expect(n.hold("a", "b", i)).toEqual([]);
    }
    // Other links and the reverse direction are not clogged.
    expect(n.plan("b", "a", 0).kind).toBe("deliver");
    expect(n.plan("a", "c", 0).kind).toBe("deliver");
    const released = n.unclog("a", "b", 1_000_000);
    expect(released.map((r) => r.payload)).toEqual([0, 1, 2, 3, 4]);
    for (const r of released) expect(r.arrivalUs).toBeGreaterThan(1_000_000);
    const ts = released.map((r) => r.arrivalUs);
    expect(ts).toEqual([...ts].sort((x, y) => x - y));
    for (const r of released) expect(n.alive("a", "b", r.epoch)).toBe(true);
    expect(n.cloggedLinks()).toEqual([]);
    expect(n.plan("a", "b", 1_000_000).kind).toBe("deliver");
    expect(n.unclog("a", "b", 1_000_000)).toEqual([]);
  });

  it("a partition still drops messages on a clogged link (partition is checked first)", () => {
    const n = net("tcp");
    n.clog("a", "b");
    n.addPartition([["a"], ["b"]], false);
    expect(n.plan("a", "b", 0)).toEqual({ kind: "drop", reason: "partition" });
  });

  it("datagram: bounds what one clogged link holds by dropping the oldest", () => {
    const n = net("datagram");
    n.clog("a", "b");
    let evicted = 0;
    for (let i = 0; i < CLOGGED_MESSAGES_MAX; i++) evicted += n.hold("a", "b", i).length;
    expect(evicted).toBe(0);
    expect(n.hold("a", "b", CLOGGED_MESSAGES_MAX)).toEqual([0]);
    const released = n.unclog("a", "b", 0);
    expect(released).toHaveLength(CLOGGED_MESSAGES_MAX);
    expect(released[0]?.payload).toBe(1);
  });

  it("tcp: overflowing a clogged link breaks the connection, dropping everything it held", () => {
    const n = net("tcp");
    n.clog("a", "b");
    for (let i = 0; i < CLOGGED_MESSAGES_MAX; i++) expect(n.hold("a", "b", i)).toEqual([]);
    const dropped = n.hold("a", "b", CLOGGED_MESSAGES_MAX);
    expect(dropped).toHaveLength(CLOGGED_MESSAGES_MAX + 1);
    expect(dropped[0]).toBe(0);
    n.hold("a", "b", -1);
    const released = n.unclog("a", "b", 0);
    expect(released.map((r) => r.payload)).toEqual([-1]);
    expect(released.every((r) => n.alive("a", "b", r.epoch))).toBe(true);
  });

  // In tcp mode a held message is in flight on the connection: when the connection breaks (a
  // partition, or a loss, which the model treats as a reset) it must die with everything else in
  // flight. Otherwise a stream can show a gap — m1 arrives, m2 is lost, m3 arrives — which a TCP
  // connection never does, and a message sent before a partition arrives after the heal.
  it.each(["partition", "loss"] as const)("tcp: a connection break (%s) while a link is clogged also drops what the link holds", (brk) => {
    const n = net("tcp");
    n.clog("a", "b");
    expect(n.plan("a", "b", 0)).toEqual({ kind: "held" });
    n.hold("a", "b", 1);
    if (brk === "partition") {
      const p = n.addPartition([["a"], ["b"]], false);
      n.heal(p.id);
    } else {
      n.config = { ...n.config, loss: 1 };
      expect(n.plan("a", "b", 10)).toEqual({ kind: "drop", reason: "loss" });
      n.config = { ...n.config, loss: 0 };
    }
    const released = n.unclog("a", "b", 100);
    const survivors = released.filter((r) => n.alive("a", "b", r.epoch)).map((r) => r.payload);
    expect(survivors).toEqual([]);
  });
});
