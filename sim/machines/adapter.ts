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
}

/** How generic simulated clients talk to this protocol. */
export interface WorkloadModel {
  readonly description: string;
  /** The next request a client sends. */
  request(rng: Stream, client: string, opIndex: number): Json;
  /** A reply as the trace records it (replies that are not JSON, such as RESP values with bytes). */
  toJson?(reply: unknown): Json;
  /** Classifies a reply (as toJson made it): ok, a definite failure, or a redirect to another node (then retried). */
  classify(reply: Json): { readonly outcome: "ok" | "fail" } | { readonly outcome: "redirect"; readonly to: NodeId | null };
}

/** A figure the run summary prints (not a pass/fail verdict), such as writes lost to a failover. */
export interface RunReporter {
  readonly name: string;
  onTrace?(line: TraceLine): void;
  /** At the end of the run: a sentence for the summary and figures for --json. */
  report(view: ClusterView): { readonly text: string; readonly figures: Readonly<Record<string, Json>> };
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
}
