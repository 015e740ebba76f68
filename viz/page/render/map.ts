// The cluster map: shards as columns, nodes coloured by role and outlined by flags, epoch labels,
// and the messages in the air as arrows with a dot travelling from sender to receiver.

import * as d3 from "d3";
import { mapLayout, type MapLayout } from "../../model/layout.js";
import type { Message } from "../../model/messages.js";
import type { NodeSummary } from "../../model/views.js";
import { CRASHED_FILL, DROP_COLOR, FLAG_STROKE, ROLE_FILL, UNKNOWN_FILL } from "../colors.js";
import type { Frame } from "../frame.js";

/** Arrows drawn at most, the latest first: more would be noise at any speed. */
const MAP_ARROWS_MAX = 300;

type Point = { readonly x: number; readonly y: number };

export function renderMap(svgEl: SVGSVGElement, f: Frame): void {
  const { width: w, height: h } = f.size(svgEl);
  const width = w || 600;
  const height = h || 320;
  const svg = d3.select(svgEl).attr("viewBox", `0 0 ${width} ${height}`);
  const layout = mapLayout(f.shards, width, height - 8);
  const at = new Map(layout.nodes.map((p) => [p.id, p]));
  drawShards(svg, layout, f);
  drawArrows(svg, f, at, layout.radius);
  drawNodes(svg, layout, f);
}

function drawShards(svg: d3.Selection<SVGSVGElement, unknown, null, undefined>, layout: MapLayout, f: Frame): void {
  const boxes = svg
    .selectAll<SVGGElement, MapLayout["boxes"][number]>("g.shard")
    .data(layout.boxes, (b) => String(b.shard))
    .join((enter) => {
      const g = enter.append("g").attr("class", "shard");
      g.append("rect").attr("rx", 6);
      g.append("text").attr("class", "shard-label");
      return g;
    });
  boxes.select("rect").attr("x", (b) => b.x).attr("y", (b) => b.y).attr("width", (b) => b.width).attr("height", (b) => b.height);
  boxes
    .select("text")
    .attr("x", (b) => b.x + 6)
    .attr("y", (b) => b.y + b.height - 6)
    .text((b) => {
      const s = f.shards[b.shard];
      return s?.firstSlot === null || s === undefined ? "" : `shard from slot ${s.firstSlot}`;
    });
  svg.selectAll("g.shard").lower();
}

function fillOf(s: NodeSummary): string {
  if (s.status === "crashed") return CRASHED_FILL;
  return ROLE_FILL[s.role ?? ""] ?? UNKNOWN_FILL;
}

function strokeOf(s: NodeSummary): string {
  for (const [flag, colour] of FLAG_STROKE) if ((s.flags as readonly string[]).includes(flag)) return colour;
  return "#1a202c";
}

function epochLabel(s: NodeSummary): string {
  if (s.term !== null) return `term ${s.term}`;
  if (s.configEpoch === null && s.currentEpoch === null) return "";
  return `cfg ${s.configEpoch ?? "?"} · cur ${s.currentEpoch ?? "?"}`;
}

function flagLabel(s: NodeSummary): string {
  return s.flags.map((x) => x.toUpperCase()).join(" ");
}

function drawNodes(svg: d3.Selection<SVGSVGElement, unknown, null, undefined>, layout: MapLayout, f: Frame): void {
  const r = layout.radius;
  const nodes = svg
    .selectAll<SVGGElement, MapLayout["nodes"][number]>("g.node")
    .data(layout.nodes, (p) => p.id)
    .join((enter) => {
      const g = enter.append("g").attr("class", "node").attr("data-testid", "node").attr("transform", (p) => `translate(${p.x},${p.y})`);
      g.append("circle").attr("class", "body");
      g.append("text").attr("class", "id");
      g.append("text").attr("class", "role");
      g.append("text").attr("class", "epoch");
      g.append("text").attr("class", "flags");
      g.append("title");
      g.on("click", (_ev, p) => f.select(f.view.selected === p.id ? null : p.id));
      return g;
    });
  nodes.transition().duration(250).attr("transform", (p) => `translate(${p.x},${p.y})`);
  nodes.each(function (p) {
    const s = f.summaries.get(p.id);
    if (s === undefined) return;
    const g = d3.select(this);
    g.attr("data-node", s.id)
      .attr("data-role", s.role ?? "unknown")
      .attr("data-status", s.status)
      .attr("data-flags", s.flags.join(" "))
      .attr("data-config-epoch", s.configEpoch ?? "")
      .attr("data-current-epoch", s.currentEpoch ?? "")
      .attr("data-term", s.term ?? "")
      .classed("selected", f.view.selected === s.id)
      .classed("dashed", s.flags.includes("partitioned") || s.flags.includes("paused"));
    g.select("circle.body").attr("r", r).attr("fill", fillOf(s)).attr("stroke", strokeOf(s));
    g.select("text.id").attr("dy", "0.35em").text(f.label(s.id));
    g.select("text.role").attr("x", r + 4).attr("dy", "-0.3em").text(s.role ?? "");
    g.select("text.epoch").attr("x", r + 4).attr("dy", "0.9em").text(epochLabel(s));
    g.select("text.flags").attr("x", r + 4).attr("dy", "2.1em").attr("fill", strokeOf(s)).text(flagLabel(s));
    g.select("title").text(`${s.id} ${s.role ?? ""} ${flagLabel(s)}${s.failBy.length > 0 ? ` (FAIL at ${s.failBy.join(", ")})` : ""}`);
  });
}

/** A slightly bent path, so the two directions between a pair of nodes do not overlap. */
function bend(a: Point, b: Point): { c: Point; at: (p: number) => Point } {
  const mx = (a.x + b.x) / 2;
  const my = (a.y + b.y) / 2;
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const c = { x: mx - dy * 0.15, y: my + dx * 0.15 };
  const at = (p: number): Point => ({
    x: (1 - p) * (1 - p) * a.x + 2 * (1 - p) * p * c.x + p * p * b.x,
    y: (1 - p) * (1 - p) * a.y + 2 * (1 - p) * p * c.y + p * p * b.y,
  });
  return { c, at };
}

interface ArrowDatum {
  readonly m: Message;
  readonly a: Point;
  readonly b: Point;
}

function drawArrows(svg: d3.Selection<SVGSVGElement, unknown, null, undefined>, f: Frame, at: ReadonlyMap<string, Point>, radius: number): void {
  const t = f.view.t;
  const shown = (type: string): boolean => !f.view.hiddenTypes.has(type);
  const inAir = f.model.messages.between(t - f.trailMs, t, shown).filter((m) => m.sendT <= t);
  const data: ArrowDatum[] = [];
  for (let k = inAir.length - 1; k >= 0 && data.length < MAP_ARROWS_MAX; k--) {
    const m = inAir[k] as Message;
    const a = at.get(m.from);
    const b = at.get(m.to);
    if (a !== undefined && b !== undefined && m.from !== m.to) data.push({ m, a, b });
  }
  let layer = svg.select<SVGGElement>("g.arrows");
  if (layer.empty()) layer = svg.append("g").attr("class", "arrows");
  const arrows = layer
    .selectAll<SVGGElement, ArrowDatum>("g.arrow")
    .data(data, (d) => d.m.key)
    .join((enter) => {
      const g = enter.append("g").attr("class", "arrow").attr("data-testid", "arrow");
      g.append("path");
      g.append("circle").attr("r", 3);
      g.append("text").attr("class", "drop-mark").attr("text-anchor", "middle").attr("dy", "0.35em");
      g.append("title");
      return g;
    });
  arrows.each(function (d) {
    const { m, a, b } = d;
    const g = d3.select(this).attr("data-msg-type", m.type).attr("data-outcome", m.outcome).attr("data-from", m.from).attr("data-to", m.to);
    const { c, at: point } = bend(a, b);
    const dropped = m.outcome === "drop";
    const span = m.endT - m.sendT;
    const progress = span <= 0 ? 1 : Math.min(1, Math.max(0, (t - m.sendT) / span));
    // A dropped message goes half-way and stops at its ✕; a delivered one reaches the receiver's edge.
    const end = dropped ? 0.5 : 1 - radius / Math.max(1, Math.hypot(b.x - a.x, b.y - a.y));
    const colour = dropped ? DROP_COLOR : f.palette.type(m.type);
    const done = t >= m.endT;
    g.classed("done", done).classed("dropped", dropped);
    g.select("path")
      .attr("d", `M${a.x},${a.y} Q${c.x},${c.y} ${b.x},${b.y}`)
      .attr("stroke", colour)
      .attr("stroke-dasharray", dropped ? "4 3" : null);
    const dot = point(progress * end);
    g.select("circle").attr("cx", dot.x).attr("cy", dot.y).attr("fill", colour).attr("opacity", done ? 0 : 1);
    const x = point(0.5);
    g.select("text.drop-mark").attr("x", x.x).attr("y", x.y).text(dropped && done ? "✕" : "");
    g.select("title").text(`${m.type} ${m.from} → ${m.to}${dropped ? ` dropped (${m.reason ?? "?"})` : ""}`);
  });
}
