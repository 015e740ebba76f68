// Adapter for core/cluster/node.ts: the Redis Cluster control plane and data plane in the simulator.
//
// Topology: `config.topology` says how many masters and replicas per master; the first `masters`
// nodes serve the slots split evenly (as `redis-cli --cluster create` splits them, with
// configEpochs 1, 2, 3, ...), the rest replicate them round-robin, and everyone MEETs everyone.

import { z } from "zod";
import type { MachineInit, NodeId } from "../../core/machine.js";
import { ClusterNode } from "../../core/cluster/node.js";
import { SlotSet, SLOTS, splitSlots } from "../../core/cluster/slots.js";
import { CLUSTER_DEFAULTS, type ClusterConfig } from "../../core/cluster/types.js";
import type { Json } from "../../core/trace.js";
import { plain } from "../../core/keyspace/plain.js";
import type { RespValue } from "../../core/resp/codec.js";
import { type Call, checkKeyed, type KeyedOp, listModel, type Result } from "../checkers/linearizable.js";
import { voteOnce } from "../checkers/vote-once.js";
import type { AnyMachine, ClusterView, InvariantChecker, MachineAdapter, RunReporter, TraceLine } from "./adapter.js";

const d = CLUSTER_DEFAULTS;

export interface ClusterAdapterConfig extends Omit<ClusterConfig, "bootstrap"> {
  readonly topology: { readonly masters: number; readonly replicasPerMaster: number; readonly preformed: boolean };
}

const configSchema = z
  .object({
    topology: z
      .object({
        masters: z.number().int().min(1).max(5000).default(3),
        replicasPerMaster: z.number().int().min(0).max(10).default(1),
        preformed: z.boolean().default(false),
      })
      .strict()
      .default({ masters: 3, replicasPerMaster: 1, preformed: false }),
    nodeTimeoutMs: z.number().int().positive().default(d.nodeTimeoutMs),
    replicaValidityFactor: z.number().int().nonnegative().default(d.replicaValidityFactor),
    migrationBarrier: z.number().int().nonnegative().default(d.migrationBarrier),
    allowReplicaMigration: z.boolean().default(d.allowReplicaMigration),
    requireFullCoverage: z.boolean().default(d.requireFullCoverage),
    replPingPeriodMs: z.number().int().positive().default(d.replPingPeriodMs),
    replBacklogBytes: z.number().int().positive().default(d.replBacklogBytes),
    replicaPriority: z.number().int().nonnegative().default(d.replicaPriority),
    nofailover: z.boolean().default(d.nofailover),
    requirepass: z.string().default(d.requirepass),
    cronMs: z.number().int().positive().default(d.cronMs),
    bugs: z.object({ voteBeforePersist: z.boolean().default(false) }).strict().default({ voteBeforePersist: false }),
  })
  .strict()
  .prefault({});

/** Where node `i` of `peers` sits in the topology: its slots and epoch as a master, or its master. */
const splits = new Map<number, [number, number][]>();

function layout(peers: readonly NodeId[], i: number, masters: number, replicasPerMaster: number): { slots: [number, number][]; configEpoch: number; replicaOf: NodeId | null } {
  let split = splits.get(masters);
  if (split === undefined) {
    split = splitSlots(masters);
    splits.set(masters, split);
  }
  if (i < masters) return { slots: [split[i] as [number, number]], configEpoch: i + 1, replicaOf: null };
  const r = i - masters;
  // A replica's configEpoch is its master's (what it announces in headers).
  if (r < masters * replicasPerMaster) return { slots: [], configEpoch: (r % masters) + 1, replicaOf: peers[r % masters] as NodeId };
  return { slots: [], configEpoch: 0, replicaOf: null }; // an extra, empty master
}

/** A stable 40-hex name for a preformed cluster's node (FNV-1a of the address, five ways). */
const names = new Map<NodeId, string>();

function preformedName(address: NodeId): string {
  const known = names.get(address);
  if (known !== undefined) return known;
  let out = "";
  for (let k = 0; k < 5; k++) {
    let h = (0x811c9dc5 ^ (k * 0x9e3779b1)) >>> 0;
    for (const ch of `${k}:${address}`) h = Math.imul(h ^ (ch.codePointAt(0) as number), 0x01000193) >>> 0;
    out += h.toString(16).padStart(8, "0");
  }
  names.set(address, out);
  return out;
}

type Preformed = NonNullable<NonNullable<ClusterConfig["bootstrap"]>["preformed"]>["nodes"];
const tables = new WeakMap<readonly NodeId[], Map<string, Preformed>>();

/** The preformed table, built once per deployment and shared (read-only) by every node. */
function preformedTable(peers: readonly NodeId[], masters: number, replicasPerMaster: number): Preformed {
  let byShape = tables.get(peers);
  if (byShape === undefined) {
    byShape = new Map();
    tables.set(peers, byShape);
  }
  const shape = `${masters}x${replicasPerMaster}`;
  let table = byShape.get(shape);
  if (table === undefined) {
    table = peers.map((address, j) => ({ name: preformedName(address), address, ...layout(peers, j, masters, replicasPerMaster) }));
    byShape.set(shape, table);
  }
  return table;
}

/** The bootstrap for node `id` among `peers` under the topology. */
function bootstrapFor(init: MachineInit<ClusterAdapterConfig>): ClusterConfig["bootstrap"] {
  const { masters, replicasPerMaster, preformed } = init.config.topology;
  const i = init.peers.indexOf(init.id);
  const mine = layout(init.peers, i, masters, replicasPerMaster);
  if (!preformed) return { ...mine, meet: init.peers.filter((p) => p !== init.id) };
  return {
    ...mine,
    meet: [],
    preformed: {
      name: preformedName(init.id),
      nodes: preformedTable(init.peers, masters, replicasPerMaster),
    },
  };
}

function node(m: AnyMachine): ClusterNode {
  return m as unknown as ClusterNode;
}

// ---- invariants -----------------------------------------------------------------------------------

/** At most one master claims a slot in any configEpoch (claims: bootstrap, promotion, epoch bumps). */
function oneOwnerPerEpoch(): InvariantChecker {
  const claims = new Map<number, { node: string; slots: SlotSet }[]>();
  return {
    name: "one-owner-per-epoch",
    description: "no two masters claim one slot with the same configEpoch",
    onTrace(line: TraceLine) {
      if (line.type !== "claim" || line.node === undefined) return null;
      const epoch = line["epoch"] as number;
      const slots = SlotSet.parse(String(line["slots"]));
      const list = claims.get(epoch) ?? [];
      for (const c of list) {
        if (c.node === line.node) continue;
        for (const s of slots) if (c.slots.has(s)) return `${c.node} and ${line.node} both claimed slot ${s} with configEpoch ${epoch}`;
      }
      list.push({ node: line.node, slots });
      claims.set(epoch, list);
      return null;
    },
  };
}

/** On every node, the configEpoch of a slot's owner never goes down (a wipe starts a new node). */
function ownerEpochMonotonic(): InvariantChecker {
  const seen = new Map<string, Int32Array>();
  return {
    name: "owner-epoch-monotonic",
    description: "on every node, a slot's owner epoch never goes backwards, across restarts too",
    onTrace(line: TraceLine) {
      if (line.node === undefined) return null;
      if (line.type === "fault" && line["action"] === "wipe") {
        seen.delete(line.node);
        return null;
      }
      if (line.type !== "slots-owner") return null;
      const epoch = line["epoch"] as number;
      let arr = seen.get(line.node);
      if (arr === undefined) {
        arr = new Int32Array(SLOTS).fill(-1);
        seen.set(line.node, arr);
      }
      for (const [lo, hi] of SlotSet.parse(String(line["slots"])).ranges()) {
        for (let s = lo; s <= hi; s++) {
          const before = arr[s] as number;
          if (epoch < before) return `${line.node} moved slot ${s} to ${String(line["owner"])} with epoch ${epoch}, below the ${before} it had seen`;
          arr[s] = epoch;
        }
      }
      return null;
    },
  };
}

/**
 * currentEpoch never decreases on a node, across restarts (a wipe starts a new node). Read from the
 * `epoch` events a node emits once a new currentEpoch is durable, and from what it recovers.
 */
function currentEpochMonotonic(): InvariantChecker {
  const max = new Map<string, number>();
  return {
    name: "current-epoch-monotonic",
    description: "a node's currentEpoch, once announced, never decreases, across restarts too",
    onTrace(line: TraceLine) {
      if (line.node === undefined) return null;
      if (line.type === "fault" && line["action"] === "wipe") {
        max.delete(line.node);
        return null;
      }
      if (line.type !== "epoch" && line.type !== "recovered") return null;
      const e = line["currentEpoch"];
      if (typeof e !== "number") return null;
      const before = max.get(line.node) ?? 0;
      if (e < before) return `${line.node}'s currentEpoch went from ${before} back to ${e}${line.type === "recovered" ? " on restart" : ""}`;
      max.set(line.node, e);
      return null;
    },
  };
}

// ---- writes lost ----------------------------------------------------------------------------------

/**
 * Every acknowledged RPUSH element should be in its list on the node that serves the key's slot at
 * the end. Those missing were acknowledged and then lost (asynchronous replication under a
 * failover or partition): Redis's known weakness, counted here rather than failed.
 */
/** The workload's commands as the linearizability checker's list calls (null: not checked). */
function callOf(cmd: readonly unknown[]): Call | null {
  if (cmd[0] === "RPUSH" && cmd.length === 3) return { kind: "rpush", value: String(cmd[2]) };
  if (cmd[0] === "LRANGE" && cmd[2] === "0" && cmd[3] === "-1") return { kind: "lrange" };
  return null;
}

/**
 * Whether every key's client history is linearizable (core/cluster replicates asynchronously, so
 * a failover may lose acknowledged writes and a run with faults may well not be; with no faults
 * it must be). A definite error (MOVED, CLUSTERDOWN) took no effect and is left out; a timed-out
 * operation may or may not have. A figure, not a verdict: scenarios decide what they expect.
 */
function linearizability(): RunReporter {
  const open = new Map<string, { key: string; call: Call; client: string; invokeMs: number }>();
  const ops: KeyedOp[] = [];
  return {
    name: "linearizable",
    onTrace(line: TraceLine) {
      if (line.type !== "client-op" || line.node === undefined) return;
      const k = `${line.node}\u0000${String(line["op"])}`;
      if (line["phase"] === "invoke") {
        const cmd = (line["req"] as { cmd?: unknown } | null)?.cmd;
        const call = Array.isArray(cmd) ? callOf(cmd) : null;
        if (call !== null) open.set(k, { key: String((cmd as unknown[])[1]), call, client: line.node, invokeMs: line.t });
        return;
      }
      const o = open.get(k);
      if (o === undefined) return;
      open.delete(k);
      if (line["phase"] === "info") ops.push({ ...o, completeMs: null });
      else if (line["phase"] === "ok") ops.push({ ...o, completeMs: line.t, result: line["value"] as Result });
    },
    report() {
      for (const o of open.values()) ops.push({ ...o, completeMs: null }); // still waiting at the end
      const keys = new Set(ops.map((o) => o.key)).size;
      const r = checkKeyed(ops, () => listModel);
      const text =
        r.verdict === "ok"
          ? `yes: ${ops.length} operations on ${keys} keys`
          : r.verdict === "violation"
            ? `no: ${r.culprit ?? "a key's history has no valid order"}`
            : `unknown: the search ran out of budget (${r.steps} steps)`;
      return { text, figures: { verdict: r.verdict, operations: ops.length, keys, steps: r.steps } };
    },
  };
}

function lostWrites(): RunReporter {
  const invoked = new Map<string, { key: string; element: string }>();
  const acked: { key: string; element: string }[] = [];
  return {
    name: "writes lost",
    onTrace(line: TraceLine) {
      if (line.type !== "client-op" || line.node === undefined) return;
      const k = `${line.node}\u0000${String(line["op"])}`;
      if (line["phase"] === "invoke") {
        const cmd = (line["req"] as { cmd?: unknown } | null)?.cmd;
        if (Array.isArray(cmd) && cmd[0] === "RPUSH") invoked.set(k, { key: String(cmd[1]), element: String(cmd[2]) });
        return;
      }
      const w = invoked.get(k);
      invoked.delete(k);
      if (w !== undefined && line["phase"] === "ok") acked.push(w);
    },
    report(view: ClusterView) {
      const byKey = new Map<string, Set<string> | null>();
      let lost = 0;
      const examples: string[] = [];
      for (const w of acked) {
        let present = byKey.get(w.key);
        if (present === undefined) {
          present = finalList(view, w.key);
          byKey.set(w.key, present);
        }
        if (present === null || present.has(w.element)) continue;
        lost += 1;
        if (examples.length < 3) examples.push(`${w.element} in ${w.key}`);
      }
      const unknown = [...byKey.values()].filter((v) => v === null).length;
      const text =
        acked.length === 0
          ? "no acknowledged writes"
          : `${lost} of ${acked.length} acknowledged writes lost${examples.length > 0 ? ` (e.g. ${examples.join(", ")})` : ""}${unknown > 0 ? `; ${unknown} keys had no live owner to check` : ""}`;
      return { text, figures: { acknowledged: acked.length, lost, uncheckedKeys: unknown } };
    },
  };
}

/** The list at `key` on the live master that serves it, as most live masters see the owner; null if none. */
function finalList(view: ClusterView, key: string): Set<string> | null {
  for (const id of view.nodes) {
    const m = view.machine(id);
    if (m === null || view.status(id) !== "up") continue;
    const n = node(m);
    if (n.inspect().role !== "master" || !n.servesKey(key)) continue;
    return new Set(n.list(key));
  }
  return null;
}

/** The simulator's node behind a MOVED/ASK endpoint: "n2:6379" is n2 (core/cluster/format.ts endpointOf). */
function nodeOfEndpoint(endpoint: string): NodeId {
  return endpoint.endsWith(":6379") ? endpoint.slice(0, -5) : endpoint;
}

// ---- the adapter ----------------------------------------------------------------------------------

const slotMapCache = new WeakMap<ClusterNode, { version: number; map: string }>();

function slotMapOf(n: ClusterNode): string {
  const hit = slotMapCache.get(n);
  if (hit !== undefined && hit.version === n.slotsVersion) return hit.map;
  const map = n.slotMap();
  slotMapCache.set(n, { version: n.slotsVersion, map });
  return map;
}

export const clusterAdapter: MachineAdapter<ClusterAdapterConfig> = {
  name: "redis-cluster",
  summary: "Redis Cluster: gossip, PFAIL → FAIL, replica elections, epochs, replication (core/cluster)",
  configSchema: configSchema as unknown as z.ZodType<ClusterAdapterConfig>,
  observation: [
    { name: "role", type: "string", values: ["master", "replica"], doc: "master or replica" },
    { name: "master", type: "string", nullable: true, doc: "the address of the node's master (replicas)" },
    { name: "currentEpoch", type: "number", doc: "the greatest epoch the node has seen" },
    { name: "configEpoch", type: "number", doc: "the node's configEpoch (its master's, for a replica)" },
    { name: "state", type: "string", values: ["ok", "fail"], doc: "the cluster state as this node reports it" },
    { name: "slots", type: "number", doc: "slots this node serves as a master" },
    { name: "offset", type: "number", doc: "replication offset" },
    { name: "replState", type: "string", values: ["none", "connecting", "loading", "connected"], doc: "replication link state (replicas)" },
    { name: "slotsVersion", type: "number", doc: "changes whenever the node's slot table changes" },
  ],
  keyEvents: ["pfail", "fail", "failover-start", "vote-request", "promoted", "demoted", "cluster-state", "recovered", "mf-start", "mf-caught-up", "replica-migration", "config-epoch-collision", "failover-wait"],
  create(init) {
    const { topology: _t, ...rest } = init.config;
    return new ClusterNode({ ...init, config: { ...rest, bootstrap: bootstrapFor(init) } }) as unknown as AnyMachine;
  },
  observe(m) {
    const s = node(m).inspect();
    return { role: s.role, master: s.master, currentEpoch: s.currentEpoch, configEpoch: s.configEpoch, state: s.state, slots: s.slots, offset: s.offset, replState: s.replState, slotsVersion: s.slotsVersion };
  },
  invariants: () => [
    oneOwnerPerEpoch(),
    ownerEpochMonotonic(),
    voteOnce({ name: "vote-once-per-epoch", description: "no master votes twice in one epoch, even across a crash", round: "epoch", forgetOnWipe: true }),
    currentEpochMonotonic(),
  ],
  reporters: () => [lostWrites(), linearizability()],
  converged(view) {
    const live = view.nodes.filter((n) => view.status(n) === "up");
    if (live.length === 0) return "no node is up";
    const first = live[0] as NodeId;
    const map = slotMapOf(node(view.machine(first) as AnyMachine));
    for (const id of live) {
      const n = node(view.machine(id) as AnyMachine);
      if (slotMapOf(n) !== map) return `${id} and ${first} disagree on slot owners`;
      if (n.inspect().state !== "ok") return `${id} reports the cluster ${n.inspect().state}`;
    }
    if (map.includes("=-")) return "some slots have no owner";
    return null;
  },
  workload: {
    description: "RPUSH unique elements and LRANGE on a few keys, following MOVED redirects",
    request(rng, client, opIndex) {
      const key = `k${Math.floor(rng.next() * 64)}`;
      return rng.next() < 0.7 ? { cmd: ["RPUSH", key, `${client}-${opIndex}`] } : { cmd: ["LRANGE", key, "0", "-1"] };
    },
    toJson: (reply) => plain(reply as RespValue) as Json,
    classify(reply: Json) {
      if (reply !== null && typeof reply === "object" && !Array.isArray(reply) && "err" in reply) {
        const err = String(reply["err"]);
        const moved = /^(MOVED|ASK) \d+ (\S+)$/.exec(err);
        if (moved !== null) return { outcome: "redirect", to: nodeOfEndpoint(moved[2] as string) };
        return { outcome: "fail" };
      }
      return { outcome: "ok" };
    },
  },
};
