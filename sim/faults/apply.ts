// Applying faults to the world, from the scenario's timeline and from swarm generators alike.
//
// Every fault applied is recorded in resolved form (concrete node names, absolute time), so a run
// can be turned back into an explicit timeline: that is what `sim shrink` minimises.

import type { Operator } from "../machines/adapter.js";
import type { NodeId } from "../../core/machine.js";
import type { Json } from "../../core/trace.js";
import { shuffled } from "../../core/prng.js";
import type { Stream } from "../engine/random.js";
import type { World } from "../engine/world.js";
import { describeMatch, matches } from "../checkers/predicates.js";
import type { Monitor } from "../checkers/monitor.js";
import type { CompiledFault, NodeRef } from "../scenario/load.js";
import type { FaultEntry } from "../scenario/schema.js";

/** A fault as it was applied: YAML-ready, with names resolved. `for` is kept with the fault it undoes. */
export interface AppliedFault {
  readonly atMs: number;
  readonly entry: Readonly<Record<string, Json>>;
}

/** Resolved fault actions — what the world is asked to do. */
export type Action =
  | { readonly crash: readonly NodeId[] }
  | { readonly restart: readonly NodeId[] }
  | { readonly pause: readonly NodeId[] }
  | { readonly resume: readonly NodeId[] }
  | { readonly wipe: readonly NodeId[] }
  | { readonly partition: { readonly groups: readonly (readonly NodeId[])[] } | { readonly from: readonly NodeId[]; readonly to: readonly NodeId[] } }
  | { readonly heal: string }
  | { readonly clog: { readonly from: NodeId; readonly to: NodeId; readonly bothWays: boolean } }
  | { readonly unclog: "all" | { readonly from: NodeId; readonly to: NodeId; readonly bothWays: boolean } }
  | { readonly network: { readonly loss?: number; readonly duplicate?: number } }
  | { readonly clock: { readonly node: readonly NodeId[]; readonly jumpMs?: number; readonly offsetMs?: number; readonly driftPpm?: number } }
  | { readonly disk: { readonly node: readonly NodeId[]; readonly unsyncedOnCrash?: "lose" | "keep" | "random"; readonly tornWrite?: number } }
  | { readonly command: { readonly node: NodeId; readonly cmd: readonly string[] } }
  | { readonly operate: { readonly name: string; readonly args: Readonly<Record<string, Json>> } };

/** The pseudo-client that sends the timeline's `command:` requests; its replies are traced as `admin-reply`. */
export const ADMIN_CLIENT = "admin";
/** The pseudo-client operator tasks (`operate:`) send as. */
export const OPERATOR_CLIENT = "operator";

export class FaultApplier {
  /** Everything applied so far, in order. */
  readonly applied: AppliedFault[] = [];
  /** Scenario partition names (and recorded ids) → the world's partition ids. */
  private readonly partitionIds = new Map<string, string>();
  /** Admin commands sent and not yet answered, by request id. */
  private readonly adminPending = new Map<number, { readonly node: NodeId; readonly cmd: readonly string[] }>();
  private adminReqNext = 1;
  /** Operator requests waiting for a reply, by request id. */
  private readonly operatorPending = new Map<number, (reply: Json | null) => void>();
  private operatorReqNext = 1;

  constructor(
    private readonly world: World,
    /** Randomness for timeline choices (split modes); its own stream. */
    private readonly rng: Stream,
    /** The protocol's verdict on a reply (ok, fail, redirect), traced with admin replies when known. */
    private readonly classifyReply?: (value: Json) => string,
    /** A reply as the trace records it (RESP values carry bytes). */
    private readonly toJson: (value: unknown) => Json = (v) => v as Json,
    private readonly operators: Readonly<Record<string, Operator>> = {},
  ) {
    world.listen({
      onLine: () => {},
      onNodeChanged: () => {},
      onReply: (client, from, reqId, value) => {
        if (client === OPERATOR_CLIENT) {
          const cb = this.operatorPending.get(reqId);
          this.operatorPending.delete(reqId);
          cb?.(this.toJson(value));
          return;
        }
        if (client !== ADMIN_CLIENT) return;
        const sent = this.adminPending.get(reqId);
        if (sent === undefined) return;
        this.adminPending.delete(reqId);
        const v = this.toJson(value);
        const outcome = this.classifyReply?.(v);
        this.world.emit(from, outcome === undefined ? { type: "admin-reply", cmd: [...sent.cmd], value: v } : { type: "admin-reply", cmd: [...sent.cmd], outcome, value: v });
      },
    });
  }

  /**
   * Applies an action now. `forMs` schedules its undoing; `name` names a partition for a later
   * `heal`. Returns false when there was nothing to do (e.g. crashing a crashed node).
   */
  apply(action: Action, opts: { forMs?: number; name?: string } = {}): void {
    const w = this.world;
    const atMs = w.nowMs;
    const record = (entry: Record<string, Json>): void => {
      if (opts.forMs !== undefined) entry["for"] = opts.forMs;
      this.applied.push({ atMs, entry });
    };
    const undo = (f: () => void): void => {
      if (opts.forMs !== undefined) w.schedule(w.nowUs + Math.round(opts.forMs * 1000), f);
    };
    if ("crash" in action) {
      record({ crash: one(action.crash) });
      for (const n of action.crash) w.crash(n);
      undo(() => action.crash.forEach((n) => w.restart(n)));
    } else if ("restart" in action) {
      record({ restart: one(action.restart) });
      for (const n of action.restart) w.restart(n);
    } else if ("pause" in action) {
      record({ pause: one(action.pause) });
      for (const n of action.pause) w.pause(n);
      undo(() => action.pause.forEach((n) => w.resume(n)));
    } else if ("resume" in action) {
      record({ resume: one(action.resume) });
      for (const n of action.resume) w.resume(n);
    } else if ("wipe" in action) {
      record({ wipe: one(action.wipe) });
      for (const n of action.wipe) w.wipe(n);
      undo(() => action.wipe.forEach((n) => w.restart(n)));
    } else if ("partition" in action) {
      const spec = action.partition;
      const p = "groups" in spec ? w.partition(spec.groups, false) : w.partition([spec.from, spec.to], true);
      const name = opts.name ?? p.id;
      this.partitionIds.set(name, p.id);
      const entry: Record<string, Json> = "groups" in spec ? { partition: { groups: spec.groups.map((g) => [...g]) } } : { partition: { from: [...spec.from], to: [...spec.to] } };
      entry["name"] = name;
      record(entry);
      undo(() => w.heal(p.id));
    } else if ("heal" in action) {
      record({ heal: action.heal });
      w.heal(action.heal === "all" ? "all" : (this.partitionIds.get(action.heal) ?? action.heal));
    } else if ("clog" in action) {
      const { from, to, bothWays } = action.clog;
      record({ clog: { from, to, bothWays } });
      w.clog(from, to);
      if (bothWays) w.clog(to, from);
      undo(() => {
        w.unclog(from, to);
        if (bothWays) w.unclog(to, from);
      });
    } else if ("unclog" in action) {
      const u = action.unclog;
      if (u === "all") {
        record({ unclog: "all" });
        w.unclogAll();
      } else {
        record({ unclog: { from: u.from, to: u.to, bothWays: u.bothWays } });
        w.unclog(u.from, u.to);
        if (u.bothWays) w.unclog(u.to, u.from);
      }
    } else if ("network" in action) {
      const before = { loss: w.network.config.loss, duplicate: w.network.config.duplicate };
      record({ network: { ...action.network } });
      w.setNetwork(action.network);
      undo(() => w.setNetwork(before));
    } else if ("clock" in action) {
      const { node, ...change } = action.clock;
      record({ clock: { node: one(node), ...change } });
      for (const n of node) w.setClock(n, change);
    } else if ("disk" in action) {
      const { node, ...change } = action.disk;
      record({ disk: { node: one(node), ...change } });
      for (const n of node) {
        const before = w.diskOf(n).config;
        w.setDisk(n, change);
        undo(() => w.setDisk(n, { unsyncedOnCrash: before.unsyncedOnCrash, tornWrite: before.tornWrite }));
      }
    } else if ("operate" in action) {
      const { name, args } = action.operate;
      record({ operate: { name, args: { ...args } } });
      w.emit(null, { type: "fault", action: "operate", name, args: { ...args } });
      const op = this.operators[name];
      if (op === undefined) throw new Error(`no operator ${name}`);
      op.run(args, {
        nodes: w.nodes,
        emit: (node, event) => w.emit(node, event),
        request: (node, req, onReply, timeoutMs = 5000) => {
          const reqId = this.operatorReqNext++;
          this.operatorPending.set(reqId, onReply);
          w.clientRequest(OPERATOR_CLIENT, node, reqId, req);
          w.schedule(w.nowUs + Math.round(timeoutMs * 1000), () => {
            const cb = this.operatorPending.get(reqId);
            if (cb === undefined) return;
            this.operatorPending.delete(reqId);
            cb(null);
          });
        },
      });
    } else if ("command" in action) {
      const { node, cmd } = action.command;
      record({ command: { node, cmd: [...cmd] } });
      w.emit(node, { type: "fault", action: "command", cmd: [...cmd] });
      const reqId = this.adminReqNext++;
      this.adminPending.set(reqId, { node, cmd });
      if (!w.clientRequest(ADMIN_CLIENT, node, reqId, { cmd: [...cmd] })) {
        // Dropped at once (e.g. the link to the node is clogged away): no reply will come.
        this.adminPending.delete(reqId);
        w.emit(node, { type: "admin-reply", cmd: [...cmd], outcome: "not-delivered", value: null });
      }
    }
  }

  /** Schedules the scenario's timeline: absolute times now, `when:` triggers through the monitor. */
  scheduleTimeline(faults: readonly CompiledFault[], monitor: Monitor): void {
    for (const f of faults) {
      const run = (): void => this.applyEntry(f);
      if (f.entry.at !== undefined) this.world.schedule(Math.round(f.entry.at * 1000), run);
      else if (f.when !== undefined) {
        const delayMs = f.entry.delayMs ?? 0;
        monitor.when(f.when, () => this.world.schedule(this.world.nowUs + Math.round(delayMs * 1000), run));
      }
    }
  }

  /** Resolves a timeline entry's node references against the cluster as it is now, then applies it. */
  private applyEntry(f: CompiledFault): void {
    const e: FaultEntry = f.entry;
    const skipped: string[] = [];
    const resolve = (key: string): NodeId | null => {
      const ref = f.refs.get(key);
      if (ref === undefined) return null;
      const name = this.resolveRef(ref);
      if (name === null && "where" in ref) skipped.push(`no node matches ${describeMatch(ref.where)}`);
      return name;
    };
    const list = (raw: unknown, key: string): NodeId[] => {
      const keys = Array.isArray(raw) ? raw.map((_, i) => `${key}.${i}`) : [key];
      return keys.map(resolve).filter((n): n is NodeId => n !== null);
    };
    const action = this.toAction(e, list, resolve);
    if (action === null || skipped.length > 0) {
      this.world.emit(null, { type: "fault", action: "skipped", fault: f.index, reason: skipped.join("; ") || "nothing to do" });
      return;
    }
    const opts: { forMs?: number; name?: string } = {};
    if (e.for !== undefined) opts.forMs = e.for;
    if (e.name !== undefined) opts.name = e.name;
    this.apply(action, opts);
  }

  private toAction(e: FaultEntry, list: (raw: unknown, key: string) => NodeId[], resolve: (key: string) => NodeId | null): Action | null {
    for (const k of ["crash", "restart", "pause", "resume", "wipe"] as const) {
      if (e[k] !== undefined) {
        const nodes = list(e[k], k);
        return nodes.length === 0 ? null : ({ [k]: nodes } as unknown as Action);
      }
    }
    if (e.partition !== undefined) {
      const p = e.partition;
      const all = this.world.nodes;
      if ("isolate" in p) {
        const n = resolve("partition.isolate");
        if (n === null) return null;
        const rest = all.filter((x) => x !== n);
        if (p.oneWay === "out") return { partition: { from: [n], to: rest } };
        if (p.oneWay === "in") return { partition: { from: rest, to: [n] } };
        return { partition: { groups: [[n], rest] } };
      }
      if ("split" in p) return { partition: { groups: splitNodes(all, p.split, this.rng) } };
      if ("groups" in p) return { partition: { groups: p.groups.map((g, i) => g.map((_, j) => resolve(`partition.groups.${i}.${j}`)).filter((n): n is NodeId => n !== null)) } };
      return { partition: { from: list(p.from, "partition.from"), to: list(p.to, "partition.to") } };
    }
    if (e.heal !== undefined) return { heal: e.heal };
    if (e.clog !== undefined) {
      const from = resolve("clog.from");
      const to = resolve("clog.to");
      return from === null || to === null ? null : { clog: { from, to, bothWays: e.clog.bothWays } };
    }
    if (e.unclog !== undefined) {
      if (e.unclog === "all") return { unclog: "all" };
      const from = resolve("unclog.from");
      const to = resolve("unclog.to");
      return from === null || to === null ? null : { unclog: { from, to, bothWays: e.unclog.bothWays } };
    }
    if (e.network !== undefined) {
      const n: { loss?: number; duplicate?: number } = {};
      if (e.network.loss !== undefined) n.loss = e.network.loss;
      if (e.network.duplicate !== undefined) n.duplicate = e.network.duplicate;
      return { network: n };
    }
    if (e.clock !== undefined) {
      const { node: _n, ...change } = e.clock;
      return { clock: { node: list(e.clock.node, "clock.node"), ...defined(change) } };
    }
    if (e.disk !== undefined) {
      const { node, ...change } = e.disk;
      return { disk: { node: node === "all" ? [...this.world.nodes] : list(node, "disk.node"), ...defined(change) } };
    }
    if (e.operate !== undefined) return { operate: { name: e.operate.name, args: { ...e.operate.args } } };
    if (e.command !== undefined) {
      const node = resolve("command.node");
      return node === null ? null : { command: { node, cmd: [...e.command.cmd] } };
    }
    return null;
  }

  /** A name, or the first node (in node order) whose observation matches now. */
  resolveRef(ref: NodeRef): NodeId | null {
    if ("name" in ref) return ref.name;
    return this.world.nodes.find((n) => matches(this.world.observation(n), ref.where)) ?? null;
  }
}

/** Drops keys whose value is undefined (zod's optional outputs), so spreads never unset a setting. */
export function defined<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

function one(nodes: readonly NodeId[]): Json {
  return nodes.length === 1 ? (nodes[0] as string) : [...nodes];
}

/** Splits nodes for a partition: a random minority against the majority, or random halves. */
export function splitNodes(nodes: readonly NodeId[], mode: "majority-minority" | "random-halves", rng: Stream): NodeId[][] {
  const order = shuffled(rng, nodes);
  if (mode === "majority-minority") {
    const minority = Math.max(1, Math.floor((nodes.length - 1) / 2));
    return [order.slice(0, minority), order.slice(minority)];
  }
  const a: NodeId[] = [];
  const b: NodeId[] = [];
  for (const n of order) (rng.next() < 0.5 ? a : b).push(n);
  if (a.length === 0) a.push(b.pop() as NodeId);
  if (b.length === 0) b.push(a.pop() as NodeId);
  return [a, b];
}
