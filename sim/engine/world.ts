// The simulated world: nodes hosted on one event queue, a network, disks and clocks.
//
// The world is a host in the sense of core/machine.ts: it delivers inputs to node runners and
// carries out their effects. Everything it does is driven by the event queue, ordered by
// (time, seq), and every random choice comes from a named stream — so a run is a function of
// the scenario, the seed and the code.

import type { ClientId, Effect, Input, Message, NodeId, Recovered } from "../../core/machine.js";
import { NodeRunner } from "../../core/runner.js";
import { detailIncludes, type DropReason, type Json, type TraceDetail, type TraceEvent } from "../../core/trace.js";
import type { AnyMachine, ClusterView, NodeStatus, Observation, TraceLine } from "../machines/adapter.js";
import { NodeClock } from "./clock.js";
import { Disk, type DiskConfig, type WriteHandle } from "./disk.js";
import { Network, type NetworkConfig, type Partition } from "./network.js";
import { EventQueue, type Scheduled } from "./queue.js";
import { type Stream, Streams, streamName } from "./random.js";

/** Inputs queued for a paused node are bounded; past this, arriving messages are dropped. */
export const PAUSED_INBOX_MAX = 100_000;
/** A single run may not process more events than this (a runaway protocol is a failed run). */
export const EVENTS_MAX_DEFAULT = 50_000_000;

type AnyInput = Input<Message, unknown>;
type InboxEntry = { readonly input: AnyInput } | { readonly timer: string; readonly gen: number };
type AnyEffect = Effect<Message, unknown>;
type AnyRunner = NodeRunner<Message, unknown, unknown>;

/** What travels on a link: a protocol message between nodes, or client traffic. */
type Payload =
  | { readonly k: "msg"; readonly from: NodeId; readonly to: NodeId; readonly msg: Message; readonly id: number; readonly fromInc: number; readonly toInc: number }
  | { readonly k: "req"; readonly from: ClientId; readonly to: NodeId; readonly reqId: number; readonly req: unknown; readonly toInc: number }
  | { readonly k: "rep"; readonly from: NodeId; readonly to: ClientId; readonly reqId: number; readonly value: unknown };

type WorldEvent = Scheduled &
  (
    | { readonly k: "arrive"; readonly payload: Payload; readonly epoch: number }
    | { readonly k: "timer"; readonly node: NodeId; readonly inc: number; readonly name: string; readonly gen: number }
    | { readonly k: "persisted"; readonly node: NodeId; readonly inc: number; readonly id: number; readonly handle: WriteHandle }
    | { readonly k: "action"; readonly run: () => void }
  );

export interface ClockSetting {
  readonly offsetMs: number;
  readonly driftPpm: number;
}

export interface WorldConfig {
  readonly seed: number;
  readonly nodes: readonly NodeId[];
  readonly create: (id: NodeId, rng: Stream, incarnation: number) => AnyMachine;
  readonly observe: (machine: AnyMachine) => Observation;
  readonly network: NetworkConfig;
  readonly disk: DiskConfig;
  readonly clocks: ReadonlyMap<NodeId, ClockSetting>;
  readonly detail: TraceDetail;
  readonly eventsMax?: number;
}

/** Receives everything the world does; the run wires checkers, expectations and the trace to it. */
export interface WorldListener {
  /** Every trace line built (what is built depends on the detail level; machine, fault and client events always are). */
  onLine(line: TraceLine): void;
  /** A node took a step (its observation may or may not have changed). */
  onStep?(node: NodeId): void;
  /** A node's observable state changed (it stepped into a new state, crashed, paused...). */
  onNodeChanged(node: NodeId): void;
  /** One event has been fully processed (a good moment to evaluate predicates). */
  onSettled?(): void;
  /** A client reply arrived. */
  onReply?(client: ClientId, from: NodeId, reqId: number, value: unknown): void;
  /** A message that answers no request arrived for a client (pub/sub). */
  onPush?(client: ClientId, from: NodeId, value: unknown): void;
}

/** The request id a pushed message travels under (real requests count from 1). */
const PUSH = -1;

interface Timer {
  readonly gen: number;
  readonly localUs: number;
}

class SimNode {
  status: NodeStatus = "crashed";
  /** Bumped at every (re)start; events of an older incarnation are ignored. */
  incarnation = 0;
  runner: AnyRunner | null = null;
  machine: AnyMachine | null = null;
  readonly timers = new Map<string, Timer>();
  timerGen = 0;
  /**
   * Inputs that arrived while paused, delivered in order on resume. A timer that came due is queued
   * by name and generation and stays armed until delivered, so an input handled before it on
   * resume can still cancel or re-arm it.
   */
  inbox: InboxEntry[] = [];
  observation: Observation = { status: "crashed" };

  constructor(
    readonly id: NodeId,
    readonly clock: NodeClock,
    readonly disk: Disk,
  ) {}
}

export interface WorldStats {
  events: number;
  steps: number;
  messagesSent: number;
  messagesDelivered: number;
  messagesDuplicated: number;
  drops: Record<string, number>;
  traceLines: number;
}

export class World implements ClusterView {
  readonly streams: Streams;
  readonly network: Network<Payload>;
  readonly nodes: readonly NodeId[];
  nowUs = 0;
  /** Why the run stopped early (a failure), or null. */
  stopped: string | null = null;
  /** The run reached its natural end early (a swarm run converged). */
  done = false;
  readonly stats: WorldStats = {
    events: 0,
    steps: 0,
    messagesSent: 0,
    messagesDelivered: 0,
    messagesDuplicated: 0,
    drops: {},
    traceLines: 0,
  };

  private readonly queue = new EventQueue<WorldEvent>();
  private readonly byId = new Map<NodeId, SimNode>();
  private readonly listeners: WorldListener[] = [];
  private msgIdNext = 1;
  private readonly eventsMax: number;
  private readonly traceMessages: boolean;
  private readonly traceFull: boolean;

  constructor(private readonly config: WorldConfig) {
    this.streams = new Streams(config.seed);
    this.network = new Network<Payload>(config.network, this.streams);
    this.nodes = config.nodes;
    this.eventsMax = config.eventsMax ?? EVENTS_MAX_DEFAULT;
    this.traceMessages = detailIncludes(config.detail, "messages");
    this.traceFull = detailIncludes(config.detail, "full");
    for (const id of config.nodes) {
      const c = config.clocks.get(id) ?? { offsetMs: 0, driftPpm: 0 };
      this.byId.set(id, new SimNode(id, new NodeClock(c.offsetMs * 1000, c.driftPpm), new Disk(config.disk, this.streams.get(streamName.disk(id)))));
    }
  }

  listen(l: WorldListener): void {
    this.listeners.push(l);
  }

  // ---- ClusterView -------------------------------------------------------------------------

  status(id: NodeId): NodeStatus {
    return this.node(id).status;
  }

  observation(id: NodeId): Observation {
    return this.node(id).observation;
  }

  machine(id: NodeId): AnyMachine | null {
    return this.node(id).machine;
  }

  get nowMs(): number {
    return this.nowUs / 1000;
  }

  /** A node's local clock reading in ms. */
  localMs(id: NodeId): number {
    return this.node(id).clock.localUs(this.nowUs) / 1000;
  }

  clockOf(id: NodeId): NodeClock {
    return this.node(id).clock;
  }

  diskOf(id: NodeId): Disk {
    return this.node(id).disk;
  }

  heldCount(id: NodeId): number {
    return this.node(id).runner?.heldCount ?? 0;
  }

  // ---- running -----------------------------------------------------------------------------

  /** Schedules `run` at simulated time `atUs` (never in the past). */
  schedule(atUs: number, run: () => void): void {
    this.queue.push({ k: "action", atUs: Math.max(atUs, this.nowUs), seq: this.queue.nextSeq(), run });
  }

  /** Processes events up to and including `untilUs`, at most `maxEvents` of them. Returns false when done. */
  runUntil(untilUs: number, maxEvents = Infinity): boolean {
    let n = 0;
    while (this.stopped === null && !this.done && n < maxEvents) {
      const ev = this.queue.peek();
      if (ev === undefined || ev.atUs > untilUs) {
        this.nowUs = Math.max(this.nowUs, untilUs);
        return false;
      }
      this.queue.pop();
      this.nowUs = ev.atUs;
      this.dispatch(ev);
      for (const l of this.listeners) l.onSettled?.();
      n += 1;
      if (++this.stats.events >= this.eventsMax) this.stop(`event budget of ${this.eventsMax} exhausted (a runaway protocol?)`);
    }
    return this.stopped === null && !this.done;
  }

  /** Ends the run early (a violated invariant, say); `runUntil` returns at the next event. */
  stop(reason: string): void {
    if (this.stopped === null) this.stopped = reason;
  }

  private dispatch(ev: WorldEvent): void {
    switch (ev.k) {
      case "arrive":
        this.arrive(ev.payload, ev.epoch);
        break;
      case "timer":
        this.fireTimer(ev.node, ev.inc, ev.name, ev.gen);
        break;
      case "persisted": {
        const node = this.node(ev.node);
        if (node.incarnation !== ev.inc || node.status === "crashed") break;
        node.disk.complete(ev.handle);
        this.input(node, { kind: "persisted", id: ev.id });
        break;
      }
      case "action":
        ev.run();
        break;
    }
  }

  // ---- tracing -----------------------------------------------------------------------------

  /** Emits one trace line; `node` is omitted for events of the world itself. */
  emit(node: string | null, event: TraceEvent | (Record<string, Json> & { type: string })): void {
    const line: TraceLine = node === null ? { t: this.nowMs, ...event } : { t: this.nowMs, node, ...event };
    this.stats.traceLines += 1;
    for (const l of this.listeners) l.onLine(line);
  }

  private drop(from: string, to: string, what: string, id: number | null, reason: DropReason): void {
    this.stats.drops[reason] = (this.stats.drops[reason] ?? 0) + 1;
    if (this.traceMessages) this.emit(from, id === null ? { type: "drop", to, msg: what, reason } : { type: "drop", id, to, msg: what, reason });
  }

  // ---- node lifecycle (also the fault API) -------------------------------------------------

  /** Starts a node that is down: fresh on first start, else recovered from what its disk kept. */
  start(id: NodeId): boolean {
    if (!this.boot(id)) return false;
    this.deliverStart(this.node(id));
    return true;
  }

  /**
   * Starts several nodes at one instant: all are up before any of them takes its start input, so
   * what the first sends on starting finds the others listening (as processes launched together
   * would, give or take the latency).
   */
  startAll(ids: readonly NodeId[]): void {
    const booted = ids.filter((id) => this.boot(id));
    for (const id of booted) this.deliverStart(this.node(id));
  }

  private boot(id: NodeId): boolean {
    const node = this.node(id);
    if (node.status !== "crashed") return false;
    node.incarnation += 1;
    const rng = this.streams.get(node.incarnation === 1 ? streamName.node(id) : `${streamName.node(id)}#${node.incarnation}`);
    node.machine = this.config.create(id, rng, node.incarnation);
    node.runner = new NodeRunner(node.machine);
    node.status = "up";
    return true;
  }

  private deliverStart(node: SimNode): void {
    const recovered: Recovered | null = node.disk.recover();
    this.input(node, { kind: "start", recovered });
  }

  crash(id: NodeId): boolean {
    const node = this.node(id);
    if (node.status === "crashed") return false;
    node.status = "crashed";
    node.machine = null;
    node.runner = null;
    node.timers.clear();
    node.inbox = [];
    const damage = node.disk.crash(this.nowUs);
    this.network.resetNode(id);
    this.emit(id, { type: "fault", action: "crash" });
    if (damage.lostWrites > 0 || damage.tornFiles.length > 0) {
      this.emit(id, { type: "fault", action: "disk", lostWrites: damage.lostWrites, tornFiles: damage.tornFiles });
    }
    this.changed(node);
    return true;
  }

  restart(id: NodeId): boolean {
    if (this.node(id).status !== "crashed") return false;
    this.emit(id, { type: "fault", action: "restart" });
    return this.start(id);
  }

  /** Replaces a node's disk with an empty one (crashing it first if it is up). */
  wipe(id: NodeId): void {
    this.crash(id);
    this.node(id).disk.wipe();
    this.emit(id, { type: "fault", action: "wipe" });
  }

  pause(id: NodeId): boolean {
    const node = this.node(id);
    if (node.status !== "up") return false;
    node.status = "paused";
    this.emit(id, { type: "fault", action: "pause" });
    this.changed(node);
    return true;
  }

  resume(id: NodeId): boolean {
    const node = this.node(id);
    if (node.status !== "paused") return false;
    node.status = "up";
    this.emit(id, { type: "fault", action: "resume", queued: node.inbox.length });
    const inbox = node.inbox;
    node.inbox = [];
    for (const entry of inbox) {
      if (node.status !== "up") break; // a step may not crash a node, but stay safe
      if ("input" in entry) this.input(node, entry.input);
      else this.deliverTimer(node, entry.timer, entry.gen);
    }
    this.changed(node);
    return true;
  }

  partition(groups: readonly (readonly NodeId[])[], oneWay: boolean): Partition {
    const p = this.network.addPartition(groups, oneWay);
    this.emit(null, { type: "fault", action: "partition", id: p.id, groups: groups.map((g) => [...g]), oneWay });
    return p;
  }

  heal(id: string | "all"): void {
    const healed = id === "all" ? this.network.healAll() : [this.network.heal(id)].filter((p) => p !== undefined);
    for (const p of healed) this.emit(null, { type: "fault", action: "heal", id: p.id });
  }

  clog(from: NodeId, to: NodeId): void {
    this.network.clog(from, to);
    this.emit(from, { type: "fault", action: "clog", to });
  }

  unclog(from: NodeId, to: NodeId): void {
    const released = this.network.unclog(from, to, this.nowUs);
    this.emit(from, { type: "fault", action: "unclog", to, released: released.length });
    for (const r of released) this.queue.push({ k: "arrive", atUs: r.arrivalUs, seq: this.queue.nextSeq(), payload: r.payload, epoch: r.epoch });
  }

  unclogAll(): void {
    for (const [from, to] of this.network.cloggedLinks()) this.unclog(from, to);
  }

  setNetwork(change: Partial<Pick<NetworkConfig, "loss" | "duplicate" | "latency">>): void {
    this.network.config = { ...this.network.config, ...change };
    this.emit(null, { type: "fault", action: "network", ...(change as Record<string, Json>) });
  }

  setDisk(id: NodeId, change: Partial<DiskConfig>): void {
    const disk = this.node(id).disk;
    disk.config = { ...disk.config, ...change };
    this.emit(id, { type: "fault", action: "disk", ...(change as Record<string, Json>) });
  }

  /** Changes a node's clock: a jump, a new offset from simulated time, or a new drift rate. */
  setClock(id: NodeId, change: { jumpMs?: number; offsetMs?: number; driftPpm?: number }): void {
    const node = this.node(id);
    if (change.offsetMs !== undefined) node.clock.setOffset(this.nowUs, change.offsetMs * 1000);
    if (change.jumpMs !== undefined) node.clock.jump(this.nowUs, change.jumpMs * 1000);
    if (change.driftPpm !== undefined) node.clock.setDrift(this.nowUs, change.driftPpm);
    this.emit(id, { type: "fault", action: "clock", ...(change as Record<string, Json>), offsetMs: node.clock.offsetUs(this.nowUs) / 1000 });
    // Timers are deadlines on the local clock; move them to where they now fall in simulated time.
    for (const [name, t] of node.timers) this.armTimer(node, name, t.localUs);
  }

  // ---- clients -----------------------------------------------------------------------------

  /** A client sends a request to a node over the network. Returns false if it was dropped at once. */
  clientRequest(client: ClientId, to: NodeId, reqId: number, req: unknown): boolean {
    const target = this.byId.get(to);
    if (target === undefined) return false;
    return this.transmit({ k: "req", from: client, to, reqId, req, toInc: target.incarnation }, null);
  }

  // ---- internals ---------------------------------------------------------------------------

  private node(id: NodeId): SimNode {
    const n = this.byId.get(id);
    if (n === undefined) throw new Error(`unknown node ${id}`);
    return n;
  }

  /** Refreshes a node's observation and tells listeners if it differs from the last one. */
  private changed(node: SimNode): void {
    const next = node.machine === null ? { status: node.status } : { status: node.status, ...this.config.observe(node.machine) };
    if (sameObservation(next, node.observation)) return;
    node.observation = next;
    for (const l of this.listeners) l.onNodeChanged(node.id);
  }

  /** Delivers one input: at once if the node is up, queued if it is paused, dropped if crashed. */
  private input(node: SimNode, input: AnyInput): void {
    if (node.status === "crashed" || node.runner === null) return;
    if (node.status === "paused") {
      node.inbox.push({ input });
      return;
    }
    this.stats.steps += 1;
    const effects = node.runner.step(input, node.clock.localUs(this.nowUs) / 1000);
    for (const e of effects) this.apply(node, e);
    this.changed(node);
    for (const l of this.listeners) l.onStep?.(node.id);
  }

  private apply(node: SimNode, e: AnyEffect): void {
    switch (e.kind) {
      case "send":
        this.sendMessage(node, e.to, e.msg);
        break;
      case "set-timer":
        this.armTimer(node, e.name, msToUsCeil(e.atMs));
        break;
      case "cancel-timer":
        node.timers.delete(e.name);
        break;
      case "persist": {
        const { handle, completeAtUs } = node.disk.submit(e.file, e.op, e.record, e.sync, this.nowUs);
        this.queue.push({ k: "persisted", atUs: completeAtUs, seq: this.queue.nextSeq(), node: node.id, inc: node.incarnation, id: e.id, handle });
        break;
      }
      case "reply":
        this.transmit({ k: "rep", from: node.id, to: e.client, reqId: e.reqId, value: e.value }, null);
        break;
      case "push":
        this.transmit({ k: "rep", from: node.id, to: e.client, reqId: PUSH, value: e.value }, null);
        break;
      case "close":
        break; // simulated clients hold no connection state to close
      case "trace":
        if ("t" in e.event || "node" in e.event) throw new Error(`trace events may not set t or node (the host does): ${JSON.stringify(e.event)}`);
        this.emit(node.id, e.event);
        break;
    }
  }

  private sendMessage(node: SimNode, to: NodeId, msg: Message): void {
    const id = this.msgIdNext++;
    this.stats.messagesSent += 1;
    if (this.traceMessages) this.emit(node.id, this.traceFull ? { type: "send", id, to, msg: msg.type, body: msg as unknown as Json } : { type: "send", id, to, msg: msg.type });
    const target = this.byId.get(to);
    if (target === undefined) {
      this.drop(node.id, to, msg.type, id, "unknown-destination");
      return;
    }
    this.transmit({ k: "msg", from: node.id, to, msg, id, fromInc: node.incarnation, toInc: target.incarnation }, msg.type);
  }

  /** Puts a payload on the network. Returns false when it was dropped at once. */
  private transmit(p: Payload, msgType: string | null): boolean {
    const plan = this.network.plan(p.from, p.to, this.nowUs);
    switch (plan.kind) {
      case "drop":
        if (p.k === "msg") this.drop(p.from, p.to, msgType ?? p.k, p.id, plan.reason);
        else this.stats.drops[plan.reason] = (this.stats.drops[plan.reason] ?? 0) + 1;
        return false;
      case "held": {
        for (const evicted of this.network.hold(p.from, p.to, p)) {
          if (evicted.k === "msg") this.drop(evicted.from, evicted.to, evicted.msg.type, evicted.id, "link-reset");
        }
        return true;
      }
      case "deliver":
        if (plan.arrivalsUs.length > 1) this.stats.messagesDuplicated += plan.arrivalsUs.length - 1;
        for (const atUs of plan.arrivalsUs) this.queue.push({ k: "arrive", atUs, seq: this.queue.nextSeq(), payload: p, epoch: plan.epoch });
        return true;
    }
  }

  private arrive(p: Payload, epoch: number): void {
    if (p.k === "rep") {
      if (!this.network.alive(p.from, p.to, epoch) || this.network.blocked(p.from, p.to)) return;
      if (p.reqId === PUSH) for (const l of this.listeners) l.onPush?.(p.to, p.from, p.value);
      else for (const l of this.listeners) l.onReply?.(p.to, p.from, p.reqId, p.value);
      return;
    }
    const node = this.node(p.to);
    const what = p.k === "msg" ? p.msg.type : "client-request";
    const id = p.k === "msg" ? p.id : null;
    const reason = this.undeliverable(p, node, epoch);
    if (reason !== null) {
      if (p.k === "msg") this.drop(p.from, p.to, what, id, reason);
      return;
    }
    if (node.status === "paused" && node.inbox.length >= PAUSED_INBOX_MAX) {
      if (p.k === "msg") this.drop(p.from, p.to, what, id, "paused-overflow");
      return;
    }
    if (p.k === "msg") {
      this.stats.messagesDelivered += 1;
      if (this.traceMessages) this.emit(p.to, { type: "recv", id: p.id, from: p.from, msg: p.msg.type });
      this.input(node, { kind: "message", from: p.from, msg: p.msg });
    } else {
      this.input(node, { kind: "client", client: p.from, reqId: p.reqId, req: p.req });
    }
  }

  /** Why a payload arriving now cannot be delivered, or null if it can. */
  private undeliverable(p: Payload & { k: "msg" | "req" }, node: SimNode, epoch: number): DropReason | null {
    if (node.status === "crashed" || node.incarnation !== p.toInc) return "crashed";
    if (this.network.blocked(p.from, p.to)) return "partition";
    if (!this.network.alive(p.from, p.to, epoch)) return "link-reset";
    if (p.k === "msg" && this.network.config.mode === "tcp") {
      // A TCP connection dies with its sender: what it had in flight does not arrive.
      const sender = this.node(p.from);
      if (sender.incarnation !== p.fromInc || sender.status === "crashed") return "link-reset";
    }
    return null;
  }

  private armTimer(node: SimNode, name: string, localUs: number): void {
    const gen = ++node.timerGen;
    node.timers.set(name, { gen, localUs });
    const atUs = node.clock.simUsFor(localUs, this.nowUs);
    this.queue.push({ k: "timer", atUs, seq: this.queue.nextSeq(), node: node.id, inc: node.incarnation, name, gen });
  }

  private fireTimer(id: NodeId, inc: number, name: string, gen: number): void {
    const node = this.node(id);
    if (node.incarnation !== inc || node.status === "crashed") return;
    const t = node.timers.get(name);
    if (t === undefined || t.gen !== gen) return;
    if (node.status === "paused") {
      // At most one entry per armed timer, so timers do not count against the inbox bound.
      if (this.traceFull) this.emit(id, { type: "timer", name });
      node.inbox.push({ timer: name, gen });
      return;
    }
    if (this.traceFull) this.emit(id, { type: "timer", name });
    this.deliverTimer(node, name, gen);
  }

  /** Hands a due timer to the machine unless it was cancelled or re-armed since it came due. */
  private deliverTimer(node: SimNode, name: string, gen: number): void {
    if (node.timers.get(name)?.gen !== gen) return;
    node.timers.delete(name);
    this.input(node, { kind: "timer", name });
  }
}

/**
 * A deadline in ms as whole µs, rounded up — but a value a float's noise put a hair above a whole
 * µs (8.021 + 150 = 158.02100000000002) is that µs, not the next.
 */
export function msToUsCeil(ms: number): number {
  const us = ms * 1000;
  const near = Math.round(us);
  return Math.abs(us - near) < 1e-6 ? near : Math.ceil(us);
}

/** Observations are flat records of JSON scalars (arrays compare by identity: return new ones only on change). */
function sameObservation(a: Observation, b: Observation): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}
