// The event list: the events that pass the search and filters, a bounded window of them around
// the current time, the current one highlighted. Clicking an event moves time to it.

import * as d3 from "d3";
import { describe, isKeyEvent } from "../../model/events.js";
import { formatMs } from "../../model/layout.js";
import type { Ev } from "../../model/trace.js";
import type { Frame } from "../frame.js";

/** Rows drawn on each side of the current event. */
const ROWS_AROUND = 80;

/** How many of `indices` (event indices, in order) are at or before `t`. */
function position(events: readonly Ev[], indices: readonly number[], t: number): number {
  let lo = 0;
  let hi = indices.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((events[indices[mid] as number] as Ev).t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Row height in px; style.css gives every row exactly this height, so no row is measured. */
const ROW_PX = 18;

/** What the list shows last: unchanged filter and position means nothing to redraw. */
const shownFor = new WeakMap<HTMLOListElement, string>();

export function renderEvents(list: HTMLOListElement, count: HTMLElement, f: Frame, indices: readonly number[], filterKey: string): void {
  const events = f.model.trace.events;
  const pos = position(events, indices, f.view.t);
  const key = `${filterKey}@${pos}`;
  if (shownFor.get(list) === key) return;
  shownFor.set(list, key);
  const from = Math.max(0, pos - ROWS_AROUND);
  const shown = indices.slice(from, Math.min(indices.length, pos + ROWS_AROUND)).map((i) => events[i] as Ev);
  count.textContent = `${indices.length.toLocaleString("en")} of ${events.length.toLocaleString("en")} events`;
  const current = pos > 0 ? indices[pos - 1] : undefined;
  const rows = d3
    .select(list)
    .selectAll<HTMLLIElement, Ev>("li")
    .data(shown, (e) => String(e.i))
    .join((enter) => {
      const li = enter.append("li").attr("data-testid", "event");
      li.attr("data-type", (e) => e.type)
        .attr("data-node", (e) => e.node ?? "")
        .classed("key", (e) => isKeyEvent(e))
        .on("click", (_ev, e) => {
          f.seek(e.t);
          if (e.node !== null && f.model.trace.nodes.includes(e.node)) f.select(e.node);
        });
      li.append("span").attr("class", "t").text((e) => formatMs(e.t - f.model.trace.t0));
      li.append("span").attr("class", "n").text((e) => f.label(e.node));
      li.append("span").attr("class", "ty").text((e) => e.type);
      li.append("span").attr("class", "d").text((e) => describe(e));
      return li;
    })
    .classed("current", (e) => e.i === current)
    .classed("future", (e) => e.t > f.view.t);
  rows.order();
  list.scrollTop = (pos - 1 - from) * ROW_PX - f.size(list).height / 2;
}
