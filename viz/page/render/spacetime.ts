// The space-time diagram (one lane per node, time left to right, messages as arrows between lanes,
// events as marks) and the client history under it, sharing one zoomable time axis. Only what
// falls in the visible window is drawn, and at most a bounded number of arrows and marks.

import * as d3 from "d3";
import type { ClientOp } from "../../model/clients.js";
import { describe, isKeyEvent, type Outage } from "../../model/events.js";
import { formatMs } from "../../model/layout.js";
import type { Message } from "../../model/messages.js";
import { countAtOrBefore, type Ev } from "../../model/trace.js";
import { DROP_COLOR, OUTCOME_FILL } from "../colors.js";
import type { Frame } from "../frame.js";

const MARGIN_LEFT = 70;
const MARGIN_RIGHT = 12;
const AXIS_H = 22;
const LANE_H = 22;
const ARROWS_MAX = 1500;
/** Below this many events in the window every event gets a mark; above it only key events. */
const MARKS_ALL_MAX = 1500;
const OPS_MAX = 3000;

export interface TimeAxis {
  /** The visible window's scale: trace ms → px. */
  readonly x: d3.ScaleLinear<number, number>;
  readonly width: number;
}

export function timeAxis(svgEl: SVGSVGElement, f: Frame): TimeAxis {
  const width = f.size(svgEl).width || 900;
  const [t0, t1] = f.view.window ?? [f.model.startT, f.model.endT];
  const x = d3.scaleLinear().domain([t0, Math.max(t1, t0 + 1e-3)]).range([MARGIN_LEFT, width - MARGIN_RIGHT]);
  return { x, width };
}

function fullScale(svg: SVGSVGElement, f: Frame): d3.ScaleLinear<number, number> {
  return d3.scaleLinear().domain([f.model.startT, f.model.endT]).range([MARGIN_LEFT, (f.size(svg).width || 900) - MARGIN_RIGHT]);
}

/**
 * What a diagram's content depends on besides time: when it has not changed, only the cursor
 * (and the lane labels) move, so playing costs little however much is drawn.
 */
const drawnFor = new WeakMap<SVGSVGElement, string>();

function unchanged(svgEl: SVGSVGElement, key: string): boolean {
  if (drawnFor.get(svgEl) === key) return true;
  drawnFor.set(svgEl, key);
  return false;
}

function contentKey(f: Frame, width: number): string {
  return JSON.stringify([f.view.window, width, [...f.view.hiddenTypes].sort()]);
}

/**
 * Wheel and drag on either diagram change `view.window` through `onWindow`. The returned function
 * puts each diagram's zoom transform in step with the window (after the other diagram zoomed, or
 * the window came from the URL or was reset), so the next gesture starts from what is shown.
 */
export function attachZoom(svgs: readonly SVGSVGElement[], frame: () => Frame, onWindow: (w: [number, number] | null) => void): (f: Frame) => void {
  for (const s of svgs) {
    const zoom = d3
      .zoom<SVGSVGElement, unknown>()
      .scaleExtent([1, 1e7])
      .on("zoom", (ev: d3.D3ZoomEvent<SVGSVGElement, unknown>) => {
        if (ev.sourceEvent === null) return;
        const [w0, w1] = ev.transform.rescaleX(fullScale(s, frame())).domain() as [number, number];
        onWindow(ev.transform.k <= 1 ? null : [w0, w1]);
      });
    d3.select(s).call(zoom).on("dblclick.zoom", null);
  }
  return (f: Frame): void => {
    const [a, b] = [f.model.startT, f.model.endT];
    const [w0, w1] = f.view.window ?? [a, b];
    for (const s of svgs) {
      const k = (b - a) / Math.max(1e-9, w1 - w0);
      d3.select(s).property("__zoom", d3.zoomIdentity.translate(MARGIN_LEFT - k * fullScale(s, f)(w0), 0).scale(k));
    }
  };
}

export function renderSpaceTime(svgEl: SVGSVGElement, f: Frame, lanes: readonly string[], outages: readonly Outage[]): void {
  const { x, width } = timeAxis(svgEl, f);
  const height = AXIS_H + lanes.length * LANE_H + 6;
  const svg = d3.select(svgEl).attr("viewBox", `0 0 ${width} ${height}`).style("height", `${height}px`);
  const y = new Map(lanes.map((id, k) => [id, AXIS_H + k * LANE_H + LANE_H / 2]));
  const [t0, t1] = x.domain() as [number, number];

  drawLanes(layer(svg, "lanes"), lanes, y, width, f);
  if (!unchanged(svgEl, contentKey(f, width))) {
    // Ticks at round times since the trace's zero (a log's zero is its first wall-clock ms).
    const shown = x.copy().domain([t0 - f.model.trace.t0, t1 - f.model.trace.t0]);
    layer(svg, "axis").attr("transform", `translate(0,${AXIS_H - 2})`).call(d3.axisTop(shown).ticks(Math.max(2, Math.floor(width / 110))).tickFormat((d) => formatMs(Number(d))));
    drawOutages(layer(svg, "outages"), outages.filter((o) => o.to >= t0 && o.from <= t1), x, y);
    drawMessages(layer(svg, "messages"), f, x, y, t0, t1);
    drawMarks(layer(svg, "marks"), f, x, y, t0, t1);
  }
  drawCursor(layer(svg, "cursor"), x(f.view.t), AXIS_H, height);
  svg.on("click", (ev: MouseEvent) => {
    const [px] = d3.pointer(ev, svgEl);
    if (px >= MARGIN_LEFT) f.seek(x.invert(px));
  });
}

function layer(svg: d3.Selection<SVGSVGElement, unknown, null, undefined>, name: string): d3.Selection<SVGGElement, unknown, null, undefined> {
  const g = svg.select<SVGGElement>(`g.${name}`);
  return g.empty() ? svg.append("g").attr("class", name) : g;
}

function drawLanes(g: d3.Selection<SVGGElement, unknown, null, undefined>, lanes: readonly string[], y: ReadonlyMap<string, number>, width: number, f: Frame): void {
  const lane = g
    .selectAll<SVGGElement, string>("g.lane")
    .data(lanes, (d) => d)
    .join((enter) => {
      const e = enter.append("g").attr("class", "lane").attr("data-testid", "lane");
      e.append("line");
      e.append("text").attr("x", 6).attr("dy", "0.35em");
      return e;
    })
    .attr("data-node", (d) => d)
    .classed("selected", (d) => d === f.view.selected);
  lane.select("line").attr("x1", MARGIN_LEFT).attr("x2", width - MARGIN_RIGHT).attr("y1", (d) => y.get(d) ?? 0).attr("y2", (d) => y.get(d) ?? 0);
  lane
    .select("text")
    .attr("y", (d) => y.get(d) ?? 0)
    .text((d) => `${f.label(d)} ${f.summaries.get(d)?.role?.slice(0, 1) ?? ""}`)
    .on("click", (ev: MouseEvent, d) => {
      ev.stopPropagation();
      f.select(f.view.selected === d ? null : d);
    });
}

function drawOutages(g: d3.Selection<SVGGElement, unknown, null, undefined>, list: readonly Outage[], x: d3.ScaleLinear<number, number>, y: ReadonlyMap<string, number>): void {
  const [r0, r1] = x.range() as [number, number];
  g.selectAll<SVGRectElement, Outage>("rect")
    .data(
      list.filter((o) => y.has(o.node)),
      (o) => `${o.node}@${o.from}`,
    )
    .join("rect")
    .attr("class", (o) => `outage ${o.kind}`)
    .attr("x", (o) => Math.max(r0, x(o.from)))
    .attr("width", (o) => Math.max(1, Math.min(r1, x(o.to)) - Math.max(r0, x(o.from))))
    .attr("y", (o) => (y.get(o.node) ?? 0) - LANE_H / 2 + 3)
    .attr("height", LANE_H - 6);
}

function drawMessages(g: d3.Selection<SVGGElement, unknown, null, undefined>, f: Frame, x: d3.ScaleLinear<number, number>, y: ReadonlyMap<string, number>, t0: number, t1: number): void {
  const all = f.model.messages.between(t0, t1, (type) => !f.view.hiddenTypes.has(type)).filter((m) => y.has(m.from) && y.has(m.to));
  const every = Math.ceil(all.length / ARROWS_MAX);
  const shown = every <= 1 ? all : all.filter((_m, k) => k % every === 0);
  g.attr("data-sampled", every > 1 ? `1 in ${every} of ${all.length}` : null);
  g.selectAll<SVGLineElement, Message>("line")
    .data(shown, (m) => m.key)
    .join((enter) => enter.append("line").attr("data-testid", "st-arrow"))
    .attr("data-msg-type", (m) => m.type)
    .attr("data-outcome", (m) => m.outcome)
    .attr("x1", (m) => x(m.sendT))
    .attr("y1", (m) => y.get(m.from) ?? 0)
    .attr("x2", (m) => x(m.endT))
    .attr("y2", (m) => (m.outcome === "drop" ? ((y.get(m.from) ?? 0) + (y.get(m.to) ?? 0)) / 2 : (y.get(m.to) ?? 0)))
    .attr("stroke", (m) => (m.outcome === "drop" ? DROP_COLOR : f.palette.type(m.type)))
    .attr("stroke-dasharray", (m) => (m.outcome === "drop" ? "3 2" : null))
    .attr("marker-end", (m) => (m.outcome === "drop" ? null : "url(#arrowhead)"));
  ensureArrowhead(g);
}

function ensureArrowhead(g: d3.Selection<SVGGElement, unknown, null, undefined>): void {
  const svg = d3.select(g.node()?.ownerSVGElement ?? null);
  if (svg.empty() || !svg.select("#arrowhead").empty()) return;
  svg
    .append("defs")
    .append("marker")
    .attr("id", "arrowhead")
    .attr("viewBox", "0 0 6 6")
    .attr("refX", 6)
    .attr("refY", 3)
    .attr("markerWidth", 5)
    .attr("markerHeight", 5)
    .attr("orient", "auto")
    .append("path")
    .attr("d", "M0,0 L6,3 L0,6 z")
    .attr("fill", "#718096");
}

function drawMarks(g: d3.Selection<SVGGElement, unknown, null, undefined>, f: Frame, x: d3.ScaleLinear<number, number>, y: ReadonlyMap<string, number>, t0: number, t1: number): void {
  const events = f.model.trace.events;
  const lo = countAtOrBefore(events, t0 - 1e-9);
  const hi = countAtOrBefore(events, t1);
  const all = hi - lo <= MARKS_ALL_MAX;
  const marks: Ev[] = [];
  if (all) {
    for (let i = lo; i < hi; i++) {
      const e = events[i] as Ev;
      if (e.type !== "send" && e.type !== "recv" && e.type !== "drop" && e.node !== null && y.has(e.node)) marks.push(e);
    }
  } else {
    for (const i of f.model.keyEvents) {
      const e = events[i] as Ev;
      if (e.t >= t0 && e.t <= t1 && e.node !== null && y.has(e.node)) marks.push(e);
    }
  }
  g.selectAll<SVGPathElement, Ev>("path")
    .data(marks, (e) => String(e.i))
    .join((enter) => enter.append("path").attr("data-testid", "mark").call((p) => p.append("title")))
    .attr("class", (e) => (isKeyEvent(e) ? "mark key" : "mark"))
    .attr("data-type", (e) => e.type)
    .attr("d", (e) => d3.symbol(isKeyEvent(e) ? d3.symbolDiamond : d3.symbolCircle, isKeyEvent(e) ? 60 : 12)())
    .attr("transform", (e) => `translate(${x(e.t)},${y.get(e.node ?? "") ?? 0})`)
    .on("click", (ev: MouseEvent, e) => {
      ev.stopPropagation();
      f.seek(e.t);
    })
    .select("title")
    .text((e) => `${formatMs(e.t - f.model.trace.t0)} ${f.label(e.node)} ${e.type} ${describe(e)}`);
}

function drawCursor(g: d3.Selection<SVGGElement, unknown, null, undefined>, px: number, top: number, bottom: number): void {
  g.selectAll("line").data([px]).join("line").attr("data-testid", "cursor").attr("x1", px).attr("x2", px).attr("y1", top - 4).attr("y2", bottom);
}

export function renderHistory(svgEl: SVGSVGElement, f: Frame): void {
  const { x, width } = timeAxis(svgEl, f);
  const clients = f.model.trace.clients;
  const height = Math.max(30, clients.length * LANE_H + 8);
  const svg = d3.select(svgEl).attr("viewBox", `0 0 ${width} ${height}`).style("height", `${height}px`);
  const y = new Map(clients.map((c, k) => [c, 4 + k * LANE_H]));
  const [t0, t1] = x.domain() as [number, number];
  drawCursor(layer(svg, "cursor"), x(f.view.t), 0, height);
  svg.on("click", (ev: MouseEvent) => {
    const [px] = d3.pointer(ev, svgEl);
    if (px >= MARGIN_LEFT) f.seek(x.invert(px));
  });
  if (unchanged(svgEl, contentKey(f, width))) return;
  const end = f.model.endT;
  const visible = f.model.ops.filter((o) => o.invokeT <= t1 && (o.endT ?? end) >= t0);
  const every = Math.ceil(visible.length / OPS_MAX);
  const ops = every <= 1 ? visible : visible.filter((_o, k) => k % every === 0);
  layer(svg, "client-labels")
    .selectAll<SVGTextElement, string>("text")
    .data(clients, (c) => c)
    .join("text")
    .attr("x", 6)
    .attr("y", (c) => (y.get(c) ?? 0) + LANE_H / 2)
    .attr("dy", "0.35em")
    .text((c) => c);
  layer(svg, "ops")
    .selectAll<SVGRectElement, ClientOp>("rect")
    .data(ops, (o) => `${o.client}#${o.op}`)
    .join((enter) => enter.append("rect").attr("data-testid", "op").call((r) => r.append("title")))
    .attr("class", (o) => `op ${o.outcome}`)
    .attr("data-outcome", (o) => o.outcome)
    .attr("x", (o) => x(Math.max(o.invokeT, t0)))
    .attr("width", (o) => Math.max(1.5, x(Math.min(o.endT ?? end, t1)) - x(Math.max(o.invokeT, t0))))
    .attr("y", (o) => (y.get(o.client) ?? 0) + 3)
    .attr("height", LANE_H - 6)
    .attr("fill", (o) => OUTCOME_FILL[o.outcome] ?? "#999")
    .on("click", (ev: MouseEvent, o) => {
      ev.stopPropagation();
      f.seek(o.invokeT);
    })
    .select("title")
    .text((o) => `${o.client} op ${o.op}: ${(o.cmd ?? []).join(" ")} → ${o.outcome}${o.endT === null ? "" : ` in ${formatMs(o.endT - o.invokeT)}`}${o.from === null ? "" : ` from ${o.from}`}${o.retries > 0 ? `, ${o.retries} retries` : ""}: ${JSON.stringify(o.value)}`);
  layer(svg, "findings")
    .selectAll<SVGPathElement, (typeof f.model.findings)[number]>("path")
    .data(f.model.findings.filter((x) => x.atMs >= t0 && x.atMs <= t1))
    .join((enter) => enter.append("path").attr("data-testid", "finding").call((p) => p.append("title")))
    .attr("class", "finding")
    .attr("d", d3.symbol(d3.symbolTriangle, 70)())
    .attr("transform", (d) => `translate(${x(d.atMs)},6) rotate(180)`)
    .select("title")
    .text((d) => `${d.kind} ${d.name}: ${d.message}`);
  layer(svg, "cursor").raise();
}
