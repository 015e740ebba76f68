// What every panel needs for one frame, derived once per frame from the model and the view.

import type { Model } from "../model/model.js";
import { shards, type Shard } from "../model/layout.js";
import type { ClusterState } from "../model/state.js";
import { summarize, type NodeSummary } from "../model/views.js";
import type { View } from "./view.js";

export interface Palette {
  readonly node: (id: string | null) => string;
  readonly type: (type: string) => string;
}

export interface Frame {
  readonly model: Model;
  readonly view: View;
  readonly palette: Palette;
  /** A node's short label (its id without the address all nodes share). */
  readonly label: (id: string | null) => string;
  /** The state at `view.t` (owned by the replayer: read only, this frame only). */
  readonly state: ClusterState;
  readonly summaries: ReadonlyMap<string, NodeSummary>;
  readonly shards: readonly Shard[];
  /** Trace ms of message history the map shows behind the current time. */
  readonly trailMs: number;
  /**
   * An element's size, measured once at the start of the frame before any panel writes to the
   * DOM: reading layout after a write forces the browser to lay the page out again.
   */
  readonly size: (el: Element) => { readonly width: number; readonly height: number };
  /** Called by a panel to move time or select; the controller redraws. */
  readonly seek: (t: number) => void;
  readonly select: (node: string | null) => void;
}

export type Sizes = ReadonlyMap<Element, { readonly width: number; readonly height: number }>;

export function makeFrame(model: Model, view: View, palette: Palette, labels: ReadonlyMap<string, string>, sizes: Sizes, seek: (t: number) => void, select: (node: string | null) => void): Frame {
  const state = model.replayer.seekTime(view.t);
  const summaries = new Map<string, NodeSummary>();
  for (const id of state.nodes.keys()) summaries.set(id, summarize(state, id));
  // About a fifth of a second of playback, so arrows stay on screen long enough to be seen.
  const trailMs = Math.max(2, view.speed * 0.2);
  const size = (el: Element): { width: number; height: number } => sizes.get(el) ?? { width: el.clientWidth, height: el.clientHeight };
  const label = (id: string | null): string => (id === null ? "world" : (labels.get(id) ?? id));
  return { model, view, palette, label, state, summaries, shards: shards(state, model.trace.nodes), trailMs, size, seek, select };
}
