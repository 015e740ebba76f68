// Pure layout: which nodes form a shard (a master with its replicas), the order of lanes in the
// space-time diagram, and where each node sits on the map. No DOM: the page scales these.

import type { ClusterState } from "./state.js";
import { slotBar, type SlotSegment } from "./views.js";

export interface Shard {
  /** The master that serves the shard's slots now (null: a group with no master, e.g. Raft). */
  readonly head: string | null;
  /** The head first, then the other members in trace order. */
  readonly members: readonly string[];
  /** The lowest slot the shard serves, or null. */
  readonly firstSlot: number | null;
}

const MASTER_ROLES = new Set(["master"]);

/**
 * Groups nodes into shards. A master whose claim a newer master took over (the crashed master
 * after a failover) joins the shard of the node that took it, and so do its replicas: the map
 * shows "n4, n1 (FAIL), ..." together rather than an empty shard that no longer serves anything.
 * Machines without masters (Raft-like roles) form one group in trace order.
 */
export function shards(s: ClusterState, order: readonly string[]): Shard[] {
  const rank = new Map(order.map((id, k) => [id, k]));
  const ids = [...s.nodes.keys()].sort((a, b) => (rank.get(a) ?? Infinity) - (rank.get(b) ?? Infinity) || a.localeCompare(b));
  const isMaster = (id: string): boolean => MASTER_ROLES.has(s.nodes.get(id)?.role ?? "");
  if (!ids.some(isMaster)) return ids.length === 0 ? [] : [{ head: null, members: ids, firstSlot: null }];

  const bar = slotBar(s);
  const headOf = new Map<string, string>();
  const anchor = (id: string, seen: Set<string>): string => {
    const known = headOf.get(id);
    if (known !== undefined) return known;
    const n = s.nodes.get(id);
    let head = id;
    if (n !== undefined && !seen.has(id)) {
      seen.add(id);
      if (isMaster(id) && n.claim !== null) {
        const owner = ownerAt(bar, n.claim.slots[0]?.[0] ?? -1);
        if (owner !== null && owner !== id) head = anchor(owner, seen);
      } else if (!isMaster(id) && n.master !== null && s.nodes.has(n.master)) {
        head = anchor(n.master, seen);
      }
    }
    headOf.set(id, head);
    return head;
  };
  const groups = new Map<string, string[]>();
  for (const id of ids) {
    const head = anchor(id, new Set());
    const g = groups.get(head);
    if (g === undefined) groups.set(head, [id]);
    else g.push(id);
  }
  const out: Shard[] = [];
  for (const [head, members] of groups) {
    const first = bar.find((seg) => seg.owner === head)?.lo ?? null;
    out.push({ head: isMaster(head) ? head : null, members: [head, ...members.filter((m) => m !== head)], firstSlot: first });
  }
  out.sort((a, b) => (a.firstSlot ?? Infinity) - (b.firstSlot ?? Infinity) || (rank.get(a.members[0] as string) ?? Infinity) - (rank.get(b.members[0] as string) ?? Infinity));
  return out;
}

function ownerAt(bar: readonly SlotSegment[], slot: number): string | null {
  for (const seg of bar) if (slot >= seg.lo && slot <= seg.hi) return seg.owner;
  return null;
}

/** Lanes of the space-time diagram: shard by shard, then the clients. */
export function laneOrder(groups: readonly Shard[], clients: readonly string[]): string[] {
  return [...groups.flatMap((g) => g.members), ...clients];
}

export interface Placed {
  readonly id: string;
  readonly x: number;
  readonly y: number;
  /** Index of its shard in `groups`. */
  readonly shard: number;
}

export interface MapLayout {
  readonly nodes: readonly Placed[];
  /** A radius that keeps neighbours apart. */
  readonly radius: number;
  /** The box of each shard, for its outline and label. */
  readonly boxes: readonly { readonly shard: number; readonly x: number; readonly y: number; readonly width: number; readonly height: number }[];
}

/**
 * Shards as columns (head on top, replicas below), wrapped into as many rows as the width needs
 * so that a column is never narrower than `columnMin`.
 */
export function mapLayout(groups: readonly Shard[], width: number, height: number, columnMin = 90): MapLayout {
  if (groups.length === 0) return { nodes: [], radius: 0, boxes: [] };
  const perRow = Math.max(1, Math.min(groups.length, Math.floor(width / columnMin)));
  const rows = Math.ceil(groups.length / perRow);
  const colW = width / perRow;
  const tallest = Math.max(...groups.map((g) => g.members.length));
  const rowH = height / rows;
  const step = rowH / (tallest + 0.5);
  const radius = Math.max(3, Math.min(colW * 0.3, step * 0.38, 26));
  const nodes: Placed[] = [];
  const boxes: MapLayout["boxes"][number][] = [];
  groups.forEach((g, k) => {
    const col = k % perRow;
    const row = Math.floor(k / perRow);
    const x = (col + 0.5) * colW;
    boxes.push({ shard: k, x: col * colW + 4, y: row * rowH + 2, width: colW - 8, height: rowH - 4 });
    g.members.forEach((id, j) => nodes.push({ id, x, y: row * rowH + step * (j + 0.75), shard: k }));
  });
  return { nodes, radius, boxes };
}

/** A time for people: "7.368 s" (ms below one second). */
export function formatMs(ms: number): string {
  if (Math.abs(ms) < 1000) return `${Number(ms.toFixed(3))} ms`;
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/**
 * Labels short enough for a node's circle and lane: the part after what every id shares up to
 * a separator ("127.0.0.1:7000" → "7000" when all are on 127.0.0.1). Ids with nothing in common
 * (n1, n2, ...) stay as they are.
 */
export function shortNames(ids: readonly string[]): Map<string, string> {
  let common = ids.length > 1 ? (ids[0] ?? "") : "";
  for (const id of ids) while (!id.startsWith(common)) common = common.slice(0, -1);
  const cut = Math.max(common.lastIndexOf(":"), common.lastIndexOf("."), common.lastIndexOf("/")) + 1;
  return new Map(ids.map((id) => [id, id.slice(cut) === "" ? id : id.slice(cut)]));
}
