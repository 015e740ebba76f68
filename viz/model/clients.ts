// Client histories as Jepsen records them: each operation an invoke paired with its completion
// (ok, fail, or info = outcome unknown) by client and op number; one still open at the end is
// unknown too. Findings of the run's checkers are attached by time.

import type { Json } from "../../core/trace.js";
import type { Trace } from "./trace.js";

export type OpOutcome = "ok" | "fail" | "info" | "open";

export interface ClientOp {
  readonly client: string;
  readonly op: number;
  readonly invokeT: number;
  /** Completion time; null while it never completed. */
  readonly endT: number | null;
  readonly outcome: OpOutcome;
  /** The command, e.g. ["RPUSH", "k3", "c1-7"], when the invoke carried one. */
  readonly cmd: readonly string[] | null;
  /** The key it touches (the command's first argument), for per-key filtering. */
  readonly key: string | null;
  /** The node it was sent to first, and the node that answered. */
  readonly target: string | null;
  readonly from: string | null;
  readonly value: Json;
  /** Redirections and retries before it completed (client-retry). */
  readonly retries: number;
  readonly invokeI: number;
  readonly endI: number;
}

interface Open {
  client: string;
  op: number;
  invokeT: number;
  invokeI: number;
  cmd: string[] | null;
  target: string | null;
  retries: number;
  slot: number;
}

/** Every client's operations, in invoke order. */
export function clientHistory(trace: Trace): ClientOp[] {
  const open = new Map<string, Open>();
  const done: (ClientOp | null)[] = [];
  for (const e of trace.events) {
    if (e.node === null) continue;
    const f = e.f;
    const op = typeof f["op"] === "number" ? f["op"] : null;
    if (op === null) continue;
    const k = `${e.node}#${op}`;
    if (e.type === "client-retry") {
      const o = open.get(k);
      if (o !== undefined) o.retries += 1;
      continue;
    }
    if (e.type !== "client-op") continue;
    const phase = f["phase"];
    if (phase === "invoke") {
      open.set(k, { client: e.node, op, invokeT: e.t, invokeI: e.i, cmd: commandOf(f["req"]), target: typeof f["target"] === "string" ? f["target"] : null, retries: 0, slot: done.length });
      done.push(null);
    } else if (phase === "ok" || phase === "fail" || phase === "info") {
      const o = open.get(k);
      if (o === undefined) continue;
      open.delete(k);
      done[o.slot] = finish(o, e.t, e.i, phase, typeof f["from"] === "string" ? f["from"] : null, f["value"] ?? null);
    }
  }
  for (const o of open.values()) done[o.slot] = finish(o, null, -1, "open", null, null);
  return done.filter((d): d is ClientOp => d !== null);
}

function finish(o: Open, endT: number | null, endI: number, outcome: OpOutcome, from: string | null, value: Json): ClientOp {
  return { client: o.client, op: o.op, invokeT: o.invokeT, endT, outcome, cmd: o.cmd, key: o.cmd?.[1] ?? null, target: o.target, from, value, retries: o.retries, invokeI: o.invokeI, endI };
}

function commandOf(req: Json | undefined): string[] | null {
  if (req === null || req === undefined || typeof req !== "object" || Array.isArray(req)) return null;
  const cmd = (req as Readonly<Record<string, Json>>)["cmd"];
  return Array.isArray(cmd) ? cmd.map((x) => String(x)) : null;
}

/** A checker's finding: an expectation or invariant that failed, at a time. */
export interface Finding {
  readonly atMs: number;
  readonly kind: string;
  readonly name: string;
  readonly message: string;
}

/**
 * Findings from what `sim run --json` prints (its `failures`: the trace itself does not record
 * them). Returns null when `value` is not such a result.
 */
export function findingsOf(value: unknown): Finding[] | null {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const failures = (value as Record<string, unknown>)["failures"];
  if (!Array.isArray(failures)) return null;
  const out: Finding[] = [];
  for (const f of failures) {
    if (f === null || typeof f !== "object") continue;
    const r = f as Record<string, unknown>;
    if (typeof r["atMs"] !== "number") continue;
    out.push({ atMs: r["atMs"], kind: String(r["kind"] ?? "finding"), name: String(r["name"] ?? ""), message: String(r["message"] ?? "") });
  }
  return out;
}

/** Lanes for the history: one per client, naturally ordered, each with its ops. */
export function lanesOf(ops: readonly ClientOp[]): Map<string, ClientOp[]> {
  const lanes = new Map<string, ClientOp[]>();
  for (const c of [...new Set(ops.map((o) => o.client))].sort((a, b) => a.localeCompare(b, "en", { numeric: true }))) lanes.set(c, []);
  for (const o of ops) lanes.get(o.client)?.push(o);
  return lanes;
}
