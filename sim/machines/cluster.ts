// Adapter for core/cluster/node.ts: the Redis Cluster control plane and data plane in the simulator.
//
// Topology: `config.topology` says how many masters and replicas per master; the first `masters`
// nodes serve the slots split evenly (as `redis-cli --cluster create` splits them, with
// configEpochs 1, 2, 3, ...), the rest replicate them round-robin, and everyone MEETs everyone.

import { z } from "zod";
import type { MachineInit, NodeId } from "../../core/machine.js";
import { ClusterNode } from "../../core/cluster/node.js";
import { keySlot, SlotSet, SLOTS, splitSlots } from "../../core/cluster/slots.js";
import { CLUSTER_DEFAULTS, type ClusterConfig } from "../../core/cluster/types.js";
import type { Json } from "../../core/trace.js";
import { plain } from "../../core/keyspace/plain.js";
import type { RespValue } from "../../core/resp/codec.js";
import { type Call, checkKeyed, type KeyedOp, listModel, type Result } from "../checkers/linearizable.js";
import { voteOnce } from "../checkers/vote-once.js";
import { RETRY_DELAY_MS } from "../workload.js";
import type { AnyMachine, ClusterView, InvariantChecker, MachineAdapter, Operator, RunReporter, TraceLine, Verdict } from "./adapter.js";

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
    appendonly: z.boolean().default(d.appendonly),
    appendfsync: z.enum(["always", "everysec", "no"]).default(d.appendfsync),
    aofRangeSlots: z
      .number()
      .int()
      .positive()
      .refine((n) => SLOTS % n === 0, "must divide 16384")
      .default(d.aofRangeSlots),
    aofRewriteBytes: z.number().int().positive().default(d.aofRewriteBytes),
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

// ---- WAIT durability -------------------------------------------------------------------------------

/** Faults that can lose a WAIT-acknowledged write without breaking Redis's promise (partitions: the replica may be on the wrong side). */
const NOT_CRASH_ONLY = new Set(["partition", "clog", "pause", "clock", "network", "disk", "wipe"]);

/**
 * A write acknowledged and then confirmed by WAIT 1 (≥ 1 replica has it) survives any single-node
 * crash: it is in its list on the slot's live master at the end. Judged in crash-only runs; a run
 * with partitions, pauses, clock or disk faults or wipes makes no such promise, so it is not judged.
 */
function waitDurable(): InvariantChecker {
  const lastWrite = new Map<string, { key: string; element: string; node: string }>();
  const pendingWait = new Map<string, { key: string; element: string; node: string }>();
  const durable: { key: string; element: string }[] = [];
  const invoked = new Map<string, { cmd: Json[]; target: string }>();
  let crashOnly = true;
  return {
    name: "wait-durable",
    description: "in crash-only runs, a write confirmed by WAIT 1 (≥ 1 replica acknowledged) is never lost",
    onTrace(line: TraceLine) {
      if (line.type === "fault" && NOT_CRASH_ONLY.has(String(line["action"]))) crashOnly = false;
      if (line.type !== "client-op" || line.node === undefined) return null;
      const k = `${line.node}\u0000${String(line["op"])}`;
      if (line["phase"] === "invoke") {
        const cmd = (line["req"] as { cmd?: Json[] } | null)?.cmd;
        if (Array.isArray(cmd)) invoked.set(k, { cmd, target: String(line["target"]) });
        if (Array.isArray(cmd) && cmd[0] === "WAIT") {
          const w = lastWrite.get(line.node);
          if (w !== undefined) pendingWait.set(k, w);
        }
        lastWrite.delete(line.node);
        return null;
      }
      const op = invoked.get(k);
      invoked.delete(k);
      if (op === undefined || line["phase"] !== "ok") {
        pendingWait.delete(k);
        return null;
      }
      if (op.cmd[0] === "RPUSH") lastWrite.set(line.node, { key: String(op.cmd[1]), element: String(op.cmd[2]), node: String(line["from"]) });
      const w = pendingWait.get(k);
      pendingWait.delete(k);
      // WAIT counts replicas of the node that took the write: it must be that node answering.
      if (w !== undefined && typeof line["value"] === "number" && line["value"] >= 1 && String(line["from"]) === w.node) durable.push(w);
      return null;
    },
    atEnd(view: ClusterView) {
      if (!crashOnly) return null;
      const lists = new Map<string, Set<string> | null>();
      for (const w of durable) {
        let present = lists.get(w.key);
        if (present === undefined) {
          present = finalList(view, w.key);
          lists.set(w.key, present);
        }
        if (present !== null && !present.has(w.element)) return `${w.element} in ${w.key} was confirmed by WAIT 1 and is gone (${durable.length} writes confirmed)`;
      }
      return null;
    },
  };
}

// ---- pub/sub delivery -----------------------------------------------------------------------------

const PUBSUB_CHANNEL = "news";

/** lists-tagged's hash tags: t21, t25, t179 and t188 hash into slots 333, 457, 361 and 374; the rest elsewhere. */
const TAGS = ["t21", "t25", "t179", "t188", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10", "t11"];

/**
 * Pub/sub across failures: every acknowledged PUBLISH against every subscriber, which messages
 * each received, and how those published during an election (a crash to the next promotion) fared.
 */
function pubsubDelivery(): RunReporter {
  const published: { msg: string; t: number }[] = [];
  const received = new Map<string, Set<string>>();
  const subscribedAt = new Map<string, number>();
  const invoked = new Map<string, string | null>();
  const windows: { from: number; to: number }[] = [];
  let crashAt: number | null = null;
  return {
    name: "pub/sub",
    onTrace(line: TraceLine) {
      if (line.type === "fault" && line["action"] === "crash") crashAt ??= line.t;
      if (line.type === "promoted" && crashAt !== null) {
        windows.push({ from: crashAt, to: line.t });
        crashAt = null;
      }
      if (line.node === undefined) return;
      if (line.type === "client-push") {
        let set = received.get(line.node);
        if (set === undefined) received.set(line.node, (set = new Set()));
        set.add(String(line["value"]));
        return;
      }
      if (line.type !== "client-op") return;
      const k = `${line.node}\u0000${String(line["op"])}`;
      if (line["phase"] === "invoke") {
        const cmd = (line["req"] as { cmd?: Json[] } | null)?.cmd;
        invoked.set(k, Array.isArray(cmd) && cmd[0] === "PUBLISH" ? String(cmd[2]) : Array.isArray(cmd) && cmd[0] === "SUBSCRIBE" ? null : "-");
        return;
      }
      const what = invoked.get(k);
      invoked.delete(k);
      if (line["phase"] !== "ok" || what === undefined || what === "-") return;
      if (what === null) {
        if (!subscribedAt.has(line.node)) subscribedAt.set(line.node, line.t);
      } else published.push({ msg: what, t: line.t });
    },
    report() {
      if (published.length === 0 && subscribedAt.size === 0) return { text: "no pub/sub traffic", figures: {} };
      const subscribers = [...subscribedAt.keys()].sort();
      let expected = 0;
      let got = 0;
      const missing: Record<string, number> = {};
      for (const s of subscribers) {
        const since = subscribedAt.get(s) as number;
        const mine = received.get(s) ?? new Set<string>();
        const due = published.filter((p) => p.t > since);
        const hit = due.filter((p) => mine.has(p.msg)).length;
        expected += due.length;
        got += hit;
        missing[s] = due.length - hit;
      }
      const inWindow = published.filter((p) => windows.some((w) => p.t >= w.from && p.t <= w.to));
      const windowDelivered = inWindow.reduce((n, p) => n + subscribers.filter((s) => received.get(s)?.has(p.msg) === true).length, 0);
      const text = `${published.length} messages published to ${subscribers.length} subscribers: ${got} of ${expected} deliveries made${inWindow.length > 0 ? `; ${inWindow.length} published during elections, ${windowDelivered} of ${inWindow.length * subscribers.length} of their deliveries made` : ""}`;
      return { text, figures: { published: published.length, subscribers: subscribers.length, expected, delivered: got, missing, electionPublished: inWindow.length, electionDelivered: windowDelivered } };
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
      const perKey = new Map<string, { acknowledged: number; lost: number }>();
      let lost = 0;
      const examples: string[] = [];
      for (const w of acked) {
        let present = byKey.get(w.key);
        if (present === undefined) {
          present = finalList(view, w.key);
          byKey.set(w.key, present);
        }
        let k = perKey.get(w.key);
        if (k === undefined) perKey.set(w.key, (k = { acknowledged: 0, lost: 0 }));
        k.acknowledged += 1;
        if (present === null || present.has(w.element)) continue;
        lost += 1;
        k.lost += 1;
        if (examples.length < 3) examples.push(`${w.element} in ${w.key}`);
      }
      // Per key, for the keys that lost any: acknowledged and lost writes (most lost first).
      const lossy = [...perKey].filter(([, v]) => v.lost > 0).sort((a, b) => b[1].lost - a[1].lost || (a[0] < b[0] ? -1 : 1));
      const keysWithLoss: Record<string, Json> = {};
      for (const [key, v] of lossy) keysWithLoss[key] = v;
      const unknown = [...byKey.values()].filter((v) => v === null).length;
      const text =
        acked.length === 0
          ? "no acknowledged writes"
          : `${lost} of ${acked.length} acknowledged writes lost${lossy.length > 0 ? `, in ${lossy.length} of ${perKey.size} keys` : ""}${examples.length > 0 ? ` (e.g. ${examples.join(", ")})` : ""}${unknown > 0 ? `; ${unknown} keys had no live owner to check` : ""}`;
      return { text, figures: { acknowledged: acked.length, lost, uncheckedKeys: unknown, keysWithLoss } };
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

/** A reply as an ioredis-like client reads it. */
function classifyReply(reply: Json): Verdict {
  if (reply === null || typeof reply !== "object" || Array.isArray(reply) || !("err" in reply)) return { outcome: "ok" };
  const err = String(reply["err"]);
  const redirect = /^(MOVED|ASK) (\d+) (\S+)$/.exec(err);
  if (redirect !== null) {
    const to = nodeOfEndpoint(redirect[3] as string);
    return redirect[1] === "MOVED" ? { outcome: "redirect", to, slot: Number(redirect[2]), moved: true } : { outcome: "redirect", to, asking: true };
  }
  if (err.startsWith("TRYAGAIN") || err.startsWith("CLUSTERDOWN")) return { outcome: "retry", delayMs: RETRY_DELAY_MS };
  return { outcome: "fail" };
}

/** CLUSTER SLOTS (as plain data) → slot ranges and their masters. */
function parseClusterSlots(reply: Json): { from: number; to: number; node: NodeId }[] | null {
  if (!Array.isArray(reply)) return null;
  const out: { from: number; to: number; node: NodeId }[] = [];
  for (const r of reply) {
    if (!Array.isArray(r) || typeof r[0] !== "number" || typeof r[1] !== "number" || !Array.isArray(r[2])) return null;
    const [ip, port] = r[2] as Json[];
    out.push({ from: r[0], to: r[1], node: nodeOfEndpoint(`${String(ip)}:${String(port)}`) });
  }
  return out;
}

/** The simulator's node behind a MOVED/ASK endpoint: "n2:6379" is n2 (core/cluster/format.ts endpointOf). */
function nodeOfEndpoint(endpoint: string): NodeId {
  return endpoint.endsWith(":6379") ? endpoint.slice(0, -5) : endpoint;
}

// ---- operators -----------------------------------------------------------------------------------

/**
 * `reshard`: moves slots from one master to another the way `redis-cli --cluster reshard` does,
 * slot by slot: SETSLOT IMPORTING on the target, MIGRATING on the source, GETKEYSINSLOT + MIGRATE
 * in batches until the slot is empty, then SETSLOT NODE on the target, the source and every other
 * node. Each step is traced (`reshard-step`); an error reply stops it (`reshard-error`).
 */
const reshard: Operator = {
  description: "move slots from one master to another, as redis-cli --cluster reshard does (args: from, to, slots \"lo-hi\", batch)",
  check(args, nodes) {
    for (const k of ["from", "to"] as const) {
      if (typeof args[k] !== "string" || !nodes.includes(args[k])) return `${k}: expected one of ${nodes.join(", ")}`;
    }
    if (args["from"] === args["to"]) return "from and to must differ";
    if (typeof args["slots"] !== "string" || !/^\d+(-\d+)?$/.test(args["slots"])) return 'slots: expected a range such as "0-99"';
    const [lo, hi] = rangeOf(args["slots"]);
    if (lo > hi || hi >= SLOTS) return `slots: ${args["slots"]} is not a range within 0-${SLOTS - 1}`;
    return null;
  },
  run(args, io) {
    const from = String(args["from"]);
    const to = String(args["to"]);
    const [lo, hi] = rangeOf(String(args["slots"]));
    const batch = typeof args["batch"] === "number" ? args["batch"] : 10;
    const names = new Map<NodeId, string>();
    const fail = (what: string, reply: Json | null): void => io.emit(null, { type: "reshard-error", step: what, reply });
    const call = (node: NodeId, cmd: string[], what: string, next: (reply: Json) => void): void => {
      io.request(node, { cmd }, (reply) => {
        if (reply === null || (typeof reply === "object" && !Array.isArray(reply) && "err" in reply)) return fail(`${what} on ${node}`, reply);
        next(reply);
      });
    };
    const learnNames = (i: number, done: () => void): void => {
      if (i >= io.nodes.length) return done();
      const n = io.nodes[i] as NodeId;
      call(n, ["CLUSTER", "MYID"], "CLUSTER MYID", (id) => {
        names.set(n, String(id));
        learnNames(i + 1, done);
      });
    };
    const moveSlot = (slot: number): void => {
      if (slot > hi) {
        io.emit(null, { type: "reshard-done", from, to, slots: `${lo}-${hi}` });
        return;
      }
      const s = String(slot);
      call(to, ["CLUSTER", "SETSLOT", s, "IMPORTING", names.get(from) as string], "SETSLOT IMPORTING", () =>
        call(from, ["CLUSTER", "SETSLOT", s, "MIGRATING", names.get(to) as string], "SETSLOT MIGRATING", () => drain(slot, 0)),
      );
    };
    const drain = (slot: number, moved: number): void => {
      call(from, ["CLUSTER", "GETKEYSINSLOT", String(slot), String(batch)], "GETKEYSINSLOT", (keys) => {
        const list = Array.isArray(keys) ? keys.map(String) : [];
        if (list.length === 0) return finish(slot, moved);
        call(from, ["MIGRATE", to, "6379", "", "0", "5000", "REPLACE", "KEYS", ...list], "MIGRATE", () => drain(slot, moved + list.length));
      });
    };
    const finish = (slot: number, moved: number): void => {
      const s = String(slot);
      const name = names.get(to) as string;
      const order = [to, from, ...io.nodes.filter((n) => n !== to && n !== from)];
      const assign = (i: number): void => {
        if (i >= order.length) {
          io.emit(null, { type: "reshard-step", slot, keys: moved });
          return moveSlot(slot + 1);
        }
        // Replicas refuse SETSLOT (they follow their master); redis-cli only tells masters.
        io.request(order[i] as NodeId, { cmd: ["CLUSTER", "SETSLOT", s, "NODE", name] }, () => assign(i + 1));
      };
      assign(0);
    };
    io.emit(null, { type: "reshard-start", from, to, slots: `${lo}-${hi}` });
    learnNames(0, () => moveSlot(lo));
  },
};

function rangeOf(text: string): [number, number] {
  const [a, b] = text.split("-");
  return [Number(a), Number(b ?? a)];
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
  keyEvents: ["reshard-start", "reshard-done", "reshard-error", "pfail", "fail", "failover-start", "vote-request", "promoted", "demoted", "cluster-state", "recovered", "mf-start", "mf-caught-up", "replica-migration", "config-epoch-collision", "failover-wait"],
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
    waitDurable(),
  ],
  reporters: () => [lostWrites(), linearizability(), pubsubDelivery()],
  operators: { reshard },
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
    description: "clients routed like ioredis's Cluster (slot map, MOVED, ASK, retries)",
    kinds: {
      lists: "RPUSH unique elements and LRANGE on 64 keys",
      "lists-tagged": "the same on 128 keys {tag}:0..7 under 16 hash tags, four of which (t21, t25, t179, t188) hash into slots 300-499",
      wait: "RPUSH a unique element, then WAIT 1 200 on the same node, alternately",
      pubsub: "clients in blocks of six: c1..c6 SUBSCRIBE to one channel (again now and then, as a reconnecting client would), c7..c12 PUBLISH unique messages, and so on",
    },
    request(rng, client, opIndex, kind) {
      if (kind === "pubsub") {
        if (Math.floor((Number(client.slice(1)) - 1) / 6) % 2 === 0) return { cmd: ["SUBSCRIBE", PUBSUB_CHANNEL] };
        return { cmd: ["PUBLISH", PUBSUB_CHANNEL, `${client}-${opIndex}`] };
      }
      const key = kind === "lists-tagged" ? `{${TAGS[Math.floor(rng.next() * TAGS.length)] as string}}:${Math.floor(rng.next() * 8)}` : `k${Math.floor(rng.next() * 64)}`;
      if (kind === "wait") return opIndex % 2 === 0 ? { cmd: ["RPUSH", key, `${client}-${opIndex}`] } : { cmd: ["WAIT", "1", "200"] };
      return rng.next() < 0.7 ? { cmd: ["RPUSH", key, `${client}-${opIndex}`] } : { cmd: ["LRANGE", key, "0", "-1"] };
    },
    onPush(_client, value) {
      const p = plain(value as RespValue) as { push?: Json[] };
      // A published message: trace its payload; subscription notices are not messages.
      return Array.isArray(p.push) && p.push[0] === "message" ? (p.push[2] ?? null) : null;
    },
    toJson: (reply) => plain(reply as RespValue) as Json,
    classify: classifyReply,
    routing: {
      slotOf(req) {
        const cmd = (req as { cmd?: unknown }).cmd;
        if (!Array.isArray(cmd) || typeof cmd[1] !== "string") return null;
        const name = String(cmd[0]).toUpperCase();
        return name === "WAIT" || name === "SUBSCRIBE" || name === "PUBLISH" ? null : keySlot(cmd[1]);
      },
      asking: (req) => ({ ...(req as Record<string, Json>), asking: true }),
      mapRequest: { cmd: ["CLUSTER", "SLOTS"] },
      parseMap: parseClusterSlots,
    },
  },
};
