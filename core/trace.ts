// The trace format shared by the simulator, real nodes and the viewer.
//
// JSON Lines. The first line is a header (`{"v":1,"type":"header",...}`); every other line is an
// event with the time in ms (simulated or wall), the node it happened on (absent for events of
// the world itself, such as a partition) and a type. Field order is fixed by the code that builds
// the event, so the same run always prints the same bytes.

export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

export const TRACE_VERSION = 1;

/** An event a machine emits through a `trace` effect; the host adds `t` and `node`. */
export interface TraceEvent {
  readonly type: string;
  readonly [field: string]: Json;
}

/** How much a trace records. Each level includes the ones before it. */
export const TRACE_DETAILS = ["events", "messages", "full"] as const;
export type TraceDetail = (typeof TRACE_DETAILS)[number];

/**
 * - `events`: faults, protocol events the machines emit (state, pfail, vote, ...), client operations.
 *   Small enough for 1000-node runs.
 * - `messages`: also every send/recv/drop with message type and id (the viewer's arrows).
 * - `full`: also message bodies and timer firings.
 */
export function detailIncludes(level: TraceDetail, wanted: TraceDetail): boolean {
  return TRACE_DETAILS.indexOf(level) >= TRACE_DETAILS.indexOf(wanted);
}

export interface TraceHeader {
  readonly v: typeof TRACE_VERSION;
  readonly type: "header";
  readonly tool: string;
  readonly version: string;
  readonly machine: string;
  readonly nodes: readonly string[];
  readonly seed: number;
  readonly detail: TraceDetail;
  /** The scenario file's base name and full text, so a trace can be replayed without the file. */
  readonly scenario: { readonly file: string; readonly name: string; readonly source: string };
}

/** Why a message did not arrive. */
export type DropReason =
  | "partition"
  | "loss"
  | "crashed"
  | "paused-overflow"
  | "link-reset"
  | "unknown-destination";

/** Event types the hosts themselves write (machines add their own: state, pfail, vote, ...). */
export type FaultAction =
  | "crash"
  | "restart"
  | "pause"
  | "resume"
  | "wipe"
  | "partition"
  | "heal"
  | "clog"
  | "unclog"
  | "network"
  | "clock"
  | "disk"
  | "liveness";

/** Client operation phases, as history checkers (Jepsen, Knossos) expect them. */
export type ClientPhase = "invoke" | "ok" | "fail" | "info";
