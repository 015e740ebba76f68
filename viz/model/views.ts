// What the map shows of a node, folded from every node's beliefs: a node is FAIL when a live
// node holds it FAIL (Redis broadcasts FAIL, so one is the cluster's verdict), PFAIL when a live
// node suspects it and none has failed it; and the slot bar, from the masters' own claims.

import { rangesSize, SLOTS, type Ranges } from "./slots.js";
import { PEER_FLAG, type ClusterState, type NodeState, type Status } from "./state.js";

export type MapFlag = "pfail" | "fail" | "handshake" | "crashed" | "paused" | "partitioned";

export interface NodeSummary {
  readonly id: string;
  readonly role: string | null;
  readonly status: Status;
  /** In the order of MapFlag's declaration, for stable DOM attributes. */
  readonly flags: readonly MapFlag[];
  /** Live nodes holding it FAIL / PFAIL / in handshake. */
  readonly failBy: readonly string[];
  readonly pfailBy: readonly string[];
  readonly handshakeBy: readonly string[];
  readonly master: string | null;
  readonly currentEpoch: number | null;
  readonly configEpoch: number | null;
  readonly term: number | null;
  /** Slots it claims, 0 if none. */
  readonly slots: number;
}

const FLAG_ORDER: readonly MapFlag[] = ["pfail", "fail", "handshake", "crashed", "paused", "partitioned"];

export function summarize(s: ClusterState, id: string): NodeSummary {
  const n = s.nodes.get(id);
  if (n === undefined) throw new Error(`no node ${id}`);
  const failBy: string[] = [];
  const pfailBy: string[] = [];
  const handshakeBy: string[] = [];
  for (const [observer, o] of s.nodes) {
    if (observer === id || o.status === "crashed") continue;
    const p = o.peers.get(id);
    if (p === undefined) continue;
    if (p.flags & PEER_FLAG.fail) failBy.push(observer);
    else if (p.flags & PEER_FLAG.pfail) pfailBy.push(observer);
    if (p.flags & PEER_FLAG.handshake) handshakeBy.push(observer);
  }
  const flags = new Set<MapFlag>();
  if (failBy.length > 0) flags.add("fail");
  else if (pfailBy.length > 0) flags.add("pfail");
  if (handshakeBy.length > 0) flags.add("handshake");
  if (n.status === "crashed") flags.add("crashed");
  if (n.status === "paused") flags.add("paused");
  if (partitionedAway(s, id)) flags.add("partitioned");
  return {
    id,
    role: n.role,
    status: n.status,
    flags: FLAG_ORDER.filter((f) => flags.has(f)),
    failBy,
    pfailBy,
    handshakeBy,
    master: n.master,
    currentEpoch: n.currentEpoch,
    configEpoch: n.configEpoch,
    term: n.raft?.term ?? null,
    slots: n.claim === null ? 0 : rangesSize(n.claim.slots),
  };
}

/**
 * Whether a partition cuts the node off from the largest group (ties: the first of the largest).
 * A node named in no group of a partition sits with the rest, which is the largest side.
 */
export function partitionedAway(s: ClusterState, id: string): boolean {
  for (const p of s.partitions.values()) {
    let largest = -1;
    let size = -1;
    p.groups.forEach((g, k) => {
      if (g.length > size) {
        size = g.length;
        largest = k;
      }
    });
    const mine = p.groups.findIndex((g) => g.includes(id));
    if (mine !== -1 && mine !== largest) return true;
  }
  return false;
}

/** One stretch of the slot bar. `contested`: another claim at a lower epoch still covers it. */
export interface SlotSegment {
  readonly lo: number;
  readonly hi: number;
  readonly owner: string | null;
  readonly epoch: number | null;
  readonly contested: boolean;
}

/**
 * The slot bar: each slot goes to the claim with the highest configEpoch (as Redis resolves it;
 * equal epochs: the node first in trace order). Crashed masters' claims count — they come back
 * with them — and show up as `contested` where a newer claim took over.
 */
export function slotBar(s: ClusterState): SlotSegment[] {
  const claims: { owner: string; epoch: number; order: number; slots: Ranges }[] = [];
  let order = 0;
  for (const n of s.nodes.values()) {
    if (n.claim !== null) claims.push({ owner: n.id, epoch: n.claim.epoch, order, slots: n.claim.slots });
    order += 1;
  }
  const cuts = new Set<number>([0, SLOTS]);
  for (const c of claims) for (const [lo, hi] of c.slots) cuts.add(lo).add(hi + 1);
  const bounds = [...cuts].sort((a, b) => a - b);
  const out: SlotSegment[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const lo = bounds[k] as number;
    const hi = (bounds[k + 1] as number) - 1;
    let best: (typeof claims)[number] | null = null;
    let covering = 0;
    for (const c of claims) {
      if (!c.slots.some(([a, b]) => a <= lo && hi <= b)) continue;
      covering += 1;
      if (best === null || c.epoch > best.epoch || (c.epoch === best.epoch && c.order < best.order)) best = c;
    }
    const seg: SlotSegment = { lo, hi, owner: best?.owner ?? null, epoch: best?.epoch ?? null, contested: covering > 1 };
    const last = out.at(-1);
    if (last !== undefined && last.owner === seg.owner && last.epoch === seg.epoch && last.contested === seg.contested) out[out.length - 1] = { ...last, hi };
    else out.push(seg);
  }
  return out;
}

/** A node's own view of the slot owners, as slot-bar segments (unknown slots: owner null). */
export function slotViewBar(n: NodeState): SlotSegment[] {
  const out: SlotSegment[] = [];
  let next = 0;
  for (const r of n.slotView.ranges) {
    if (r.lo > next) out.push({ lo: next, hi: r.lo - 1, owner: null, epoch: null, contested: false });
    out.push({ lo: r.lo, hi: r.hi, owner: r.owner, epoch: null, contested: false });
    next = r.hi + 1;
  }
  if (next < SLOTS) out.push({ lo: next, hi: SLOTS - 1, owner: null, epoch: null, contested: false });
  return out;
}
