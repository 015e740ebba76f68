import { describe, expect, it } from "vitest";
import type { Effect, Input, NodeId } from "../machine.js";
import { NodeRunner } from "../runner.js";
import type { Json, TraceEvent } from "../trace.js";
import { type Plain, plain } from "../keyspace/plain.js";
import { ClusterNode } from "./node.js";
import { keySlot, SLOTS, splitSlots } from "./slots.js";
import { CLUSTER_DEFAULTS, type ClusterConfig, type ClusterMsg, type ClusterRep, type ClusterReq, FLAG, type Header, MFLAG } from "./types.js";
import { mulberry32 as prng } from "../test-support/prng.js";

type Fx = Effect<ClusterMsg, ClusterRep>;
type In = Input<ClusterMsg, ClusterReq>;


const NT = 1000;
/** Local clocks start here (any offset is allowed; Redis's clock is the wall clock). */
const T0 = 1_000_000;

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly msg: ClusterMsg;
  readonly t: number;
}
interface Logged {
  readonly t: number;
  readonly node: NodeId;
  readonly fx: Fx;
}
interface Seen {
  readonly t: number;
  readonly node: NodeId;
  readonly event: TraceEvent;
}

class Member {
  readonly timers = new Map<string, number>();
  up = true;
  /** Persists complete as soon as they are emitted (a fast disk), unless turned off. */
  autoPersist = true;
  readonly records = new Map<number, Json>();
  /** The last nodes.conf record whose write completed. */
  conf: Json | null = null;
  readonly runner: NodeRunner<ClusterMsg, ClusterReq, ClusterRep>;
  /** Raw machine effects of the input being processed. */
  lastRaw: Fx[] = [];

  constructor(
    readonly id: NodeId,
    readonly node: ClusterNode,
    log: (node: NodeId, fx: Fx) => void,
  ) {
    this.runner = new NodeRunner({
      step: (input: In, nowMs: number): Fx[] => {
        const fx = node.step(input, nowMs);
        for (const e of fx) log(id, e);
        this.lastRaw.push(...fx);
        return fx;
      },
    });
  }
}

interface ClusterOptions {
  readonly masters?: number;
  /** The master (by address) each replica follows, in order; default one per master. */
  readonly replicaOf?: readonly NodeId[];
  /** Extra empty masters. */
  readonly emptyMasters?: number;
  readonly startMs?: number;
  readonly seed?: number;
  readonly config?: Partial<ClusterConfig>;
  /** Per-node overrides. */
  readonly nodeConfig?: Readonly<Record<NodeId, Partial<ClusterConfig>>>;
  /** Per-master configEpoch override at bootstrap (by address). */
  readonly epochs?: Readonly<Record<NodeId, number>>;
  /** Slot ranges override per master. */
  readonly slots?: Readonly<Record<NodeId, readonly (readonly [number, number])[]>>;
}

/**
 * A hand-driven cluster: ClusterNodes behind NodeRunners, one shared clock, zero-latency FIFO
 * delivery, timers fired in time order, and hooks to cut, hold or crash.
 */
class Harness {
  now: number;
  readonly members = new Map<NodeId, Member>();
  readonly ids: NodeId[] = [];
  queue: Envelope[] = [];
  readonly raw: Logged[] = [];
  readonly out: Logged[] = [];
  readonly delivered: Envelope[] = [];
  readonly replies: { t: number; node: NodeId; client: string; reqId: number; value: ClusterRep }[] = [];
  readonly pushes: { t: number; node: NodeId; client: string; value: ClusterRep }[] = [];
  /** Messages for which this is true are lost (a partition). */
  cut: (from: NodeId, to: NodeId, msg: ClusterMsg) => boolean = () => false;
  /** Messages for which this is true wait in `held` until released. */
  hold: (from: NodeId, to: NodeId, msg: ClusterMsg) => boolean = () => false;
  held: Envelope[] = [];
  private reqId = 0;

  constructor(startMs: number) {
    this.now = startMs;
  }

  add(id: NodeId, config: ClusterConfig, seed: number, peers: readonly NodeId[]): Member {
    const node = new ClusterNode({ id, peers, config, rng: prng(seed) });
    const m = new Member(id, node, (n, fx) => this.raw.push({ t: this.now, node: n, fx }));
    this.members.set(id, m);
    if (!this.ids.includes(id)) this.ids.push(id);
    return m;
  }

  member(id: NodeId): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no node ${id}`);
    return m;
  }

  node(id: NodeId): ClusterNode {
    return this.member(id).node;
  }

  name(id: NodeId): string {
    return this.node(id).inspect().name;
  }

  /** Feeds one input to a node and carries out what comes out of its runner (no delivery). Returns the raw machine effects. */
  step(id: NodeId, input: In): Fx[] {
    const m = this.member(id);
    m.lastRaw = [];
    const outFx = m.runner.step(input, this.now);
    const raw = m.lastRaw;
    const complete: number[] = [];
    for (const e of outFx) {
      this.out.push({ t: this.now, node: id, fx: e });
      switch (e.kind) {
        case "persist":
          m.records.set(e.id, e.record);
          if (m.autoPersist) complete.push(e.id);
          break;
        case "send":
          if (this.cut(id, e.to, e.msg)) break;
          if (this.hold(id, e.to, e.msg)) this.held.push({ from: id, to: e.to, msg: e.msg, t: this.now });
          else this.queue.push({ from: id, to: e.to, msg: e.msg, t: this.now });
          break;
        case "set-timer":
          m.timers.set(e.name, e.atMs);
          break;
        case "cancel-timer":
          m.timers.delete(e.name);
          break;
        case "reply":
          this.replies.push({ t: this.now, node: id, client: e.client, reqId: e.reqId, value: e.value });
          break;
        case "push":
          this.pushes.push({ t: this.now, node: id, client: e.client, value: e.value });
          break;
        case "trace":
          break;
      }
    }
    for (const pid of complete) this.completePersist(id, pid);
    return raw;
  }

  completePersist(id: NodeId, pid: number): Fx[] {
    const m = this.member(id);
    const rec = m.records.get(pid);
    if (rec !== undefined) m.conf = rec;
    return this.step(id, { kind: "persisted", id: pid });
  }

  /** Delivers queued messages (and what they cause) until none are left. */
  pump(): void {
    for (let guard = 0; this.queue.length > 0; guard++) {
      if (guard > 200_000) throw new Error("message storm");
      const env = this.queue.shift() as Envelope;
      const to = this.members.get(env.to);
      if (to === undefined || !to.up) continue;
      this.delivered.push({ ...env, t: this.now });
      this.step(env.to, { kind: "message", from: env.from, msg: env.msg });
    }
  }

  /** One input, then deliver everything. Returns the raw effects of that input. */
  input(id: NodeId, input: In): Fx[] {
    const fx = this.step(id, input);
    this.pump();
    return fx;
  }

  deliver(from: NodeId, to: NodeId, msg: ClusterMsg): Fx[] {
    this.delivered.push({ from, to, msg, t: this.now });
    return this.input(to, { kind: "message", from, msg });
  }

  /** Releases held messages that match (all by default), in order. */
  release(match: (e: Envelope) => boolean = () => true): void {
    const go = this.held.filter(match);
    this.held = this.held.filter((e) => !match(e));
    this.queue.push(...go);
    this.pump();
  }

  private nextTimer(): { m: Member; name: string; at: number } | null {
    let best: { m: Member; name: string; at: number } | null = null;
    for (const id of this.ids) {
      const m = this.member(id);
      if (!m.up) continue;
      for (const [name, at] of m.timers) if (best === null || at < best.at) best = { m, name, at };
    }
    return best;
  }

  /** Runs timers in time order until `until` returns true (checked after each timer) or `ms` pass. */
  run(ms: number, until: () => boolean = () => false): boolean {
    const end = this.now + ms;
    this.pump();
    if (until()) return true;
    for (;;) {
      const t = this.nextTimer();
      if (t === null || t.at > end) break;
      this.now = Math.max(this.now, t.at);
      t.m.timers.delete(t.name);
      this.input(t.m.id, { kind: "timer", name: t.name });
      if (until()) return true;
    }
    this.now = end;
    return until();
  }

  /** Like run, but the condition must come true within `ms`. Returns the time it did. */
  runUntil(until: () => boolean, ms: number, what: string): number {
    if (!this.run(ms, until)) throw new Error(`not within ${ms} ms: ${what}`);
    return this.now;
  }

  crash(id: NodeId): void {
    const m = this.member(id);
    m.up = false;
    m.timers.clear();
  }

  /** Cuts every message to and from the given nodes. */
  isolate(...ids: NodeId[]): void {
    this.cut = (f, t) => ids.includes(f) || ids.includes(t);
  }

  heal(): void {
    this.cut = () => false;
  }

  /** Sends a command and returns its reply as plain data (core/keyspace/plain.ts), undefined while blocked. */
  client(id: NodeId, cmd: readonly string[], client = "c1", asking = false): Plain | undefined {
    return this.replyTo(id, this.request(id, cmd, client, asking));
  }

  /** Sends a command; returns its request id (for replyTo, once it unblocks). */
  request(id: NodeId, cmd: readonly string[], client = "c1", asking = false): number {
    const reqId = ++this.reqId;
    this.input(id, { kind: "client", client, reqId, req: asking ? { cmd, asking } : { cmd } });
    return reqId;
  }

  replyTo(id: NodeId, reqId: number): Plain | undefined {
    const value = this.replies.find((r) => r.node === id && r.reqId === reqId)?.value;
    return value === undefined ? undefined : plain(value);
  }

  /** Pushed messages (pub/sub) a client got from a node, as plain data. */
  pushed(id: NodeId, client: string): Plain[] {
    return this.pushes.filter((p) => p.node === id && p.client === client).map((p) => plain(p.value));
  }

  /** Trace events that left the runners (visible), optionally of one node and type. */
  traces(node?: NodeId, type?: string): Seen[] {
    const out: Seen[] = [];
    for (const l of this.out) {
      if (l.fx.kind !== "trace") continue;
      if (node !== undefined && l.node !== node) continue;
      if (type !== undefined && l.fx.event.type !== type) continue;
      out.push({ t: l.t, node: l.node, event: l.fx.event });
    }
    return out;
  }

  /** Messages a node sent (visible, whether or not they were delivered), by type. */
  sent(from: NodeId, type?: string, to?: NodeId): Envelope[] {
    const out: Envelope[] = [];
    for (const l of this.out) {
      if (l.node !== from || l.fx.kind !== "send") continue;
      if (type !== undefined && l.fx.msg.type !== type) continue;
      if (to !== undefined && l.fx.to !== to) continue;
      out.push({ from, to: l.fx.to, msg: l.fx.msg, t: l.t });
    }
    return out;
  }

  state(id: NodeId): string {
    return this.node(id).inspect().state;
  }
}

const MASTERS = ["n1", "n2", "n3"] as const;

function configFor(opts: ClusterOptions, id: NodeId, bootstrap: ClusterConfig["bootstrap"]): ClusterConfig {
  return { ...CLUSTER_DEFAULTS, nodeTimeoutMs: NT, ...opts.config, ...opts.nodeConfig?.[id], bootstrap };
}

/** Builds, starts and settles a cluster: masters n1.., then replicas, then empty masters. */
function cluster(opts: ClusterOptions = {}): Harness {
  const masters = opts.masters ?? 3;
  const replicaOf = opts.replicaOf ?? Array.from({ length: masters }, (_, i) => `n${i + 1}`);
  const empty = opts.emptyMasters ?? 0;
  const total = masters + replicaOf.length + empty;
  const ids = Array.from({ length: total }, (_, i) => `n${i + 1}`);
  const ranges = splitSlots(masters);
  const h = new Harness(opts.startMs ?? T0);
  ids.forEach((id, i) => {
    const meet = ids.filter((p) => p !== id);
    let bootstrap: ClusterConfig["bootstrap"];
    if (i < masters) bootstrap = { slots: opts.slots?.[id] ?? [ranges[i] as [number, number]], configEpoch: opts.epochs?.[id] ?? i + 1, replicaOf: null, meet };
    else if (i < masters + replicaOf.length) bootstrap = { slots: [], configEpoch: 0, replicaOf: replicaOf[i - masters] as NodeId, meet };
    else bootstrap = { slots: [], configEpoch: 0, replicaOf: null, meet };
    h.add(id, configFor(opts, id, bootstrap), (opts.seed ?? 1) * 1000 + i, ids);
  });
  for (const id of ids) h.step(id, { kind: "start", recovered: null });
  h.pump();
  return h;
}

/** A cluster that has formed: everyone OK, replicas streaming. */
function settled(opts: ClusterOptions = {}): Harness {
  const h = cluster(opts);
  h.runUntil(() => h.ids.every((id) => h.state(id) === "ok" && (h.node(id).inspect().role === "master" || h.node(id).inspect().replState === "connected")), 10_000, "cluster formed");
  // A little longer, so every node has pinged everyone and gossip has settled.
  h.run(1500);
  return h;
}

function lastTrace(h: Harness, node: NodeId, type: string): Seen {
  const t = h.traces(node, type).at(-1);
  if (t === undefined) throw new Error(`no ${type} trace on ${node}`);
  return t;
}

function firstTrace(h: Harness, node: NodeId, type: string, match: (e: TraceEvent) => boolean = () => true): Seen {
  const t = h.traces(node, type).find((s) => match(s.event));
  if (t === undefined) throw new Error(`no ${type} trace on ${node}`);
  return t;
}

// ---- small helpers over effects ----------------------------------------------------------------------

type SendFx = Extract<Fx, { kind: "send" }>;
type TraceFx = Extract<Fx, { kind: "trace" }>;
type PersistFx = Extract<Fx, { kind: "persist" }>;

const sendsIn = (fx: readonly Fx[], type?: string): SendFx[] => fx.filter((e): e is SendFx => e.kind === "send" && (type === undefined || e.msg.type === type));
const tracesIn = (fx: readonly Fx[], type?: string): TraceFx[] => fx.filter((e): e is TraceFx => e.kind === "trace" && (type === undefined || e.event.type === type));
const persistsIn = (fx: readonly Fx[]): PersistFx[] => fx.filter((e): e is PersistFx => e.kind === "persist");

/** nodes.conf as node.ts writes it. */
interface SavedConf {
  readonly name: string;
  readonly currentEpoch: number;
  readonly lastVoteEpoch: number;
  readonly nodes: readonly { readonly name: string; readonly address: string | null; readonly flags: number; readonly master: string | null; readonly configEpoch: number; readonly slots: string }[];
}
const conf = (j: Json): SavedConf => j as unknown as SavedConf;

function header(msg: ClusterMsg): Header {
  if (!("h" in msg)) throw new Error(`${msg.type} has no bus header`);
  return msg.h;
}

/** The first key "k<i>" whose slot lies in [lo, hi]. */
function keyIn(lo: number, hi: number): string {
  for (let i = 0; ; i++) {
    const k = `k${i}`;
    const s = keySlot(k);
    if (s >= lo && s <= hi) return k;
  }
}
const K1 = keyIn(0, 5460);
const K2 = keyIn(5461, 10922);
const K3 = keyIn(10923, 16383);

const flagsOf = (h: Harness, observer: NodeId, about: NodeId): number => h.node(observer).view(about)?.flags ?? 0;
const failedOn = (h: Harness, observer: NodeId, about: NodeId): boolean => (flagsOf(h, observer, about) & FLAG.fail) !== 0;
const pfailOn = (h: Harness, observer: NodeId, about: NodeId): boolean => (flagsOf(h, observer, about) & FLAG.pfail) !== 0;
const role = (h: Harness, id: NodeId): string => h.node(id).inspect().role;

/** Delivered messages from → to of a type at or after a time. */
function deliveredSince(h: Harness, from: NodeId, to: NodeId, type: string, since: number): Envelope[] {
  return h.delivered.filter((e) => e.from === from && e.to === to && e.msg.type === type && e.t >= since);
}

/** The vote was refused for exactly `reason`: no ACK, no vote, lastVoteEpoch untouched. */
function expectRefused(h: Harness, voter: NodeId, raw: readonly Fx[], reason: string, lastVoteBefore: number): void {
  expect(tracesIn(raw, "vote-refused").map((t) => t.event["reason"])).toEqual([reason]);
  expect(sendsIn(raw, "failover-auth-ack")).toEqual([]);
  expect(tracesIn(raw, "vote")).toEqual([]);
  expect(h.node(voter).inspect().lastVoteEpoch).toBe(lastVoteBefore);
  for (const p of persistsIn(raw)) expect(conf(p.record).lastVoteEpoch).toBe(lastVoteBefore);
}

/** The vote was granted: ACK and vote trace wait for a fsynced nodes.conf write recording lastVoteEpoch = epoch. */
function expectGranted(raw: readonly Fx[], to: NodeId, epoch: number): PersistFx {
  expect(tracesIn(raw, "vote-refused")).toEqual([]);
  const acks = sendsIn(raw, "failover-auth-ack");
  expect(acks.map((a) => a.to)).toEqual([to]);
  const votes = tracesIn(raw, "vote");
  expect(votes.length).toBe(1);
  expect(votes[0]?.event).toMatchObject({ type: "vote", for: to, epoch });
  const after = acks[0]?.after;
  expect(after).toBeTypeOf("number");
  expect(votes[0]?.after).toBe(after);
  const p = persistsIn(raw).find((e) => e.id === after);
  expect(p).toBeDefined();
  expect(p).toMatchObject({ kind: "persist", file: "nodes.conf", op: "write", sync: true });
  expect(conf((p as PersistFx).record).lastVoteEpoch).toBe(epoch);
  expect(conf((p as PersistFx).record).currentEpoch).toBe(epoch);
  return p as PersistFx;
}

/** Crash n1 with failover-auth-requests held; run until `from` (default n4) has asked for votes. */
function electionHeld(opts: ClusterOptions = {}, from: NodeId = "n4"): Harness {
  const h = settled(opts);
  h.hold = (_f, _t, m) => m.type === "failover-auth-request";
  h.crash("n1");
  h.runUntil(() => h.held.some((e) => e.from === from), 10_000, `${from} asks for votes`);
  return h;
}

function heldMsg(h: Harness, from: NodeId, to: NodeId, nth = 0): ClusterMsg {
  const e = h.held.filter((x) => x.from === from && x.to === to)[nth];
  if (e === undefined) throw new Error(`no held message ${from} → ${to} #${nth}`);
  return e.msg;
}

// ---- tests -----------------------------------------------------------------------------------------

describe("cluster formation (harness)", () => {
  it("3 masters with slots and 3 replicas form a cluster that agrees on the slot map", () => {
    const h = settled();
    for (const id of MASTERS) expect(role(h, id)).toBe("master");
    expect(h.node("n4").inspect().master).toBe("n1");
    expect(h.node("n5").inspect().master).toBe("n2");
    expect(h.node("n6").inspect().master).toBe("n3");
    for (const id of h.ids) {
      expect(h.node(id).slotMap()).toBe("0-5460=n1 5461-10922=n2 10923-16383=n3");
      expect(h.state(id)).toBe("ok");
      for (const other of h.ids) if (other !== id) expect(h.node(id).view(other)).not.toBeNull();
    }
    expect(h.node("n5").view("n2")?.role).toBe("master");
    expect(h.node("n1").view("n5")?.role).toBe("replica");
  });
});

describe("MEET and the handshake", () => {
  const cfg = (bootstrap: ClusterConfig["bootstrap"]): ClusterConfig => ({ ...CLUSTER_DEFAULTS, nodeTimeoutMs: NT, bootstrap });

  it("a MEET makes the receiver shake hands; each side learns the other only from a PONG", () => {
    const h = new Harness(T0);
    h.add("a", cfg({ slots: [[0, SLOTS - 1]], configEpoch: 1, replicaOf: null, meet: ["b"] }), 11, ["a", "b"]);
    h.add("b", cfg({ slots: [], configEpoch: 0, replicaOf: null, meet: [] }), 12, ["a", "b"]);
    const startA = h.step("a", { kind: "start", recovered: null });
    expect(sendsIn(startA).map((s) => [s.msg.type, s.to])).toEqual([["meet", "b"]]);
    expect(sendsIn(h.step("b", { kind: "start", recovered: null }))).toEqual([]);

    // b gets the MEET from a stranger: it starts its own handshake (PING) and answers PONG.
    const meet = h.queue.shift() as Envelope;
    const fxB = h.step("b", { kind: "message", from: "a", msg: meet.msg });
    expect(sendsIn(fxB).map((s) => [s.msg.type, s.to])).toEqual([
      ["ping", "a"],
      ["pong", "a"],
    ]);
    expect(h.node("b").view("a")).toBeNull();

    // a gets b's PING: b is not known yet, so it is only answered.
    const ping = h.queue.shift() as Envelope;
    expect(ping.msg.type).toBe("ping");
    const fxPing = h.step("a", { kind: "message", from: "b", msg: ping.msg });
    expect(sendsIn(fxPing).map((s) => [s.msg.type, s.to])).toEqual([["pong", "b"]]);
    expect(h.node("a").view("b")).toBeNull();

    // a gets b's PONG: the handshake completes and b is known under the name in the header.
    const pong = h.queue.shift() as Envelope;
    expect(pong.msg.type).toBe("pong");
    const fxPong = h.step("a", { kind: "message", from: "b", msg: pong.msg });
    expect(tracesIn(fxPong, "handshake").map((t) => t.event)).toEqual([{ type: "handshake", about: "b", name: h.name("b") }]);
    expect(h.node("a").view("b")?.role).toBe("master");

    // b gets a's PONG: it knows a, and a's slots.
    h.pump();
    expect(h.traces("b", "handshake").map((t) => t.event["about"])).toEqual(["a"]);
    expect(h.node("b").view("a")?.role).toBe("master");
    expect(h.node("b").slotMap()).toBe("0-16383=a");
  });

  it("when both sides MEET and one MEET is lost, the other's MEET still makes the loser shake hands", () => {
    // Found by cluster-swarm seeds 5373 and 9368: b's own MEET to a was lost, a's MEET reached b,
    // and b only answered PONG (its handshake with a was 'already under way') and then let it
    // expire, so b never learnt anyone although everyone knew b.
    const h = new Harness(T0);
    h.add("a", cfg({ slots: [[0, SLOTS - 1]], configEpoch: 1, replicaOf: null, meet: ["b"] }), 11, ["a", "b"]);
    h.add("b", cfg({ slots: [], configEpoch: 0, replicaOf: null, meet: ["a"] }), 12, ["a", "b"]);
    h.step("a", { kind: "start", recovered: null });
    h.step("b", { kind: "start", recovered: null });
    expect(h.queue.map((e) => [e.from, e.msg.type])).toEqual([
      ["a", "meet"],
      ["b", "meet"],
    ]);
    const meetFromA = h.queue[0] as Envelope;
    h.queue.length = 0; // b's MEET is lost
    const fx = h.deliver("a", "b", meetFromA.msg);
    expect(sendsIn(fx).map((s) => [s.msg.type, s.to])).toEqual([
      ["ping", "a"],
      ["pong", "a"],
    ]);
    h.runUntil(() => h.node("b").view("a") !== null, 3_000, "b learns a");
    expect(h.node("b").slotMap()).toBe("0-16383=a");
  });

  it("an unanswered handshake is retried before it expires", () => {
    const h = new Harness(T0);
    h.add("a", cfg({ slots: [[0, SLOTS - 1]], configEpoch: 1, replicaOf: null, meet: ["b"] }), 11, ["a", "b"]);
    h.add("b", cfg({ slots: [], configEpoch: 0, replicaOf: null, meet: [] }), 12, ["a", "b"]);
    h.step("a", { kind: "start", recovered: null });
    h.step("b", { kind: "start", recovered: null });
    h.queue.length = 0; // the first MEET is lost
    h.runUntil(() => h.node("a").view("b") !== null && h.node("b").view("a") !== null, NT, "a and b meet on the retried MEET");
    expect(h.sent("a", "meet", "b").length).toBeGreaterThanOrEqual(2);
  });

  it("a node learns an unknown node from gossip and shakes hands with it", () => {
    const h = new Harness(T0);
    const peers = ["a", "b", "c"];
    h.add("a", cfg({ slots: [[0, SLOTS - 1]], configEpoch: 1, replicaOf: null, meet: ["b", "c"] }), 21, peers);
    h.add("b", cfg({ slots: [], configEpoch: 0, replicaOf: null, meet: [] }), 22, peers);
    h.add("c", cfg({ slots: [], configEpoch: 0, replicaOf: null, meet: [] }), 23, peers);
    for (const id of peers) h.step(id, { kind: "start", recovered: null });
    h.pump();
    expect(h.node("b").view("c")).toBeNull();
    h.runUntil(() => h.node("b").view("c") !== null && h.node("c").view("b") !== null, 5_000, "b and c meet through a's gossip");
    expect(h.traces("b", "handshake").map((t) => t.event["about"])).toContain("c");
    expect(h.traces("c", "handshake").map((t) => t.event["about"])).toContain("b");
    // b never sent c a MEET: it was a gossip handshake (PING).
    expect(h.sent("b", "meet", "c")).toEqual([]);
    expect(h.sent("b", "ping", "c").length).toBeGreaterThan(0);
  });

  it("PING and MEET from a known node are answered with exactly one PONG; a PONG is not answered", () => {
    const h = settled();
    const ping = h.sent("n2", "ping", "n1").at(-1) as Envelope;
    const fx = h.deliver("n2", "n1", ping.msg);
    const replies = sendsIn(fx);
    expect(replies.map((s) => [s.msg.type, s.to])).toEqual([["pong", "n2"]]);
    expect(header(replies[0]?.msg as ClusterMsg)).toMatchObject({ sender: h.name("n1"), master: null, configEpoch: 1, slots: expect.anything() });
    expect(header(replies[0]?.msg as ClusterMsg).slots.toString()).toBe("0-5460");

    const meet: ClusterMsg = { type: "meet", h: header(ping.msg), gossip: [] };
    expect(sendsIn(h.deliver("n2", "n1", meet)).map((s) => [s.msg.type, s.to])).toEqual([["pong", "n2"]]);

    const pong = h.sent("n2", "pong", "n1").at(-1) as Envelope;
    expect(sendsIn(h.deliver("n2", "n1", pong.msg))).toEqual([]);
  });

  it("gossip: at most max(3, N/10) random entries (never the sender or receiver, no repeats), then every PFAIL node", () => {
    const h = settled();
    const name = new Map(h.ids.map((id) => [h.name(id), id]));
    const pings = h.delivered.filter((e) => e.msg.type === "ping" || e.msg.type === "pong");
    expect(pings.length).toBeGreaterThan(50);
    let full = 0;
    for (const e of pings) {
      if (!("gossip" in e.msg)) continue;
      const about = e.msg.gossip.map((g) => name.get(g.name));
      if (e.msg.gossip.length === 0) continue; // the post-promotion PONG form carries none
      expect(about.length).toBeLessThanOrEqual(3);
      expect(about).not.toContain(e.from);
      expect(about).not.toContain(e.to);
      expect(new Set(about).size).toBe(about.length);
      if (about.length === 3) full += 1;
    }
    expect(full).toBeGreaterThan(pings.length / 2);
    // n2 alone loses n1 (so n1 stays PFAIL, below quorum): every ping n2 sends then carries it.
    h.cut = (f, t) => (f === "n2" && t === "n1") || (f === "n1" && t === "n2");
    h.runUntil(() => pfailOn(h, "n2", "n1"), 5_000, "n2 marks n1 PFAIL");
    const t = h.now;
    h.run(1500);
    expect(pfailOn(h, "n2", "n1")).toBe(true);
    const later = h.delivered.filter((e) => e.from === "n2" && e.t > t && (e.msg.type === "ping" || e.msg.type === "pong"));
    expect(later.length).toBeGreaterThan(0);
    for (const e of later) {
      if (!("gossip" in e.msg)) continue;
      const entries = e.msg.gossip.filter((g) => g.name === h.name("n1"));
      expect(entries.length).toBe(1);
      expect((entries[0]?.flags ?? 0) & FLAG.pfail).toBe(FLAG.pfail);
      expect(e.msg.gossip.length).toBeLessThanOrEqual(4);
    }
  });

  it("a replica's header carries its master's configEpoch and slots", () => {
    const h = settled();
    const ping = h.sent("n4", "ping").at(-1) as Envelope;
    const hd = header(ping.msg);
    expect(hd.sender).toBe(h.name("n4"));
    expect(hd.master).toBe(h.name("n1"));
    expect(hd.configEpoch).toBe(1);
    expect(hd.slots.toString()).toBe("0-5460");
  });
});

describe("failure detection", () => {
  it("PFAIL after node_timeout of silence with a ping pending, not before", () => {
    const h = settled();
    h.crash("n1");
    const tCrash = h.now;
    const tPfail = h.runUntil(() => pfailOn(h, "n2", "n1"), 5_000, "n2 marks n1 PFAIL");
    expect(firstTrace(h, "n2", "pfail").event["about"]).toBe("n1");
    // The ping that went unanswered: the first one n2 sent n1 after the crash.
    const ping = h.sent("n2", "ping", "n1").find((e) => e.t > tCrash);
    expect(ping).toBeDefined();
    const silent = tPfail - (ping as Envelope).t;
    expect(silent).toBeGreaterThan(NT);
    // ... and it is marked at the first cron after that (crons run every 100 ms).
    expect(silent).toBeLessThanOrEqual(NT + CLUSTER_DEFAULTS.cronMs);
  });

  it("a PING sent at local time 0 is pending like any other (0 is a time here, not 'never')", () => {
    // Redis uses ping_sent == 0 for "no ping pending" on a clock that never reads 0; local clocks
    // here may read 0, and a restarted node pings everyone it knows the moment it starts.
    const formed = settled();
    const conf = formed.member("n1").conf as Json;
    const h = new Harness(0);
    h.add("n1", { ...CLUSTER_DEFAULTS, nodeTimeoutMs: NT, bootstrap: null }, 77, formed.ids);
    h.step("n1", { kind: "start", recovered: { files: { "nodes.conf": { records: [conf], tornTail: false } } } });
    expect(h.sent("n1", "ping", "n3").map((e) => e.t)).toEqual([0]);
    h.queue.length = 0; // nobody else is up
    const tPfail = h.runUntil(() => pfailOn(h, "n1", "n3"), 3 * NT, "n1 marks n3 PFAIL");
    expect(tPfail).toBeGreaterThan(NT);
    expect(tPfail).toBeLessThanOrEqual(NT + CLUSTER_DEFAULTS.cronMs);
    // Only a link recycling re-sent it, keeping the first PING's time (that is why PFAIL is on time).
    expect(h.traces("n1", "link-recycled").filter((t) => t.event["about"] === "n3").length).toBe(h.sent("n1", "ping", "n3").length - 1);
  });

  it("PFAIL → FAIL once reports reach the quorum of slot-owning masters; FAIL is broadcast", () => {
    const h = settled();
    h.crash("n1");
    h.runUntil(() => h.ids.some((id) => id !== "n1" && failedOn(h, id, "n1")), 5_000, "someone marks n1 FAIL");
    // The node that decided on its own (not told by a FAIL message).
    // Nodes that decided on their own (not told by a FAIL message): more than one may, at the same moment.
    const decided = h.traces(undefined, "fail").filter((t) => t.event["about"] === "n1" && t.event["via"] === undefined);
    expect(decided.length).toBeGreaterThan(0);
    for (const decider of decided) {
      const isMaster = role(h, decider.node) === "master";
      // Three masters own slots: quorum 2. Reports come from the live masters; a master adds itself.
      expect(decider.event).toMatchObject({ reports: 2, needed: 2 });
      const reporters = h.traces(decider.node, "failure-report").filter((t) => t.event["about"] === "n1" && t.t <= decider.t).map((t) => t.event["by"] as string);
      for (const r of reporters) expect(["n2", "n3"]).toContain(r);
      expect(new Set(reporters).size).toBe(isMaster ? 1 : 2);
      // Everyone else is told.
      const told = h.sent(decider.node, "fail").filter((e) => e.t === decider.t);
      expect(told.map((e) => e.to).sort()).toEqual(["n1", "n2", "n3", "n4", "n5", "n6"].filter((x) => x !== decider.node));
      for (const e of told) expect((e.msg as { about: string }).about).toBe(h.name("n1"));
    }
    h.run(10);
    for (const id of ["n2", "n3", "n4", "n5", "n6"]) expect(failedOn(h, id, "n1")).toBe(true);
  });

  it("two of three masters losing a master is a quorum: each counts the other's report plus itself", () => {
    // n2 and n3 lose n1; the replicas still hear it (so they never have it PFAIL and cannot decide).
    const h = settled();
    h.cut = (f, t) => (["n2", "n3"].includes(f) && t === "n1") || (f === "n1" && ["n2", "n3"].includes(t));
    h.runUntil(() => failedOn(h, "n2", "n1") || failedOn(h, "n3", "n1"), 5_000, "a master marks n1 FAIL");
    const decided = h.traces(undefined, "fail").filter((t) => t.event["about"] === "n1" && t.event["via"] === undefined);
    expect(decided.length).toBeGreaterThan(0);
    for (const d of decided) {
      expect(["n2", "n3"]).toContain(d.node);
      expect(d.event).toMatchObject({ reports: 2, needed: 2 });
      expect(h.node(d.node).view("n1")?.reports).toBe(1);
    }
  });

  it("a single master's PFAIL is below quorum: no FAIL", () => {
    // n2 alone loses n1 (n1 still answers everyone else).
    const h = settled();
    h.cut = (f, t) => (f === "n2" && t === "n1") || (f === "n1" && t === "n2");
    h.runUntil(() => pfailOn(h, "n2", "n1"), 5_000, "n2 marks n1 PFAIL");
    h.run(4000);
    expect(pfailOn(h, "n2", "n1")).toBe(true);
    expect(h.client("n2", ["CLUSTER", "COUNT-FAILURE-REPORTS", h.name("n1")])).toBe(0);
    for (const id of h.ids) expect(failedOn(h, id, "n1")).toBe(false);
  });

  it("only masters' gossip adds failure reports; below quorum PFAIL stays PFAIL, and replicas' reports never count", () => {
    const h = settled();
    // n5 (a replica) cannot reach n1; everyone else can.
    h.cut = (f, t) => (f === "n5" && t === "n1") || (f === "n1" && t === "n5");
    h.runUntil(() => pfailOn(h, "n5", "n1"), 5_000, "n5 marks n1 PFAIL");
    h.run(1500);
    // n5 gossiped n1 as PFAIL to the masters, and they did not take it as a report.
    const gossiped = (to: NodeId): boolean =>
      h.delivered.some((e) => e.from === "n5" && e.to === to && "gossip" in e.msg && e.msg.gossip.some((g) => g.name === h.name("n1") && (g.flags & FLAG.pfail) !== 0));
    expect(gossiped("n2")).toBe(true);
    expect(gossiped("n3")).toBe(true);
    expect(h.client("n2", ["CLUSTER", "COUNT-FAILURE-REPORTS", h.name("n1")])).toBe(0);
    expect(h.client("n3", ["CLUSTER", "COUNT-FAILURE-REPORTS", h.name("n1")])).toBe(0);
    expect(h.traces(undefined, "failure-report").filter((t) => t.event["about"] === "n1")).toEqual([]);

    // Now n2 (a master) loses n1 too: its gossip is a report on n3, but n3 still hears n1.
    h.cut = (f, t) => ((f === "n5" || f === "n2") && t === "n1") || (f === "n1" && (t === "n5" || t === "n2"));
    h.runUntil(() => pfailOn(h, "n2", "n1"), 5_000, "n2 marks n1 PFAIL");
    h.run(1500);
    expect(h.client("n3", ["CLUSTER", "COUNT-FAILURE-REPORTS", h.name("n1")])).toBe(1);
    expect(new Set(h.traces("n3", "failure-report").filter((t) => t.event["about"] === "n1").map((t) => t.event["by"]))).toEqual(new Set(["n2"]));
    // n2 itself: its own vote (1) plus no master's report (n5 is a replica) is below quorum 2.
    expect(gossiped("n2")).toBe(true);
    expect(h.client("n2", ["CLUSTER", "COUNT-FAILURE-REPORTS", h.name("n1")])).toBe(0);
    h.run(3000);
    expect(pfailOn(h, "n2", "n1")).toBe(true);
    expect(h.traces(undefined, "fail").filter((t) => t.event["about"] === "n1")).toEqual([]);
    for (const id of h.ids) expect(failedOn(h, id, "n1")).toBe(false);
  });

  it("a failure report expires after 2 × node_timeout", () => {
    const h = settled();
    const aboutN1 = (): Seen[] => h.traces("n3", "failure-report").filter((t) => t.event["about"] === "n1");
    h.cut = (f, t) => (f === "n2" && t === "n1") || (f === "n1" && t === "n2");
    h.runUntil(() => aboutN1().length > 0, 5_000, "n3 gets n2's report on n1");
    const t0 = h.now;
    // From now on n2 cannot tell n3 anything (not even that n1 is back): the report must age out.
    h.cut = (f, t) => f === "n2" && t === "n3";
    h.run(2 * NT - 50);
    expect(h.client("n3", ["CLUSTER", "COUNT-FAILURE-REPORTS", h.name("n1")])).toBe(1);
    h.run(100);
    expect(h.now).toBeGreaterThan(t0 + 2 * NT);
    expect(h.client("n3", ["CLUSTER", "COUNT-FAILURE-REPORTS", h.name("n1")])).toBe(0);
  });

  it("FAIL is accepted from any known node (a replica too), not from an unknown sender", () => {
    const h = settled();
    const from6 = header((h.sent("n6", "ping").at(-1) as Envelope).msg);
    const stranger: Header = { ...from6, sender: "f".repeat(40) };
    const fx0 = h.deliver("n6", "n5", { type: "fail", h: stranger, about: h.name("n1") });
    expect(tracesIn(fx0, "fail")).toEqual([]);
    expect(failedOn(h, "n5", "n1")).toBe(false);

    const fx = h.deliver("n6", "n5", { type: "fail", h: from6, about: h.name("n1") });
    expect(tracesIn(fx, "fail").map((t) => t.event)).toEqual([{ type: "fail", about: "n1", name: h.name("n1"), via: "message" }]);
    expect(failedOn(h, "n5", "n1")).toBe(true);
    expect(pfailOn(h, "n5", "n1")).toBe(false);
  });

  it("FAIL of a replica is cleared by its first PONG", () => {
    const h = settled();
    h.isolate("n6");
    h.runUntil(() => failedOn(h, "n2", "n6"), 5_000, "n2 marks n6 FAIL");
    h.heal();
    const tHeal = h.now;
    const tClear = h.runUntil(() => !failedOn(h, "n2", "n6"), 5_000, "n2 clears n6");
    const firstPong = deliveredSince(h, "n6", "n2", "pong", tHeal)[0];
    expect(firstPong?.t).toBe(tClear);
    expect(firstTrace(h, "n2", "fail-cleared").event["about"]).toBe("n6");
  });

  it("FAIL of a slot-less master is cleared by its first PONG", () => {
    const h = settled({ emptyMasters: 1 });
    expect(role(h, "n7")).toBe("master");
    expect(h.node("n7").inspect().slots).toBe(0);
    h.isolate("n7");
    h.runUntil(() => failedOn(h, "n2", "n7"), 5_000, "n2 marks n7 FAIL");
    h.heal();
    const tHeal = h.now;
    const tClear = h.runUntil(() => !failedOn(h, "n2", "n7"), 5_000, "n2 clears n7");
    expect(deliveredSince(h, "n7", "n2", "pong", tHeal)[0]?.t).toBe(tClear);
  });

  it("FAIL of a master with slots is cleared only by a PONG more than 2 × node_timeout after the FAIL", () => {
    const h = settled({ nodeConfig: { n4: { nofailover: true } } });
    h.isolate("n1");
    h.runUntil(() => failedOn(h, "n2", "n1"), 5_000, "n2 marks n1 FAIL");
    const tFail = lastTrace(h, "n2", "fail").t;
    h.heal();
    const tClear = h.runUntil(() => !failedOn(h, "n2", "n1"), 10_000, "n2 clears n1");
    const pongs = deliveredSince(h, "n1", "n2", "pong", tFail);
    // PONGs came back early and did not clear it ...
    expect(pongs.some((e) => e.t <= tFail + 2 * NT)).toBe(true);
    // ... the first one after 2 × node_timeout did.
    expect(tClear).toBeGreaterThan(tFail + 2 * NT);
    expect(pongs.find((e) => e.t > tFail + 2 * NT)?.t).toBe(tClear);
    expect(role(h, "n1")).toBe("master");
  });
});

describe("slots, epochs and UPDATE", () => {
  it("UPDATE makes a stale claimer lose its slots and follow the newer master", () => {
    const h = settled();
    h.isolate("n1");
    h.runUntil(() => role(h, "n4") === "master", 10_000, "n4 replaces n1");
    const e4 = h.node("n4").inspect().configEpoch;
    expect(e4).toBeGreaterThan(3);
    h.run(500);
    // n1 comes back but hears nothing from n4 itself: only UPDATE can tell it.
    h.cut = (f, t) => (f === "n4" && t === "n1") || (f === "n1" && t === "n4");
    const tHeal = h.now;
    h.runUntil(() => role(h, "n1") === "replica", 10_000, "n1 steps down");
    // Whoever sees n1's stale claim first (a master or a replica) tells it.
    const updates = h.ids.flatMap((id) => h.sent(id, "update", "n1")).filter((e) => e.t >= tHeal);
    expect(updates.length).toBeGreaterThan(0);
    const u = updates[0]?.msg as Extract<ClusterMsg, { type: "update" }>;
    expect(u.about).toBe(h.name("n4"));
    expect(u.configEpoch).toBe(e4);
    expect(u.slots.toString()).toBe("0-5460");
    expect(h.delivered.filter((e) => e.from === "n4" && e.to === "n1" && e.t >= tHeal)).toEqual([]);
    expect(lastTrace(h, "n1", "demoted").event).toMatchObject({ to: "n4", lost: 5461 });
    expect(h.node("n1").inspect()).toMatchObject({ role: "replica", master: "n4", slots: 0 });
    expect(h.node("n1").slotMap()).toBe("0-5460=n4 5461-10922=n2 10923-16383=n3");
    expect(h.node("n1").view("n4")).toMatchObject({ role: "master", configEpoch: e4 });
    // It follows n4 now.
    expect(h.sent("n1", "psync", "n4").length).toBeGreaterThan(0);
    // The stale claim changed nothing on the others.
    expect(h.node("n2").slotMap()).toBe("0-5460=n4 5461-10922=n2 10923-16383=n3");
  });

  it("an UPDATE that is not newer than what the receiver knows changes nothing", () => {
    const h = settled();
    const from3 = header((h.sent("n3", "ping").at(-1) as Envelope).msg);
    const before = h.node("n5").slotMap();
    const fx = h.deliver("n3", "n5", { type: "update", h: from3, about: h.name("n2"), configEpoch: 2, slots: from3.slots });
    expect(h.node("n5").slotMap()).toBe(before);
    expect(tracesIn(fx, "slots-owner")).toEqual([]);
  });

  it("configEpoch collision: only the master with the smaller name bumps, durably, and the epochs end distinct", () => {
    const h = settled({ epochs: { n3: 2 } });
    const [small, large] = h.name("n2") < h.name("n3") ? ["n2", "n3"] : ["n3", "n2"];
    const bumps = h.traces(small, "config-epoch-collision");
    expect(bumps.length).toBe(1);
    expect(bumps[0]?.event["with"]).toBe(large);
    expect(h.traces(large, "config-epoch-collision")).toEqual([]);
    expect(h.node(large).inspect().configEpoch).toBe(2);
    const bumped = h.node(small).inspect().configEpoch;
    expect(bumped).toBeGreaterThan(2);
    expect(bumps[0]?.event["configEpoch"]).toBe(bumped);
    const epochs = MASTERS.map((id) => h.node(id).inspect().configEpoch);
    expect(new Set(epochs).size).toBe(3);
    // The new configEpoch was fsynced before anyone could see it.
    const raw = h.raw.find((l) => l.node === small && l.fx.kind === "trace" && l.fx.event.type === "config-epoch-collision");
    const after = raw?.fx.kind === "trace" ? raw.fx.after : undefined;
    const p = h.raw.find((l) => l.node === small && l.fx.kind === "persist" && l.fx.id === after)?.fx as PersistFx | undefined;
    expect(p).toMatchObject({ file: "nodes.conf", sync: true });
    expect(conf((p as PersistFx).record).nodes.find((n) => n.name === h.name(small))?.configEpoch).toBe(bumped);
    // Everyone learns the new epoch.
    for (const id of h.ids) if (id !== small) expect(h.node(id).view(small)?.configEpoch).toBe(bumped);
  });
});

describe("replica election", () => {
  it("the replica of a FAIL master waits 500..1000 ms, asks every node for votes in a new, durable epoch, wins and is promoted", () => {
    const h = settled();
    const e0 = h.node("n4").inspect().currentEpoch;
    h.crash("n1");
    h.runUntil(() => role(h, "n4") === "master", 10_000, "n4 promoted");
    const tFail = firstTrace(h, "n4", "fail").t;
    const start = firstTrace(h, "n4", "failover-start");
    expect(start.t - tFail).toBeGreaterThanOrEqual(0);
    expect(start.t - tFail).toBeLessThanOrEqual(CLUSTER_DEFAULTS.cronMs);
    expect(start.event).toMatchObject({ master: "n1", rank: 0, manual: false });
    const delay = start.event["delayMs"] as number;
    expect(delay).toBeGreaterThanOrEqual(500);
    expect(delay).toBeLessThan(1000);
    const reqs = h.sent("n4", "failover-auth-request");
    expect(reqs.map((r) => r.to).sort()).toEqual(["n1", "n2", "n3", "n5", "n6"]);
    for (const r of reqs) expect(r.t).toBe(start.t + delay);
    const epoch = header(reqs[0]?.msg as ClusterMsg).currentEpoch;
    expect(epoch).toBe(e0 + 1);
    // The request epoch is durable before the request leaves.
    const rawReq = h.raw.find((l) => l.node === "n4" && l.fx.kind === "send" && l.fx.msg.type === "failover-auth-request")?.fx as SendFx;
    const p = h.raw.find((l) => l.node === "n4" && l.fx.kind === "persist" && l.fx.id === rawReq.after)?.fx as PersistFx | undefined;
    expect(p).toMatchObject({ file: "nodes.conf", sync: true });
    expect(conf((p as PersistFx).record).currentEpoch).toBe(epoch);
    // Both live masters voted, nobody else did.
    expect(h.traces(undefined, "vote").map((t) => [t.node, t.event["for"], t.event["epoch"]]).sort()).toEqual([
      ["n2", "n4", epoch],
      ["n3", "n4", epoch],
    ]);
    expect(h.node("n4").inspect()).toMatchObject({ role: "master", configEpoch: epoch, slots: 5461 });
    h.run(200);
    for (const id of ["n2", "n3", "n4", "n5", "n6"]) expect(h.node(id).slotMap()).toBe("0-5460=n4 5461-10922=n2 10923-16383=n3");
  });

  it("the 0..500 ms part of the delay is random (it differs between seeds)", () => {
    const delays: number[] = [];
    for (const seed of [11, 12, 13, 14, 15]) {
      const h = settled({ seed });
      h.crash("n1");
      h.runUntil(() => h.traces("n4", "failover-start").length > 0, 10_000, "n4 starts an election");
      const d = firstTrace(h, "n4", "failover-start").event["delayMs"] as number;
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThan(1000);
      delays.push(d);
    }
    expect(new Set(delays).size).toBeGreaterThan(2);
  });

  it("rank: a replica with a smaller replication offset waits a second longer and loses", () => {
    const h = settled({ replicaOf: ["n1", "n2", "n3", "n1"] });
    h.cut = (f, t, m) => f === "n1" && t === "n7" && m.type === "stream";
    for (let i = 0; i < 5; i++) expect(h.client("n1", ["RPUSH", K1, `v${i}`])).toBe(i + 1);
    h.run(1000);
    expect(h.node("n4").inspect().offset).toBeGreaterThan(h.node("n7").inspect().offset);
    h.crash("n1");
    h.runUntil(() => role(h, "n4") === "master" || role(h, "n7") === "master", 10_000, "a replica promoted");
    const s4 = firstTrace(h, "n4", "failover-start").event;
    const s7 = firstTrace(h, "n7", "failover-start").event;
    expect(s4["rank"]).toBe(0);
    expect(s4["delayMs"]).toBeGreaterThanOrEqual(500);
    expect(s4["delayMs"]).toBeLessThan(1000);
    expect(s7["rank"]).toBe(1);
    expect(s7["delayMs"]).toBeGreaterThanOrEqual(1500);
    expect(s7["delayMs"]).toBeLessThan(2000);
    expect(role(h, "n4")).toBe("master");
    expect(h.sent("n7", "failover-auth-request")).toEqual([]);
    h.run(200);
    expect(h.node("n7").inspect().master).toBe("n4");
  });

  it("rank: equal offsets are broken by replica priority (lower wins)", () => {
    const h = settled({ replicaOf: ["n1", "n2", "n3", "n1"], nodeConfig: { n7: { replicaPriority: 50 } } });
    expect(h.node("n4").inspect().offset).toBe(h.node("n7").inspect().offset);
    h.crash("n1");
    h.runUntil(() => role(h, "n4") === "master" || role(h, "n7") === "master", 10_000, "a replica promoted");
    expect(firstTrace(h, "n7", "failover-start").event["rank"]).toBe(0);
    expect(firstTrace(h, "n4", "failover-start").event["rank"]).toBe(1);
    expect(role(h, "n7")).toBe("master");
    expect(role(h, "n4")).toBe("replica");
  });

  it("a replica with nofailover never starts an election", () => {
    const h = settled({ nodeConfig: { n4: { nofailover: true } } });
    h.crash("n1");
    h.runUntil(() => failedOn(h, "n4", "n1"), 5_000, "n4 sees n1 FAIL");
    h.run(6000);
    expect(h.traces("n4", "failover-start")).toEqual([]);
    expect(h.sent("n4", "failover-auth-request")).toEqual([]);
    expect(role(h, "n4")).toBe("replica");
  });

  // Local clocks may start anywhere (the simulator starts them at 0). The node_timeout values put
  // the FAIL inside the first 2 × auth timeout (stall) or the first auth timeout (no delay at all).
  it.each([
    [2 * NT, "stalls"],
    [10 * NT, "skips the delay"],
  ])("the election delay holds when the node's clock started at 0 (node_timeout %i: %s)", (nodeTimeoutMs) => {
    const h = cluster({ startMs: 0, config: { nodeTimeoutMs } });
    h.runUntil(() => h.ids.every((id) => h.state(id) === "ok"), 10_000, "cluster formed");
    h.crash("n1");
    h.runUntil(() => failedOn(h, "n4", "n1"), 60_000, "n4 sees n1 FAIL");
    const tFail = firstTrace(h, "n4", "fail").t;
    h.runUntil(() => role(h, "n4") === "master", 60_000, "n4 promoted");
    // The election is scheduled when the FAIL is seen (as with any other clock origin) ...
    expect(h.traces("n4", "failover-wait").filter((t) => t.event["reason"] === "expired")).toEqual([]);
    const start = h.traces("n4", "failover-start")[0];
    expect(start, "a failover-start before the vote request").toBeDefined();
    expect((start as Seen).t - tFail).toBeLessThanOrEqual(CLUSTER_DEFAULTS.cronMs);
    // ... and the request waits 500 ms + random(0..500) + rank × 1000 after it.
    const req = h.sent("n4", "failover-auth-request")[0] as Envelope;
    expect(req.t - (start as Seen).t).toBeGreaterThanOrEqual(500);
    expect(req.t - (start as Seen).t).toBeLessThan(1000);
  });

  it("replica priority 0 never fails over on its own, but a manual failover still works", () => {
    const h = settled({ nodeConfig: { n4: { replicaPriority: 0 } } });
    h.crash("n1");
    h.runUntil(() => failedOn(h, "n4", "n1"), 5_000, "n4 sees n1 FAIL");
    h.run(5_000);
    expect(h.traces("n4", "failover-start")).toEqual([]);
    expect(role(h, "n4")).toBe("replica");
    expect(h.client("n4", ["CLUSTER", "FAILOVER", "FORCE"])).toEqual({ simple: "OK" });
    h.runUntil(() => role(h, "n4") === "master", 1_000, "n4 promoted by hand");
  });

  it("a replica whose data is too old (no word from its master for longer than the validity window) does not fail over", () => {
    // Window: data_age − node_timeout ≤ repl_ping_period + node_timeout × 10 = 10 s + 10 s.
    const replTypes = new Set(["stream", "repl-ping", "fullresync", "snapshot", "snapshot-end", "continue"]);
    const h = settled();
    h.cut = (f, t, m) => f === "n1" && t === "n4" && replTypes.has(m.type);
    h.run(22_000);
    h.crash("n1");
    h.runUntil(() => failedOn(h, "n4", "n1"), 5_000, "n4 sees n1 FAIL");
    h.run(3_000);
    expect(h.traces("n4", "failover-wait").map((t) => t.event["reason"])).toContain("data-age");
    expect(h.traces("n4", "failover-start")).toEqual([]);
    expect(h.sent("n4", "failover-auth-request")).toEqual([]);
    expect(role(h, "n4")).toBe("replica");
  });

  it("the same stale replica does fail over when the validity factor is 0 (check disabled)", () => {
    const replTypes = new Set(["stream", "repl-ping", "fullresync", "snapshot", "snapshot-end", "continue"]);
    const h = settled({ config: { replicaValidityFactor: 0 } });
    h.cut = (f, t, m) => f === "n1" && t === "n4" && replTypes.has(m.type);
    h.run(22_000);
    h.crash("n1");
    h.runUntil(() => role(h, "n4") === "master", 10_000, "n4 promoted");
    expect(h.traces("n4", "failover-wait").map((t) => t.event["reason"])).not.toContain("data-age");
  });

  it("promotion: configEpoch = the auth epoch, the old master's slots, and the PONG broadcast waits for the config persist", () => {
    const h = settled();
    h.hold = (_f, t, m) => m.type === "failover-auth-ack" && t === "n4";
    h.crash("n1");
    h.runUntil(() => h.held.filter((e) => e.to === "n4").length === 2, 10_000, "two votes for n4");
    const epoch = lastTrace(h, "n4", "vote-request").event["epoch"] as number;
    const [a, b] = h.held as [Envelope, Envelope];
    h.held = [];
    // A duplicated ACK does not count twice.
    h.deliver(a.from, "n4", a.msg);
    h.deliver(a.from, "n4", a.msg);
    expect(role(h, "n4")).toBe("replica");
    expect(h.traces("n4", "vote-received").length).toBe(1);
    // An ACK from a replica does not count at all.
    const fromReplica: ClusterMsg = { type: "failover-auth-ack", h: { ...header((h.sent("n5", "ping").at(-1) as Envelope).msg), currentEpoch: epoch } };
    h.deliver("n5", "n4", fromReplica);
    expect(role(h, "n4")).toBe("replica");
    expect(h.traces("n4", "vote-received").length).toBe(1);

    // An ACK from an older epoch does not count.
    const stale: ClusterMsg = { type: "failover-auth-ack", h: { ...header(b.msg), currentEpoch: epoch - 1 } };
    h.deliver(b.from, "n4", stale);
    expect(role(h, "n4")).toBe("replica");
    expect(h.traces("n4", "vote-received").length).toBe(1);

    // The deciding ACK, with a slow disk on n4.
    h.member("n4").autoPersist = false;
    const pongsBefore = h.sent("n4", "pong").length;
    const raw = h.deliver(b.from, "n4", b.msg);
    expect(tracesIn(raw, "promoted").length).toBe(1);
    const promoted = tracesIn(raw, "promoted")[0] as TraceFx;
    expect(promoted.event).toMatchObject({ replaced: "n1", epoch, how: "election", slots: "0-5460" });
    const p = persistsIn(raw).find((e) => e.id === promoted.after) as PersistFx;
    expect(p).toMatchObject({ file: "nodes.conf", op: "write", sync: true });
    const me = conf(p.record).nodes.find((n) => n.name === h.name("n4"));
    expect(me).toMatchObject({ master: null, configEpoch: epoch, slots: "0-5460" });
    expect((me?.flags ?? 0) & FLAG.master).toBe(FLAG.master);
    expect(conf(p.record).nodes.find((n) => n.name === h.name("n1"))?.slots).toBe("");
    const pongs = sendsIn(raw, "pong");
    expect(pongs.map((s) => s.to).sort()).toEqual(["n1", "n2", "n3", "n5", "n6"]);
    for (const s of pongs) {
      expect(s.after).toBe(p.id);
      expect(header(s.msg)).toMatchObject({ master: null, configEpoch: epoch });
      expect(header(s.msg).slots.toString()).toBe("0-5460");
    }
    expect(h.node("n4").inspect()).toMatchObject({ role: "master", configEpoch: epoch, slots: 5461 });
    // Nothing of it has left n4 yet.
    expect(h.sent("n4", "pong").length).toBe(pongsBefore);
    expect(h.traces("n4", "promoted")).toEqual([]);
    expect(h.node("n2").slotMap()).toBe("0-5460=n1 5461-10922=n2 10923-16383=n3");
    // The write completes: the PONGs go out and the others adopt the claim.
    h.completePersist("n4", p.id);
    h.pump();
    expect(h.sent("n4", "pong").length).toBe(pongsBefore + 5);
    expect(h.traces("n4", "promoted").length).toBe(1);
    for (const id of ["n2", "n3", "n5", "n6"]) expect(h.node(id).slotMap()).toBe("0-5460=n4 5461-10922=n2 10923-16383=n3");
  });
});

describe("votes (FAILOVER_AUTH_REQUEST → FAILOVER_AUTH_ACK)", () => {
  it("granted: ACK and vote trace wait for the fsynced lastVoteEpoch; with NodeRunner nothing leaves before `persisted`", () => {
    const h = electionHeld();
    const req = heldMsg(h, "n4", "n2");
    const epoch = header(req).currentEpoch;
    expect(failedOn(h, "n2", "n1")).toBe(true);
    h.member("n2").autoPersist = false;
    const raw = h.deliver("n4", "n2", req);
    const p = expectGranted(raw, "n4", epoch);
    expect(h.node("n2").inspect().lastVoteEpoch).toBe(epoch);
    // Held by the runner: no ACK on the wire, no vote visible.
    expect(h.sent("n2", "failover-auth-ack")).toEqual([]);
    expect(h.traces("n2", "vote")).toEqual([]);
    expect(h.member("n2").runner.heldCount).toBeGreaterThan(0);
    // The write completes.
    h.completePersist("n2", p.id);
    expect(h.sent("n2", "failover-auth-ack").map((e) => e.to)).toEqual(["n4"]);
    expect(h.traces("n2", "vote").map((t) => t.event)).toEqual([{ type: "vote", for: "n4", epoch, master: "n1" }]);
    h.pump();
    expect(h.traces("n4", "vote-received").map((t) => t.event["from"])).toEqual(["n2"]);
  });

  it("refused: not-a-master-with-slots (a replica, a master without slots)", () => {
    const h = electionHeld({ emptyMasters: 1 });
    for (const voter of ["n5", "n7"]) {
      const req = heldMsg(h, "n4", voter);
      expectRefused(h, voter, h.deliver("n4", voter, req), "not-a-master-with-slots", 0);
    }
  });

  it("refused: old-epoch (a delayed request from an earlier election); the new one is granted", () => {
    const h = electionHeld();
    const old = heldMsg(h, "n4", "n2");
    // The first election gets no votes; n4 tries again in a new epoch.
    h.runUntil(() => h.held.filter((e) => e.from === "n4" && e.to === "n2").length === 2, 10_000, "n4 asks again");
    const fresh = heldMsg(h, "n4", "n2", 1);
    expect(header(fresh).currentEpoch).toBeGreaterThan(header(old).currentEpoch);
    // Auth timeout max(2 × node_timeout, 2 s) = 2 s; the retry is scheduled after twice that.
    const [req1] = h.held.filter((e) => e.from === "n4" && e.to === "n2") as [Envelope];
    const starts = h.traces("n4", "failover-start");
    expect(starts.length).toBe(2);
    expect((starts[1] as Seen).t - req1.t).toBeGreaterThan(4 * NT);
    expect((starts[1] as Seen).t - req1.t).toBeLessThanOrEqual(4 * NT + CLUSTER_DEFAULTS.cronMs);
    expect(h.traces("n4", "failover-wait").map((t) => t.event["reason"])).toContain("expired");
    h.run(600); // n4's pings carry the new epoch
    expect(h.node("n2").inspect().currentEpoch).toBe(header(fresh).currentEpoch);
    expectRefused(h, "n2", h.deliver("n4", "n2", old), "old-epoch", 0);
    expectGranted(h.deliver("n4", "n2", fresh), "n4", header(fresh).currentEpoch);
  });

  it("refused: already-voted (another replica of the same master asking in the same epoch)", () => {
    const h = settled({ replicaOf: ["n1", "n2", "n3", "n1"] });
    h.hold = (_f, _t, m) => m.type === "failover-auth-request";
    // Neither replica's headers get out, so neither learns the other's epoch before asking.
    h.cut = (f, _t, m) => (f === "n4" || f === "n7") && m.type !== "failover-auth-request";
    expect(h.node("n4").inspect().currentEpoch).toBe(h.node("n7").inspect().currentEpoch);
    h.crash("n1");
    h.runUntil(() => h.held.some((e) => e.from === "n4") && h.held.some((e) => e.from === "n7"), 10_000, "both replicas ask");
    const r4 = heldMsg(h, "n4", "n2");
    const r7 = heldMsg(h, "n7", "n2");
    expect(header(r4).currentEpoch).toBe(header(r7).currentEpoch);
    expectGranted(h.deliver("n4", "n2", r4), "n4", header(r4).currentEpoch);
    expectRefused(h, "n2", h.deliver("n7", "n2", r7), "already-voted", header(r4).currentEpoch);
    // A duplicate of the request it granted is refused the same way (one vote per epoch).
    expectRefused(h, "n2", h.deliver("n4", "n2", r4), "already-voted", header(r4).currentEpoch);
  });

  it("refused: requester-is-master", () => {
    const h = settled();
    const from3 = header((h.sent("n3", "ping", "n2").at(-1) as Envelope).msg);
    const epoch = h.node("n2").inspect().currentEpoch + 1;
    const fx = h.deliver("n3", "n2", { type: "failover-auth-request", h: { ...from3, currentEpoch: epoch } });
    expectRefused(h, "n2", fx, "requester-is-master", 0);
  });

  it("refused: master-not-failed (no forceAck); the same request with forceAck (CLUSTER FAILOVER FORCE) is granted", () => {
    const h = settled();
    h.hold = (_f, _t, m) => m.type === "failover-auth-request";
    expect(h.client("n6", ["CLUSTER", "FAILOVER", "FORCE"])).toEqual({ simple: "OK" });
    h.runUntil(() => h.held.some((e) => e.from === "n6"), 1_000, "n6 asks for votes");
    const req = heldMsg(h, "n6", "n2");
    expect(header(req).mflags & MFLAG.forceAck).toBe(MFLAG.forceAck);
    expect(failedOn(h, "n2", "n3")).toBe(false);
    const stripped: ClusterMsg = { type: "failover-auth-request", h: { ...header(req), mflags: 0 } };
    expectRefused(h, "n2", h.deliver("n6", "n2", stripped), "master-not-failed", 0);
    expectGranted(h.deliver("n6", "n2", req), "n6", header(req).currentEpoch);
  });

  it("refused: voted-recently (a replica of the same master, next epoch, within 2 × node_timeout)", () => {
    const h = settled({ replicaOf: ["n1", "n2", "n3", "n1"] });
    // Requests reach the replicas (so the second asker learns the first one's epoch) but wait for the masters.
    h.hold = (_f, t, m) => m.type === "failover-auth-request" && (t === "n2" || t === "n3");
    h.crash("n1");
    h.runUntil(() => h.held.length > 0, 10_000, "a replica asks");
    const first = (h.held[0] as Envelope).from;
    const second = first === "n4" ? "n7" : "n4";
    const r1 = heldMsg(h, first, "n2");
    const p = expectGranted(h.deliver(first, "n2", r1), first, header(r1).currentEpoch);
    const tVote = h.now;
    h.runUntil(() => h.held.some((e) => e.from === second && e.to === "n2"), 5_000, "the other replica asks");
    const r2 = heldMsg(h, second, "n2");
    expect(header(r2).currentEpoch).toBe(header(r1).currentEpoch + 1);
    expect(h.now - tVote).toBeLessThan(2 * NT);
    expectRefused(h, "n2", h.deliver(second, "n2", r2), "voted-recently", conf(p.record).lastVoteEpoch);
  });

  it("refused: stale-slots (a replica that missed the promotion asks again with its old master's slots)", () => {
    const h = settled({ replicaOf: ["n1", "n2", "n3", "n1"] });
    h.hold = (f, _t, m) => m.type === "failover-auth-request" && f === "n7";
    h.crash("n1");
    h.runUntil(() => failedOn(h, "n7", "n1"), 5_000, "n7 sees n1 FAIL");
    // From now on n7 hears nothing: it never learns that n4 took over.
    h.cut = (_f, t) => t === "n7";
    h.runUntil(() => role(h, "n4") === "master", 10_000, "n4 promoted");
    const e4 = h.node("n4").inspect().configEpoch;
    const tPromoted = h.now;
    // n7 keeps retrying every 2 × auth timeout, one epoch up each time (it hears nothing).
    const later = (e: Envelope): boolean => e.from === "n7" && e.to === "n2" && e.t > tPromoted + 2 * NT && header(e.msg).currentEpoch > h.node("n2").inspect().currentEpoch;
    h.runUntil(() => h.held.some(later), 30_000, "n7 asks again later, in a newer epoch");
    const req = (h.held.find(later) as Envelope).msg;
    // Every earlier check passes: a new epoch, a replica whose master is FAIL, no recent vote.
    expect(header(req).currentEpoch).toBeGreaterThanOrEqual(h.node("n2").inspect().currentEpoch);
    expect(header(req).currentEpoch).toBeGreaterThan(h.node("n2").inspect().lastVoteEpoch);
    expect(header(req).master).toBe(h.name("n1"));
    expect(header(req).configEpoch).toBe(1);
    expect(failedOn(h, "n2", "n1")).toBe(true);
    expect(h.node("n2").view("n7")?.role).toBe("replica");
    expect(h.node("n2").view("n4")?.configEpoch).toBe(e4);
    expectRefused(h, "n2", h.deliver("n7", "n2", req), "stale-slots", h.node("n2").inspect().lastVoteEpoch);
  });

  it("after a restart from the persisted nodes.conf, a master refuses to vote again in the same epoch", () => {
    const h = electionHeld();
    const req = heldMsg(h, "n4", "n2");
    const epoch = header(req).currentEpoch;
    const before = h.member("n2").conf as Json;
    const p = expectGranted(h.deliver("n4", "n2", req), "n4", epoch);
    const restart = (record: Json, seed: number): ClusterNode => {
      const n = new ClusterNode({ id: "n2", peers: h.ids, config: configFor({}, "n2", null), rng: prng(seed) });
      n.step({ kind: "start", recovered: { files: { "nodes.conf": { records: [record], tornTail: false } } } }, h.now);
      return n;
    };
    const again = restart(p.record, 99);
    expect(again.inspect()).toMatchObject({ name: h.name("n2"), currentEpoch: epoch, lastVoteEpoch: epoch, role: "master", slots: 5462 });
    const fx = again.step({ kind: "message", from: "n4", msg: req }, h.now);
    expect(tracesIn(fx, "vote-refused").map((t) => t.event["reason"])).toEqual(["already-voted"]);
    expect(sendsIn(fx, "failover-auth-ack")).toEqual([]);
    // Control: from the config written before the vote it would vote (so the refusal is the record's doing).
    const older = restart(before, 98);
    expect(older.inspect().lastVoteEpoch).toBe(0);
    const fx2 = older.step({ kind: "message", from: "n4", msg: req }, h.now);
    expect(sendsIn(fx2, "failover-auth-ack").map((s) => s.to)).toEqual(["n4"]);
  });
});

describe("manual failover (CLUSTER FAILOVER)", () => {
  it("default: the master pauses writes, the replica catches up and is elected with forceAck; the old master follows it", () => {
    const h = settled();
    expect(h.client("n1", ["RPUSH", K1, "before"])).toBe(1);
    expect(h.client("n4", ["CLUSTER", "FAILOVER"])).toEqual({ simple: "OK" });
    expect(h.sent("n4", "mfstart").map((e) => e.to)).toEqual(["n1"]);
    expect(h.traces("n1", "mf-paused").map((t) => t.event["replica"])).toEqual(["n4"]);
    expect(lastTrace(h, "n4", "mf-master-offset").event["offset"]).toBe(h.node("n1").inspect().offset);
    expect(h.traces("n4", "mf-caught-up").length).toBe(1);
    // A write on the paused master gets no answer yet.
    const replies = h.replies.length;
    expect(h.client("n1", ["RPUSH", K1, "during"])).toBeUndefined();
    expect(h.replies.length).toBe(replies);
    h.runUntil(() => role(h, "n4") === "master", 1_000, "n4 promoted");
    const req = h.sent("n4", "failover-auth-request")[0] as Envelope;
    expect(header(req.msg).mflags & MFLAG.forceAck).toBe(MFLAG.forceAck);
    // Every master with slots may vote, the paused master too (Redis has no exception for it).
    expect(h.traces(undefined, "vote").map((t) => t.node).sort()).toEqual(["n1", "n2", "n3"]);
    expect(lastTrace(h, "n4", "promoted").event).toMatchObject({ replaced: "n1", how: "election" });
    // Nobody ever thought n1 failed.
    expect(h.traces(undefined, "fail")).toEqual([]);
    h.run(300);
    expect(h.node("n1").inspect()).toMatchObject({ role: "replica", master: "n4" });
    // The held write was answered with a redirect to the new master.
    const held = h.replies.slice(replies).find((r) => r.node === "n1");
    expect(held === undefined ? undefined : plain(held.value)).toEqual({ err: `MOVED ${keySlot(K1)} n4:6379` });
    expect(h.node("n4").list(K1)).toEqual(["before"]);
  });

  it("FORCE: no catch-up with the master, election at once even though the master is not FAIL", () => {
    const h = settled();
    h.crash("n1");
    expect(h.client("n4", ["CLUSTER", "FAILOVER", "FORCE"])).toEqual({ simple: "OK" });
    h.runUntil(() => role(h, "n4") === "master", 1_000, "n4 promoted");
    expect(h.sent("n4", "mfstart")).toEqual([]);
    expect(failedOn(h, "n2", "n1")).toBe(false);
    expect(failedOn(h, "n3", "n1")).toBe(false);
    expect(h.traces(undefined, "vote").map((t) => t.node).sort()).toEqual(["n2", "n3"]);
    expect(lastTrace(h, "n4", "promoted").event).toMatchObject({ how: "election" });
  });

  it("TAKEOVER: no votes, a unilateral configEpoch bump, promotion in the same step", () => {
    const h = settled();
    const maxEpoch = Math.max(...h.ids.map((id) => h.node(id).inspect().currentEpoch));
    const raw = h.step("n4", { kind: "client", client: "c", reqId: 1, req: { cmd: ["CLUSTER", "FAILOVER", "TAKEOVER"] } });
    expect(tracesIn(raw, "epoch-bump").map((t) => t.event["configEpoch"])).toEqual([maxEpoch + 1]);
    expect(tracesIn(raw, "promoted").map((t) => t.event)).toEqual([{ type: "promoted", replaced: "n1", epoch: maxEpoch + 1, how: "takeover", slots: "0-5460" }]);
    h.pump();
    expect(h.sent("n4", "failover-auth-request")).toEqual([]);
    expect(h.traces(undefined, "vote")).toEqual([]);
    expect(h.node("n4").inspect()).toMatchObject({ role: "master", configEpoch: maxEpoch + 1 });
    h.run(200);
    expect(h.node("n1").inspect()).toMatchObject({ role: "replica", master: "n4" });
    for (const id of h.ids) expect(h.node(id).slotMap()).toBe("0-5460=n4 5461-10922=n2 10923-16383=n3");
  });

  it("errors: sent to a master, a bad option, default while the master is FAIL", () => {
    const h = settled({ nodeConfig: { n4: { nofailover: true } } });
    expect(h.client("n1", ["CLUSTER", "FAILOVER"])).toEqual({ err: "ERR You should send CLUSTER FAILOVER to a replica" });
    expect(h.client("n4", ["CLUSTER", "FAILOVER", "NOW"])).toEqual({ err: "ERR syntax error" });
    h.crash("n1");
    h.runUntil(() => failedOn(h, "n4", "n1"), 5_000, "n4 sees n1 FAIL");
    expect(h.client("n4", ["CLUSTER", "FAILOVER"])).toEqual({ err: "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE" });
  });

  it("a manual failover the master never answers times out after 5 s without an election", () => {
    const h = settled();
    h.cut = (_f, _t, m) => m.type === "mfstart";
    expect(h.client("n4", ["CLUSTER", "FAILOVER"])).toEqual({ simple: "OK" });
    h.run(5_300);
    expect(h.traces("n4", "mf-timeout").length).toBe(1);
    expect(h.sent("n4", "failover-auth-request")).toEqual([]);
    expect(role(h, "n4")).toBe("replica");
  });
});

describe("cluster state", () => {
  it("a master turns OK only after the 2 s writable delay from start; replicas at once", () => {
    const h = settled();
    for (const id of MASTERS) expect(firstTrace(h, id, "cluster-state").t - T0).toBeGreaterThanOrEqual(2000);
    for (const id of ["n4", "n5", "n6"]) expect(firstTrace(h, id, "cluster-state").t - T0).toBeLessThan(2000);
  });

  it("FAIL when a slot's owner is FAIL (full coverage required): keyed commands get CLUSTERDOWN", () => {
    const h = settled({ nodeConfig: { n4: { nofailover: true } } });
    h.client("n2", ["SET", K2, "v"]);
    h.crash("n1");
    h.runUntil(() => failedOn(h, "n2", "n1"), 5_000, "n2 sees n1 FAIL");
    expect(h.state("n2")).toBe("fail");
    expect(lastTrace(h, "n2", "cluster-state").t).toBe(lastTrace(h, "n2", "fail").t);
    expect(h.client("n2", ["GET", K2])).toEqual({ err: "CLUSTERDOWN The cluster is down" });
    expect(h.client("n3", ["GET", K3])).toEqual({ err: "CLUSTERDOWN The cluster is down" });
  });

  it("without full coverage the rest keeps serving; the failed master's keys still redirect to it", () => {
    const h = settled({ config: { requireFullCoverage: false }, nodeConfig: { n4: { nofailover: true } } });
    h.client("n2", ["SET", K2, "v"]);
    h.crash("n1");
    h.runUntil(() => failedOn(h, "n2", "n1"), 5_000, "n2 sees n1 FAIL");
    h.run(500);
    expect(h.state("n2")).toBe("ok");
    expect(h.client("n2", ["GET", K2])).toBe("v");
    expect(h.client("n2", ["GET", K1])).toEqual({ err: `MOVED ${keySlot(K1)} n1:6379` });
  });

  it("unassigned slots: FAIL with full coverage; otherwise OK and -CLUSTERDOWN Hash slot not served", () => {
    const slots = { n3: [[10923, 16000]] as const };
    const strict = cluster({ slots });
    strict.run(5_000);
    for (const id of strict.ids) expect(strict.state(id)).toBe("fail");
    const loose = settled({ slots, config: { requireFullCoverage: false } });
    const orphanKey = keyIn(16001, 16383);
    expect(loose.client("n3", ["GET", orphanKey])).toEqual({ err: "CLUSTERDOWN Hash slot not served" });
    expect(loose.client("n3", ["SET", K3, "x"])).toEqual({ simple: "OK" });
  });

  it("FAIL in the minority; a master back from the minority waits the rejoin delay before OK", () => {
    const h = settled({ nodeConfig: { n4: { nofailover: true } } });
    h.isolate("n1");
    h.runUntil(() => h.state("n1") === "fail", 5_000, "n1 sees itself in the minority");
    expect(lastTrace(h, "n1", "cluster-state").event).toMatchObject({ state: "fail", reachable: 1, size: 3 });
    h.run(1000);
    h.heal();
    const tHeal = h.now;
    const tBack = h.runUntil(() => h.traces("n1", "pfail-cleared").some((t) => t.t >= tHeal && ["n2", "n3"].includes(t.event["about"] as string)), 5_000, "n1 hears from another master");
    expect(h.state("n1")).toBe("fail");
    const tOk = h.runUntil(() => h.state("n1") === "ok", 5_000, "n1 OK again");
    // rejoin delay = clamp(node_timeout, 500, 5000) = 1000 ms from the last time it counted itself in the minority (≤ one cron before).
    expect(tOk - tBack).toBeGreaterThanOrEqual(NT - CLUSTER_DEFAULTS.cronMs);
    expect(tOk - tBack).toBeLessThan(NT + CLUSTER_DEFAULTS.cronMs);
  });
});

describe("client commands", () => {
  it("Faultline: a master that has heard from no majority within node_timeout refuses writes, even before its cron notices", () => {
    const h = settled({ nodeConfig: { n4: { nofailover: true } } });
    expect(h.client("n1", ["SET", K1, "v"])).toEqual({ simple: "OK" });
    // n1 is paused: no input at all (its timers wait), then it resumes.
    h.member("n1").up = false;
    h.run(NT + 500);
    h.member("n1").up = true;
    expect(h.state("n1")).toBe("ok");
    expect(h.client("n1", ["SET", K1, "w"])).toEqual({ err: "CLUSTERDOWN The cluster is down (no majority heard within node timeout)" });
    expect(h.client("n1", ["GET", K1])).toBe("v");
  });

  it("MOVED to the slot's owner; replicas redirect unless READONLY, and never take writes", () => {
    const h = settled();
    expect(h.client("n1", ["SET", K2, "v"])).toEqual({ err: `MOVED ${keySlot(K2)} n2:6379` });
    expect(h.client("n2", ["SET", K2, "v"])).toEqual({ simple: "OK" });
    expect(h.client("n2", ["GET", K2])).toBe("v");
    expect(h.client("n5", ["GET", K2])).toEqual({ err: `MOVED ${keySlot(K2)} n2:6379` });
    expect(h.client("n5", ["READONLY"])).toEqual({ simple: "OK" });
    expect(h.client("n5", ["GET", K2])).toBe("v");
    expect(h.client("n5", ["SET", K2, "w"])).toEqual({ err: `MOVED ${keySlot(K2)} n2:6379` });
    expect(h.client("n5", ["GET", K1])).toEqual({ err: `MOVED ${keySlot(K1)} n1:6379` });
    expect(h.client("n5", ["GET", K2], "other-client")).toEqual({ err: `MOVED ${keySlot(K2)} n2:6379` });
    expect(h.client("n5", ["READWRITE"])).toEqual({ simple: "OK" });
    expect(h.client("n5", ["GET", K2])).toEqual({ err: `MOVED ${keySlot(K2)} n2:6379` });
  });

  it("hash tags route multi-key families to one node; CLUSTER KEYSLOT and MYID", () => {
    const h = settled();
    const slot = keySlot("user1000");
    const owner = slot <= 5460 ? "n1" : slot <= 10922 ? "n2" : "n3";
    expect(h.client(owner, ["RPUSH", "{user1000}.following", "a"])).toBe(1);
    expect(h.client(owner, ["RPUSH", "{user1000}.followers", "b"])).toBe(1);
    expect(h.client("n1", ["CLUSTER", "KEYSLOT", "{user1000}.following"])).toBe(slot);
    expect(h.client("n1", ["CLUSTER", "MYID"])).toBe(h.name("n1"));
  });

  it("argument errors and unknown commands", () => {
    const h = settled();
    expect(h.client("n1", ["GET"])).toEqual({ err: "ERR wrong number of arguments for 'get' command" });
    expect(h.client("n1", ["RPUSH", K1])).toEqual({ err: "ERR wrong number of arguments for 'rpush' command" });
    expect(h.client("n1", ["NOSUCH", "a", "b"])).toEqual({ err: "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' " });
    expect(h.client("n1", ["CLUSTER", "NOSUCH"])).toEqual({ err: "ERR unknown subcommand 'NOSUCH'. Try CLUSTER HELP." });
    expect(h.client("n1", ["PING"])).toEqual({ simple: "PONG" });
    expect(h.client("n1", ["PING", "hi"])).toEqual("hi");
    expect(h.client("n1", ["ECHO", "x"])).toEqual("x");
    expect(h.client("n1", ["SELECT", "0"])).toEqual({ simple: "OK" });
    expect(h.client("n1", ["SELECT", "1"])).toEqual({ err: "ERR SELECT is not allowed in cluster mode" });
  });
});

// ---- the data plane: sessions, transactions, blocking, WAIT, pub/sub, routing, migration ----------

/** Keys sharing hash tag `tag`. */
const tagged = (tag: string, i: number): string => `{${tag}}:${i}`;

/** A hash tag whose slot is in lo..hi. */
function tagIn(lo: number, hi: number): string {
  for (let i = 0; ; i++) {
    const s = keySlot(`t${i}`);
    if (s >= lo && s <= hi) return `t${i}`;
  }
}

describe("data plane", () => {
  it("writes replicate: a READONLY replica serves the master's value; a transaction reaches it as MULTI … EXEC at the same offset", () => {
    const h = settled();
    expect(h.client("n1", ["SET", K1, "v"])).toEqual({ simple: "OK" });
    expect(h.client("n1", ["MULTI"])).toEqual({ simple: "OK" });
    const t = tagIn(0, 5460);
    expect(h.client("n1", ["INCR", tagged(t, 1)])).toEqual({ simple: "QUEUED" });
    expect(h.client("n1", ["RPUSH", tagged(t, 2), "a", "b"])).toEqual({ simple: "QUEUED" });
    expect(h.client("n1", ["EXEC"])).toEqual([1, 2]);
    h.run(100);
    expect(h.client("n4", ["READONLY"])).toEqual({ simple: "OK" });
    expect(h.client("n4", ["GET", K1])).toEqual("v");
    expect(h.client("n4", ["LRANGE", tagged(t, 2), "0", "-1"])).toEqual(["a", "b"]);
    expect(h.node("n4").inspect().offset).toBe(h.node("n1").inspect().offset);
    const streamed = h.delivered.filter((e) => e.from === "n1" && e.to === "n4" && e.msg.type === "stream").map((e) => (e.msg as unknown as { entries: { cmd: string[] }[] }).entries.map((x) => x.cmd[0]));
    expect(streamed).toContainEqual(["MULTI", "INCR", "RPUSH", "EXEC"]);
    expect(h.client("n4", ["SET", K1, "w"])).toEqual({ err: `MOVED ${keySlot(K1)} n1:6379` });
  });

  it("CROSSSLOT for keys in different slots; hash tags keep them together", () => {
    const h = settled();
    expect(h.client("n1", ["MSET", "{a}1", "x", "{b}2", "y"])).toEqual({ err: "CROSSSLOT Keys in request don't hash to the same slot" });
    const slot = keySlot("{u}");
    const owner = slot <= 5460 ? "n1" : slot <= 10922 ? "n2" : "n3";
    expect(h.client(owner, ["MSET", "{u}1", "x", "{u}2", "y"])).toEqual({ simple: "OK" });
    expect(h.client(owner, ["MGET", "{u}1", "{u}2", "{u}3"])).toEqual(["x", "y", null]);
  });

  it("MULTI/EXEC/WATCH: a touched watch fails EXEC with a null array; a refused command aborts it; errors at EXEC stay per command", () => {
    const h = settled();
    const k = tagged("w", 1);
    const owner = h.ids.find((id) => h.node(id).servesKey(k)) as NodeId;
    h.client(owner, ["SET", k, "1"], "a");
    expect(h.client(owner, ["WATCH", k], "a")).toEqual({ simple: "OK" });
    expect(h.client(owner, ["MULTI"], "a")).toEqual({ simple: "OK" });
    expect(h.client(owner, ["WATCH", k], "a")).toEqual({ err: "ERR WATCH inside MULTI is not allowed" });
    expect(h.client(owner, ["MULTI"], "a")).toEqual({ err: "ERR MULTI calls can not be nested" });
    expect(h.client(owner, ["INCR", k], "a")).toEqual({ simple: "QUEUED" });
    expect(h.client(owner, ["SET", k, "9"], "b")).toEqual({ simple: "OK" }); // another client touches it
    expect(h.client(owner, ["EXEC"], "a")).toEqual({ nullArray: true });
    expect(h.client(owner, ["GET", k], "a")).toEqual("9");
    // Unwatched after EXEC: the next transaction runs.
    h.client(owner, ["MULTI"], "a");
    h.client(owner, ["INCR", k], "a");
    h.client(owner, ["LPUSH", k, "x"], "a"); // WRONGTYPE at run time, not at queue time
    expect(h.client(owner, ["EXEC"], "a")).toEqual([10, { err: "WRONGTYPE Operation against a key holding the wrong kind of value" }]);
    // An unknown command or a redirect while queueing aborts the whole transaction.
    h.client(owner, ["MULTI"], "a");
    expect(h.client(owner, ["NOSUCH"], "a")).toMatchObject({ err: expect.stringContaining("unknown command") });
    h.client(owner, ["INCR", k], "a");
    expect(h.client(owner, ["EXEC"], "a")).toEqual({ err: "EXECABORT Transaction discarded because of previous errors." });
    const elsewhere = [K1, K2, K3].find((x) => !h.node(owner).servesKey(x)) as string;
    h.client(owner, ["MULTI"], "a");
    expect(h.client(owner, ["GET", elsewhere], "a")).toMatchObject({ err: expect.stringMatching(/^MOVED /) });
    expect(h.client(owner, ["EXEC"], "a")).toEqual({ err: "EXECABORT Transaction discarded because of previous errors." });
    expect(h.client(owner, ["EXEC"], "a")).toEqual({ err: "ERR EXEC without MULTI" });
    expect(h.client(owner, ["DISCARD"], "a")).toEqual({ err: "ERR DISCARD without MULTI" });
    expect(h.client(owner, ["GET", k], "a")).toEqual("10");
  });

  it("BLPOP blocks until another client pushes (first come, first served), or answers a null array at its timeout", () => {
    const h = settled();
    const k = K1;
    const first = h.request("n1", ["BLPOP", k, "0"], "a");
    const second = h.request("n1", ["BLPOP", k, "0"], "b");
    expect(h.replyTo("n1", first)).toBeUndefined();
    // A later command on a blocked connection waits behind it.
    const queued = h.request("n1", ["PING"], "a");
    expect(h.replyTo("n1", queued)).toBeUndefined();
    expect(h.client("n1", ["RPUSH", k, "x"], "c")).toBe(1);
    expect(h.replyTo("n1", first)).toEqual([k, "x"]);
    expect(h.replyTo("n1", queued)).toEqual({ simple: "PONG" });
    expect(h.replyTo("n1", second)).toBeUndefined();
    expect(h.client("n1", ["LLEN", k], "c")).toBe(0);
    const timed = h.request("n1", ["BRPOP", K1, "0.5"], "d");
    h.run(400);
    expect(h.replyTo("n1", timed)).toBeUndefined();
    h.run(200);
    expect(h.replyTo("n1", timed)).toEqual({ nullArray: true });
    // The served pop replicated as LPOP: the replica's list is empty too.
    h.run(100);
    h.client("n4", ["READONLY"]);
    expect(h.client("n4", ["LLEN", k])).toBe(0);
  });

  it("WAIT counts replicas that acknowledged the client's last write, blocking until they do or the timeout", () => {
    const h = settled();
    h.client("n1", ["SET", K1, "v"]);
    const w = h.request("n1", ["WAIT", "1", "0"]);
    // The master asked for acks (REPLCONF GETACK); the replica's ack arrives in the same pump.
    expect(h.replyTo("n1", w)).toBe(1);
    expect(h.client("n1", ["WAIT", "2", "100"])).toBeUndefined();
    h.run(150);
    expect(h.replies.at(-1)?.value).toEqual({ type: "integer", value: 1 });
    // With the replica cut off, a new write is acknowledged by nobody.
    h.cut = (f, t) => (f === "n1" && t === "n4") || (f === "n4" && t === "n1");
    h.client("n1", ["SET", K1, "w"]);
    const w2 = h.request("n1", ["WAIT", "1", "300"]);
    h.run(200);
    expect(h.replyTo("n1", w2)).toBeUndefined();
    h.run(150);
    expect(h.replyTo("n1", w2)).toBe(0);
    expect(h.client("n4", ["WAIT", "1", "0"])).toEqual({
      err: "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
    });
  });

  it("PUBLISH reaches subscribers on every node over the bus; SPUBLISH only the shard", () => {
    const h = settled();
    expect(h.client("n2", ["SUBSCRIBE", "news"], "s1")).toEqual({ push: ["subscribe", "news", 1] });
    expect(h.client("n6", ["PSUBSCRIBE", "n*"], "s2")).toEqual({ push: ["psubscribe", "n*", 1] });
    expect(h.client("n2", ["GET", K2], "s1")).toEqual({ err: "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context" });
    expect(h.client("n1", ["PUBLISH", "news", "hello"], "p")).toBe(0); // no local subscriber on n1
    expect(h.pushed("n2", "s1")).toEqual([{ push: ["message", "news", "hello"] }]);
    expect(h.pushed("n6", "s2")).toEqual([{ push: ["pmessage", "n*", "news", "hello"] }]);
    // Sharded: the channel is a key; only n1's shard (n1, n4) hears it.
    expect(h.client("n4", ["READONLY"], "s3")).toEqual({ simple: "OK" });
    expect(h.client("n4", ["SSUBSCRIBE", K1], "s3")).toEqual({ push: ["ssubscribe", K1, 1] });
    expect(h.client("n2", ["SSUBSCRIBE", K1], "s4")).toEqual({ err: `MOVED ${keySlot(K1)} n1:6379` });
    expect(h.client("n1", ["SPUBLISH", K1, "m"], "p")).toBe(0);
    expect(h.pushed("n4", "s3")).toEqual([{ push: ["smessage", K1, "m"] }]);
    expect(h.pushed("n2", "s1")).toHaveLength(1);
  });

  it("resharding one slot: MIGRATING/IMPORTING, ASK for keys already moved, TRYAGAIN for a split multi-key request, MIGRATE, then SETSLOT NODE everywhere", () => {
    const h = settled();
    const slot = keySlot(tagged("m", 0));
    const src = h.ids.find((id) => h.node(id).servesKey(tagged("m", 0))) as NodeId;
    const dst = (["n1", "n2", "n3"] as NodeId[]).find((id) => id !== src) as NodeId;
    const [a, b] = [tagged("m", 1), tagged("m", 2)];
    h.client(src, ["SET", a, "1"]);
    h.client(src, ["SET", b, "2"]);
    expect(h.client(src, ["CLUSTER", "COUNTKEYSINSLOT", String(slot)])).toBe(2);
    expect(h.client(src, ["SSUBSCRIBE", a], "sub")).toEqual({ push: ["ssubscribe", a, 1] });
    expect(h.client(dst, ["CLUSTER", "SETSLOT", String(slot), "IMPORTING", h.name(src)])).toEqual({ simple: "OK" });
    expect(h.client(src, ["CLUSTER", "SETSLOT", String(slot), "MIGRATING", h.name(dst)])).toEqual({ simple: "OK" });
    expect(h.client(src, ["CLUSTER", "SETSLOT", String(slot), "IMPORTING", h.name(dst)])).toEqual({ err: `ERR I'm already the owner of hash slot ${slot}` });
    // Move `a` only.
    const mig = h.request(src, ["MIGRATE", dst, "6379", a, "0", "5000"]);
    expect(h.replyTo(src, mig)).toEqual({ simple: "OK" });
    expect(h.client(src, ["GET", b])).toEqual("2"); // still here: served
    expect(h.client(src, ["GET", a])).toEqual({ err: `ASK ${slot} ${dst}:6379` });
    expect(h.client(src, ["MGET", a, b])).toEqual({ err: "TRYAGAIN Multiple keys request during rehashing of slot" });
    expect(h.client(dst, ["GET", a])).toEqual({ err: `MOVED ${slot} ${src}:6379` }); // no ASKING
    expect(h.client(dst, ["GET", a], "c1", true)).toEqual("1");
    expect(h.client(src, ["MIGRATE", dst, "6379", "", "0", "5000", "KEYS", a])).toEqual({ simple: "NOKEY" });
    expect(h.client(src, ["MIGRATE", dst, "6379", "", "0", "5000", "REPLACE", "KEYS", b])).toEqual({ simple: "OK" });
    expect(h.client(src, ["CLUSTER", "SETSLOT", String(slot), "NODE", h.name(dst)])).toEqual({ simple: "OK" });
    // The slot left: its shard channels are unsubscribed, with a notice.
    expect(h.pushed(src, "sub")).toEqual([{ push: ["sunsubscribe", a, 0] }]);
    expect(h.client(dst, ["CLUSTER", "SETSLOT", String(slot), "NODE", h.name(dst)])).toEqual({ simple: "OK" });
    h.run(3000);
    for (const id of h.ids) expect(h.node(id).slotMap()).toBe(h.node("n1").slotMap());
    expect(h.client(src, ["GET", a])).toEqual({ err: `MOVED ${slot} ${dst}:6379` });
    expect(h.client(dst, ["MGET", a, b])).toEqual(["1", "2"]);
    // The destination bumped its configEpoch, so its claim wins everywhere.
    expect(h.node(dst).inspect().configEpoch).toBeGreaterThan(3);
  });

  it("CLUSTER NODES / SLOTS / INFO / MYID / KEYSLOT / GETKEYSINSLOT answer in redis-server 7's formats", () => {
    const h = settled();
    const nodes = h.client("n1", ["CLUSTER", "NODES"]) as string;
    const lines = nodes.trimEnd().split("\n");
    expect(lines).toHaveLength(6);
    const mine = lines.find((l) => l.startsWith(h.name("n1"))) as string;
    expect(mine.split(" ").slice(1, 4)).toEqual(["n1:6379@16379", "myself,master", "-"]);
    expect(mine.split(" ").slice(-2)).toEqual(["connected", "0-5460"]);
    const replica = lines.find((l) => l.startsWith(h.name("n4"))) as string;
    expect(replica.split(" ")[2]).toBe("slave");
    expect(replica.split(" ")[3]).toBe(h.name("n1"));
    // CLUSTER SLOTS lists a replica once it has replicated something (offset > 0), as Redis 7.0 does.
    for (const [m, k] of [["n1", K1], ["n2", K2], ["n3", K3]] as const) h.client(m, ["SET", k, "1"]);
    h.run(2000);
    const slots = h.client("n2", ["CLUSTER", "SLOTS"]) as Plain[][];
    expect(slots.map((r) => [r[0], r[1], (r[2] as Plain[])[0], (r[3] as Plain[])[0]])).toEqual([
      [0, 5460, "n1", "n4"],
      [5461, 10922, "n2", "n5"],
      [10923, 16383, "n3", "n6"],
    ]);
    const info = h.client("n3", ["CLUSTER", "INFO"]) as string;
    expect(info).toContain("cluster_state:ok\r\n");
    expect(info).toContain("cluster_slots_assigned:16384\r\n");
    expect(info).toContain("cluster_known_nodes:6\r\n");
    expect(info).toContain("cluster_size:3\r\n");
    expect(h.client("n1", ["CLUSTER", "MYID"])).toBe(h.name("n1"));
    expect(h.client("n1", ["CLUSTER", "KEYSLOT", "123456789"])).toBe(12739);
    h.client("n1", ["SET", K1, "x"]);
    expect(h.client("n1", ["CLUSTER", "GETKEYSINSLOT", String(keySlot(K1)), "10"])).toEqual([K1]);
    expect(h.client("n1", ["CLUSTER", "COUNTKEYSINSLOT", "99999"])).toEqual({ err: "ERR Invalid slot" });
    expect(h.client("n1", ["INFO", "replication"]) as string).toContain("role:master\r\nconnected_slaves:1\r\n");
    expect(h.client("n4", ["INFO", "replication"]) as string).toContain("role:slave\r\nmaster_host:n1\r\nmaster_port:6379\r\nmaster_link_status:up\r\n");
    // A failover's messages are counted under Redis's names (auth-req, auth-ack), not ours.
    h.client("n4", ["CLUSTER", "FAILOVER", "FORCE"]);
    h.run(3000);
    expect(h.client("n4", ["CLUSTER", "INFO"]) as string).toMatch(/cluster_stats_messages_auth-req_sent:\d+\r\n/);
    expect(h.client("n2", ["CLUSTER", "INFO"]) as string).toMatch(/cluster_stats_messages_auth-ack_sent:\d+\r\n/);
  });

  it("HELLO switches protocol and names the client; AUTH with requirepass; NOAUTH before it; CONFIG GET/SET", () => {
    const h = settled({ config: { requirepass: "pw" } });
    expect(h.client("n1", ["GET", K1])).toEqual({ err: "NOAUTH Authentication required." });
    expect(h.client("n1", ["AUTH", "bad"])).toEqual({ err: "WRONGPASS invalid username-password pair or user is disabled." });
    expect(h.client("n1", ["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "me"])).toMatchObject({ map: expect.arrayContaining([["proto", 3], ["mode", "cluster"], ["role", "master"]]) });
    expect(h.client("n1", ["CLIENT", "GETNAME"])).toBe("me");
    expect(h.client("n1", ["GET", K1])).toBe(null);
    expect(h.client("n1", ["HELLO", "4"])).toEqual({ err: "NOPROTO unsupported protocol version" });
    expect(h.client("n1", ["CONFIG", "GET", "cluster-node-timeout"])).toEqual({ map: [["cluster-node-timeout", String(NT)]] });
    expect(h.client("n1", ["CONFIG", "SET", "cluster-node-timeout", "abc"])).toEqual({ err: "ERR CONFIG SET failed (possibly related to argument 'cluster-node-timeout') - argument couldn't be parsed into an integer" });
    expect(h.client("n1", ["CONFIG", "SET", "cluster-node-timeout", "2000"])).toEqual({ simple: "OK" });
    expect(h.client("n1", ["CONFIG", "GET", "cluster-node-*"])).toEqual({ map: [["cluster-node-timeout", "2000"]] });
  });

  it("CLUSTER RESET: refused with keys; SOFT forgets everyone and every slot; HARD also takes a new name and zeroes the epochs", () => {
    const h = settled();
    h.client("n1", ["SET", K1, "x"]);
    expect(h.client("n1", ["CLUSTER", "RESET"])).toEqual({ err: "ERR CLUSTER RESET can't be called with master nodes containing keys" });
    expect(h.client("n4", ["CLUSTER", "RESET", "NOW"])).toEqual({ err: "ERR syntax error" });
    const before = h.name("n4");
    expect(h.client("n4", ["CLUSTER", "RESET", "SOFT"])).toEqual({ simple: "OK" });
    expect(h.node("n4").inspect()).toMatchObject({ role: "master", slots: 0, keys: 0, name: before });
    expect((h.client("n4", ["CLUSTER", "NODES"]) as string).trimEnd().split("\n")).toHaveLength(1);
    expect(h.client("n4", ["CLUSTER", "RESET", "HARD"])).toEqual({ simple: "OK" });
    expect(h.node("n4").inspect()).toMatchObject({ currentEpoch: 0, configEpoch: 0 });
    expect(h.node("n4").inspect().name).not.toBe(before);
    expect((h.client("n4", ["CLUSTER", "HELP"]) as Plain[])[0]).toEqual({ simple: "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" });
  });

  it("MIGRATE: COPY keeps the key here; an existing key there is BUSYKEY unless REPLACE; an unreachable target times out with IOERR", () => {
    const h = settled();
    // MIGRATE itself does not care about slots: copy n1's key to n2 (as a resharding would, before SETSLOT NODE).
    h.client("n1", ["SET", K1, "v"]);
    h.client("n1", ["PEXPIRE", K1, "100000"]);
    expect(h.client("n1", ["MIGRATE", "n2", "6379", K1, "0", "1000", "COPY"])).toEqual({ simple: "OK" });
    expect(h.client("n1", ["GET", K1])).toBe("v");
    expect(h.node("n2").inspect().keys).toBe(1);
    expect(h.client("n1", ["MIGRATE", "n2", "6379", K1, "0", "1000", "COPY"])).toEqual({ err: "ERR Target instance replied with error: BUSYKEY Target key name already exists." });
    expect(h.client("n1", ["MIGRATE", "n2", "6379", K1, "0", "1000", "REPLACE"])).toEqual({ simple: "OK" });
    expect(h.client("n1", ["GET", K1])).toBe(null); // moved away, not copied
    expect(h.node("n2").inspect().keys).toBe(1);
    expect(h.client("n1", ["MIGRATE", "n2", "6379", "", "0", "1000", "KEYS"])).toEqual({ simple: "NOKEY" });
    expect(h.client("n1", ["MIGRATE", "n2", "6379", K1, "0", "1000", "KEYS", "a"])).toEqual({ err: "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string" });
    expect(h.client("n1", ["MIGRATE", "n2", "6379", K1, "1", "1000"])).toMatchObject({ err: expect.stringContaining("SELECT is not allowed") });
    h.client("n1", ["SET", K1, "w"]);
    h.cut = (f, t) => f === "n1" && t === "n3";
    const r = h.request("n1", ["MIGRATE", "n3", "6379", K1, "0", "300"]);
    h.run(250);
    expect(h.replyTo("n1", r)).toBeUndefined();
    h.run(100);
    expect(h.replyTo("n1", r)).toEqual({ err: "IOERR error or timeout reading to target instance" });
    expect(h.client("n1", ["GET", K1])).toBe("w");
  });

  it("a write to a key an unfinished MIGRATE is moving waits for it, then is redirected: it cannot be acknowledged and lost", () => {
    const h = settled();
    const k = tagged(tagIn(0, 5460), 1);
    const slot = keySlot(k);
    h.client("n1", ["SET", k, "old"]);
    h.client("n2", ["CLUSTER", "SETSLOT", String(slot), "IMPORTING", h.name("n1")]);
    h.client("n1", ["CLUSTER", "SETSLOT", String(slot), "MIGRATING", h.name("n2")]);
    h.hold = (f, t, m) => f === "n2" && t === "n1" && m.type === "migrate-reply";
    const mig = h.request("n1", ["MIGRATE", "n2", "6379", "", "0", "5000", "KEYS", k], "a");
    const write = h.request("n1", ["SET", k, "new"], "b");
    const other = h.request("n1", ["SET", K1, "x"], "c"); // K1's slot is not migrating
    expect(h.replyTo("n1", mig)).toBeUndefined();
    expect(h.replyTo("n1", write)).toBeUndefined(); // held behind the MIGRATE
    expect(h.replyTo("n1", other)).toEqual({ simple: "OK" }); // other keys are not
    h.hold = () => false;
    h.release();
    expect(h.replyTo("n1", mig)).toEqual({ simple: "OK" });
    expect(h.replyTo("n1", write)).toEqual({ err: `ASK ${slot} n2:6379` });
    expect(h.client("n2", ["SET", k, "new"], "b", true)).toEqual({ simple: "OK" });
    expect(h.client("n2", ["GET", k], "b", true)).toBe("new");
  });
});
