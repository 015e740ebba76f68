// CLUSTER NODES / SLOTS / SHARDS / REPLICAS / INFO against text written out by hand from Redis
// 7.0's formats (cluster.c), and a round trip through the parse redis-cli's
// clusterManagerNodeLoadInfo does.

import { describe, expect, it } from "vitest";
import { type Plain, plain } from "../keyspace/plain.js";
import type { RespValue } from "../resp/codec.js";
import {
  clusterInfo,
  clusterNodes,
  clusterReplicas,
  clusterShards,
  clusterSlots,
  type ClusterView,
  endpointOf,
  type Endpoint,
  flagsText,
  movedTarget,
  type NodeView,
} from "./format.js";
import { SlotSet } from "./slots.js";
import { FLAG } from "./types.js";

const M1 = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca";
const M2 = "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1";
const M3 = "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f";
const R1 = "07c37dfeb235213a872192d90877d0cd55635b91";
const R2 = "6ec23923021cf3ffec47632106199cb7f496ce01";
const R3 = "824fe116063bc5fcf9f4ffd895bc17aee7731ac3";
const HS = "5b3e2f0c1d9a8e7f6a5b4c3d2e1f0a9b8c7d6e5f";

const ep = (port: number): Endpoint => ({ ip: "127.0.0.1", port, cport: port + 10000 });

function node(name: string, over: Partial<NodeView>): NodeView {
  return {
    name,
    endpoint: ep(30001),
    flags: FLAG.master,
    masterName: null,
    pingSentMs: 0,
    pongReceivedMs: 0,
    configEpoch: 0,
    linkConnected: true,
    slots: SlotSet.EMPTY,
    replOffset: 0,
    health: "online",
    ...over,
  };
}

/** Three masters and a replica each; myself is M1. Replicas' own configEpochs differ from their masters'. */
function healthy(): NodeView[] {
  return [
    node(R1, { endpoint: ep(30004), flags: FLAG.replica, masterName: M1, pongReceivedMs: 1426238317239, configEpoch: 4, replOffset: 1000 }),
    node(M2, { endpoint: ep(30002), pongReceivedMs: 1426238316232, configEpoch: 2, slots: SlotSet.fromRanges([[5461, 10922]]), replOffset: 2000 }),
    node(M3, { endpoint: ep(30003), pongReceivedMs: 1426238318243, configEpoch: 3, slots: SlotSet.fromRanges([[10923, 16383]]), replOffset: 3000 }),
    node(R2, { endpoint: ep(30005), flags: FLAG.replica, masterName: M2, pongReceivedMs: 1426238316232, configEpoch: 5, replOffset: 2000 }),
    node(R3, { endpoint: ep(30006), flags: FLAG.replica, masterName: M3, pongReceivedMs: 1426238317741, configEpoch: 6, replOffset: 3000 }),
    node(M1, { endpoint: ep(30001), flags: FLAG.myself | FLAG.master, configEpoch: 1, slots: SlotSet.fromRanges([[0, 5460]]), replOffset: 1000 }),
  ];
}

function view(nodes: readonly NodeView[], over: Partial<ClusterView> = {}): ClusterView {
  const myself = nodes.find((n) => (n.flags & FLAG.myself) !== 0);
  if (myself === undefined) throw new Error("no myself in the table");
  return {
    nodes,
    myself,
    migrating: new Map(),
    importing: new Map(),
    state: "ok",
    currentEpoch: 6,
    sent: new Map(),
    received: new Map(),
    slotsPfail: 0,
    slotsFail: 0,
    ...over,
  };
}

/** Replaces node `name` in a table. */
function patch(nodes: readonly NodeView[], name: string, over: Partial<NodeView>): NodeView[] {
  return nodes.map((n) => (n.name === name ? { ...n, ...over } : n));
}

const HEALTHY_NODES =
  `${R1} 127.0.0.1:30004@40004 slave ${M1} 0 1426238317239 1 connected\n` +
  `${M2} 127.0.0.1:30002@40002 master - 0 1426238316232 2 connected 5461-10922\n` +
  `${M3} 127.0.0.1:30003@40003 master - 0 1426238318243 3 connected 10923-16383\n` +
  `${R2} 127.0.0.1:30005@40005 slave ${M2} 0 1426238316232 2 connected\n` +
  `${R3} 127.0.0.1:30006@40006 slave ${M3} 0 1426238317741 3 connected\n` +
  `${M1} 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460\n`;

describe("endpointOf / movedTarget", () => {
  it.each([
    ["127.0.0.1:7000", "127.0.0.1", 7000, 17000],
    ["10.0.0.5:6379", "10.0.0.5", 6379, 16379],
    ["n1", "n1", 6379, 16379],
    ["[::1]:7000", "::1", 7000, 17000],
    ["::1:7000", "::1", 7000, 17000],
    ["[fe80::1]", "fe80::1", 6379, 16379],
    ["host:port", "host:port", 6379, 16379],
    ["host:70000", "host:70000", 6379, 16379],
    ["host:", "host:", 6379, 16379],
  ])("%s", (address, ip, port, cport) => {
    expect(endpointOf(address)).toEqual({ ip, port, cport });
  });

  it.each([
    ["127.0.0.1:7000", "127.0.0.1:7000"],
    ["[::1]:7000", "::1:7000"],
    ["n1", "n1:6379"],
  ])("MOVED target of %s is %s", (address, target) => {
    expect(movedTarget(endpointOf(address))).toBe(target);
  });
});

describe("flags", () => {
  it.each([
    [FLAG.myself | FLAG.master, "myself,master"],
    [FLAG.myself | FLAG.replica, "myself,slave"],
    [FLAG.replica | FLAG.pfail, "slave,fail?"],
    [FLAG.master | FLAG.fail | FLAG.noaddr, "master,fail,noaddr"],
    [FLAG.pfail | FLAG.fail, "fail?,fail"],
    [FLAG.handshake | FLAG.meet, "handshake"],
    [FLAG.replica | FLAG.nofailover, "slave,nofailover"],
    [FLAG.master | FLAG.migrateTo, "master"],
    [0, "noflags"],
    [FLAG.meet, "noflags"],
    [FLAG.nofailover | FLAG.noaddr | FLAG.handshake | FLAG.fail | FLAG.pfail | FLAG.replica | FLAG.master | FLAG.myself, "myself,master,slave,fail?,fail,handshake,noaddr,nofailover"],
  ])("%i → %s", (flags, text) => {
    expect(flagsText(flags)).toBe(text);
  });
});

describe("CLUSTER NODES", () => {
  it.each<[string, () => ClusterView, string]>([
    ["three masters with a replica each (replicas print their master's epoch)", () => view(healthy()), HEALTHY_NODES],
    [
      "a node in handshake: ping pending, no pong, epoch 0, no link",
      () =>
        view([
          node(M1, { flags: FLAG.myself | FLAG.master, configEpoch: 1, slots: SlotSet.fromRanges([[0, 16383]]) }),
          node(HS, { endpoint: ep(30007), flags: FLAG.handshake | FLAG.meet, pingSentMs: 1700000000123, linkConnected: false }),
        ]),
      `${M1} 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-16383\n` +
        `${HS} 127.0.0.1:30007@40007 handshake - 1700000000123 0 0 disconnected\n`,
    ],
    [
      "a FAIL master and its PFAIL replica keep their lines and slots",
      () =>
        view(
          patch(patch(healthy(), M3, { flags: FLAG.master | FLAG.fail, linkConnected: false, pingSentMs: 1426238320000 }), R3, {
            flags: FLAG.replica | FLAG.pfail,
          }),
        ),
      HEALTHY_NODES.replace(
        `${M3} 127.0.0.1:30003@40003 master - 0 1426238318243 3 connected`,
        `${M3} 127.0.0.1:30003@40003 master,fail - 1426238320000 1426238318243 3 disconnected`,
      ).replace(`${R3} 127.0.0.1:30006@40006 slave ${M3}`, `${R3} 127.0.0.1:30006@40006 slave,fail? ${M3}`),
    ],
    [
      "noaddr prints :0@0",
      () =>
        view([
          node(M1, { flags: FLAG.myself | FLAG.master, configEpoch: 1, slots: SlotSet.fromRanges([[0, 16383]]) }),
          node(M2, { endpoint: null, flags: FLAG.master | FLAG.noaddr, configEpoch: 2, linkConnected: false }),
        ]),
      `${M1} 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-16383\n` + `${M2} :0@0 master,noaddr - 0 0 2 disconnected\n`,
    ],
    [
      "migrating / importing on myself's line only, by slot; migrating wins a slot in both",
      () =>
        view(healthy(), {
          migrating: new Map([
            [5460, M2],
            [100, M3],
          ]),
          importing: new Map([
            [10923, M3],
            [100, M2],
          ]),
        }),
      HEALTHY_NODES.replace(
        "myself,master - 0 0 1 connected 0-5460\n",
        `myself,master - 0 0 1 connected 0-5460 [100->-${M3}] [5460->-${M2}] [10923-<-${M3}]\n`,
      ),
    ],
    [
      "slot ranges split in pieces: single slots print alone",
      () =>
        view(
          patch(
            patch(healthy(), M1, { slots: SlotSet.fromRanges([[0, 100], [102, 102], [104, 5460]]) }),
            M2,
            { slots: SlotSet.fromRanges([[101, 101], [103, 103], [5461, 10922]]) },
          ),
        ),
      HEALTHY_NODES.replace("connected 5461-10922", "connected 101 103 5461-10922").replace("connected 0-5460", "connected 0-100 102 104-5460"),
    ],
    [
      "myself as a replica: myself,slave and its master's epoch",
      () =>
        view([
          node(M1, { configEpoch: 7, slots: SlotSet.fromRanges([[0, 16383]]), pongReceivedMs: 5 }),
          node(R1, { endpoint: ep(30004), flags: FLAG.myself | FLAG.replica | FLAG.nofailover, masterName: M1, configEpoch: 0 }),
        ]),
      `${M1} 127.0.0.1:30001@40001 master - 0 5 7 connected 0-16383\n` + `${R1} 127.0.0.1:30004@40004 myself,slave,nofailover ${M1} 0 0 7 connected\n`,
    ],
    [
      "a replica whose master is unknown prints its own epoch",
      () =>
        view([
          node(M1, { flags: FLAG.myself | FLAG.master, configEpoch: 1 }),
          node(R1, { endpoint: ep(30004), flags: FLAG.replica, masterName: M2, configEpoch: 4 }),
        ]),
      `${M1} 127.0.0.1:30001@40001 myself,master - 0 0 1 connected\n` + `${R1} 127.0.0.1:30004@40004 slave ${M2} 0 0 4 connected\n`,
    ],
  ])("%s", (_what, make, expected) => {
    expect(clusterNodes(make())).toBe(expected);
  });
});

const replicas = (v: ClusterView, master: string): Plain | "unknown" => {
  const r: RespValue | null = clusterReplicas(v, master);
  return r === null ? "unknown" : plain(r);
};

describe("CLUSTER REPLICAS", () => {
  it("lists a master's replicas as their CLUSTER NODES lines, without newlines", () => {
    const v = view(patch(healthy(), R2, { masterName: M1 }));
    expect(replicas(v, M1)).toEqual([
      `${R1} 127.0.0.1:30004@40004 slave ${M1} 0 1426238317239 1 connected`,
      `${R2} 127.0.0.1:30005@40005 slave ${M1} 0 1426238316232 1 connected`,
    ]);
  });

  it("an empty array for a master without replicas", () => {
    expect(replicas(view(patch(healthy(), R3, { masterName: M1 })), M3)).toEqual([]);
  });

  it("Redis's error for a replica, null for an unknown name", () => {
    expect(replicas(view(healthy()), R1)).toEqual({ err: "ERR The specified node is not a master" });
    expect(replicas(view(healthy()), HS)).toBe("unknown");
  });
});

/** A CLUSTER SLOTS node entry as plain data. */
const slotNode = (port: number, name: string) => ["127.0.0.1", port, name, { map: [] }];

describe("CLUSTER SLOTS", () => {
  it.each<[string, () => ClusterView, unknown]>([
    [
      "ranges by slot, the master then its replicas, an empty metadata map each",
      () => view(healthy()),
      [
        [0, 5460, slotNode(30001, M1), slotNode(30004, R1)],
        [5461, 10922, slotNode(30002, M2), slotNode(30005, R2)],
        [10923, 16383, slotNode(30003, M3), slotNode(30006, R3)],
      ],
    ],
    [
      "split ranges come out as Redis's slot walk sees them",
      () =>
        view(
          patch(
            patch(healthy(), M1, { slots: SlotSet.fromRanges([[0, 100], [102, 102], [104, 5460]]) }),
            M2,
            { slots: SlotSet.fromRanges([[101, 101], [103, 103], [5461, 10922]]) },
          ),
        ),
      [
        [0, 100, slotNode(30001, M1), slotNode(30004, R1)],
        [101, 101, slotNode(30002, M2), slotNode(30005, R2)],
        [102, 102, slotNode(30001, M1), slotNode(30004, R1)],
        [103, 103, slotNode(30002, M2), slotNode(30005, R2)],
        [104, 5460, slotNode(30001, M1), slotNode(30004, R1)],
        [5461, 10922, slotNode(30002, M2), slotNode(30005, R2)],
        [10923, 16383, slotNode(30003, M3), slotNode(30006, R3)],
      ],
    ],
    [
      "a FAIL master keeps its slots; FAIL replicas and replicas at offset 0 are left out, PFAIL ones kept",
      () =>
        view(
          patch(patch(patch(healthy(), M3, { flags: FLAG.master | FLAG.fail }), R3, { flags: FLAG.replica | FLAG.fail }), R1, { replOffset: 0 }).map(
            (n) => (n.name === R2 ? { ...n, flags: FLAG.replica | FLAG.pfail } : n),
          ),
        ),
      [
        [0, 5460, slotNode(30001, M1)],
        [5461, 10922, slotNode(30002, M2), slotNode(30005, R2)],
        [10923, 16383, slotNode(30003, M3)],
      ],
    ],
    [
      "unassigned slots are gaps; a noaddr owner prints an empty ip and port 0",
      () =>
        view([
          node(M1, { flags: FLAG.myself | FLAG.master, slots: SlotSet.fromRanges([[10, 20]]) }),
          node(M2, { endpoint: null, flags: FLAG.master | FLAG.noaddr, slots: SlotSet.fromRanges([[0, 5]]) }),
        ]),
      [
        [0, 5, ["", 0, M2, { map: [] }]],
        [10, 20, slotNode(30001, M1)],
      ],
    ],
    ["no slots assigned: an empty array", () => view([node(M1, { flags: FLAG.myself | FLAG.master })]), []],
  ])("%s", (_what, make, expected) => {
    expect(plain(clusterSlots(make()))).toEqual(expected);
  });

  it("refuses a view where two nodes claim one slot", () => {
    const v = view(patch(healthy(), M2, { slots: SlotSet.fromRanges([[5460, 10922]]) }));
    expect(() => clusterSlots(v)).toThrow(/claim one slot/);
  });
});

/** A CLUSTER SHARDS node map as plain data. */
function shardNode(port: number | null, name: string, role: string, offset: number, health: string) {
  const pairs: (readonly [string, string | number])[] = [["id", name]];
  if (port !== null) pairs.push(["port", port]);
  const ip = port === null ? "" : "127.0.0.1";
  pairs.push(["ip", ip], ["endpoint", ip], ["role", role], ["replication-offset", offset], ["health", health]);
  return { map: pairs };
}

const shard = (slots: number[], nodes: unknown[]) => ({
  map: [
    ["slots", slots],
    ["nodes", nodes],
  ],
});

describe("CLUSTER SHARDS", () => {
  it.each<[string, () => ClusterView, unknown]>([
    [
      "one shard per master in table order, the master first, slots as integers",
      () => view(healthy()),
      [
        shard([5461, 10922], [shardNode(30002, M2, "master", 2000, "online"), shardNode(30005, R2, "replica", 2000, "online")]),
        shard([10923, 16383], [shardNode(30003, M3, "master", 3000, "online"), shardNode(30006, R3, "replica", 3000, "online")]),
        shard([0, 5460], [shardNode(30001, M1, "master", 1000, "online"), shardNode(30004, R1, "replica", 1000, "online")]),
      ],
    ],
    [
      "split slots as start/end pairs; health fail and loading; a master without slots; handshake nodes left out",
      () =>
        view([
          node(M1, { flags: FLAG.myself | FLAG.master, slots: SlotSet.fromRanges([[0, 100], [102, 102], [104, 16383]]), replOffset: 77 }),
          node(R1, { endpoint: ep(30004), flags: FLAG.replica, masterName: M1, replOffset: 0, health: "loading" }),
          node(R2, { endpoint: ep(30005), flags: FLAG.replica | FLAG.fail, masterName: M1, replOffset: 70, health: "failed" }),
          node(M2, { endpoint: null, flags: FLAG.master | FLAG.noaddr, slots: SlotSet.fromRanges([[101, 101], [103, 103]]) }),
          node(M3, { endpoint: ep(30003), flags: FLAG.master | FLAG.fail, health: "failed" }),
          node(HS, { endpoint: ep(30007), flags: FLAG.handshake | FLAG.meet }),
        ]),
      [
        shard(
          [0, 100, 102, 102, 104, 16383],
          [
            shardNode(30001, M1, "master", 77, "online"),
            shardNode(30004, R1, "replica", 0, "loading"),
            shardNode(30005, R2, "replica", 70, "fail"),
          ],
        ),
        shard([101, 101, 103, 103], [shardNode(null, M2, "master", 0, "online")]),
        shard([], [shardNode(30003, M3, "master", 0, "fail")]),
      ],
    ],
  ])("%s", (_what, make, expected) => {
    expect(plain(clusterShards(make()))).toEqual(expected);
  });
});

describe("CLUSTER INFO", () => {
  it("a healthy cluster: every field in order, CRLF line ends, message counts in type order", () => {
    const v = view(healthy(), {
      sent: new Map([
        ["pong", 8],
        ["meet", 1],
        ["ping", 10],
        ["publish", 0],
      ]),
      received: new Map([
        ["fail", 1],
        ["ping", 8],
        ["pong", 10],
      ]),
    });
    expect(clusterInfo(v)).toBe(
      "cluster_state:ok\r\n" +
        "cluster_slots_assigned:16384\r\n" +
        "cluster_slots_ok:16384\r\n" +
        "cluster_slots_pfail:0\r\n" +
        "cluster_slots_fail:0\r\n" +
        "cluster_known_nodes:6\r\n" +
        "cluster_size:3\r\n" +
        "cluster_current_epoch:6\r\n" +
        "cluster_my_epoch:1\r\n" +
        "cluster_stats_messages_ping_sent:10\r\n" +
        "cluster_stats_messages_pong_sent:8\r\n" +
        "cluster_stats_messages_meet_sent:1\r\n" +
        "cluster_stats_messages_sent:19\r\n" +
        "cluster_stats_messages_ping_received:8\r\n" +
        "cluster_stats_messages_pong_received:10\r\n" +
        "cluster_stats_messages_fail_received:1\r\n" +
        "cluster_stats_messages_received:19\r\n" +
        "total_cluster_links_buffer_limit_exceeded:0\r\n",
    );
  });

  it("a failing cluster seen from a replica: slot counts, handshake nodes counted, the master's epoch", () => {
    const nodes = [
      ...patch(patch(healthy(), M3, { flags: FLAG.master | FLAG.fail, slots: SlotSet.fromRanges([[10923, 16000]]) }), M1, { flags: FLAG.master }).map((n) =>
        n.name === R2 ? { ...n, flags: FLAG.myself | FLAG.replica } : n,
      ),
      node(HS, { flags: FLAG.handshake | FLAG.meet }),
    ];
    const v = view(nodes, {
      state: "fail",
      currentEpoch: 9,
      slotsFail: 16000 - 10923 + 1,
      slotsPfail: 0,
      sent: new Map([
        ["auth-req", 2],
        ["publishshard", 3],
        ["update", 1],
        ["mfstart", 1],
        ["auth-ack", 4],
        ["publish", 5],
        ["module", 6],
      ]),
    });
    expect(clusterInfo(v)).toBe(
      "cluster_state:fail\r\n" +
        "cluster_slots_assigned:16001\r\n" +
        "cluster_slots_ok:10923\r\n" +
        "cluster_slots_pfail:0\r\n" +
        "cluster_slots_fail:5078\r\n" +
        "cluster_known_nodes:7\r\n" +
        "cluster_size:3\r\n" +
        "cluster_current_epoch:9\r\n" +
        "cluster_my_epoch:2\r\n" +
        "cluster_stats_messages_publish_sent:5\r\n" +
        "cluster_stats_messages_auth-req_sent:2\r\n" +
        "cluster_stats_messages_auth-ack_sent:4\r\n" +
        "cluster_stats_messages_update_sent:1\r\n" +
        "cluster_stats_messages_mfstart_sent:1\r\n" +
        "cluster_stats_messages_module_sent:6\r\n" +
        "cluster_stats_messages_publishshard_sent:3\r\n" +
        "cluster_stats_messages_sent:22\r\n" +
        "cluster_stats_messages_received:0\r\n" +
        "total_cluster_links_buffer_limit_exceeded:0\r\n",
    );
  });

  it("cluster_size counts masters with slots only", () => {
    const v = view([node(M1, { flags: FLAG.myself | FLAG.master, slots: SlotSet.fromRanges([[0, 1]]) }), node(M2, { endpoint: ep(30002) })]);
    expect(clusterInfo(v)).toContain("\r\ncluster_slots_assigned:2\r\ncluster_slots_ok:2\r\n");
    expect(clusterInfo(v)).toContain("\r\ncluster_known_nodes:2\r\ncluster_size:1\r\n");
  });

  it("refuses a message type Redis does not have", () => {
    expect(() => clusterInfo(view(healthy(), { sent: new Map([["failover-auth-request", 1]]) }))).toThrow(/unknown bus message type/);
  });
});

// ---------------------------------------------------------------------------------------------
// Round trip through redis-cli's parser
// ---------------------------------------------------------------------------------------------

interface Parsed {
  readonly nodes: NodeView[];
  readonly migrating: Map<number, string>;
  readonly importing: Map<number, string>;
}

const FLAG_NAMES: Record<string, number> = {
  myself: FLAG.myself,
  master: FLAG.master,
  slave: FLAG.replica,
  "fail?": FLAG.pfail,
  fail: FLAG.fail,
  handshake: FLAG.handshake,
  noaddr: FLAG.noaddr,
  nofailover: FLAG.nofailover,
  noflags: 0,
};

/**
 * CLUSTER NODES text read as redis-cli's clusterManagerNodeLoadInfo does: a line is what precedes
 * a "\n" (an unterminated tail is ignored); the first eight space-separated fields are name,
 * address, flags, master, ping-sent, pong-recv, config-epoch, link-state, and the rest are slots;
 * the address splits at its last '@' (bus port), then its last ':' (ip, port); slot entries are
 * "a-b", "a", "[a->-name]" (migrating) or "[a-<-name]" (importing).
 */
function parseLikeRedisCli(text: string): Parsed {
  const nodes: NodeView[] = [];
  const migrating = new Map<number, string>();
  const importing = new Map<number, string>();
  let rest = text;
  for (let nl = rest.indexOf("\n"); nl >= 0; nl = rest.indexOf("\n")) {
    const line = rest.slice(0, nl);
    rest = rest.slice(nl + 1);
    const fields = line.split(" ");
    const [name, addr, flagList, master, ping, pong, epoch, link] = fields as [string, string, string, string, string, string, string, string];
    const at = addr.lastIndexOf("@");
    const colon = addr.lastIndexOf(":", at);
    const ip = addr.slice(0, colon);
    const port = Number(addr.slice(colon + 1, at));
    const cport = Number(addr.slice(at + 1));
    let flags = 0;
    for (const f of flagList.split(",")) flags |= FLAG_NAMES[f] as number;
    const ranges: [number, number][] = [];
    for (const def of fields.slice(8)) {
      if (def.startsWith("[")) {
        const body = def.slice(1, -1);
        const mig = body.indexOf("->-");
        if (mig >= 0) migrating.set(Number(body.slice(0, mig)), body.slice(mig + 3));
        else {
          const imp = body.indexOf("-<-");
          importing.set(Number(body.slice(0, imp)), body.slice(imp + 3));
        }
      } else {
        const dash = def.indexOf("-");
        const lo = Number(dash >= 0 ? def.slice(0, dash) : def);
        ranges.push([lo, dash >= 0 ? Number(def.slice(dash + 1)) : lo]);
      }
    }
    nodes.push({
      name,
      endpoint: (flags & FLAG.noaddr) !== 0 && ip === "" && port === 0 ? null : { ip, port, cport },
      flags,
      masterName: master === "-" ? null : master,
      pingSentMs: Number(ping),
      pongReceivedMs: Number(pong),
      configEpoch: Number(epoch),
      linkConnected: link === "connected",
      slots: ranges.length === 0 ? SlotSet.EMPTY : SlotSet.fromRanges(ranges),
      replOffset: 0,
      health: "online",
    });
  }
  return { nodes, migrating, importing };
}

/** What CLUSTER NODES carries of a node (not offsets or health; `meet`/`migrateTo` are not printed). */
function printable(n: NodeView) {
  return {
    name: n.name,
    endpoint: n.endpoint,
    flags: n.flags & ~(FLAG.meet | FLAG.migrateTo),
    masterName: n.masterName,
    pingSentMs: n.pingSentMs,
    pongReceivedMs: n.pongReceivedMs,
    configEpoch: n.configEpoch,
    linkConnected: n.linkConnected || (n.flags & FLAG.myself) !== 0,
    slots: n.slots.toString(),
  };
}

describe("CLUSTER NODES round trip (redis-cli's parse)", () => {
  it("gets the view back", () => {
    // Replicas carry their master's epoch here: that is what CLUSTER NODES prints for them.
    const nodes = [
      ...patch(
        patch(patch(healthy(), M1, { slots: SlotSet.fromRanges([[0, 100], [102, 102], [104, 5460]]) }), M2, {
          slots: SlotSet.fromRanges([[101, 101], [103, 103], [5461, 10922]]),
        }),
        M3,
        { flags: FLAG.master | FLAG.fail | FLAG.migrateTo, linkConnected: false, pingSentMs: 1426238399999 },
      ).map((n) => (n.masterName === null ? n : { ...n, configEpoch: n.masterName === M1 ? 1 : n.masterName === M2 ? 2 : 3 })),
      node(HS, { endpoint: ep(30007), flags: FLAG.handshake | FLAG.meet, linkConnected: false, pingSentMs: 17 }),
      node("0123456789abcdef0123456789abcdef01234567", { endpoint: null, flags: FLAG.master | FLAG.noaddr | FLAG.pfail, linkConnected: false }),
    ];
    const v = view(nodes, { migrating: new Map([[5000, M2]]), importing: new Map([[6000, M2]]) });
    const parsed = parseLikeRedisCli(clusterNodes(v));
    expect(parsed.nodes.map(printable)).toEqual(nodes.map(printable));
    expect([...parsed.migrating]).toEqual([[5000, M2]]);
    expect([...parsed.importing]).toEqual([[6000, M2]]);
  });
});
