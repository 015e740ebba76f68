// Simulated clients: a closed loop per client (send, wait for the reply or a timeout, think,
// repeat), each on its own random stream. Every operation is traced as a `client-op` with
// phase invoke, then ok, fail or info (outcome unknown: the client timed out) — the history
// format Jepsen's checkers use.
//
// With the model's `routing`, clients behave as ioredis's Cluster does: each keeps a slot map
// (slot → node) filled from CLUSTER SLOTS, sends a keyed request to the slot's node, follows
// MOVED (updating that slot and refreshing the whole map in the background), follows ASK once
// with ASKING, and retries CLUSTERDOWN / TRYAGAIN after a pause (100 ms, ioredis's default).
//
// With the model's `sessions` (a `SessionWorkloadModel`), clients behave as the Raft dissertation's
// (§6.3) do: each opens a session first, numbers its requests, and resends a request that got no
// reply within `attemptTimeoutMs` to another node under the same number, so that it applies once
// however often it is sent. An op whose attempts may have taken effect never ends as `fail`: if it
// gives up, it ends as `info` (outcome unknown).

import type { NodeId } from "../core/machine.js";
import { exponential } from "../core/prng.js";
import type { Json } from "../core/trace.js";
import { type Stream, streamName } from "./engine/random.js";
import type { World, WorldListener } from "./engine/world.js";
import type { WorkloadModel } from "./machines/adapter.js";
import type { ScenarioData } from "./scenario/schema.js";

type WorkloadConfig = NonNullable<ScenarioData["workload"]>;

interface Op {
  readonly index: number;
  readonly req: Json;
  /** The id of the attempt in flight; replies to earlier attempts are ignored (in session mode, but for successes). */
  attempt: number;
  /** The id of the op's first attempt. */
  firstAttempt: number;
  /** Some attempt may have taken effect without the client learning it (session mode): giving up is `info`, never `fail`. */
  uncertain: boolean;
  redirects: number;
  readonly timeoutGen: number;
  /** The next attempt follows an ASK: sent as `routing.asking(req)`, once. */
  asking: boolean;
}

class Client {
  target: NodeId | null = null;
  op: Op | null = null;
  opsDone = 0;
  attemptNext = 1;
  timeoutGen = 0;
  /** Slot → node, as far as this client knows (routing models only). */
  readonly slots = new Map<number, NodeId>();
  /** The request id of a slot-map refresh in flight, or 0. */
  refreshing = 0;
  /** Session mode: the open session, the last request number used, and the open request in flight (0: none). */
  session: number | null = null;
  seq = 0;
  opening = 0;
  constructor(
    readonly id: string,
    readonly rng: Stream,
  ) {}
}

/** ioredis's retryDelayOnClusterDown / retryDelayOnTryAgain. */
export const RETRY_DELAY_MS = 100;

/**
 * Clients with exactly-once sessions: how to open one, how to number a request, and when the
 * store says the session is gone. See the file comment.
 */
export interface SessionModel {
  /** The request that opens a session. */
  readonly open: Json;
  /** The session id in the reply to `open`; null if it was not opened (ask again). */
  sessionOf(reply: Json): number | null;
  /** The op's request as request `seq` of `session` (requests that need no numbering pass unchanged). */
  bind(req: Json, session: number, seq: number): Json;
  /** The reply says the session ended (expired, evicted): the op's outcome is unknown, and a new session is needed. */
  lost(reply: Json): boolean;
  /** How long one attempt waits before the same request goes to another node. */
  readonly attemptTimeoutMs: number;
}

export interface SessionWorkloadModel extends WorkloadModel {
  readonly sessions: SessionModel;
}

function sessionsOf(model: WorkloadModel): SessionModel | null {
  return "sessions" in model ? (model as SessionWorkloadModel).sessions : null;
}

export interface WorkloadStats {
  invoked: number;
  ok: number;
  fail: number;
  info: number;
}

export class Workload implements WorldListener {
  private readonly clients = new Map<string, Client>();
  readonly stats: WorkloadStats = { invoked: 0, ok: 0, fail: 0, info: 0 };
  private readonly kind: string;
  private readonly sessions: SessionModel | null;

  constructor(
    private readonly world: World,
    private readonly model: WorkloadModel,
    private readonly cfg: WorkloadConfig,
  ) {
    this.kind = cfg.kind ?? (Object.keys(model.kinds)[0] as string);
    this.sessions = sessionsOf(model);
    for (let i = 1; i <= cfg.clients; i++) {
      const id = `c${i}`;
      this.clients.set(id, new Client(id, world.streams.get(streamName.workload(id))));
    }
  }

  start(): void {
    for (const c of this.clients.values()) this.think(c, this.cfg.startMs * 1000);
  }

  onLine(): void {}
  onNodeChanged(): void {}

  onPush(clientId: string, from: NodeId, value: unknown): void {
    if (!this.clients.has(clientId)) return;
    const event = this.model.onPush?.(clientId, value) ?? null;
    if (event !== null) this.world.emit(clientId, { type: "client-push", from, value: event });
  }

  onReply(clientId: string, from: NodeId, reqId: number, reply: unknown): void {
    const c = this.clients.get(clientId);
    if (c === undefined) return;
    const value = this.model.toJson === undefined ? (reply as Json) : this.model.toJson(reply);
    if (reqId === c.refreshing) {
      c.refreshing = 0;
      this.learnMap(c, value);
      return;
    }
    if (reqId === c.opening) {
      this.onOpened(c, from, value);
      return;
    }
    const op = c.op;
    if (op === null || reqId < op.firstAttempt || reqId > op.attempt) return;
    const verdict = this.model.classify(value);
    // A success answers the op whichever attempt it answers (the attempts are one numbered request).
    if (op.attempt !== reqId && (this.sessions === null || verdict.outcome !== "ok")) return;
    if (this.sessions?.lost(value) === true) {
      c.session = null;
      this.complete(c, "info", value, from);
      return;
    }
    if (verdict.outcome === "redirect" || verdict.outcome === "retry") {
      // A retry verdict (outcome unknown, busy) may follow an attempt that still applies.
      if (verdict.outcome === "retry" && this.sessions !== null) op.uncertain = true;
      if (op.redirects >= this.cfg.redirectsMax) {
        this.complete(c, op.uncertain ? "info" : "fail", { error: "too many redirects", last: value });
        return;
      }
      op.redirects += 1;
      this.world.emit(c.id, { type: "client-retry", op: op.index, from, reply: value });
      if (verdict.outcome === "redirect" && verdict.to === null && this.sessions !== null) {
        // No leader known: give the election a moment, then ask someone else.
        this.world.schedule(this.world.nowUs + RETRY_DELAY_MS * 1000, () => {
          if (c.op !== op) return;
          c.target = this.randomNode(c, from);
          this.send(c, op);
        });
        return;
      }
      if (verdict.outcome === "retry") {
        // CLUSTERDOWN / TRYAGAIN: the same node may answer differently in a moment.
        this.world.schedule(this.world.nowUs + RETRY_DELAY_MS * 1000, () => {
          if (c.op === op) this.send(c, op);
        });
        return;
      }
      c.target = verdict.to ?? this.randomNode(c, from);
      if (verdict.asking === true) op.asking = true;
      if (verdict.moved === true && verdict.slot !== undefined && verdict.to !== null) {
        c.slots.set(verdict.slot, verdict.to);
        this.refreshMap(c);
      }
      this.send(c, op);
      return;
    }
    c.target = from;
    this.complete(c, verdict.outcome === "fail" && op.uncertain ? "info" : verdict.outcome, value, from);
  }

  /** Session mode: asks a node to open a session; once open, the client's pending op starts. */
  private openSession(c: Client): void {
    const sessions = this.sessions as SessionModel;
    c.target ??= this.randomNode(c, null);
    const reqId = c.attemptNext++;
    c.opening = reqId;
    this.world.clientRequest(c.id, c.target, reqId, sessions.open);
    this.world.schedule(this.world.nowUs + Math.round(sessions.attemptTimeoutMs * 1000), () => {
      if (c.opening !== reqId) return;
      c.target = this.randomNode(c, c.target);
      this.openSession(c);
    });
  }

  private onOpened(c: Client, from: NodeId, reply: Json): void {
    c.opening = 0;
    const session = (this.sessions as SessionModel).sessionOf(reply);
    if (session !== null) {
      c.session = session;
      c.target = from;
      this.world.emit(c.id, { type: "client-session", session, from });
      this.invoke(c);
      return;
    }
    const verdict = this.model.classify(reply);
    const to = verdict.outcome === "redirect" ? verdict.to : null;
    // A leader named: ask it now. Otherwise wait for an election (or a busy leader), then ask anyone.
    if (to !== null) {
      c.target = to;
      this.openSession(c);
      return;
    }
    this.world.schedule(this.world.nowUs + RETRY_DELAY_MS * 1000, () => {
      if (c.opening !== 0 || c.session !== null) return;
      c.target = this.randomNode(c, from);
      this.openSession(c);
    });
  }

  /**
   * Asks a random node (not `avoid`) for the slot map, unless a refresh is already in flight
   * (ioredis's refreshSlotsCache).
   */
  private refreshMap(c: Client, avoid: NodeId | null = null): void {
    const routing = this.model.routing;
    if (routing === undefined || c.refreshing !== 0) return;
    c.refreshing = c.attemptNext++;
    const reqId = c.refreshing;
    this.world.clientRequest(c.id, this.randomNode(c, avoid), reqId, routing.mapRequest);
    this.world.schedule(this.world.nowUs + Math.round(this.cfg.timeoutMs * 1000), () => {
      if (c.refreshing === reqId) c.refreshing = 0;
    });
  }

  private learnMap(c: Client, reply: Json): void {
    const ranges = this.model.routing?.parseMap(reply);
    if (ranges === null || ranges === undefined) return;
    c.slots.clear();
    for (const r of ranges) for (let s = r.from; s <= r.to; s++) c.slots.set(s, r.node);
  }

  private think(c: Client, fromUs: number): void {
    const atUs = fromUs + Math.round(exponential(c.rng, this.cfg.thinkMs) * 1000);
    if (this.cfg.stopMs !== undefined && atUs > this.cfg.stopMs * 1000) return;
    this.world.schedule(atUs, () => this.invoke(c));
  }

  private invoke(c: Client): void {
    if (this.sessions !== null && c.session === null) {
      this.openSession(c);
      return;
    }
    const index = c.opsDone;
    const base = this.model.request(c.rng, c.id, index, this.kind);
    const req = this.sessions === null || c.session === null ? base : this.sessions.bind(base, c.session, ++c.seq);
    const op: Op = { index, req, attempt: 0, firstAttempt: c.attemptNext, uncertain: false, redirects: 0, timeoutGen: ++c.timeoutGen, asking: false };
    c.op = op;
    this.stats.invoked += 1;
    const routing = this.model.routing;
    if (routing !== undefined) {
      if (c.slots.size === 0) this.refreshMap(c);
      const slot = routing.slotOf(req);
      c.target = slot === null ? (c.target ?? this.homeNode(c)) : (c.slots.get(slot) ?? this.randomNode(c, null));
    } else if (c.target === null) c.target = this.randomNode(c, null);
    this.world.emit(c.id, { type: "client-op", phase: "invoke", op: index, target: c.target, req });
    this.send(c, op);
    this.world.schedule(this.world.nowUs + Math.round(this.cfg.timeoutMs * 1000), () => {
      if (c.op === op && c.timeoutGen === op.timeoutGen) {
        const silent = c.target;
        c.target = null; // try someone else next time
        // A node that does not answer may be gone with its slots: ioredis refreshes its slot map
        // when a node's connection fails, and a crash in the simulator is silence. Without this a
        // client kept sending one crashed master's keys to it until a MOVED came from elsewhere.
        if (routing !== undefined) this.refreshMap(c, silent);
        this.complete(c, "info", { error: "timeout" });
      }
    });
  }

  private send(c: Client, op: Op): void {
    op.attempt = c.attemptNext++;
    const routing = this.model.routing;
    const req = op.asking && routing !== undefined ? routing.asking(op.req) : op.req;
    op.asking = false;
    this.world.clientRequest(c.id, c.target as NodeId, op.attempt, req);
    if (this.sessions !== null) this.resendAfter(c, op, this.sessions.attemptTimeoutMs);
  }

  /** Session mode: if this attempt is still unanswered after `ms`, the same request goes to another node. */
  private resendAfter(c: Client, op: Op, ms: number): void {
    const attempt = op.attempt;
    this.world.schedule(this.world.nowUs + Math.round(ms * 1000), () => {
      if (c.op !== op || op.attempt !== attempt) return;
      op.uncertain = true;
      this.world.emit(c.id, { type: "client-retry", op: op.index, from: c.target, reply: { error: "attempt timeout" } });
      c.target = this.randomNode(c, c.target);
      this.send(c, op);
    });
  }

  private complete(c: Client, phase: "ok" | "fail" | "info", value: Json, from: NodeId | null = null): void {
    const op = c.op;
    if (op === null) return;
    c.op = null;
    c.opsDone += 1;
    this.stats[phase] += 1;
    this.world.emit(c.id, from === null ? { type: "client-op", phase, op: op.index, value } : { type: "client-op", phase, op: op.index, value, from });
    this.think(c, this.world.nowUs);
  }

  /** Where a client sends keyless requests first: clients spread over the nodes in order (c1 → first node). */
  private homeNode(c: Client): NodeId {
    const i = Number(c.id.slice(1)) - 1;
    return this.world.nodes[i % this.world.nodes.length] as NodeId;
  }

  private randomNode(c: Client, avoid: NodeId | null): NodeId {
    const nodes = this.world.nodes.filter((n) => n !== avoid);
    const pool = nodes.length > 0 ? nodes : this.world.nodes;
    return pool[Math.floor(c.rng.next() * pool.length)] as NodeId;
  }
}
