// The simulated network: per-link latency, FIFO (TCP-like) or datagram links, loss, duplication,
// clogging and partitions.
//
// The network decides what happens to a message; the world schedules it. In `tcp` mode each
// directed link behaves like one connection: messages arrive in the order sent, a partition or a
// crash of either end breaks the connection and drops what is in flight, and loss is modelled as
// a connection reset (the message and everything in flight behind it are gone). In `datagram`
// mode messages are independent: they reorder by their sampled latency, may be lost one by one
// or duplicated, and a crashed sender's messages already on the wire still arrive.

import type { NodeId } from "../../core/machine.js";
import type { DropReason } from "../../core/trace.js";
import { type Distribution, sampleUs } from "./latency.js";
import { type Stream, type Streams, streamName } from "./random.js";

export type NetworkMode = "tcp" | "datagram";

export interface LinkOverride {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly latency: Distribution;
}

export interface NetworkConfig {
  readonly mode: NetworkMode;
  readonly latency: Distribution;
  readonly links: readonly LinkOverride[];
  /** Probability that one message is lost (tcp: the connection resets). */
  readonly loss: number;
  /** Probability that one message arrives twice (datagram mode only). */
  readonly duplicate: number;
}

/** Messages held on one clogged link are bounded; past this the oldest are dropped. */
export const CLOGGED_MESSAGES_MAX = 100_000;

/**
 * A partition assigns nodes to groups. Two-way: nodes in different groups cannot talk. One-way:
 * only traffic from group 0 to group 1 is cut. Nodes in no group (clients, say) are unaffected.
 */
export class Partition {
  constructor(
    readonly id: string,
    readonly groups: readonly (readonly NodeId[])[],
    readonly oneWay: boolean,
  ) {
    for (const [i, g] of groups.entries()) for (const n of g) this.groupOf.set(n, i);
  }

  private readonly groupOf = new Map<NodeId, number>();

  blocks(from: NodeId, to: NodeId): boolean {
    const a = this.groupOf.get(from);
    const b = this.groupOf.get(to);
    if (a === undefined || b === undefined) return false;
    return this.oneWay ? a === 0 && b === 1 : a !== b;
  }

  describe(): string {
    const g = this.groups.map((x) => `[${x.join(",")}]`);
    return this.oneWay ? `${g[0]} -/-> ${g[1]}` : g.join(" | ");
  }
}

class Link<P> {
  /** Connection generation; bumped when the connection breaks, which drops what is in flight. */
  epoch = 0;
  /** tcp mode: the latest arrival time scheduled, so later messages never overtake it. */
  lastArrivalUs = 0;
  clogged = false;
  /** What a clogged link holds, each with the connection epoch it was sent on. */
  held: { payload: P; epoch: number }[] = [];
  constructor(
    readonly from: NodeId,
    readonly to: NodeId,
    readonly stream: Stream,
    readonly override: Distribution | null,
  ) {}
}

export type Plan =
  | { readonly kind: "drop"; readonly reason: DropReason }
  | { readonly kind: "deliver"; readonly arrivalsUs: readonly number[]; readonly epoch: number }
  | { readonly kind: "held" };

export class Network<P> {
  config: NetworkConfig;
  private readonly partitions: Partition[] = [];
  /** Links by sender, then receiver; created on first use. */
  private readonly links = new Map<NodeId, Map<NodeId, Link<P>>>();
  /** Links by receiver, for resetting a node's incoming connections. */
  private readonly incoming = new Map<NodeId, Link<P>[]>();
  /** Every link in the order it was first used (a deterministic order to iterate in). */
  private readonly ordered: Link<P>[] = [];
  private partitionIdNext = 1;

  constructor(
    config: NetworkConfig,
    private readonly streams: Streams,
  ) {
    this.config = config;
  }

  blocked(from: NodeId, to: NodeId): boolean {
    for (const p of this.partitions) if (p.blocks(from, to)) return true;
    return false;
  }

  /** Decides the fate of one message sent now. For `held`, the caller stores the payload with `hold`. */
  plan(from: NodeId, to: NodeId, nowUs: number): Plan {
    if (this.blocked(from, to)) return { kind: "drop", reason: "partition" };
    const link = this.link(from, to);
    const { loss, duplicate, mode } = this.config;
    if (loss > 0 && link.stream.next() < loss) {
      if (mode === "tcp") link.epoch += 1;
      return { kind: "drop", reason: "loss" };
    }
    if (link.clogged) return { kind: "held" };
    const arrivals = [this.arrival(link, nowUs)];
    if (mode === "datagram" && duplicate > 0 && link.stream.next() < duplicate) arrivals.push(this.arrival(link, nowUs));
    return { kind: "deliver", arrivalsUs: arrivals, epoch: link.epoch };
  }

  /** Whether a message scheduled with `epoch` may still arrive (tcp: the connection is unbroken). */
  alive(from: NodeId, to: NodeId, epoch: number): boolean {
    return this.config.mode === "datagram" || this.link(from, to).epoch === epoch;
  }

  /**
   * Holds a message on a clogged link; returns what overflowing the bound dropped. In datagram mode
   * that is the oldest message; in tcp mode an overflowing connection breaks, which drops all it
   * held (a stream never shows a gap).
   */
  hold(from: NodeId, to: NodeId, payload: P): P[] {
    const link = this.link(from, to);
    link.held.push({ payload, epoch: link.epoch });
    if (link.held.length <= CLOGGED_MESSAGES_MAX) return [];
    if (this.config.mode !== "tcp") return [(link.held.shift() as { payload: P }).payload];
    link.epoch += 1;
    const dropped = link.held.map((h) => h.payload);
    link.held = [];
    return dropped;
  }

  clog(from: NodeId, to: NodeId): void {
    this.link(from, to).clogged = true;
  }

  /**
   * Unclogs a link and returns what it held, in order, with fresh arrival times from now. Each keeps
   * the epoch it was sent on, so in tcp mode what a broken connection held is dropped on arrival.
   */
  unclog(from: NodeId, to: NodeId, nowUs: number): { payload: P; arrivalUs: number; epoch: number }[] {
    const link = this.link(from, to);
    link.clogged = false;
    const held = link.held;
    link.held = [];
    return held.map((h) => ({ payload: h.payload, arrivalUs: this.arrival(link, nowUs), epoch: h.epoch }));
  }

  /** Every clogged link, in the order links were first used. */
  cloggedLinks(): [NodeId, NodeId][] {
    const out: [NodeId, NodeId][] = [];
    for (const link of this.ordered) if (link.clogged) out.push([link.from, link.to]);
    return out;
  }

  addPartition(groups: readonly (readonly NodeId[])[], oneWay: boolean): Partition {
    const p = new Partition(`p${this.partitionIdNext++}`, groups, oneWay);
    this.partitions.push(p);
    if (this.config.mode === "tcp") {
      for (const link of this.ordered) if (p.blocks(link.from, link.to)) link.epoch += 1;
    }
    return p;
  }

  heal(id: string): Partition | undefined {
    const i = this.partitions.findIndex((p) => p.id === id);
    if (i < 0) return undefined;
    return this.partitions.splice(i, 1)[0];
  }

  healAll(): Partition[] {
    return this.partitions.splice(0, this.partitions.length);
  }

  activePartitions(): readonly Partition[] {
    return this.partitions;
  }

  /** Breaks every connection to and from a node (tcp mode), as a crash or restart does. */
  resetNode(node: NodeId): void {
    if (this.config.mode !== "tcp") return;
    for (const link of this.links.get(node)?.values() ?? []) link.epoch += 1;
    for (const link of this.incoming.get(node) ?? []) if (link.from !== node) link.epoch += 1;
  }

  private arrival(link: Link<P>, nowUs: number): number {
    const t = nowUs + sampleUs(link.override ?? this.config.latency, link.stream);
    if (this.config.mode !== "tcp") return t;
    const at = Math.max(t, link.lastArrivalUs);
    link.lastArrivalUs = at;
    return at;
  }

  private link(from: NodeId, to: NodeId): Link<P> {
    let out = this.links.get(from);
    if (out === undefined) {
      out = new Map();
      this.links.set(from, out);
    }
    let link = out.get(to);
    if (link === undefined) {
      const o = this.config.links.find((l) => l.from === from && l.to === to);
      link = new Link<P>(from, to, this.streams.get(streamName.link(from, to)), o?.latency ?? null);
      out.set(to, link);
      let into = this.incoming.get(to);
      if (into === undefined) {
        into = [];
        this.incoming.set(to, into);
      }
      into.push(link);
      this.ordered.push(link);
    }
    return link;
  }
}

