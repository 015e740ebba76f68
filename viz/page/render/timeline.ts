// The timeline: play/pause, speed, the scrubber with a tick per key event, the time, and the
// latest key event at or before it.

import * as d3 from "d3";
import { describe, previousKeyEvent } from "../../model/events.js";
import { formatMs } from "../../model/layout.js";
import type { Ev } from "../../model/trace.js";
import type { Frame } from "../frame.js";

export interface TimelineEls {
  readonly play: HTMLButtonElement;
  readonly scrubber: HTMLInputElement;
  readonly ticks: SVGSVGElement;
  readonly time: HTMLElement;
  readonly keyLabel: HTMLElement;
}

/** Scrubber positions run 0..SCRUB_MAX. */
export const SCRUB_MAX = 1000;

export function renderTimeline(els: TimelineEls, f: Frame): void {
  const { startT, endT } = f.model;
  const span = Math.max(1e-9, endT - startT);
  els.play.textContent = f.view.playing ? "⏸" : "▶";
  els.play.setAttribute("data-playing", String(f.view.playing));
  if (document.activeElement !== els.scrubber) els.scrubber.value = String(((f.view.t - startT) / span) * SCRUB_MAX);
  els.time.textContent = `${formatMs(f.view.t - f.model.trace.t0)} / ${formatMs(endT - f.model.trace.t0)}`;
  els.time.setAttribute("data-t", String(f.view.t));
  const events = f.model.trace.events;
  const last = previousKeyEvent(events, f.model.keyEvents, f.view.t + 1e-9);
  els.keyLabel.textContent = last === null ? "" : `${formatMs(last.t - f.model.trace.t0)} ${f.label(last.node)} ${last.type} ${describe(last)}`;
}

/** Drawn once: one tick per key event (faults taller), clickable. */
export function renderKeyTicks(svgEl: SVGSVGElement, f: Frame): void {
  const width = f.size(svgEl).width || 600;
  const x = d3.scaleLinear().domain([f.model.startT, f.model.endT]).range([8, width - 8]);
  const events = f.model.trace.events;
  d3.select(svgEl)
    .attr("viewBox", `0 0 ${width} 12`)
    .selectAll<SVGLineElement, number>("line")
    .data(f.model.keyEvents)
    .join((enter) => enter.append("line").call((l) => l.append("title")))
    .attr("class", (i) => `tick ${(events[i] as Ev).type}`)
    .attr("x1", (i) => x((events[i] as Ev).t))
    .attr("x2", (i) => x((events[i] as Ev).t))
    .attr("y1", (i) => ((events[i] as Ev).type === "fault" ? 0 : 4))
    .attr("y2", 12)
    .on("click", (_ev, i) => f.seek((events[i] as Ev).t))
    .select("title")
    .text((i) => `${(events[i] as Ev).node ?? "world"} ${(events[i] as Ev).type} ${describe(events[i] as Ev)}`);
}

export function renderToggles(el: HTMLElement, f: Frame, onToggle: (type: string, shown: boolean) => void): void {
  const types = [...f.model.messages.types];
  d3.select(el)
    .selectAll<HTMLLabelElement, [string, number]>("label")
    .data(types, (d) => d[0])
    .join((enter) => {
      const l = enter.append("label").attr("class", "toggle");
      l.append("input").attr("type", "checkbox").attr("data-testid", (d) => `toggle-${d[0]}`);
      l.append("span").attr("class", "swatch");
      l.append("span").attr("class", "name");
      return l;
    })
    .call((l) => l.select("span.swatch").style("background", (d) => f.palette.type(d[0])))
    .call((l) => l.select("span.name").text((d) => `${d[0]} (${d[1].toLocaleString("en")})`))
    .select<HTMLInputElement>("input")
    .property("checked", (d) => !f.view.hiddenTypes.has(d[0]))
    .on("change", function (_ev, d) {
      onToggle(d[0], this.checked);
    });
  if (types.length === 0) {
    el.textContent =
      f.model.trace.header.tool === "faultline-sim" ? 'This trace has no messages: it was written at detail "events" (sim run --detail messages adds them).' : "Real nodes' logs do not record messages: the map and lanes show their events only.";
  }
}
