// Predicates over the cluster: the small language of `expect`, `when:` triggers and `where:`.
//
//   { node: n1, role: leader }                 n1's observation matches every listed field
//   { every: live, role: follower }            every node of a set matches (sets: all, live, [names])
//   { some: all, role: leader }                at least one does
//   { none: live, role: candidate }            none does
//   { count: live, role: leader, max: 1 }      how many match, bounded by min and/or max
//   { converged: true }                        the protocol's own convergence test
//   { happened: leader }                       an event of this type was traced (since armed);
//   { happened: { type: leader, node: n2 } }   optionally on a node and with field values
//   { at: 5000 }                               simulated time has reached 5000 ms
//   { not: P }, { allOf: [P, ...] }, { anyOf: [P, ...] }
//
// A field value is a literal (equality) or an object of comparisons: { gte: 2, lt: 5 },
// { ne: leader }, { in: [a, b] }. Fields are the protocol's declared observation fields plus
// `status` (up, crashed, paused); unknown fields and impossible enum values are load errors.

import type { NodeId } from "../../core/machine.js";
import type { Json } from "../../core/trace.js";
import type { ClusterView, Observation, ObservationField, TraceLine } from "../machines/adapter.js";

export type NodeSet = "all" | "live" | readonly NodeId[];
export type CompareOp = "eq" | "ne" | "gt" | "gte" | "lt" | "lte" | "in";
export interface FieldMatch {
  readonly field: string;
  readonly op: CompareOp;
  readonly value: Json;
}

export type Pred =
  | { readonly k: "nodes"; readonly quant: "every" | "some" | "none" | "count"; readonly set: NodeSet; readonly match: readonly FieldMatch[]; readonly min?: number; readonly max?: number }
  | { readonly k: "converged" }
  | { readonly k: "happened"; readonly type: string; readonly node?: NodeId; readonly fields: readonly FieldMatch[] }
  | { readonly k: "at"; readonly ms: number }
  | { readonly k: "not"; readonly p: Pred }
  | { readonly k: "and"; readonly ps: readonly Pred[] }
  | { readonly k: "or"; readonly ps: readonly Pred[] };

export interface PathIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

type Path = readonly (string | number)[];

const STATUS_FIELD: ObservationField = { name: "status", type: "string", values: ["up", "crashed", "paused"], doc: "whether the node is up, crashed or paused" };
const QUANTIFIERS = ["node", "every", "some", "none", "count"] as const;
const COMPARE_OPS: readonly CompareOp[] = ["eq", "ne", "gt", "gte", "lt", "lte", "in"];

/** Thrown while parsing; the loader turns it into a located, one-line message. */
export class PredicateError extends Error {
  constructor(
    readonly path: Path,
    message: string,
  ) {
    super(message);
  }
}

export interface PredicateScope {
  readonly nodes: readonly NodeId[];
  readonly fields: readonly ObservationField[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describeValue(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/** Parses and checks a predicate. Throws PredicateError with the path of the offending part. */
export function parsePredicate(raw: unknown, scope: PredicateScope, path: Path, allowAt = false): Pred {
  if (!isObject(raw)) throw new PredicateError(path, `expected a predicate such as { node: n1, role: leader }, got ${describeValue(raw)}`);
  const keys = Object.keys(raw);
  if ("not" in raw) {
    only(keys, ["not"], path);
    return { k: "not", p: parsePredicate(raw["not"], scope, [...path, "not"], allowAt) };
  }
  for (const comb of ["allOf", "anyOf"] as const) {
    if (comb in raw) {
      only(keys, [comb], path);
      const list = raw[comb];
      if (!Array.isArray(list) || list.length === 0) throw new PredicateError([...path, comb], "expected a non-empty list of predicates");
      const ps = list.map((p, i) => parsePredicate(p, scope, [...path, comb, i], allowAt));
      return { k: comb === "allOf" ? "and" : "or", ps };
    }
  }
  if ("converged" in raw) {
    only(keys, ["converged"], path);
    if (raw["converged"] !== true) throw new PredicateError([...path, "converged"], "write converged: true");
    return { k: "converged" };
  }
  if ("at" in raw) {
    if (!allowAt) throw new PredicateError([...path, "at"], "at: belongs in triggers (after:, when:), not in conditions");
    only(keys, ["at"], path);
    const ms = raw["at"];
    if (typeof ms !== "number" || ms < 0) throw new PredicateError([...path, "at"], "expected a time in ms");
    return { k: "at", ms };
  }
  if ("happened" in raw) {
    only(keys, ["happened"], path);
    return parseHappened(raw["happened"], scope, [...path, "happened"]);
  }
  const quants = QUANTIFIERS.filter((q) => q in raw);
  if (quants.length !== 1) {
    throw new PredicateError(
      path,
      quants.length === 0
        ? `a predicate starts with one of node, every, some, none, count, converged, happened, not, allOf, anyOf${allowAt ? ", at" : ""} (got ${keys.join(", ") || "nothing"})`
        : `use one of ${quants.join(" and ")}, not both`,
    );
  }
  const quant = quants[0] as (typeof QUANTIFIERS)[number];
  const bounds: { min?: number; max?: number } = {};
  for (const b of ["min", "max"] as const) {
    if (!(b in raw)) continue;
    if (quant !== "count") throw new PredicateError([...path, b], `${b} goes with count:`);
    const v = raw[b];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw new PredicateError([...path, b], "expected a whole number ≥ 0");
    bounds[b] = v;
  }
  if (quant === "count" && bounds.min === undefined && bounds.max === undefined) throw new PredicateError(path, "count: needs min: and/or max:");
  const fieldKeys = keys.filter((k) => k !== quant && k !== "min" && k !== "max");
  const match = fieldKeys.map((f) => parseFieldMatch(f, raw[f], scope, [...path, f]));
  if (quant === "node") {
    const node = parseNodeName(raw["node"], scope, [...path, "node"]);
    if (match.length === 0) throw new PredicateError(path, "say what to check about the node, e.g. role: leader");
    return { k: "nodes", quant: "every", set: [node], match };
  }
  const set = parseNodeSet(raw[quant], scope, [...path, quant]);
  return { k: "nodes", quant, set, match, ...bounds };
}

/** Parses the `where:` of a node reference: field matches only. */
export function parseWhere(raw: unknown, scope: PredicateScope, path: Path): FieldMatch[] {
  if (!isObject(raw) || Object.keys(raw).length === 0) throw new PredicateError(path, "expected fields to match, e.g. where: { role: leader }");
  return Object.keys(raw).map((f) => parseFieldMatch(f, raw[f], scope, [...path, f]));
}

function only(keys: readonly string[], allowed: readonly string[], path: Path): void {
  const extra = keys.filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw new PredicateError([...path, extra[0] as string], `unexpected ${extra[0]} beside ${allowed.join(", ")}`);
}

function parseNodeName(raw: unknown, scope: PredicateScope, path: Path): NodeId {
  if (typeof raw !== "string") throw new PredicateError(path, "expected a node name");
  if (!scope.nodes.includes(raw)) throw new PredicateError(path, unknownNode(raw, scope.nodes));
  return raw;
}

export function unknownNode(name: string, nodes: readonly NodeId[]): string {
  const shown = nodes.length <= 12 ? nodes.join(", ") : `${nodes.slice(0, 10).join(", ")}, … (${nodes.length} in all)`;
  return `unknown node "${name}" (nodes: ${shown})`;
}

function parseNodeSet(raw: unknown, scope: PredicateScope, path: Path): NodeSet {
  if (raw === "all" || raw === "live") return raw;
  if (typeof raw === "string") return [parseNodeName(raw, scope, path)];
  if (Array.isArray(raw) && raw.length > 0) return raw.map((n, i) => parseNodeName(n, scope, [...path, i]));
  throw new PredicateError(path, "expected all, live, a node name or a list of node names");
}

function parseFieldMatch(field: string, raw: unknown, scope: PredicateScope, path: Path): FieldMatch {
  const decl = field === "status" ? STATUS_FIELD : scope.fields.find((f) => f.name === field);
  if (decl === undefined) {
    const known = ["status", ...scope.fields.map((f) => f.name)].join(", ");
    throw new PredicateError(path, `unknown field "${field}" (fields: ${known})`);
  }
  if (isObject(raw)) {
    const ops = Object.keys(raw);
    if (ops.length !== 1) throw new PredicateError(path, `one comparison per field (${COMPARE_OPS.join(", ")}); combine with allOf`);
    const op = ops[0] as string;
    if (!(COMPARE_OPS as readonly string[]).includes(op)) throw new PredicateError([...path, op], `unknown comparison "${op}" (use ${COMPARE_OPS.join(", ")})`);
    const value = raw[op];
    if (op === "in") {
      if (!Array.isArray(value)) throw new PredicateError([...path, op], "in: takes a list");
      value.forEach((v, i) => checkValue(decl, v, [...path, op, i]));
    } else {
      checkValue(decl, value, [...path, op]);
      if ((op === "gt" || op === "gte" || op === "lt" || op === "lte") && decl.type !== "number") {
        throw new PredicateError([...path, op], `${field} is not a number; use eq, ne or in`);
      }
    }
    return { field, op: op as CompareOp, value: value as Json };
  }
  checkValue(decl, raw, path);
  return { field, op: "eq", value: raw as Json };
}

function checkValue(decl: ObservationField, v: unknown, path: Path): void {
  if (v === null) {
    if (decl.nullable === true) return;
    throw new PredicateError(path, `${decl.name} is never null`);
  }
  if (typeof v !== decl.type) throw new PredicateError(path, `${decl.name} is a ${decl.type}, got ${describeValue(v)}`);
  if (decl.values !== undefined && !decl.values.includes(v as string)) {
    throw new PredicateError(path, `${decl.name} is one of ${decl.values.join(", ")}; got ${describeValue(v)}`);
  }
}

function parseHappened(raw: unknown, scope: PredicateScope, path: Path): Pred {
  if (typeof raw === "string") return { k: "happened", type: raw, fields: [] };
  if (!isObject(raw) || typeof raw["type"] !== "string") throw new PredicateError(path, "expected an event type, or { type: <event type>, node: <name>, <field>: <value> }");
  const node = raw["node"] === undefined ? undefined : parseNodeName(raw["node"], scope, [...path, "node"]);
  const fields: FieldMatch[] = [];
  for (const k of Object.keys(raw)) {
    if (k === "type" || k === "node") continue;
    const v = raw[k];
    if (isObject(v) || Array.isArray(v)) throw new PredicateError([...path, k], "event fields compare by equality with a plain value");
    fields.push({ field: k, op: "eq", value: v as Json });
  }
  return node === undefined ? { k: "happened", type: raw["type"], fields } : { k: "happened", type: raw["type"], node, fields };
}

// ---- evaluation ------------------------------------------------------------------------------

export function matches(obs: Observation, match: readonly FieldMatch[]): boolean {
  for (const m of match) if (!compare(obs[m.field], m.op, m.value)) return false;
  return true;
}

function compare(actual: Json | undefined, op: CompareOp, expected: Json): boolean {
  switch (op) {
    case "eq":
      return actual === expected;
    case "ne":
      return actual !== expected;
    case "in":
      return (expected as readonly Json[]).includes(actual ?? null);
    case "gt":
      return typeof actual === "number" && actual > (expected as number);
    case "gte":
      return typeof actual === "number" && actual >= (expected as number);
    case "lt":
      return typeof actual === "number" && actual < (expected as number);
    case "lte":
      return typeof actual === "number" && actual <= (expected as number);
  }
}

/** What predicate instances read: the cluster, the current time, and a version that moves when any observation changes. */
export interface EvalContext {
  readonly view: ClusterView;
  nowMs(): number;
  /** Increases whenever any node's observation changes. */
  version(): number;
  /** The protocol's convergence test (null = converged). */
  converged(): string | null;
}

/**
 * A predicate armed at some moment. `happened` parts only count events seen after arming, so a
 * `within` window starts clean. Values are cached per observation version.
 */
export class PredicateInstance {
  private readonly latched = new Set<Pred>();
  private readonly cache = new Map<Pred, { version: number; value: boolean }>();
  private readonly watches: Pred[] = [];

  constructor(
    readonly pred: Pred,
    private readonly ctx: EvalContext,
  ) {
    collectHappened(pred, this.watches);
  }

  /** True when this predicate watches trace events (so `onLine` must be called). */
  get watchesEvents(): boolean {
    return this.watches.length > 0;
  }

  /** Feeds one trace line; returns true if it latched a `happened` part. */
  onLine(line: TraceLine): boolean {
    let changed = false;
    for (const w of this.watches) {
      if (w.k !== "happened" || this.latched.has(w) || line.type !== w.type) continue;
      if (w.node !== undefined && line.node !== w.node) continue;
      if (!w.fields.every((f) => line[f.field] === f.value)) continue;
      this.latched.add(w);
      changed = true;
    }
    return changed;
  }

  value(): boolean {
    return this.eval(this.pred);
  }

  private eval(p: Pred): boolean {
    switch (p.k) {
      case "not":
        return !this.eval(p.p);
      case "and":
        return p.ps.every((q) => this.eval(q));
      case "or":
        return p.ps.some((q) => this.eval(q));
      case "happened":
        return this.latched.has(p);
      case "at":
        return this.ctx.nowMs() >= p.ms;
      case "converged":
        return this.cached(p, () => this.ctx.converged() === null);
      case "nodes":
        return this.cached(p, () => evalNodes(p, this.ctx.view));
    }
  }

  private cached(p: Pred, compute: () => boolean): boolean {
    const version = this.ctx.version();
    const hit = this.cache.get(p);
    if (hit !== undefined && hit.version === version) return hit.value;
    const value = compute();
    this.cache.set(p, { version, value });
    return value;
  }
}

function collectHappened(p: Pred, out: Pred[]): void {
  if (p.k === "happened") out.push(p);
  else if (p.k === "not") collectHappened(p.p, out);
  else if (p.k === "and" || p.k === "or") for (const q of p.ps) collectHappened(q, out);
}

function evalNodes(p: Pred & { k: "nodes" }, view: ClusterView): boolean {
  const set = p.set === "all" ? view.nodes : p.set === "live" ? view.nodes.filter((n) => view.status(n) === "up") : p.set;
  let n = 0;
  for (const id of set) if (matches(view.observation(id), p.match)) n += 1;
  switch (p.quant) {
    case "every":
      return n === set.length;
    case "some":
      return n > 0;
    case "none":
      return n === 0;
    case "count":
      return (p.min === undefined || n >= p.min) && (p.max === undefined || n <= p.max);
  }
}

/** A short English rendering of a predicate, for summaries. */
export function describePredicate(p: Pred): string {
  switch (p.k) {
    case "not":
      return `not (${describePredicate(p.p)})`;
    case "and":
      return p.ps.map(describePredicate).join(" and ");
    case "or":
      return p.ps.map(describePredicate).join(" or ");
    case "happened":
      return `${p.type}${p.node === undefined ? "" : ` on ${p.node}`}${p.fields.map((f) => ` ${f.field}=${String(f.value)}`).join("")} happened`;
    case "at":
      return `at ${p.ms} ms`;
    case "converged":
      return "converged";
    case "nodes": {
      const m = describeMatch(p.match);
      const set = p.set === "all" ? "all nodes" : p.set === "live" ? "live nodes" : p.set.join(",");
      if (p.quant === "every" && Array.isArray(p.set) && p.set.length === 1) return `${set} ${m}`;
      if (p.quant === "count") {
        const b = p.min !== undefined && p.max !== undefined ? `${p.min}–${p.max}` : p.max !== undefined ? `at most ${p.max}` : `at least ${p.min ?? 0}`;
        return `${b} of ${set} ${m}`;
      }
      return `${p.quant} of ${set} ${m}`;
    }
  }
}

export function describeMatch(match: readonly FieldMatch[]): string {
  const sym: Record<CompareOp, string> = { eq: "=", ne: "≠", gt: ">", gte: "≥", lt: "<", lte: "≤", in: "∈" };
  return match.map((m) => `${m.field}${sym[m.op]}${Array.isArray(m.value) ? `[${m.value.join(",")}]` : String(m.value)}`).join(" ");
}
