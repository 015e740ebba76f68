// The slot bar: 0–16383 coloured by owner. With no node selected it shows the masters' claims
// resolved by configEpoch (hatched where an older claim still covers the range: a crashed or
// partitioned master that has not learned it lost them); with a node selected, that node's view.

import * as d3 from "d3";
import { SLOTS } from "../../model/slots.js";
import { slotBar, slotViewBar, type SlotSegment } from "../../model/views.js";
import type { Frame } from "../frame.js";

export function renderSlotBar(svgEl: SVGSVGElement, label: HTMLElement, f: Frame): void {
  const { width: w, height: h } = f.size(svgEl);
  const width = w || 600;
  const height = h || 28;
  const svg = d3.select(svgEl).attr("viewBox", `0 0 ${width} ${height}`);
  const selected = f.view.selected === null ? undefined : f.state.nodes.get(f.view.selected);
  const segments = selected === undefined ? slotBar(f.state) : slotViewBar(selected);
  label.textContent = selected === undefined ? "slots 0–16383 by owner (highest configEpoch claim)" : `slots 0–16383 as ${selected.id} sees them`;
  const x = d3.scaleLinear().domain([0, SLOTS]).range([0, width]);
  svg
    .selectAll<SVGRectElement, SlotSegment>("rect.seg")
    .data(segments, (s) => `${s.lo}`)
    .join((enter) => enter.append("rect").attr("class", "seg").attr("data-testid", "slot-segment").call((r) => r.append("title")))
    .attr("x", (s) => x(s.lo))
    .attr("width", (s) => Math.max(1, x(s.hi + 1) - x(s.lo)))
    .attr("y", 0)
    .attr("height", height - 10)
    .attr("fill", (s) => f.palette.node(s.owner))
    .attr("data-owner", (s) => s.owner ?? "")
    .attr("data-lo", (s) => s.lo)
    .attr("data-hi", (s) => s.hi)
    .classed("contested", (s) => s.contested)
    .select("title")
    .text((s) => `${s.lo}–${s.hi}: ${s.owner ?? "unassigned"}${s.epoch === null ? "" : ` (configEpoch ${s.epoch})`}${s.contested ? ", an older claim remains" : ""}`);
  svg
    .selectAll<SVGTextElement, SlotSegment>("text.seg-label")
    .data(
      segments.filter((s) => x(s.hi + 1) - x(s.lo) > 40 && s.owner !== null),
      (s) => `${s.lo}`,
    )
    .join("text")
    .attr("class", "seg-label")
    .attr("x", (s) => x(s.lo) + 4)
    .attr("y", (height - 10) / 2)
    .attr("dy", "0.35em")
    .text((s) => `${f.label(s.owner)}${s.epoch === null ? "" : ` e${s.epoch}`}`);
}
