// Reading what the viewer is given: simulator traces (a header line, then events) and real
// nodes' pino logs (`{level, t, node, type, ...}` per line), one or several, merged into one
// event list ordered by time.

import { TRACE_VERSION, type Json, type TraceHeader } from "../../core/trace.js";

/** One event. `f` is the whole line as written, for the details panel and the event list. */
export interface Ev {
  /** Position in the merged list; the state after event `i` is what the viewer shows at `t`. */
  readonly i: number;
  readonly t: number;
  /** The node (or client) it happened on; null for events of the world itself (a partition). */
  readonly node: string | null;
  readonly type: string;
  readonly f: Readonly<Record<string, Json>>;
  /** Which input it came from (an index into `Trace.sources`). */
  readonly source: number;
}

export interface TraceInput {
  /** A name for messages and the page's title: usually the file name. */
  readonly name: string;
  readonly text: string;
}

export interface Source {
  readonly name: string;
  readonly kind: "sim" | "log";
  readonly events: number;
  /** Lines that were not events (torn last line of a killed process, other output), skipped. */
  readonly skipped: number;
  /** The first skipped line's number and reason, to say what was wrong. */
  readonly firstSkipped: string | null;
}

export interface Trace {
  /** The simulator's header, or one made up from the logs (tool "faultline", seed 0). */
  readonly header: TraceHeader;
  readonly events: readonly Ev[];
  /** Server nodes, in the header's order (logs: as first seen); clients are in `clients`. */
  readonly nodes: readonly string[];
  readonly clients: readonly string[];
  readonly sources: readonly Source[];
  /** The simulator's final line (`{"type":"end","result":...}`), if there was one. */
  readonly end: Readonly<Record<string, Json>> | null;
  /** Time shown as 0: 0 for simulated time, the first event's wall-clock ms for logs. */
  readonly t0: number;
}

/** Input that is not a trace or log the viewer can read; the message is for the user. */
export class TraceError extends Error {}

type Line = Readonly<Record<string, Json>>;

interface ParsedInput {
  readonly header: TraceHeader | null;
  readonly lines: Line[];
  readonly end: Line | null;
  readonly source: Source;
}

/** Event types that mean the line is a client operation (their `node` is a client). */
const CLIENT_TYPES = new Set(["client-op", "client-retry", "client-push"]);

function isRecord(x: unknown): x is Line {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Reads one input: its header (if a simulator trace) and the event lines it holds. */
export function parseInput(input: TraceInput): ParsedInput {
  const rows = input.text.split("\n");
  let header: TraceHeader | null = null;
  let end: Line | null = null;
  let kind: "sim" | "log" | null = null;
  let skipped = 0;
  let firstSkipped: string | null = null;
  const lines: Line[] = [];
  const skip = (n: number, why: string): void => {
    skipped += 1;
    firstSkipped ??= `line ${n}: ${why}`;
  };
  for (let n = 0; n < rows.length; n++) {
    const row = (rows[n] as string).trim();
    if (row === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(row);
    } catch {
      skip(n + 1, "not JSON");
      continue;
    }
    if (!isRecord(v)) {
      skip(n + 1, "not a JSON object");
      continue;
    }
    if (v["type"] === "header") {
      if (kind !== null) throw new TraceError(`${input.name}: line ${n + 1}: a header after events`);
      if (v["v"] !== TRACE_VERSION) throw new TraceError(`${input.name}: trace version ${JSON.stringify(v["v"])} (this viewer reads version ${TRACE_VERSION})`);
      header = v as unknown as TraceHeader;
      kind = "sim";
      continue;
    }
    if (v["type"] === "end" && kind === "sim") {
      end = v;
      continue;
    }
    if (typeof v["t"] !== "number" || !Number.isFinite(v["t"]) || typeof v["type"] !== "string") {
      skip(n + 1, "no numeric t or no type");
      continue;
    }
    if (v["node"] !== undefined && v["node"] !== null && typeof v["node"] !== "string") {
      skip(n + 1, "node is not a string");
      continue;
    }
    kind ??= "log";
    lines.push(v);
  }
  if (lines.length === 0) {
    throw new TraceError(`${input.name}: no trace events${firstSkipped === null ? " (empty)" : ` (${firstSkipped})`}`);
  }
  return { header, lines, end, source: { name: input.name, kind: kind ?? "log", events: lines.length, skipped, firstSkipped } };
}

/**
 * Reads and merges inputs. Events keep their order within an input; across inputs they are
 * ordered by time (ties: earlier input first), which is how several real nodes' logs line up.
 */
export function loadTrace(inputs: readonly TraceInput[]): Trace {
  if (inputs.length === 0) throw new TraceError("no trace given");
  const parsed = inputs.map((input) => parseInput(input));
  const merged = mergeByTime(parsed.map((p) => p.lines));
  const events: Ev[] = merged.map(([line, source], i) => ({
    i,
    t: line["t"] as number,
    node: typeof line["node"] === "string" ? line["node"] : null,
    type: line["type"] as string,
    f: line,
    source,
  }));
  const firstHeader = parsed.find((p) => p.header !== null)?.header ?? null;
  const { nodes, clients } = participants(events, parsed.map((p) => p.header));
  const header: TraceHeader = firstHeader ?? {
    v: TRACE_VERSION,
    type: "header",
    tool: "faultline",
    version: "",
    machine: guessMachine(events),
    nodes,
    seed: 0,
    detail: "events",
    scenario: { file: "", name: inputs.map((x) => x.name).join(" + "), source: "" },
  };
  const t0 = firstHeader !== null ? 0 : (events[0]?.t ?? 0);
  return { header, events, nodes, clients, sources: parsed.map((p) => p.source), end: parsed.find((p) => p.end !== null)?.end ?? null, t0 };
}

/** A k-way merge by `t`; inputs already in order (each one is) stay in order. */
function mergeByTime(lists: readonly (readonly Line[])[]): [Line, number][] {
  if (lists.length === 1) return (lists[0] as readonly Line[]).map((l) => [l, 0]);
  const all: [Line, number, number][] = [];
  lists.forEach((list, k) => list.forEach((l, j) => all.push([l, k, j])));
  all.sort((a, b) => (a[0]["t"] as number) - (b[0]["t"] as number) || a[1] - b[1] || a[2] - b[2]);
  return all.map(([l, k]) => [l, k]);
}

/** Server nodes (header order first, then as first seen) and clients (sorted). */
function participants(events: readonly Ev[], headers: readonly (TraceHeader | null)[]): { nodes: string[]; clients: string[] } {
  const nodes: string[] = [];
  const seen = new Set<string>();
  const add = (n: string): void => {
    if (seen.has(n)) return;
    seen.add(n);
    nodes.push(n);
  };
  for (const h of headers) for (const n of h?.nodes ?? []) add(n);
  const clients = new Set<string>();
  for (const e of events) {
    if (e.node === null) continue;
    if (CLIENT_TYPES.has(e.type)) clients.add(e.node);
    else if (!clients.has(e.node)) add(e.node);
  }
  return { nodes: nodes.filter((n) => !clients.has(n)), clients: [...clients].sort(naturalCompare) };
}

/** Event types only the Redis Cluster node writes, to name the machine of a log. */
const CLUSTER_TYPES = new Set(["claim", "slots-owner", "cluster-state", "pfail", "failure-report", "failover-start", "promoted"]);

function guessMachine(events: readonly Ev[]): string {
  for (const e of events) {
    if (CLUSTER_TYPES.has(e.type)) return "redis-cluster";
    if (e.type.startsWith("raft-")) return "raft";
  }
  return "unknown";
}

/** "n2" before "n10". */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

/** The number of events at or before `t` (so `events[0..k)` is the past at `t`). Binary search. */
export function countAtOrBefore(events: readonly Ev[], t: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((events[mid] as Ev).t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
