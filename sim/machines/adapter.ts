// How the simulator knows a protocol: the declared inspection hooks between sim/ and a machine.
//
// Checkers and expectations see nodes only through `observe` (a few named fields per node) and
// the adapter's own invariant checkers; they never reach into machine internals otherwise.

import type { z } from "zod";
import type { Machine, MachineInit, Message, NodeId } from "../../core/machine.js";
import type { Json } from "../../core/trace.js";
import type { Stream } from "../engine/random.js";

export type AnyMachine = Machine<Message, unknown, unknown>;
export type NodeStatus = "up" | "crashed" | "paused";

/** A node's observable state: the adapter's fields plus `status`, which the host adds. */
export type Observation = Readonly<Record<string, Json>>;

export interface ObservationField {
  readonly name: string;
  readonly type: "string" | "number" | "boolean";
  readonly nullable?: boolean;
  /** For enumerations: the values a scenario may compare against (typos are caught at load). */
  readonly values?: readonly string[];
  readonly doc: string;
}

/** A read-only view of the cluster for predicates, checkers and convergence tests. */
export interface ClusterView {
  readonly nodes: readonly NodeId[];
  status(node: NodeId): NodeStatus;
  observation(node: NodeId): Observation;
  /** The live machine, for adapter-owned inspection hooks only; null while crashed. */
  machine(node: NodeId): AnyMachine | null;
}

/** One event line as written to the trace (time in ms, node, type, fields). */
export interface TraceLine {
  readonly t: number;
  readonly node?: string;
  readonly type: string;
  readonly [field: string]: Json | undefined;
}

/** A safety property checked at every step. A returned string is the violation, in a sentence. */
export interface InvariantChecker {
  readonly name: string;
  readonly description: string;
  onTrace?(line: TraceLine): string | null;
  afterStep?(node: NodeId, view: ClusterView): string | null;
  /** Properties of the whole run (what survived), judged once at its end. */
  atEnd?(view: ClusterView): string | null;
}

/** What a client does with a reply. */
export type Verdict =
  | { readonly outcome: "ok" | "fail" }
  /** Send it again to `to` (null: anyone). `moved`: the slot has a new home (update the map); `asking`: a one-off (ASK). */
  | { readonly outcome: "redirect"; readonly to: NodeId | null; readonly slot?: number; readonly moved?: boolean; readonly asking?: boolean }
  /** Send it again after a pause (CLUSTERDOWN, TRYAGAIN). */
  | { readonly outcome: "retry"; readonly delayMs: number };

/** How generic simulated clients talk to this protocol. */
export interface WorkloadModel {
  readonly description: string;
  /** The workloads it offers, by name, each with a line of description; the first is the default. */
  readonly kinds: Readonly<Record<string, string>>;
  /** The next request a client sends (keyless requests go to the node the client last used). */
  request(rng: Stream, client: string, opIndex: number, kind: string): Json;
  /** A pushed message (pub/sub) reached a client: what to trace, or null to ignore it. */
  onPush?(client: string, value: unknown): Json | null;
  /** A reply as the trace records it (replies that are not JSON, such as RESP values with bytes). */
  toJson?(reply: unknown): Json;
  /** Classifies a reply (as toJson made it): ok, a definite failure, a redirect or a retry. */
  classify(reply: Json): Verdict;
  /**
   * Cluster-aware clients (as ioredis's Cluster): requests go to the node a slot map names, MOVED
   * updates the map and triggers a refresh, ASK is followed once with `asking(req)`.
   */
  readonly routing?: {
    /** The slot a request's key hashes to; null: any node will do. */
    slotOf(req: Json): number | null;
    /** The request as sent right after ASKING. */
    asking(req: Json): Json;
    /** The request that fetches the slot map (CLUSTER SLOTS) and how to read its reply. */
    readonly mapRequest: Json;
    parseMap(reply: Json): readonly { readonly from: number; readonly to: number; readonly node: NodeId }[] | null;
  };
}

/** A figure the run summary prints (not a pass/fail verdict), such as writes lost to a failover. */
export interface RunReporter {
  readonly name: string;
  onTrace?(line: TraceLine): void;
  /** At the end of the run: a sentence for the summary and figures for --json. */
  report(view: ClusterView): { readonly text: string; readonly figures: Readonly<Record<string, Json>> };
}

/** What an operator task may do: send requests as the "operator" client and trace what it did. */
export interface OperatorIO {
  readonly nodes: readonly NodeId[];
  /** Sends a request; `onReply` gets the reply (as the workload's toJson makes it), or null if none came within `timeoutMs`. */
  request(node: NodeId, req: Json, onReply: (reply: Json | null) => void, timeoutMs?: number): void;
  emit(node: NodeId | null, event: Record<string, Json> & { readonly type: string }): void;
}

/** A scripted task an operator runs against the nodes (a resharding, say), started from the timeline. */
export interface Operator {
  readonly description: string;
  /** Why these arguments will not do (checked when the scenario loads), or null. */
  check(args: Readonly<Record<string, Json>>, nodes: readonly NodeId[]): string | null;
  run(args: Readonly<Record<string, Json>>, io: OperatorIO): void;
}

export interface MachineAdapter<Config = unknown> {
  readonly name: string;
  readonly summary: string;
  /** Validates and fills defaults for the scenario's `config` section. */
  readonly configSchema: z.ZodType<Config>;
  readonly observation: readonly ObservationField[];
  /** Trace event types worth a line in the run summary's timeline. */
  readonly keyEvents: readonly string[];
  create(init: MachineInit<Config>): AnyMachine;
  observe(machine: AnyMachine): Observation;
  /** Fresh checker instances for one run. */
  invariants(): InvariantChecker[];
  /** Null when the live nodes agree and the protocol is healthy; otherwise why not, in a phrase. */
  converged(view: ClusterView): string | null;
  readonly workload?: WorkloadModel;
  /** Fresh reporters for one run. */
  reporters?(): RunReporter[];
  /** Scripted operator tasks the timeline can start (`operate:`). */
  readonly operators?: Readonly<Record<string, Operator>>;
}
