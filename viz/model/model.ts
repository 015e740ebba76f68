// Everything the page derives from a trace once, at load: the merged events, the checkpoints,
// the message pairs, the client history and the key events.

import { clientHistory, type ClientOp, type Finding } from "./clients.js";
import { keyEventIndices } from "./events.js";
import { laneOrder, shards } from "./layout.js";
import { MessageIndex } from "./messages.js";
import { Replayer } from "./replay.js";
import type { ClusterState } from "./state.js";
import { loadTrace, type Trace, type TraceInput } from "./trace.js";

export interface Model {
  readonly trace: Trace;
  readonly replayer: Replayer;
  readonly messages: MessageIndex;
  readonly ops: readonly ClientOp[];
  readonly keyEvents: readonly number[];
  readonly findings: readonly Finding[];
  /** Lanes of the space-time diagram, fixed for the whole trace (see `stableLanes`). */
  readonly lanes: readonly string[];
  readonly startT: number;
  readonly endT: number;
  /** Whether the trace says anything about slots (Redis Cluster does; Raft does not). */
  readonly hasSlots: boolean;
}

const SLOT_EVENTS = new Set(["claim", "slots-owner", "slot-assigned"]);

export function buildModel(inputs: readonly TraceInput[], findings: readonly Finding[] = [], interval?: number): Model {
  const trace = loadTrace(inputs);
  const replayer = interval === undefined ? new Replayer(trace) : new Replayer(trace, interval);
  const keyEvents = keyEventIndices(trace.events);
  const startT = trace.events[0]?.t ?? 0;
  const endT = Math.max(trace.events.at(-1)?.t ?? 0, typeof trace.end?.["t"] === "number" ? trace.end["t"] : 0);
  const lanes = stableLanes(trace, replayer, keyEvents);
  const hasSlots = trace.events.some((e) => SLOT_EVENTS.has(e.type));
  return { trace, replayer, messages: new MessageIndex(trace), ops: clientHistory(trace), keyEvents, findings, lanes, startT, endT, hasSlots };
}

/**
 * Lanes must not move while the user scrubs, so they follow the shards as they stood just before
 * the first fault (the cluster as it was built), or at the end of a trace without faults.
 */
function stableLanes(trace: Trace, replayer: Replayer, keyEvents: readonly number[]): string[] {
  const firstFault = keyEvents.find((i) => trace.events[i]?.type === "fault");
  const state: ClusterState = replayer.seekIndex(firstFault ?? trace.events.length);
  return laneOrder(shards(state, trace.nodes), trace.clients);
}
