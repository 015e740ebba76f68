// Loading a scenario: YAML → schema → the protocol's config → cross-references and predicates.
//
// Every problem becomes one ScenarioError naming the file, line, column and field, e.g.
//   scenarios/x.yaml:14:12: faults[2].crash: unknown node "n9" (nodes: n1, n2, n3)
// The CLI prints that line and exits with status 2; nobody sees a stack trace.

import { isMap, isPair, isScalar, isSeq, LineCounter, type Node as YamlNode, parseDocument } from "yaml";
import type { z } from "zod";
import type { NodeId } from "../../core/machine.js";
import {
  describePredicate as describe,
  type FieldMatch,
  parsePredicate,
  parseWhere,
  type Pred,
  PredicateError,
  type PredicateScope,
  unknownNode,
} from "../checkers/predicates.js";
import type { MachineAdapter } from "../machines/adapter.js";
import { adapterNames, findAdapter } from "../machines/registry.js";
import { type Expectation, type FaultEntry, type ScenarioData, scenarioSchema } from "./schema.js";

type Path = readonly (string | number)[];

export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${col}: ${field === "" ? "" : `${field}: `}${detail}`);
    this.name = "ScenarioError";
  }
}

/** A node reference after loading: a name, or the first node whose observation matches. */
export type NodeRef = { readonly name: NodeId } | { readonly where: readonly FieldMatch[] };

export interface CompiledExpectation {
  readonly label: string;
  readonly kind: "always" | "eventually" | "within";
  readonly pred: Pred;
  readonly fromMs?: number;
  readonly withinMs?: number;
  readonly after?: Pred;
}

export interface CompiledFault {
  readonly index: number;
  readonly entry: FaultEntry;
  readonly when?: Pred;
  /** Node references of the entry, keyed by their path inside the entry ("crash", "partition.isolate", ...). */
  readonly refs: ReadonlyMap<string, NodeRef>;
}

export interface Scenario {
  /** As given on the command line; used in messages and reproduction lines. */
  readonly path: string;
  /** Base name; recorded in traces so a trace's bytes do not depend on the working directory. */
  readonly file: string;
  readonly source: string;
  readonly name: string;
  readonly data: ScenarioData;
  readonly adapter: MachineAdapter<unknown>;
  readonly nodes: readonly NodeId[];
  readonly nodeConfigs: ReadonlyMap<NodeId, unknown>;
  /**
   * The nodes' configs with protocol settings a swarm seed drew (`swarm.config`) merged over
   * `config` and under `nodeConfig`. Each value was checked at load; a combination the protocol
   * refuses throws an Error that says which.
   */
  configsWith(drawn: Readonly<Record<string, unknown>>): ReadonlyMap<NodeId, unknown>;
  readonly expectations: readonly CompiledExpectation[];
  readonly faults: readonly CompiledFault[];
}

export function loadScenario(path: string, source: string): Scenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (p: Path, message: string, key = false): ScenarioError => locate(path, doc.contents, lineCounter, p, message, key);
  const firstError = doc.errors[0];
  if (firstError !== undefined) {
    const pos = lineCounter.linePos(firstError.pos[0]);
    throw new ScenarioError(path, pos.line, pos.col, "", `YAML: ${firstError.message.split("\n")[0] ?? "syntax error"}`);
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (raw === null || raw === undefined) throw new ScenarioError(path, 1, 1, "", "the file is empty; a scenario needs at least machine:, nodes: and durationMs:");

  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) throw fromZod(parsed.error.issues, raw, [], at);
  const data = parsed.data;

  const adapter = findAdapter(data.machine);
  if (adapter === undefined) throw at(["machine"], `unknown machine "${data.machine}" (known: ${adapterNames().join(", ")})`);

  const nodes = nodeNames(data, at);
  const nodeConfigs = new Map<NodeId, unknown>();
  const base = validateConfig(adapter.configSchema, data.config, ["config"], at);
  for (const n of Object.keys(data.nodeConfig)) if (!nodes.includes(n)) throw at(["nodeConfig", n], unknownNode(n, nodes), true);
  for (const n of nodes) {
    const override = data.nodeConfig[n];
    nodeConfigs.set(n, override === undefined ? base : validateConfig(adapter.configSchema, { ...(data.config as object | undefined), ...override }, ["nodeConfig", n], at));
  }

  // Each per-seed choice must be a valid setting on its own (combinations are checked when drawn).
  for (const [key, values] of Object.entries(data.swarm?.config ?? {})) {
    for (const [i, value] of values.entries()) checkChoice(adapter.configSchema, data.config, key, value, ["swarm", "config", key, i], at);
  }
  const configsWith = (drawn: Readonly<Record<string, unknown>>): ReadonlyMap<NodeId, unknown> => {
    if (Object.keys(drawn).length === 0) return nodeConfigs;
    const out = new Map<NodeId, unknown>();
    for (const n of nodes) {
      const r = adapter.configSchema.safeParse({ ...(data.config as object | undefined), ...drawn, ...data.nodeConfig[n] });
      if (!r.success) {
        const issue = r.error.issues[0];
        throw new Error(`swarm.config: the settings drawn, ${JSON.stringify(drawn)}, are invalid for ${n}: ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
      }
      out.set(n, r.data);
    }
    return out;
  };

  const scope: PredicateScope = { nodes, fields: adapter.observation };
  const guard = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof PredicateError) throw at(e.path, e.message);
      throw e;
    }
  };

  for (const [i, l] of data.network.links.entries()) {
    for (const end of ["from", "to"] as const) if (!nodes.includes(l[end])) throw at(["network", "links", i, end], unknownNode(l[end], nodes));
  }
  for (const n of Object.keys(data.clocks.nodes)) if (!nodes.includes(n)) throw at(["clocks", "nodes", n], unknownNode(n, nodes), true);

  const expectations = data.expect.map((e, i) => guard(() => compileExpectation(e, scope, ["expect", i])));
  const faults = data.faults.map((f, i) => guard(() => compileFault(f, i, scope)));
  checkHealNames(data.faults, at);
  const kind = data.workload?.kind;
  if (kind !== undefined && !(kind in (adapter.workload?.kinds ?? {}))) {
    const known = Object.keys(adapter.workload?.kinds ?? {});
    throw at(["workload", "kind"], `${adapter.name} has no workload "${kind}"${known.length > 0 ? ` (it has: ${known.join(", ")})` : ""}`);
  }
  for (const [i, f] of data.faults.entries()) {
    if (f.operate === undefined) continue;
    const op = adapter.operators?.[f.operate.name];
    if (op === undefined) {
      const known = Object.keys(adapter.operators ?? {});
      throw at(["faults", i, "operate", "name"], `${adapter.name} has no operator "${f.operate.name}"${known.length > 0 ? ` (it has: ${known.join(", ")})` : ""}`);
    }
    const why = op.check(f.operate.args, nodes);
    if (why !== null) throw at(["faults", i, "operate", "args"], why);
  }

  const name = data.name ?? baseName(path).replace(/\.ya?ml$/, "");
  return { path, file: baseName(path), source, name, data, adapter, nodes, nodeConfigs, configsWith, expectations, faults };
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

function nodeNames(data: ScenarioData, at: (p: Path, m: string) => ScenarioError): NodeId[] {
  if (typeof data.nodes === "number") return Array.from({ length: data.nodes }, (_, i) => `n${i + 1}`);
  const seen = new Set<string>();
  for (const [i, n] of data.nodes.entries()) {
    if (seen.has(n)) throw at(["nodes", i], `"${n}" is listed twice`);
    seen.add(n);
  }
  return [...data.nodes];
}

/** One value a swarm may draw for `key`, checked merged over `config`; errors point at the value. */
function checkChoice(schema: z.ZodType<unknown>, config: unknown, key: string, value: unknown, path: Path, at: (p: Path, m: string, key?: boolean) => ScenarioError): void {
  const r = schema.safeParse({ ...(config as object | undefined), [key]: value });
  if (r.success) return;
  const issue = r.error.issues[0] as ZodIssueLike;
  const rel = issue.path.filter((k): k is string | number => typeof k !== "symbol");
  if (issue.code === "unrecognized_keys" && issue.keys?.includes(key) === true) throw at(path.slice(0, -1), `unknown setting "${key}"`, true);
  if (rel[0] === key) throw at([...path, ...rel.slice(1)], issue.message);
  throw at(path, `${rel.join(".") || "config"}: ${issue.message}`);
}

function validateConfig(schema: z.ZodType<unknown>, value: unknown, path: Path, at: (p: Path, m: string) => ScenarioError): unknown {
  const r = schema.safeParse(value);
  if (!r.success) throw fromZod(r.error.issues, value, path, at);
  return r.data;
}

function compileExpectation(e: Expectation, scope: PredicateScope, path: Path): CompiledExpectation {
  if ("always" in e) {
    const pred = parsePredicate(e.always, scope, [...path, "always"]);
    return { label: e.name ?? `always ${describe(pred)}`, kind: "always", pred, ...(e.fromMs === undefined ? {} : { fromMs: e.fromMs }) };
  }
  if ("eventually" in e) {
    const pred = parsePredicate(e.eventually, scope, [...path, "eventually"]);
    return { label: e.name ?? `eventually ${describe(pred)}`, kind: "eventually", pred };
  }
  const w = e.within;
  const after = parsePredicate(w.after, scope, [...path, "within", "after"], true);
  const pred = parsePredicate(w.that, scope, [...path, "within", "that"]);
  return { label: e.name ?? `within ${w.ms} ms after ${describe(after)}: ${describe(pred)}`, kind: "within", pred, withinMs: w.ms, after };
}

/** Where node references may appear inside a fault entry. */
function compileFault(f: FaultEntry, index: number, scope: PredicateScope): CompiledFault {
  const path: Path = ["faults", index];
  const refs = new Map<string, NodeRef>();
  const ref = (raw: unknown, p: Path): void => {
    const key = p.slice(2).join(".");
    if (typeof raw === "string") {
      if (!scope.nodes.includes(raw)) throw new PredicateError(p, unknownNode(raw, scope.nodes));
      refs.set(key, { name: raw });
    } else if (typeof raw === "object" && raw !== null && "where" in raw) {
      refs.set(key, { where: parseWhere((raw as { where: unknown }).where, scope, [...p, "where"]) });
    }
  };
  const refList = (raw: unknown, p: Path): void => {
    if (Array.isArray(raw)) raw.forEach((r, i) => ref(r, [...p, i]));
    else ref(raw, p);
  };
  for (const k of ["crash", "restart", "pause", "resume", "wipe"] as const) if (f[k] !== undefined) refList(f[k], [...path, k]);
  const part = f.partition;
  if (part !== undefined) {
    if ("isolate" in part) ref(part.isolate, [...path, "partition", "isolate"]);
    if ("groups" in part) part.groups.forEach((g, i) => g.forEach((r, j) => ref(r, [...path, "partition", "groups", i, j])));
    if ("from" in part) {
      refList(part.from, [...path, "partition", "from"]);
      refList(part.to, [...path, "partition", "to"]);
    }
  }
  for (const k of ["clog", "unclog"] as const) {
    const l = f[k];
    if (l !== undefined && l !== "all") {
      ref(l.from, [...path, k, "from"]);
      ref(l.to, [...path, k, "to"]);
    }
  }
  if (f.clock !== undefined) refList(f.clock.node, [...path, "clock", "node"]);
  if (f.disk !== undefined && f.disk.node !== "all") refList(f.disk.node, [...path, "disk", "node"]);
  if (f.command !== undefined) ref(f.command.node, [...path, "command", "node"]);
  const when = f.when === undefined ? undefined : parsePredicate(f.when, scope, [...path, "when"], true);
  return when === undefined ? { index, entry: f, refs } : { index, entry: f, when, refs };
}

function checkHealNames(faults: readonly FaultEntry[], at: (p: Path, m: string) => ScenarioError): void {
  const named = new Set(faults.filter((f) => f.partition !== undefined && f.name !== undefined).map((f) => f.name as string));
  for (const [i, f] of faults.entries()) {
    if (f.heal !== undefined && f.heal !== "all" && !named.has(f.heal)) {
      const known = [...named];
      throw at(["faults", i, "heal"], `no partition is named "${f.heal}"${known.length > 0 ? ` (named: ${known.join(", ")})` : "; give the partition a name: or heal: all"}`);
    }
  }
}

// ---- locating a path in the YAML document ---------------------------------------------------

interface ZodIssueLike {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly keys?: readonly string[];
}

/** The first issue as a located error; `input` is the value the failing schema was given. */
function fromZod(issues: readonly ZodIssueLike[], input: unknown, prefix: Path, at: (p: Path, m: string, key?: boolean) => ScenarioError): ScenarioError {
  const issue = issues[0];
  if (issue === undefined) return at(prefix, "invalid");
  const rel = issue.path.filter((k): k is string | number => typeof k !== "symbol");
  const path = [...prefix, ...rel];
  if (issue.code === "unrecognized_keys" && issue.keys !== undefined && issue.keys.length > 0) {
    const key = issue.keys[0] as string;
    return at([...path, key], `unknown field "${key}"`, true);
  }
  // A field that is simply absent is "required", whatever type the schema wanted there.
  if (issue.code === "invalid_type" && valueAt(input, rel) === undefined) return at(path, "required");
  return at(path, issue.message);
}

function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/** Finds the YAML node at `path` (or its nearest existing ancestor) and makes a located error. */
function locate(file: string, root: unknown, lc: LineCounter, path: Path, message: string, pointAtKey: boolean): ScenarioError {
  let node: unknown = root;
  let offset = rangeStart(root) ?? 0;
  for (const seg of path) {
    const child = childOf(node, seg);
    if (child === undefined) break;
    offset = (pointAtKey ? child.keyStart : undefined) ?? rangeStart(child.value) ?? child.keyStart ?? offset;
    node = child.value;
  }
  const pos = lc.linePos(offset);
  return new ScenarioError(file, pos.line, pos.col, formatPath(path), message);
}

function childOf(node: unknown, seg: string | number): { value: unknown; keyStart: number | undefined } | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const k = isScalar(pair.key) ? pair.key.value : pair.key;
      if (String(k) === String(seg)) return { value: pair.value, keyStart: rangeStart(pair.key) };
    }
    return undefined;
  }
  if (isSeq(node) && typeof seg === "number") {
    const item = node.items[seg];
    return item === undefined ? undefined : { value: item, keyStart: undefined };
  }
  return undefined;
}

function rangeStart(node: unknown): number | undefined {
  const r = (node as YamlNode | null | undefined)?.range;
  return r === undefined || r === null ? undefined : r[0];
}

export function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) out += typeof seg === "number" ? `[${seg}]` : out === "" ? seg : `.${seg}`;
  return out;
}
