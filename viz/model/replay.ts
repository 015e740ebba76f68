// State at any point of the trace, as RaftScope's `seek(t)` does it: one pass at load keeps a
// copy of the state every `interval` events (a checkpoint); a seek starts from the checkpoint at
// or before the target and applies the events since, so it costs at most `interval` events,
// wherever it lands. Playing forward continues from the last answer instead.

import { applyEvent, cloneState, emptyState, type ClusterState } from "./state.js";
import { countAtOrBefore, type Trace } from "./trace.js";

/** Checkpoint spacing: more nodes make a copy dearer, so they are spaced further apart. */
export function checkpointInterval(nodes: number): number {
  return Math.max(2048, nodes * 64);
}

export class Replayer {
  readonly interval: number;
  /** checkpoints[k] is the state after the first k × interval events. */
  private readonly checkpoints: ClusterState[] = [];
  /** The last answer, reused when the next seek is a little later (playing). */
  private cursor: ClusterState;
  /** Events applied by the last seek, so tests can hold it to its bound. */
  lastSeekCost = 0;

  constructor(
    readonly trace: Trace,
    interval = checkpointInterval(trace.nodes.length),
  ) {
    if (!Number.isInteger(interval) || interval < 1) throw new Error(`checkpoint interval must be a positive integer, not ${interval}`);
    this.interval = interval;
    const s = emptyState(trace.nodes);
    this.checkpoints.push(cloneState(s));
    const events = trace.events;
    for (let i = 0; i < events.length; i++) {
      applyEvent(s, events[i] as (typeof events)[number]);
      if ((i + 1) % interval === 0) this.checkpoints.push(cloneState(s));
    }
    this.cursor = cloneState(this.checkpoints[0] as ClusterState);
  }

  get checkpointCount(): number {
    return this.checkpoints.length;
  }

  /**
   * The state after the first `count` events. The answer is the replayer's own: read it, do not
   * change it or keep it past the next seek (clone it to keep it).
   */
  seekIndex(count: number): ClusterState {
    const target = Math.max(0, Math.min(count, this.trace.events.length));
    const k = Math.floor(target / this.interval);
    const fromCursor = this.cursor.applied <= target && this.cursor.applied >= k * this.interval;
    if (!fromCursor) this.cursor = cloneState(this.checkpoints[k] as ClusterState);
    const start = this.cursor.applied;
    const events = this.trace.events;
    for (let i = start; i < target; i++) applyEvent(this.cursor, events[i] as (typeof events)[number]);
    this.lastSeekCost = target - start;
    return this.cursor;
  }

  /** The state at time `t`: after every event at or before `t`. */
  seekTime(t: number): ClusterState {
    return this.seekIndex(countAtOrBefore(this.trace.events, t));
  }
}
