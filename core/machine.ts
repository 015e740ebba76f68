// The machine contract: a node is a value that takes inputs and returns effects.
//
// Nothing here performs IO. A host (the simulator in sim/, real sockets in node-runtime/)
// delivers inputs one at a time together with the node's local clock reading, and carries out
// the effects the step returns, in order. The same machine object runs in both hosts.

import type { Json, TraceEvent } from "./trace.js";

export type NodeId = string;
export type ClientId = string;

/** Identifies one persist request of one node incarnation; chosen by the machine, increasing. */
export type PersistId = number;

/** A uniform source of randomness in [0, 1), seeded by the host. The only randomness a machine may use. */
export interface Prng {
  next(): number;
}

/** Every message on the wire names its type, so hosts can trace and filter without knowing the protocol. */
export interface Message {
  readonly type: string;
}

/** What survived on disk when a node starts again. `null` in `Start.recovered` means a fresh (empty) disk. */
export interface Recovered {
  /** Per file, the records that survived, oldest first. */
  readonly files: Readonly<Record<string, RecoveredFile>>;
}

export interface RecoveredFile {
  readonly records: readonly Json[];
  /**
   * True when the last append was only partly written at the crash. The host has already cut it
   * (as a checksum would); the flag lets the machine log how its log was repaired.
   */
  readonly tornTail: boolean;
}

export type Input<M extends Message, Req> =
  | { readonly kind: "start"; readonly recovered: Recovered | null }
  | { readonly kind: "message"; readonly from: NodeId; readonly msg: M }
  | { readonly kind: "timer"; readonly name: string }
  | { readonly kind: "client"; readonly client: ClientId; readonly reqId: number; readonly req: Req }
  /** The client's connection closed (hosts with connections say so; the simulator's clients never close). */
  | { readonly kind: "client-closed"; readonly client: ClientId }
  | { readonly kind: "persisted"; readonly id: PersistId };

/**
 * `persist` appends one record to a file, or replaces the whole file with one record (atomically,
 * as write-to-temp-then-rename does). With `sync` the host fsyncs before reporting completion;
 * without it the record sits in the page cache and a crash may lose it. With `notify: false` the
 * machine needs no `persisted` input for it and nothing may wait for it (no `after` names it): a
 * host may skip reporting it (an AOF append under appendfsync everysec, one per write). Hosts
 * still carry out persists in order, so a later persist's completion covers it.
 *
 * `set-timer` replaces any timer of the same name; timers are deadlines on the node's local clock.
 *
 * `send`, `reply` and `trace` may name a persist they depend on (`after`). They do not leave the
 * node until that persist has completed: the durable-before-visible rule (see `DurableGate`). A
 * trace event gated this way marks the moment a promise became visible — a `vote` event means
 * the vote was cast, not merely decided — which is what safety checkers must count.
 */
export type Effect<M extends Message, Rep> =
  | { readonly kind: "send"; readonly to: NodeId; readonly msg: M; readonly after?: PersistId }
  | { readonly kind: "set-timer"; readonly name: string; readonly atMs: number }
  | { readonly kind: "cancel-timer"; readonly name: string }
  | {
      readonly kind: "persist";
      readonly id: PersistId;
      readonly file: string;
      readonly op: "append" | "write";
      readonly record: Json;
      readonly sync: boolean;
      readonly notify?: false;
    }
  | {
      readonly kind: "reply";
      readonly client: ClientId;
      readonly reqId: number;
      readonly value: Rep;
      readonly after?: PersistId;
    }
  /** A message to a client that answers no request (pub/sub messages, RESP3 pushes). */
  | { readonly kind: "push"; readonly client: ClientId; readonly value: Rep }
  /** Close the client's connection after what was sent to it so far (QUIT). */
  | { readonly kind: "close"; readonly client: ClientId }
  | { readonly kind: "trace"; readonly event: TraceEvent; readonly after?: PersistId };

/**
 * A protocol node. `step` is synchronous and must not keep references to the effects array it
 * returns. `nowMs` is the node's local clock, which may be offset from, or drift against, other
 * nodes' clocks, and may jump.
 */
export interface Machine<M extends Message, Req, Rep> {
  step(input: Input<M, Req>, nowMs: number): Effect<M, Rep>[];
}

/** Everything a host needs to build a node. The PRNG is seeded by the host, one stream per node. */
export interface MachineInit<Config> {
  readonly id: NodeId;
  /** Every node of the deployment, in a stable order (hosts may add nodes later through messages). */
  readonly peers: readonly NodeId[];
  readonly config: Config;
  readonly rng: Prng;
}

export function assertNever(value: never, what = "value"): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}

/**
 * Programmer errors crash; operating errors (bad peer input) are handled where they arise.
 * A template-literal message is built on every call, so on a hot path write
 * `if (!cond) assert(false, `…`)` instead.
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
