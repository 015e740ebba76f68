// The pure half of the admin commands: reading CLUSTER NODES, planning a cluster's creation and a
// reshard, and judging a cluster the way `redis-cli --cluster check` does. No IO here, so all of
// it is unit-tested; admin.ts does the talking.

import { SLOTS, SlotSet, splitSlots } from "../core/cluster/slots.js";

/** A node's address as the user and CLUSTER NODES give it. */
export interface Address {
  readonly host: string;
  readonly port: number;
}

/** One line of CLUSTER NODES. */
export interface NodeEntry {
  /** The 40-hex node name. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** "host:port", for messages. */
  readonly address: string;
  readonly flags: ReadonlySet<string>;
  readonly myself: boolean;
  readonly master: boolean;
  /** Its master's id when it is a replica. */
  readonly masterId: string | null;
  readonly configEpoch: number;
  readonly connected: boolean;
  readonly slots: SlotSet;
  /** Open slots on this node (printed on the `myself` line only): slot → the other node's id. */
  readonly migrating: ReadonlyMap<number, string>;
  readonly importing: ReadonlyMap<number, string>;
}

export class ParseError extends Error {}

/** "host:port" or "[v6]:port"; null when it is not one. */
export function parseAddress(text: string): Address | null {
  const m = /^(?:\[([^\]]+)\]|(.+)):(\d{1,5})$/.exec(text);
  if (m === null) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: (m[1] ?? m[2]) as string, port };
}

export function formatAddress(a: Address): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/**
 * CLUSTER NODES text → entries. Each line is `id ip:port@cport[,hostname] flags master ping pong
 * epoch link slot…`, a slot being `n`, `lo-hi`, `[n->-id]` (migrating) or `[n-<-id]` (importing).
 */
export function parseClusterNodes(text: string): NodeEntry[] {
  const out: NodeEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    const f = line.split(" ");
    if (f.length < 8) throw new ParseError(`CLUSTER NODES line with ${f.length} fields: ${line}`);
    const [id, addr, flagText, masterId, , , epoch, link] = f as [string, string, string, string, string, string, string, string];
    const hostPort = (addr.split(",")[0] as string).split("@")[0] as string;
    const colon = hostPort.lastIndexOf(":");
    const port = Number(hostPort.slice(colon + 1));
    if (colon < 0 || !Number.isInteger(port)) throw new ParseError(`CLUSTER NODES line with a bad address: ${line}`);
    const host = hostPort.slice(0, colon);
    const flags = new Set(flagText.split(","));
    const ranges: [number, number][] = [];
    const migrating = new Map<number, string>();
    const importing = new Map<number, string>();
    for (const s of f.slice(8)) {
      const open = /^\[(\d+)-([<>])-([0-9a-f]+)\]$/.exec(s);
      if (open !== null) {
        (open[2] === ">" ? migrating : importing).set(Number(open[1]), open[3] as string);
        continue;
      }
      const r = /^(\d+)(?:-(\d+))?$/.exec(s);
      if (r === null) throw new ParseError(`CLUSTER NODES line with a bad slot entry ${s}: ${line}`);
      ranges.push([Number(r[1]), Number(r[2] ?? r[1])]);
    }
    out.push({
      id,
      host,
      port,
      address: formatAddress({ host, port }),
      flags,
      myself: flags.has("myself"),
      master: flags.has("master"),
      masterId: masterId === "-" ? null : masterId,
      configEpoch: Number(epoch),
      connected: link === "connected",
      slots: SlotSet.fromRanges(ranges),
      migrating,
      importing,
    });
  }
  return out;
}

/** The node a CLUSTER NODES reply was asked of. */
export function myselfOf(entries: readonly NodeEntry[]): NodeEntry {
  const me = entries.find((e) => e.myself);
  if (me === undefined) throw new ParseError("CLUSTER NODES has no line flagged myself");
  return me;
}

/**
 * What a node believes about slot ownership: its masters with slots as `id:ranges`, sorted
 * (redis-cli's clusterManagerGetConfigSignature). Nodes agree when their signatures are equal.
 */
export function configSignature(entries: readonly NodeEntry[]): string {
  return entries
    .filter((e) => e.slots.size > 0)
    .map((e) => `${e.id}:${e.slots.toString()}`)
    .sort()
    .join("|");
}

/** Slot ranges as redis-cli prints them: `[0-5460],[10923]`, or "" for none. */
export function slotsText(slots: SlotSet): string {
  return slots
    .ranges()
    .map(([a, b]) => (a === b ? `[${a}]` : `[${a}-${b}]`))
    .join(",");
}

// ---------------------------------------------------------------------------------------------
// Create
// ---------------------------------------------------------------------------------------------

/** Redis Cluster needs a majority of masters to survive one failure: 3 at least. */
export const MASTERS_MIN = 3;

export interface CreatePlan {
  /** The masters in the order given, each with its slot range. */
  readonly masters: readonly { readonly address: string; readonly slots: readonly [number, number] }[];
  /** The replicas in the order given, each with the master it will replicate. */
  readonly replicas: readonly { readonly address: string; readonly of: string }[];
}

/**
 * `--cluster create`'s allocation: the first nodes/(replicas+1) nodes are masters with the slots
 * split evenly; the rest replicate them round robin (extra nodes become extra replicas).
 * Deliberately simpler than redis-cli, which also shuffles for anti-affinity between hosts.
 */
export function planCreate(addresses: readonly string[], replicas: number): CreatePlan {
  if (!Number.isInteger(replicas) || replicas < 0) throw new ParseError(`--replicas must be a whole number ≥ 0, not ${replicas}`);
  const seen = new Set<string>();
  for (const a of addresses) {
    if (parseAddress(a) === null) throw new ParseError(`not a host:port address: ${a}`);
    if (seen.has(a)) throw new ParseError(`${a} is given twice`);
    seen.add(a);
  }
  const mastersCount = Math.floor(addresses.length / (replicas + 1));
  if (mastersCount < MASTERS_MIN) {
    throw new ParseError(
      `Redis Cluster requires at least ${MASTERS_MIN} master nodes: that is not possible with ${addresses.length} nodes and ${replicas} replicas per master; at least ${MASTERS_MIN * (replicas + 1)} nodes are needed`,
    );
  }
  const ranges = splitSlots(mastersCount);
  const masters = addresses.slice(0, mastersCount).map((address, i) => ({ address, slots: ranges[i] as [number, number] }));
  const replicaList = addresses.slice(mastersCount).map((address, i) => ({ address, of: (masters[i % mastersCount] as { address: string }).address }));
  return { masters, replicas: replicaList };
}

// ---------------------------------------------------------------------------------------------
// Check
// ---------------------------------------------------------------------------------------------

/** What one node says (its CLUSTER NODES) or why it could not be asked. */
export type NodeView = { readonly address: string; readonly entries: readonly NodeEntry[] } | { readonly address: string; readonly error: string };

export interface CheckResult {
  /** Every line of the report, redis-cli's wording where it has one. */
  readonly lines: readonly string[];
  readonly agree: boolean;
  /** Slots some node has in migrating or importing state. */
  readonly openSlots: readonly number[];
  readonly covered: number;
  readonly unreachable: readonly string[];
  readonly ok: boolean;
}

/**
 * Judges a cluster from the entry node's table and every other node's (`views`, the entry's
 * first), as redis-cli's clusterManagerCheckCluster: the node list, agreement of every reachable
 * node on slot ownership, open slots, and coverage of all 16384 slots. `keys` is each master's
 * DBSIZE, by id.
 */
export function checkCluster(views: readonly NodeView[], keys: ReadonlyMap<string, number>): CheckResult {
  const entry = views[0];
  if (entry === undefined || "error" in entry) throw new Error("checkCluster needs the entry node's table first");
  const table = entry.entries;
  const lines: string[] = [];
  const masters = table.filter((e) => e.master);
  const replicasOf = (m: NodeEntry) => table.filter((e) => e.masterId === m.id);
  let keyTotal = 0;
  for (const m of masters) {
    const k = keys.get(m.id);
    keyTotal += k ?? 0;
    lines.push(`${m.address} (${m.id.slice(0, 8)}...) -> ${k ?? "?"} keys | ${m.slots.size} slots | ${replicasOf(m).length} slaves.`);
  }
  const unasked = masters.filter((m) => !keys.has(m.id)).length;
  lines.push(`[OK] ${keyTotal} keys in ${masters.length - unasked} masters.${unasked > 0 ? ` (${unasked} more not asked)` : ""}`);
  lines.push(`${(keyTotal / SLOTS).toFixed(2)} keys per slot on average.`);
  lines.push(`>>> Performing Cluster Check (using node ${entry.address})`);
  for (const e of table) {
    const state = ["fail", "fail?", "handshake", "noaddr"].filter((f) => e.flags.has(f));
    lines.push(`${e.master ? "M" : "S"}: ${e.id} ${e.address}${state.length > 0 ? ` (${state.join(",")})` : ""}`);
    lines.push(`   slots:${slotsText(e.slots)} (${e.slots.size} slots) ${e.master ? "master" : "slave"}`);
    if (!e.master && e.masterId !== null) lines.push(`   replicates ${e.masterId}`);
    else if (e.master && replicasOf(e).length > 0) lines.push(`   ${replicasOf(e).length} additional replica(s)`);
  }

  const unreachable: string[] = [];
  const signatures = new Set<string>();
  for (const v of views) {
    if ("error" in v) {
      unreachable.push(v.address);
      lines.push(`[ERR] ${v.error}`);
    } else signatures.add(configSignature(v.entries));
  }
  const agree = signatures.size === 1;
  lines.push(agree ? "[OK] All nodes agree about slots configuration." : "[ERR] Nodes don't agree about configuration!");

  lines.push(">>> Check for open slots...");
  const open = new Set<number>();
  for (const v of views) {
    if ("error" in v) continue;
    const me = v.entries.find((e) => e.myself);
    if (me === undefined) continue;
    if (me.migrating.size > 0) lines.push(`[WARNING] Node ${me.address} has slots in migrating state ${[...me.migrating.keys()].join(",")}.`);
    if (me.importing.size > 0) lines.push(`[WARNING] Node ${me.address} has slots in importing state ${[...me.importing.keys()].join(",")}.`);
    for (const s of me.migrating.keys()) open.add(s);
    for (const s of me.importing.keys()) open.add(s);
  }
  const openSlots = [...open].sort((a, b) => a - b);
  if (openSlots.length > 0) lines.push(`[WARNING] The following slots are open: ${openSlots.join(",")}.`);

  lines.push(">>> Check slots coverage...");
  let owned = SlotSet.EMPTY;
  for (const m of masters) owned = owned.with(m.slots);
  lines.push(owned.size === SLOTS ? `[OK] All ${SLOTS} slots covered.` : `[ERR] Not all ${SLOTS} slots are covered by nodes (${owned.size} are).`);
  return { lines, agree, openSlots, covered: owned.size, unreachable, ok: agree && openSlots.length === 0 && owned.size === SLOTS && unreachable.length === 0 };
}

// ---------------------------------------------------------------------------------------------
// Reshard
// ---------------------------------------------------------------------------------------------

/**
 * The node `spec` names in `table`: a node id (or a unique prefix of one, at least 8 characters)
 * or its host:port. Throws a ParseError saying what was wrong.
 */
export function findNode(table: readonly NodeEntry[], spec: string): NodeEntry {
  const byAddress = table.find((e) => e.address === spec);
  if (byAddress !== undefined) return byAddress;
  if (/^[0-9a-f]{8,40}$/.test(spec)) {
    const hits = table.filter((e) => e.id.startsWith(spec));
    if (hits.length === 1) return hits[0] as NodeEntry;
    if (hits.length > 1) throw new ParseError(`${spec} is the prefix of ${hits.length} node ids: give more of it`);
  }
  throw new ParseError(`no node ${spec} in the cluster (give a node id from CLUSTER NODES or a host:port)`);
}

/** The slots a reshard of `count` moves off `source`: its lowest ones, as redis-cli takes them. */
export function pickSlots(source: SlotSet, count: number): number[] {
  const out: number[] = [];
  for (const [lo, hi] of source.ranges()) {
    for (let s = lo; s <= hi && out.length < count; s++) out.push(s);
    if (out.length === count) break;
  }
  return out;
}
