// Simulated clients: a closed loop per client (send, wait for the reply or a timeout, think,
// repeat), each on its own random stream. Every operation is traced as a `client-op` with
// phase invoke, then ok, fail or info (outcome unknown: the client timed out) — the history
// format Jepsen's checkers use.

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
  /** The id of the attempt in flight; replies to earlier attempts are ignored. */
  attempt: number;
  redirects: number;
  readonly timeoutGen: number;
}

class Client {
  target: NodeId | null = null;
  op: Op | null = null;
  opsDone = 0;
  attemptNext = 1;
  timeoutGen = 0;
  constructor(
    readonly id: string,
    readonly rng: Stream,
  ) {}
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

  constructor(
    private readonly world: World,
    private readonly model: WorkloadModel,
    private readonly cfg: WorkloadConfig,
  ) {
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

  onReply(clientId: string, from: NodeId, reqId: number, reply: unknown): void {
    const c = this.clients.get(clientId);
    const op = c?.op;
    if (c === undefined || op === null || op === undefined || op.attempt !== reqId) return;
    const value = this.model.toJson === undefined ? (reply as Json) : this.model.toJson(reply);
    const verdict = this.model.classify(value);
    if (verdict.outcome === "redirect") {
      if (op.redirects >= this.cfg.redirectsMax) {
        this.complete(c, "fail", { error: "too many redirects", last: value as Json });
        return;
      }
      op.redirects += 1;
      c.target = verdict.to ?? this.randomNode(c, from);
      this.send(c, op);
      return;
    }
    c.target = from;
    this.complete(c, verdict.outcome, value as Json);
  }

  private think(c: Client, fromUs: number): void {
    const atUs = fromUs + Math.round(exponential(c.rng, this.cfg.thinkMs) * 1000);
    if (this.cfg.stopMs !== undefined && atUs > this.cfg.stopMs * 1000) return;
    this.world.schedule(atUs, () => this.invoke(c));
  }

  private invoke(c: Client): void {
    const index = c.opsDone;
    const req = this.model.request(c.rng, c.id, index);
    const op: Op = { index, req, attempt: 0, redirects: 0, timeoutGen: ++c.timeoutGen };
    c.op = op;
    this.stats.invoked += 1;
    if (c.target === null) c.target = this.randomNode(c, null);
    this.world.emit(c.id, { type: "client-op", phase: "invoke", op: index, target: c.target, req });
    this.send(c, op);
    this.world.schedule(this.world.nowUs + Math.round(this.cfg.timeoutMs * 1000), () => {
      if (c.op === op && c.timeoutGen === op.timeoutGen) {
        c.target = null; // try someone else next time
        this.complete(c, "info", { error: "timeout" });
      }
    });
  }

  private send(c: Client, op: Op): void {
    op.attempt = c.attemptNext++;
    this.world.clientRequest(c.id, c.target as NodeId, op.attempt, op.req);
  }

  private complete(c: Client, phase: "ok" | "fail" | "info", value: Json): void {
    const op = c.op;
    if (op === null) return;
    c.op = null;
    c.opsDone += 1;
    this.stats[phase] += 1;
    this.world.emit(c.id, { type: "client-op", phase, op: op.index, value });
    this.think(c, this.world.nowUs);
  }

  private randomNode(c: Client, avoid: NodeId | null): NodeId {
    const nodes = this.world.nodes.filter((n) => n !== avoid);
    const pool = nodes.length > 0 ? nodes : this.world.nodes;
    return pool[Math.floor(c.rng.next() * pool.length)] as NodeId;
  }
}
