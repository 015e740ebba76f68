// The pure half of `faultline cluster`: CLUSTER NODES parsing, the create plan, the check's
// verdicts and the reshard's choices. (The commands against real nodes are test/real/.)

import { describe, expect, it } from "vitest";
import { SlotSet } from "../core/cluster/slots.js";
import { checkCluster, configSignature, findNode, type NodeView, parseAddress, parseClusterNodes, pickSlots, planCreate, slotsText } from "./cluster-table.js";

const A = "a".repeat(40);
const B = "b".repeat(40);
const C = "c".repeat(40);
const D = "d".repeat(40);

/** A 3-master table as node A prints it (redis-server 7.0's format), D replicating A. */
function table(opts: { readonly aExtra?: string; readonly cSlots?: string; readonly me?: string } = {}): string {
  const me = opts.me ?? A;
  const f = (id: string, flags: string) => (id === me ? `myself,${flags}` : flags);
  return (
    `${A} 127.0.0.1:7000@17000 ${f(A, "master")} - 0 0 1 connected 0-5460${opts.aExtra ?? ""}\n` +
    `${B} 127.0.0.1:7001@17001 ${f(B, "master")} - 0 1700000000000 2 connected 5461-10922\n` +
    `${C} 127.0.0.1:7002@17002,host-c ${f(C, "master")} - 0 1700000000000 3 connected ${opts.cSlots ?? "10923-16383"}\n` +
    `${D} 127.0.0.1:7003@17003 ${f(D, "slave")} ${A} 0 1700000000000 1 connected\n`
  );
}

describe("parseClusterNodes", () => {
  it("reads ids, addresses (hostname dropped), roles, masters, epochs, links and slots", () => {
    const t = parseClusterNodes(table());
    expect(t.map((e) => [e.id[0], e.address, e.myself, e.master, e.masterId?.[0] ?? null, e.configEpoch, e.connected, e.slots.toString()])).toEqual([
      ["a", "127.0.0.1:7000", true, true, null, 1, true, "0-5460"],
      ["b", "127.0.0.1:7001", false, true, null, 2, true, "5461-10922"],
      ["c", "127.0.0.1:7002", false, true, null, 3, true, "10923-16383"],
      ["d", "127.0.0.1:7003", false, false, "a", 1, true, ""],
    ]);
  });

  it("reads open slots ([n->-id] migrating, [n-<-id] importing) apart from owned ones", () => {
    const [a] = parseClusterNodes(table({ aExtra: ` [17->-${B}] [6000-<-${C}]` }));
    expect(a?.slots.size).toBe(5461);
    expect([...(a?.migrating ?? [])]).toEqual([[17, B]]);
    expect([...(a?.importing ?? [])]).toEqual([[6000, C]]);
  });

  it("reads IPv6 addresses and refuses lines it cannot read", () => {
    expect(parseClusterNodes(`${A} ::1:7000@17000 myself,master - 0 0 1 connected\n`)[0]?.address).toBe("[::1]:7000");
    expect(() => parseClusterNodes(`${A} 127.0.0.1:7000@17000 master -\n`)).toThrow("CLUSTER NODES line with 4 fields");
    expect(() => parseClusterNodes(`${A} 127.0.0.1:7000@17000 master - 0 0 1 connected x-y\n`)).toThrow("bad slot entry x-y");
  });
});

describe("parseAddress", () => {
  it.each([
    ["127.0.0.1:7000", { host: "127.0.0.1", port: 7000 }],
    ["localhost:1", { host: "localhost", port: 1 }],
    ["[::1]:7000", { host: "::1", port: 7000 }],
    ["7000", null],
    ["127.0.0.1:0", null],
    ["127.0.0.1:65536", null],
    ["127.0.0.1:", null],
  ])("%s", (text, want) => expect(parseAddress(text)).toEqual(want));
});

describe("planCreate", () => {
  const nodes = (n: number) => Array.from({ length: n }, (_, i) => `127.0.0.1:${7000 + i}`);

  it("makes the first nodes/(replicas+1) masters with redis-cli's ranges, the rest replicas round robin", () => {
    expect(planCreate(nodes(7), 1)).toEqual({
      masters: [
        { address: "127.0.0.1:7000", slots: [0, 5460] },
        { address: "127.0.0.1:7001", slots: [5461, 10922] },
        { address: "127.0.0.1:7002", slots: [10923, 16383] },
      ],
      replicas: [
        { address: "127.0.0.1:7003", of: "127.0.0.1:7000" },
        { address: "127.0.0.1:7004", of: "127.0.0.1:7001" },
        { address: "127.0.0.1:7005", of: "127.0.0.1:7002" },
        { address: "127.0.0.1:7006", of: "127.0.0.1:7000" },
      ],
    });
    expect(planCreate(nodes(4), 0).masters.map((m) => m.slots)).toEqual([
      [0, 4095],
      [4096, 8191],
      [8192, 12287],
      [12288, 16383],
    ]);
  });

  it.each([
    [nodes(5), 1, "Redis Cluster requires at least 3 master nodes: that is not possible with 5 nodes and 1 replicas per master; at least 6 nodes are needed"],
    [nodes(2), 0, "at least 3 nodes are needed"],
    [[...nodes(3), "127.0.0.1:7000"], 0, "127.0.0.1:7000 is given twice"],
    [["127.0.0.1:7000", "127.0.0.1:7001", "7002"], 0, "not a host:port address: 7002"],
    [nodes(6), -1, "--replicas must be a whole number ≥ 0, not -1"],
  ])("refuses %j with %i replicas", (addresses, replicas, error) => {
    expect(() => planCreate(addresses, replicas)).toThrow(error);
  });
});

describe("checkCluster", () => {
  const view = (text: string, address = "127.0.0.1:7000"): NodeView => ({ address, entries: parseClusterNodes(text) });
  const keys = new Map([
    [A, 3],
    [B, 0],
    [C, 1],
  ]);

  it("passes a cluster whose nodes agree, with no open slot and every slot covered, and prints redis-cli's report", () => {
    const r = checkCluster([view(table()), view(table({ me: B }), "127.0.0.1:7001"), view(table({ me: C }), "127.0.0.1:7002"), view(table({ me: D }), "127.0.0.1:7003")], keys);
    expect(r.ok).toBe(true);
    expect(r.lines).toEqual([
      "127.0.0.1:7000 (aaaaaaaa...) -> 3 keys | 5461 slots | 1 slaves.",
      "127.0.0.1:7001 (bbbbbbbb...) -> 0 keys | 5462 slots | 0 slaves.",
      "127.0.0.1:7002 (cccccccc...) -> 1 keys | 5461 slots | 0 slaves.",
      "[OK] 4 keys in 3 masters.",
      "0.00 keys per slot on average.",
      ">>> Performing Cluster Check (using node 127.0.0.1:7000)",
      `M: ${A} 127.0.0.1:7000`,
      "   slots:[0-5460] (5461 slots) master",
      "   1 additional replica(s)",
      `M: ${B} 127.0.0.1:7001`,
      "   slots:[5461-10922] (5462 slots) master",
      `M: ${C} 127.0.0.1:7002`,
      "   slots:[10923-16383] (5461 slots) master",
      `S: ${D} 127.0.0.1:7003`,
      "   slots: (0 slots) slave",
      `   replicates ${A}`,
      "[OK] All nodes agree about slots configuration.",
      ">>> Check for open slots...",
      ">>> Check slots coverage...",
      "[OK] All 16384 slots covered.",
    ]);
  });

  it("fails on disagreement, an open slot, a hole in coverage and an unreachable node, saying which", () => {
    const r = checkCluster(
      [
        view(table({ aExtra: ` [17->-${B}]`, cSlots: "10923-16382" })),
        view(table({ me: B }), "127.0.0.1:7001"),
        { address: "127.0.0.1:7002", error: "cannot connect to 127.0.0.1:7002: ECONNREFUSED" },
      ],
      new Map([
        [A, 3],
        [B, 0],
      ]),
    );
    expect({ ok: r.ok, agree: r.agree, open: r.openSlots, covered: r.covered, unreachable: r.unreachable }).toEqual({
      ok: false,
      agree: false,
      open: [17],
      covered: 16383,
      unreachable: ["127.0.0.1:7002"],
    });
    expect(r.lines.filter((l) => l.startsWith("["))).toEqual([
      "[OK] 3 keys in 2 masters. (1 more not asked)",
      "[ERR] cannot connect to 127.0.0.1:7002: ECONNREFUSED",
      "[ERR] Nodes don't agree about configuration!",
      "[WARNING] Node 127.0.0.1:7000 has slots in migrating state 17.",
      "[WARNING] The following slots are open: 17.",
      "[ERR] Not all 16384 slots are covered by nodes (16383 are).",
    ]);
  });
});

describe("reshard helpers", () => {
  const t = parseClusterNodes(table());

  it("findNode takes an address, a full id or a unique prefix of 8+ characters", () => {
    expect(findNode(t, "127.0.0.1:7001").id).toBe(B);
    expect(findNode(t, C).id).toBe(C);
    expect(findNode(t, "dddddddd").id).toBe(D);
    expect(() => findNode(t, "dddd")).toThrow("no node dddd in the cluster");
    expect(() => findNode(t, "127.0.0.1:7009")).toThrow("no node 127.0.0.1:7009 in the cluster");
  });

  it("pickSlots takes the source's lowest slots across its ranges", () => {
    expect(pickSlots(SlotSet.parse("3-5,9,100-200"), 5)).toEqual([3, 4, 5, 9, 100]);
    expect(pickSlots(SlotSet.parse("3-5"), 10)).toEqual([3, 4, 5]);
  });

  it("configSignature ignores replicas, order and who is asked; slotsText prints redis-cli's ranges", () => {
    expect(configSignature(parseClusterNodes(table()))).toBe(configSignature(parseClusterNodes(table({ me: D }))));
    expect(configSignature(parseClusterNodes(table()))).not.toBe(configSignature(parseClusterNodes(table({ cSlots: "10923-16382" }))));
    expect(slotsText(SlotSet.parse("0-5,9"))).toBe("[0-5],[9]");
  });
});
