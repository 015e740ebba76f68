// A small deterministic world for RaftNode tests: one event queue ordered by (time, seq), links
// that can be cut, per-node disks whose persists complete after a delay (or are held), crashes
// that lose unfinished writes, and safety checks at every step. Test-only (excluded from the build).
//
// Every node runs behind core/runner.ts's NodeRunner, as in both real hosts, so effects gated on
// a persist leave only once the harness completes it.

import type { Effect, Input, NodeId, Recovered } from "../../machine.js";
import { NodeRunner } from "../../runner.js";
import type { Json, TraceEvent } from "../../trace.js";
import { mulberry32 } from "../../test-support/prng.js";
import { type RaftHooks, RaftNode } from "../raft.js";
import type { StateMachine } from "../state-machine.js";
import { RAFT_DEFAULTS, type RaftConfig, type RaftMsg, type RaftReply, type RaftRequest } from "../types.js";

/** The trivial replicated state machine of these tests: an append-only list of commands. */
export class ListMachine implements StateMachine {
  items: Json[] = [];

  constructor(private readonly onApply: (index: number, command: Json) => void = () => {}) {}

  apply(index: number, command: Json): Json {
    this.onApply(index, command);
    this.items.push(command);
    return { count: this.items.length };
  }

  /** `{ atLeast: n }` waits (null) until n items are applied; anything else reads the whole list. */
  read(query: Json): Json | null {
    const atLeast = typeof query === "object" && query !== null && !Array.isArray(query) ? (query as { readonly [key: string]: Json })["atLeast"] : undefined;
    if (typeof atLeast === "number" && this.items.length < atLeast) return null;
    return [...this.items];
  }

  snapshot(): Json {
    return { items: [...this.items] };
  }

  restore(snapshot: Json): void {
    this.items = [...(snapshot as { items: Json[] }).items];
  }
}

type Fx = Effect<RaftMsg, RaftReply>;

interface Disk {
  /** Durable records per file. */
  readonly files: Map<string, Json[]>;
  /** Persists requested and not completed, in order. */
  pending: { readonly id: number; readonly file: string; readonly op: "append" | "write"; readonly record: Json }[];
}

interface NodeState {
  readonly id: NodeId;
  machine: RaftNode;
  runner: NodeRunner<RaftMsg, RaftRequest, RaftReply>;
  sm: ListMachine;
  up: boolean;
  incarnation: number;
  readonly disk: Disk;
  /** Timer name → the version that may fire (set-timer replaces, cancel-timer clears). */
  readonly timers: Map<string, number>;
  /** Persists stay pending until released. */
  holdPersists: boolean;
}

type Event =
  | { readonly k: "deliver"; readonly to: NodeId; readonly from: NodeId; readonly msg: RaftMsg }
  | { readonly k: "timer"; readonly node: NodeId; readonly inc: number; readonly name: string; readonly version: number }
  | { readonly k: "persisted"; readonly node: NodeId; readonly inc: number; readonly id: number };

export interface TraceLine {
  readonly t: number;
  readonly node: NodeId;
  readonly event: TraceEvent;
}

export interface ReplyLine {
  readonly t: number;
  readonly node: NodeId;
  readonly client: string;
  readonly reqId: number;
  readonly value: RaftReply;
}

export interface HarnessOptions {
  /** The nodes to create and start. */
  readonly nodes: readonly NodeId[];
  /** What MachineInit.peers says (defaults to `nodes`). */
  readonly peers?: readonly NodeId[];
  readonly config?: Partial<RaftConfig>;
  readonly seed?: number;
  /** One-way message latency, drawn uniformly in [min, max] ms. */
  readonly latencyMs?: readonly [number, number];
  readonly persistMs?: number;
  readonly lossRate?: number;
  readonly duplicateRate?: number;
  readonly hooks?: RaftHooks;
}

export class Harness {
  nowMs = 0;
  readonly config: RaftConfig;
  readonly nodes = new Map<NodeId, NodeState>();
  readonly traces: TraceLine[] = [];
  readonly replies: ReplyLine[] = [];
  /** Safety violations found (each in a sentence); tests expect none unless a bug is planted. */
  readonly violations: string[] = [];
  /** Messages sent, as "type from>to". */
  readonly sent: { readonly type: string; readonly from: NodeId; readonly to: NodeId; readonly msg: RaftMsg }[] = [];
  lossRate: number;
  duplicateRate: number;
  /** Sees every message at delivery and says what arrives instead (null: nothing), for scripted scenarios. */
  intercept: ((from: NodeId, to: NodeId, msg: RaftMsg) => RaftMsg | null) | null = null;
  private readonly peers: readonly NodeId[];
  private readonly rng: () => number;
  private readonly latencyMs: readonly [number, number];
  private readonly persistMs: number;
  private readonly hooks: RaftHooks;
  private queue: { readonly atMs: number; readonly seq: number; readonly ev: Event }[] = [];
  private seqNext = 0;
  private timerVersion = 0;
  private reqIdNext = 1;
  /** Directed links that drop everything: "a>b". */
  private readonly cut = new Set<string>();
  // Safety-check state, across the whole run.
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** "node term" → the candidate it voted for (votes survive crashes, so this does too). */
  private readonly votes = new Map<string, string>();
  /** Committed entries by index, with the term they were committed in (the committing node's term). */
  private readonly committed = new Map<number, { readonly entry: string; readonly inTerm: number }>();
  private readonly appliedAt = new Map<number, string>();
  /** Per node, the commit index the log-matching check has reached. */
  private readonly checkedThrough = new Map<NodeId, number>();

  constructor(opts: HarnessOptions) {
    this.config = { ...RAFT_DEFAULTS, ...opts.config, bugs: { ...RAFT_DEFAULTS.bugs, ...opts.config?.bugs } };
    this.peers = opts.peers ?? opts.nodes;
    const prng = mulberry32(opts.seed ?? 1);
    this.rng = () => prng.next();
    this.latencyMs = opts.latencyMs ?? [1, 5];
    this.persistMs = opts.persistMs ?? 1;
    this.lossRate = opts.lossRate ?? 0;
    this.duplicateRate = opts.duplicateRate ?? 0;
    this.hooks = opts.hooks ?? {};
    for (const id of opts.nodes) this.add(id);
  }

  /** Creates node `id` with an empty disk and starts it. */
  add(id: NodeId): void {
    const disk: Disk = { files: new Map(), pending: [] };
    const st = { id, up: false, incarnation: 0, disk, timers: new Map(), holdPersists: false } as unknown as NodeState;
    this.nodes.set(id, st);
    this.boot(st, null);
  }

  node(id: NodeId): RaftNode {
    return this.state(id).machine;
  }

  sm(id: NodeId): ListMachine {
    return this.state(id).sm;
  }

  isUp(id: NodeId): boolean {
    return this.state(id).up;
  }

  /** Up nodes that believe they lead, with their terms. */
  leaders(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.up && n.machine.role === "leader").map((n) => n.id);
  }

  /** The single up leader of the highest term, or null. */
  leader(): NodeId | null {
    let best: NodeId | null = null;
    for (const id of this.leaders()) if (best === null || this.node(id).currentTerm > this.node(best).currentTerm) best = id;
    return best;
  }

  // ---- faults ----

  /** Cuts (or, with `heal`, restores) both directions between `a` and each of `others`. */
  cutLinks(a: NodeId, others: readonly NodeId[]): void {
    for (const b of others) {
      this.cut.add(`${a}>${b}`);
      this.cut.add(`${b}>${a}`);
    }
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  isolate(a: NodeId): void {
    this.cutLinks(
      a,
      [...this.nodes.keys()].filter((n) => n !== a),
    );
  }

  /** Splits the nodes into groups that cannot talk to each other. */
  partition(...groups: (readonly NodeId[])[]): void {
    this.heal();
    for (const g of groups) for (const h of groups) if (g !== h) for (const a of g) for (const b of h) this.cut.add(`${a}>${b}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Crashes `id`: volatile state and unfinished writes are lost. */
  crash(id: NodeId): void {
    const st = this.state(id);
    st.up = false;
    st.disk.pending = [];
    st.timers.clear();
  }

  restart(id: NodeId): void {
    const st = this.state(id);
    const files: Record<string, { records: Json[]; tornTail: boolean }> = {};
    for (const [f, records] of st.disk.files) files[f] = { records: [...records], tornTail: false };
    this.boot(st, st.disk.files.size === 0 ? null : { files });
  }

  /** Holds (or releases, completing them in order) `id`'s persists. */
  holdPersists(id: NodeId, hold: boolean): void {
    const st = this.state(id);
    st.holdPersists = hold;
    if (!hold) for (const p of [...st.disk.pending]) this.schedule(this.nowMs + this.persistMs, { k: "persisted", node: id, inc: st.incarnation, id: p.id });
  }

  // ---- clients ----

  /** Sends a client request to `node`; returns its reqId (the reply lands in `replies`). */
  request(node: NodeId, req: RaftRequest | Json, client = "c"): number {
    const reqId = this.reqIdNext++;
    this.input(this.state(node), { kind: "client", client, reqId, req: req as RaftRequest });
    return reqId;
  }

  /** Delivers `msg` to `to` now, as if `from` (which need not exist) had sent it. */
  inject(to: NodeId, from: NodeId, msg: RaftMsg): void {
    this.input(this.state(to), { kind: "message", from, msg });
  }

  replyTo(reqId: number): RaftReply | undefined {
    return this.replies.find((r) => r.reqId === reqId)?.value;
  }

  // ---- running ----

  runFor(ms: number): void {
    this.runUntil(this.nowMs + ms);
  }

  runUntil(tMs: number): void {
    for (;;) {
      const head = this.queue[0];
      if (head === undefined || head.atMs > tMs) break;
      this.queue.shift();
      this.nowMs = head.atMs;
      this.handle(head.ev);
    }
    this.nowMs = tMs;
  }

  /** Runs until `pred` holds (checked after each event) or `maxMs` pass; returns whether it held. */
  runUntilTrue(pred: () => boolean, maxMs = 10_000): boolean {
    const end = this.nowMs + maxMs;
    while (!pred()) {
      const head = this.queue[0];
      if (head === undefined || head.atMs > end) {
        this.nowMs = end;
        return pred();
      }
      this.queue.shift();
      this.nowMs = head.atMs;
      this.handle(head.ev);
    }
    return true;
  }

  /**
   * Runs until exactly one up node leads and every up member of its configuration that it can reach
   * follows it in its term.
   */
  stableLeader(maxMs = 10_000): NodeId {
    const ok = this.runUntilTrue(() => {
      const ls = this.leaders();
      if (ls.length !== 1) return false;
      const id = ls[0] as NodeId;
      const l = this.node(id);
      const members = [...l.membership.voters, ...l.membership.learners];
      return [...this.nodes.values()].every(
        (n) => !n.up || !members.includes(n.id) || this.cutFromLeader(n.id, id) || (n.machine.leader === id && n.machine.currentTerm === l.currentTerm),
      );
    }, maxMs);
    if (!ok) throw new Error(`no stable leader within ${maxMs} ms (leaders: ${this.leaders().join(", ") || "none"})`);
    return this.leaders()[0] as NodeId;
  }

  /** A stable leader that has committed an entry of its term (so it takes reads and membership changes). */
  readyLeader(maxMs = 10_000): NodeId {
    const id = this.stableLeader(maxMs);
    const m = this.node(id);
    if (!this.runUntilTrue(() => m.termAt(m.commitIndex) === m.currentTerm, maxMs)) throw new Error(`${id} did not commit in its term`);
    return id;
  }

  traceOf(type: string, node?: NodeId): TraceLine[] {
    return this.traces.filter((t) => t.event.type === type && (node === undefined || t.node === node));
  }

  sentOf(type: string, from?: NodeId, to?: NodeId): number {
    return this.sent.filter((s) => s.type === type && (from === undefined || s.from === from) && (to === undefined || s.to === to)).length;
  }

  // ---- internals ----

  private cutFromLeader(n: NodeId, leader: NodeId): boolean {
    return n !== leader && (this.cut.has(`${leader}>${n}`) || this.cut.has(`${n}>${leader}`));
  }

  private state(id: NodeId): NodeState {
    const st = this.nodes.get(id);
    if (st === undefined) throw new Error(`no node ${id}`);
    return st;
  }

  private boot(st: NodeState, recovered: Recovered | null): void {
    st.incarnation += 1;
    st.up = true;
    st.timers.clear();
    st.disk.pending = [];
    this.checkedThrough.delete(st.id);
    const seed = Math.floor(this.rng() * 2 ** 32);
    st.sm = new ListMachine((index, command) => this.checkApply(st.id, index, command));
    st.machine = new RaftNode({ id: st.id, peers: this.peers, config: this.config, rng: mulberry32(seed) }, st.sm, this.hooks);
    st.runner = new NodeRunner(st.machine);
    this.input(st, { kind: "start", recovered });
  }

  private schedule(atMs: number, ev: Event): void {
    const item = { atMs, seq: this.seqNext++, ev };
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const q = this.queue[mid] as { atMs: number; seq: number };
      if (q.atMs < atMs || (q.atMs === atMs && q.seq < item.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, item);
  }

  private handle(ev: Event): void {
    switch (ev.k) {
      case "deliver": {
        const st = this.nodes.get(ev.to);
        if (st === undefined || !st.up || this.cut.has(`${ev.from}>${ev.to}`)) return;
        const msg = this.intercept === null ? ev.msg : this.intercept(ev.from, ev.to, ev.msg);
        if (msg !== null) this.input(st, { kind: "message", from: ev.from, msg });
        return;
      }
      case "timer": {
        const st = this.state(ev.node);
        if (!st.up || st.incarnation !== ev.inc || st.timers.get(ev.name) !== ev.version) return;
        st.timers.delete(ev.name);
        this.input(st, { kind: "timer", name: ev.name });
        return;
      }
      case "persisted": {
        const st = this.state(ev.node);
        if (!st.up || st.incarnation !== ev.inc) return;
        const k = st.disk.pending.findIndex((p) => p.id === ev.id);
        if (k < 0) return;
        // Completing a write completes everything before it (one file system, in order).
        for (const p of st.disk.pending.splice(0, k + 1)) {
          const recs = st.disk.files.get(p.file) ?? [];
          if (p.op === "write") recs.length = 0;
          recs.push(JSON.parse(JSON.stringify(p.record)) as Json);
          st.disk.files.set(p.file, recs);
          this.input(st, { kind: "persisted", id: p.id });
        }
        return;
      }
    }
  }

  private input(st: NodeState, input: Input<RaftMsg, RaftRequest>): void {
    if (!st.up) return;
    const fx = st.runner.step(input, this.nowMs);
    for (const e of fx) this.effect(st, e);
    this.checkStep(st);
  }

  private effect(st: NodeState, e: Fx): void {
    switch (e.kind) {
      case "send": {
        this.sent.push({ type: e.msg.type, from: st.id, to: e.to, msg: e.msg });
        if (this.rng() < this.lossRate) return;
        const copies = this.rng() < this.duplicateRate ? 2 : 1;
        for (let i = 0; i < copies; i++) {
          const [lo, hi] = this.latencyMs;
          // Messages are serialized, as on a real wire: nobody shares objects with a peer.
          const msg = JSON.parse(JSON.stringify(e.msg)) as RaftMsg;
          this.schedule(this.nowMs + lo + this.rng() * (hi - lo), { k: "deliver", to: e.to, from: st.id, msg });
        }
        return;
      }
      case "set-timer": {
        const version = ++this.timerVersion;
        st.timers.set(e.name, version);
        this.schedule(e.atMs, { k: "timer", node: st.id, inc: st.incarnation, name: e.name, version });
        return;
      }
      case "cancel-timer":
        st.timers.delete(e.name);
        return;
      case "persist":
        st.disk.pending.push({ id: e.id, file: e.file, op: e.op, record: JSON.parse(JSON.stringify(e.record)) as Json });
        if (!st.holdPersists) this.schedule(this.nowMs + this.persistMs, { k: "persisted", node: st.id, inc: st.incarnation, id: e.id });
        return;
      case "reply":
        this.replies.push({ t: this.nowMs, node: st.id, client: e.client, reqId: e.reqId, value: e.value });
        return;
      case "trace":
        this.traces.push({ t: this.nowMs, node: st.id, event: e.event });
        this.checkTrace(st, e.event);
        return;
      case "push":
      case "close":
        return;
    }
  }

  // ---- safety checks (Raft's Figure 3 properties) ----

  private checkTrace(st: NodeState, event: TraceEvent): void {
    if (event.type === "vote") {
      const key = `${st.id} ${String(event["term"])}`;
      const prev = this.votes.get(key);
      if (prev !== undefined && prev !== event["for"]) this.violations.push(`vote once: ${st.id} voted for ${prev} and ${String(event["for"])} in term ${String(event["term"])}`);
      this.votes.set(key, String(event["for"]));
      return;
    }
    if (event.type !== "raft-leader") return;
    const term = event["term"] as number;
    const prev = this.leaderOfTerm.get(term);
    if (prev !== undefined && prev !== st.id) this.violations.push(`election safety: ${prev} and ${st.id} both led term ${term}`);
    this.leaderOfTerm.set(term, st.id);
    // Leader completeness (§5.4): every entry committed in an earlier term is in the new leader's
    // log. (A candidate paused with its votes granted may take office in its old term after a
    // newer leader committed more: leaders of later terms only are bound.)
    for (const [index, { entry, inTerm }] of this.committed) {
      if (inTerm >= term) continue;
      const mine = st.machine.entryAt(index);
      if (index > st.machine.snapshotIndex && (mine === null || JSON.stringify(mine) !== entry)) {
        this.violations.push(`leader completeness: ${st.id} leads term ${term} without committed entry ${index}`);
        break;
      }
    }
  }

  /** Log matching on committed prefixes: an index once committed holds the same entry everywhere. */
  private checkStep(st: NodeState): void {
    const m = st.machine;
    for (let i = Math.max(m.snapshotIndex, this.checkedThrough.get(st.id) ?? 0) + 1; i <= m.commitIndex; i++) {
      const e = m.entryAt(i);
      if (e === null) continue;
      const s = JSON.stringify(e);
      const known = this.committed.get(i);
      if (known === undefined) this.committed.set(i, { entry: s, inTerm: m.currentTerm });
      else if (known.entry !== s) this.violations.push(`committed entry ${i} differs: ${known.entry} vs ${s} on ${st.id}`);
    }
    this.checkedThrough.set(st.id, m.commitIndex);
  }

  /** State machine safety: every node applies the same command at an index. */
  private checkApply(node: NodeId, index: number, command: Json): void {
    const s = JSON.stringify(command);
    const known = this.appliedAt.get(index);
    if (known === undefined) this.appliedAt.set(index, s);
    else if (known !== s) this.violations.push(`state machine safety: ${node} applied ${s} at ${index}, another node ${known}`);
  }
}
