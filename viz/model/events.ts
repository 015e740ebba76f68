// The event list's text and filters, and the key events the timeline jumps between (faults,
// PFAIL, FAIL, elections, votes, promotions, leader changes).

import type { Json } from "../../core/trace.js";
import type { Ev } from "./trace.js";

/** Event types worth stopping at; `fault` counts except for the swarm's bookkeeping lines. */
export const KEY_TYPES: ReadonlySet<string> = new Set([
  "fault",
  "pfail",
  "fail",
  "failover-start",
  "vote-request",
  "vote",
  "promoted",
  "demoted",
  "leader",
  "step-down",
  "raft-leader",
  "raft-term",
  "raft-step-down",
  "cluster-state",
  "reshard-start",
  "reshard-done",
  "reshard-error",
  "mf-start",
  "replica-migration",
  "config-epoch-collision",
]);

const QUIET_FAULTS = new Set(["skipped", "network"]);

export function isKeyEvent(e: Ev): boolean {
  return KEY_TYPES.has(e.type) && !(e.type === "fault" && QUIET_FAULTS.has(String(e.f["action"])));
}

/** Indices of the key events, in order. */
export function keyEventIndices(events: readonly Ev[]): number[] {
  const out: number[] = [];
  for (const e of events) if (isKeyEvent(e)) out.push(e.i);
  return out;
}

/** The first key event strictly after `t`, or null. */
export function nextKeyEvent(events: readonly Ev[], keys: readonly number[], t: number): Ev | null {
  const k = firstKeyAfter(events, keys, t);
  return k < keys.length ? (events[keys[k] as number] as Ev) : null;
}

/** The last key event strictly before `t`, or null. */
export function previousKeyEvent(events: readonly Ev[], keys: readonly number[], t: number): Ev | null {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((events[keys[mid] as number] as Ev).t < t) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? (events[keys[lo - 1] as number] as Ev) : null;
}

function firstKeyAfter(events: readonly Ev[], keys: readonly number[], t: number): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((events[keys[mid] as number] as Ev).t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const HIDDEN_FIELDS = new Set(["t", "node", "type", "level"]);
const VALUE_CHARS_MAX = 80;

/** `key=value` pairs of an event's own fields, as the simulator's timeline prints them. */
export function describe(e: Ev): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(e.f)) {
    if (HIDDEN_FIELDS.has(k)) continue;
    parts.push(`${k}=${short(v)}`);
  }
  return parts.join(" ");
}

function short(v: Json): string {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.length > VALUE_CHARS_MAX ? `${s.slice(0, VALUE_CHARS_MAX - 1)}…` : s;
}

export interface EventFilter {
  /** Case-insensitive text looked for in the node, type and fields; "" matches all. */
  readonly text: string;
  /** Types to show; null shows all. */
  readonly types: ReadonlySet<string> | null;
  /** Nodes (or clients) to show; null shows all. */
  readonly nodes: ReadonlySet<string> | null;
  readonly keyOnly: boolean;
}

export const NO_FILTER: EventFilter = { text: "", types: null, nodes: null, keyOnly: false };

export function matches(e: Ev, f: EventFilter): boolean {
  if (f.keyOnly && !isKeyEvent(e)) return false;
  if (f.types !== null && !f.types.has(e.type)) return false;
  if (f.nodes !== null && !f.nodes.has(e.node ?? "")) return false;
  if (f.text === "") return true;
  const needle = f.text.toLowerCase();
  return `${e.node ?? "world"} ${e.type} ${describe(e)}`.toLowerCase().includes(needle);
}

/** Indices of the events that pass the filter (all of them when it is NO_FILTER). */
export function filterEvents(events: readonly Ev[], f: EventFilter): number[] {
  const out: number[] = [];
  for (const e of events) if (matches(e, f)) out.push(e.i);
  return out;
}

/** A stretch of time a node was crashed or paused, for shading its lane. */
export interface Outage {
  readonly node: string;
  readonly kind: "crashed" | "paused";
  readonly from: number;
  /** When it restarted or resumed; the trace's end if it never did. */
  readonly to: number;
}

export function outages(events: readonly Ev[], endT: number): Outage[] {
  const open = new Map<string, { kind: "crashed" | "paused"; from: number }>();
  const out: Outage[] = [];
  for (const e of events) {
    if (e.type !== "fault" || e.node === null) continue;
    const a = e.f["action"];
    if (a === "crash" || a === "pause") {
      if (!open.has(e.node)) open.set(e.node, { kind: a === "crash" ? "crashed" : "paused", from: e.t });
    } else if (a === "restart" || a === "resume") {
      const o = open.get(e.node);
      if (o === undefined) continue;
      open.delete(e.node);
      out.push({ node: e.node, kind: o.kind, from: o.from, to: e.t });
    }
  }
  for (const [node, o] of open) out.push({ node, kind: o.kind, from: o.from, to: endT });
  return out.sort((a, b) => a.from - b.from);
}
