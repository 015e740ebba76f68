// CLUSTER NODES / SLOTS / SHARDS / REPLICAS / INFO as redis-server 7.0 prints them, byte for byte.
//
// Pure functions over plain views: the node fills a `ClusterView` from its table and these format
// it. They follow redis/redis 7.0 `src/cluster.c`: `clusterGenNodeDescription`,
// `representClusterNodeFlags`, `clusterReplyMultiBulkSlots` / `addNodeReplyForClusterSlot`,
// `clusterReplyShards` / `addNodeDetailsToShardReply` and `genClusterInfoString`. Redis walks its
// nodes dict (hash order); here the table's own order stands in for it. Where 7.2 prints
// something else, the comment says so (see also README.md, "Formats").
//
// The text replies (NODES, INFO) go out as a verbatim string, `Resp.verbatim("txt", text)`, as
// Redis 7 sends them: a RESP3 client sees `=…txt:`, a RESP2 client an ordinary bulk string.

import { assert } from "../machine.js";
import { Resp, type RespPair, type RespValue } from "../resp/codec.js";
import { SLOTS, type SlotSet } from "./slots.js";
import { FLAG } from "./types.js";

/** Where a node listens: client port and cluster-bus port. */
export interface Endpoint {
  readonly ip: string;
  readonly port: number;
  readonly cport: number;
}

/** Redis's default client port; a bus port is the client port + 10000 (CLUSTER_PORT_INCR). */
const DEFAULT_PORT = 6379;
const CPORT_INCR = 10000;
const PORT_MAX = 65535;

/**
 * A host address as the node knows it → endpoint. "host:port" splits at the last colon (so
 * "::1:7000" is ip "::1"), "[::1]:7000" drops the brackets; cport = port + 10000. Anything without
 * a numeric port (the simulator's "n1") is ip = the address, port 6379, cport 16379.
 */
export function endpointOf(address: string): Endpoint {
  let host = address;
  let portText: string | null = null;
  const close = address.startsWith("[") ? address.indexOf("]") : -1;
  if (close > 0) {
    host = address.slice(1, close);
    const rest = address.slice(close + 1);
    if (rest.startsWith(":")) portText = rest.slice(1);
  } else {
    const colon = address.lastIndexOf(":");
    if (colon >= 0) {
      host = address.slice(0, colon);
      portText = address.slice(colon + 1);
    }
  }
  if (portText !== null && /^[0-9]{1,5}$/.test(portText)) {
    const port = Number(portText);
    if (port <= PORT_MAX) return { ip: host, port, cport: port + CPORT_INCR };
  }
  return { ip: close > 0 ? host : address, port: DEFAULT_PORT, cport: DEFAULT_PORT + CPORT_INCR };
}

/** "ip:port" as MOVED/ASK print it (no brackets around an IPv6 address, as Redis). */
export function movedTarget(e: Endpoint): string {
  return `${e.ip}:${e.port}`;
}

/** One row of the node table, as the formatters need it. */
export interface NodeView {
  /** 40 hex characters. */
  readonly name: string;
  /** null: no address known (NOADDR); Redis then prints ":0@0". */
  readonly endpoint: Endpoint | null;
  /** FLAG bits; `meet` and `migrateTo` are internal and never printed. */
  readonly flags: number;
  readonly masterName: string | null;
  /** When the pending PING was sent (ms); 0 when none is pending. */
  readonly pingSentMs: number;
  readonly pongReceivedMs: number;
  readonly configEpoch: number;
  readonly linkConnected: boolean;
  /** The slots it serves (empty for replicas). */
  readonly slots: SlotSet;
  /** Its replication offset (for myself: the node's own offset). */
  readonly replOffset: number;
  /** As CLUSTER SHARDS reports it; "failed" prints as Redis's word, "fail". */
  readonly health: "online" | "failed" | "loading";
}

export interface ClusterView {
  /** The node table in the node's own order, myself included. Replicas list in this order too. */
  readonly nodes: readonly NodeView[];
  readonly myself: NodeView;
  /** myself's open migrations: slot → the other node's name. */
  readonly migrating: ReadonlyMap<number, string>;
  readonly importing: ReadonlyMap<number, string>;
  readonly state: "ok" | "fail";
  readonly currentEpoch: number;
  /** Bus messages by Redis's type name (see MESSAGE_TYPES). */
  readonly sent: ReadonlyMap<string, number>;
  readonly received: ReadonlyMap<string, number>;
  /** Slots whose owner is PFAIL / FAIL (the node knows it). */
  readonly slotsPfail: number;
  readonly slotsFail: number;
}

// ---------------------------------------------------------------------------------------------
// CLUSTER NODES
// ---------------------------------------------------------------------------------------------

/** representClusterNodeFlags's table, in its order: "myself,master", "slave,fail?", … */
const PRINTED_FLAGS: readonly (readonly [number, string])[] = [
  [FLAG.myself, "myself"],
  [FLAG.master, "master"],
  [FLAG.replica, "slave"],
  [FLAG.pfail, "fail?"],
  [FLAG.fail, "fail"],
  [FLAG.handshake, "handshake"],
  [FLAG.noaddr, "noaddr"],
  [FLAG.nofailover, "nofailover"],
];

/** The flags field: names joined by commas, or "noflags" when none of the printed bits is set. */
export function flagsText(flags: number): string {
  let out = "";
  for (const [bit, name] of PRINTED_FLAGS) if (flags & bit) out += out === "" ? name : `,${name}`;
  return out === "" ? "noflags" : out;
}

function isReplica(n: NodeView): boolean {
  return (n.flags & FLAG.replica) !== 0;
}

function isMaster(n: NodeView): boolean {
  return (n.flags & FLAG.master) !== 0;
}

function byName(view: ClusterView): Map<string, NodeView> {
  const m = new Map<string, NodeView>();
  for (const n of view.nodes) m.set(n.name, n);
  return m;
}

/** A replica prints its master's configEpoch (Redis 7.0 `nodeEpoch`); its own otherwise. */
function printedEpoch(n: NodeView, names: ReadonlyMap<string, NodeView>): number {
  if (isReplica(n) && n.masterName !== null) {
    const master = names.get(n.masterName);
    if (master !== undefined) return master.configEpoch;
  }
  return n.configEpoch;
}

/** One CLUSTER NODES line, without its newline (what CLUSTER REPLICAS returns per replica). */
function nodeLine(view: ClusterView, n: NodeView, names: ReadonlyMap<string, NodeView>): string {
  const e = n.endpoint;
  const myself = (n.flags & FLAG.myself) !== 0;
  let line =
    `${n.name} ${e === null ? "" : e.ip}:${e === null ? 0 : e.port}@${e === null ? 0 : e.cport} ` +
    `${flagsText(n.flags)} ${n.masterName ?? "-"} ${n.pingSentMs} ${n.pongReceivedMs} ` +
    `${printedEpoch(n, names)} ${n.linkConnected || myself ? "connected" : "disconnected"}`;
  for (const [lo, hi] of n.slots.ranges()) line += lo === hi ? ` ${lo}` : ` ${lo}-${hi}`;
  if (myself) line += openSlotsText(view);
  return line;
}

/** myself's " [slot->-name]" / " [slot-<-name]" entries, by slot; migrating wins for a slot in both. */
function openSlotsText(view: ClusterView): string {
  if (view.migrating.size === 0 && view.importing.size === 0) return "";
  const slots = [...new Set([...view.migrating.keys(), ...view.importing.keys()])].sort((a, b) => a - b);
  let out = "";
  for (const slot of slots) {
    const to = view.migrating.get(slot);
    out += to !== undefined ? ` [${slot}->-${to}]` : ` [${slot}-<-${view.importing.get(slot) as string}]`;
  }
  return out;
}

/** CLUSTER NODES: one line per node, each ending in "\n" (the last too), handshake nodes included. */
export function clusterNodes(view: ClusterView): string {
  const names = byName(view);
  let out = "";
  for (const n of view.nodes) out += `${nodeLine(view, n, names)}\n`;
  return out;
}

/**
 * CLUSTER REPLICAS / CLUSTER SLAVES <master>: the replicas' CLUSTER NODES lines as bulk strings.
 * null when the name is unknown (the caller replies "ERR Unknown node <arg>" with the argument
 * as given); Redis's error when the node is a replica.
 */
export function clusterReplicas(view: ClusterView, masterName: string): RespValue | null {
  const names = byName(view);
  const master = names.get(masterName);
  if (master === undefined) return null;
  if (isReplica(master)) return Resp.error("ERR The specified node is not a master");
  const replicas = replicasByMaster(view).get(masterName) ?? [];
  return Resp.array(replicas.map((r) => Resp.bulk(nodeLine(view, r, names))));
}

/** Each master's replicas in table order (Redis: the order the master learned them). */
function replicasByMaster(view: ClusterView): Map<string, NodeView[]> {
  const m = new Map<string, NodeView[]>();
  for (const n of view.nodes) {
    if (!isReplica(n) || n.masterName === null) continue;
    const list = m.get(n.masterName);
    if (list === undefined) m.set(n.masterName, [n]);
    else list.push(n);
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// CLUSTER SLOTS
// ---------------------------------------------------------------------------------------------

/** Every owned range with its owner, ascending: the contiguous runs of Redis's slots[] table. */
function ownedRanges(view: ClusterView): { lo: number; hi: number; node: NodeView }[] {
  const out: { lo: number; hi: number; node: NodeView }[] = [];
  for (const node of view.nodes) for (const [lo, hi] of node.slots.ranges()) out.push({ lo, hi, node });
  out.sort((a, b) => a.lo - b.lo);
  for (let i = 1; i < out.length; i++) {
    assert((out[i - 1] as { hi: number }).hi < (out[i] as { lo: number }).lo, "two nodes in the view claim one slot");
  }
  return out;
}

/** [ip, port, name, {}]: the 4th element holds extra networking metadata (hostname), none here. */
function slotNodeEntry(n: NodeView): RespValue {
  return Resp.array([Resp.bulk(n.endpoint?.ip ?? ""), Resp.integer(n.endpoint?.port ?? 0), Resp.bulk(n.name), Resp.map([])]);
}

/** Redis 7.0 `isReplicaAvailable`: FAIL replicas and replicas that never synced (offset 0) are left out. */
function replicaListed(n: NodeView): boolean {
  return (n.flags & FLAG.fail) === 0 && n.replOffset !== 0;
}

/**
 * CLUSTER SLOTS: one entry per contiguous run of slots with one owner, by slot:
 * [start, end, owner, ...available replicas]. Each node is [ip, port, id, {}].
 */
export function clusterSlots(view: ClusterView): RespValue {
  const replicas = replicasByMaster(view);
  const entries: RespValue[] = [];
  for (const { lo, hi, node } of ownedRanges(view)) {
    const entry: RespValue[] = [Resp.integer(lo), Resp.integer(hi), slotNodeEntry(node)];
    for (const r of replicas.get(node.name) ?? []) if (replicaListed(r)) entry.push(slotNodeEntry(r));
    entries.push(Resp.array(entry));
  }
  return Resp.array(entries);
}

// ---------------------------------------------------------------------------------------------
// CLUSTER SHARDS
// ---------------------------------------------------------------------------------------------

/** addNodeDetailsToShardReply: id, port (when non-zero), ip, endpoint, role, replication-offset, health. */
function shardNodeEntry(n: NodeView): RespValue {
  const pairs: RespPair[] = [[Resp.bulk("id"), Resp.bulk(n.name)]];
  const port = n.endpoint?.port ?? 0;
  if (port !== 0) pairs.push([Resp.bulk("port"), Resp.integer(port)]);
  const ip = n.endpoint?.ip ?? "";
  pairs.push(
    [Resp.bulk("ip"), Resp.bulk(ip)],
    [Resp.bulk("endpoint"), Resp.bulk(ip)],
    [Resp.bulk("role"), Resp.bulk(isReplica(n) ? "replica" : "master")],
    [Resp.bulk("replication-offset"), Resp.integer(n.replOffset)],
    [Resp.bulk("health"), Resp.bulk(n.health === "failed" ? "fail" : n.health)],
  );
  return Resp.map(pairs);
}

/**
 * CLUSTER SHARDS: one shard per master (slots or not), in table order:
 * {slots: [start, end, start, end, …] as integers, nodes: [master, ...replicas]}.
 */
export function clusterShards(view: ClusterView): RespValue {
  const replicas = replicasByMaster(view);
  const shards: RespValue[] = [];
  for (const master of view.nodes) {
    if (!isMaster(master)) continue;
    const slots: RespValue[] = [];
    for (const [lo, hi] of master.slots.ranges()) slots.push(Resp.integer(lo), Resp.integer(hi));
    const nodes = [shardNodeEntry(master), ...(replicas.get(master.name) ?? []).map(shardNodeEntry)];
    shards.push(
      Resp.map([
        [Resp.bulk("slots"), Resp.array(slots)],
        [Resp.bulk("nodes"), Resp.array(nodes)],
      ]),
    );
  }
  return Resp.array(shards);
}

// ---------------------------------------------------------------------------------------------
// CLUSTER INFO
// ---------------------------------------------------------------------------------------------

/** clusterGetMessageTypeString, in message-type order (the order CLUSTER INFO lists them). */
export const MESSAGE_TYPES: readonly string[] = [
  "ping",
  "pong",
  "meet",
  "fail",
  "publish",
  "auth-req",
  "auth-ack",
  "update",
  "mfstart",
  "module",
  "publishshard",
];

/** "cluster_stats_messages_<type>_<dir>" lines for nonzero counts, then the total. */
function messageStats(counts: ReadonlyMap<string, number>, dir: "sent" | "received"): string {
  for (const type of counts.keys()) assert(MESSAGE_TYPES.includes(type), `unknown bus message type ${type}`);
  let out = "";
  let total = 0;
  for (const type of MESSAGE_TYPES) {
    const n = counts.get(type) ?? 0;
    if (n === 0) continue;
    total += n;
    out += `cluster_stats_messages_${type}_${dir}:${n}\r\n`;
  }
  return `${out}cluster_stats_messages_${dir}:${total}\r\n`;
}

/** CLUSTER INFO: "field:value\r\n" lines, the last one included. */
export function clusterInfo(view: ClusterView): string {
  let assigned = 0;
  let size = 0;
  for (const n of view.nodes) {
    assigned += n.slots.size;
    if (isMaster(n) && n.slots.size > 0) size += 1;
  }
  assert(assigned <= SLOTS && view.slotsPfail + view.slotsFail <= assigned, "slot counts out of range");
  const me = view.myself;
  const myEpoch = printedEpoch(me, byName(view));
  return (
    `cluster_state:${view.state}\r\n` +
    `cluster_slots_assigned:${assigned}\r\n` +
    `cluster_slots_ok:${assigned - view.slotsPfail - view.slotsFail}\r\n` +
    `cluster_slots_pfail:${view.slotsPfail}\r\n` +
    `cluster_slots_fail:${view.slotsFail}\r\n` +
    `cluster_known_nodes:${view.nodes.length}\r\n` +
    `cluster_size:${size}\r\n` +
    `cluster_current_epoch:${view.currentEpoch}\r\n` +
    `cluster_my_epoch:${myEpoch}\r\n` +
    messageStats(view.sent, "sent") +
    messageStats(view.received, "received") +
    // Links are the host's; none is ever dropped for exceeding cluster-link-sendbuf-limit.
    "total_cluster_links_buffer_limit_exceeded:0\r\n"
  );
}
