// The viewer's controller: loads the trace (embedded in the page, or data.json from `sim view`),
// builds the model once, keeps the View, and redraws every panel from one Frame per animation
// frame. Pipeline as ShiViz's: trace → model → layout → render → controller.
//
// The page is type-checked with the DOM library (viz/tsconfig.json); this reference gives the
// root tsconfig.json, which also sees viz/, the same library.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />

import type { Finding } from "../model/clients.js";
import { filterEvents, nextKeyEvent, outages, previousKeyEvent, type Outage } from "../model/events.js";
import { shortNames } from "../model/layout.js";
import { buildModel, type Model } from "../model/model.js";
import { countAtOrBefore, type TraceInput } from "../model/trace.js";
import { nodeColors, typeColors } from "./colors.js";
import { makeFrame, type Frame, type Palette, type Sizes } from "./frame.js";
import { renderDetails } from "./render/details.js";
import { renderEvents } from "./render/events.js";
import { renderMap } from "./render/map.js";
import { renderSlotBar } from "./render/slots.js";
import { attachZoom, renderHistory, renderSpaceTime } from "./render/spacetime.js";
import { renderKeyTicks, renderTimeline, renderToggles, SCRUB_MAX } from "./render/timeline.js";
import { fromHash, initialView, SPEEDS, toHash, type View } from "./view.js";

interface Data {
  readonly inputs: readonly TraceInput[];
  readonly findings: readonly Finding[];
}

/** What `sim view` serves as data.json: where each input's text is, and the findings. */
interface Served {
  readonly inputs: readonly { readonly name: string; readonly href: string }[];
  readonly findings: readonly Finding[];
}

const HASH_WRITE_MS = 400;

function $<T extends Element>(testid: string): T {
  const el = document.querySelector<T>(`[data-testid="${testid}"]`);
  if (el === null) throw new Error(`the page has no element ${testid}`);
  return el;
}

/** A `--out` report embeds the inputs as script elements; a served page fetches them. */
async function readData(): Promise<Data> {
  const embedded = [...document.querySelectorAll<HTMLScriptElement>("script.faultline-trace")];
  if (embedded.length > 0) {
    const findings = document.getElementById("faultline-findings")?.textContent ?? "[]";
    return { inputs: embedded.map((el) => ({ name: el.dataset["name"] ?? "trace", text: el.textContent ?? "" })), findings: JSON.parse(findings) as Finding[] };
  }
  const res = await fetch("data.json");
  if (!res.ok) throw new Error(`could not load the trace list: HTTP ${res.status}`);
  const served = (await res.json()) as Served;
  const inputs = await Promise.all(
    served.inputs.map(async (input) => {
      const r = await fetch(input.href);
      if (!r.ok) throw new Error(`could not load ${input.name}: HTTP ${r.status}`);
      return { name: input.name, text: await r.text() };
    }),
  );
  return { inputs, findings: served.findings };
}

function showError(message: string): void {
  const el = $<HTMLElement>("error");
  el.hidden = false;
  el.textContent = message;
}

class Viewer {
  private readonly view: View;
  private readonly palette: Palette;
  private readonly labels: ReadonlyMap<string, string>;
  private readonly outages: readonly Outage[];
  private readonly serverLanes: readonly string[];
  private filtered: { key: string; indices: number[] } = { key: "", indices: [] };
  private frame: Frame;
  private pending = false;
  private lastTick: number | null = null;
  private lastHashWrite = 0;
  private readonly syncZoom: (f: Frame) => void;

  constructor(private readonly model: Model) {
    this.view = fromHash(location.hash, initialView(model.startT), [...model.trace.nodes, ...model.trace.clients]);
    this.view.t = Math.min(model.endT, Math.max(model.startT, this.view.t));
    this.palette = { node: nodeColors(model.trace.nodes), type: typeColors([...model.messages.types.keys()]) };
    this.labels = shortNames(model.trace.nodes);
    this.outages = outages(model.trace.events, model.endT);
    this.serverLanes = model.lanes.filter((l) => model.trace.nodes.includes(l));
    this.frame = this.makeFrame();
    this.syncZoom = attachZoom([$("spacetime"), $("history")], () => this.frame, (w) => this.update({ window: w === null ? null : clampWindow(w, model) }));
    this.wireControls();
    this.wireKeys();
    renderKeyTicks($("key-ticks"), this.frame);
    renderToggles($("msg-toggles"), this.frame, (type, shown) => {
      if (shown) this.view.hiddenTypes.delete(type);
      else this.view.hiddenTypes.add(type);
      this.request();
    });
    this.header();
    if (!model.hasSlots) for (const id of ["slot-bar", "slot-bar-label"]) $<HTMLElement>(id).style.display = "none";
    window.addEventListener("resize", () => {
      renderKeyTicks($("key-ticks"), this.makeFrame());
      this.request();
    });
    window.addEventListener("hashchange", () => {
      fromHash(location.hash, this.view, [...model.trace.nodes, ...model.trace.clients]);
      this.request();
    });
    this.request();
  }

  private makeFrame(sizes: Sizes = new Map()): Frame {
    return makeFrame(this.model, this.view, this.palette, this.labels, sizes, (t) => this.seek(t), (n) => this.update({ selected: n }));
  }

  /** Every size the panels need, read before anything is written (one layout per frame). */
  private measure(): Sizes {
    const sizes = new Map<Element, { width: number; height: number }>();
    for (const id of ["map", "slot-bar", "spacetime", "history", "key-ticks", "event-list"]) {
      const el = $(id);
      sizes.set(el, { width: el.clientWidth, height: el.clientHeight });
    }
    return sizes;
  }

  private seek(t: number): void {
    this.update({ t: Math.min(this.model.endT, Math.max(this.model.startT, t)) });
  }

  private update(change: Partial<View>): void {
    Object.assign(this.view, change);
    this.request();
  }

  private request(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame((now) => this.draw(now));
  }

  private draw(now: number): void {
    this.pending = false;
    if (this.view.playing) {
      const dt = this.lastTick === null ? 0 : now - this.lastTick;
      this.lastTick = now;
      this.view.t = Math.min(this.model.endT, this.view.t + (dt / 1000) * this.view.speed);
      if (this.view.t >= this.model.endT) this.view.playing = false;
    } else {
      this.lastTick = null;
    }
    const f = this.makeFrame(this.measure());
    this.frame = f;
    document.body.setAttribute("data-t", String(f.view.t));
    renderTimeline({ play: $("play"), scrubber: $("scrubber"), ticks: $("key-ticks"), time: $("time"), keyLabel: $("key-label") }, f);
    renderMap($("map"), f);
    if (this.model.hasSlots) renderSlotBar($("slot-bar"), $("slot-bar-label"), f);
    renderDetails($("details"), f);
    this.syncZoom(f);
    renderSpaceTime($("spacetime"), f, this.serverLanes, this.outages);
    renderHistory($("history"), f);
    renderEvents($("event-list"), $("event-count"), f, this.eventIndices(), this.filtered.key);
    for (const input of document.querySelectorAll<HTMLInputElement>('[data-testid^="toggle-"]')) input.checked = !this.view.hiddenTypes.has(input.dataset["testid"]?.slice("toggle-".length) ?? "");
    if (!this.view.playing || now - this.lastHashWrite > HASH_WRITE_MS) {
      history.replaceState(null, "", toHash(this.view));
      this.lastHashWrite = now;
    }
    document.body.setAttribute("data-ready", "true");
    if (this.view.playing) this.request();
  }

  /** The event list's filter result, recomputed only when the filter changes. */
  private eventIndices(): number[] {
    const v = this.view;
    const key = JSON.stringify([v.search, v.eventType, v.eventNode, v.keyOnly]);
    if (this.filtered.key !== key) {
      this.filtered = {
        key,
        indices: filterEvents(this.model.trace.events, {
          text: v.search,
          types: v.eventType === "" ? null : new Set([v.eventType]),
          nodes: v.eventNode === "" ? null : new Set([v.eventNode === "world" ? "" : v.eventNode]),
          keyOnly: v.keyOnly,
        }),
      };
    }
    return this.filtered.indices;
  }

  private togglePlay(): void {
    if (!this.view.playing && this.view.t >= this.model.endT) this.view.t = this.model.startT;
    this.update({ playing: !this.view.playing });
  }

  private stepSpeed(by: number): void {
    const k = SPEEDS.indexOf(this.view.speed as (typeof SPEEDS)[number]);
    const next = SPEEDS[Math.max(0, Math.min(SPEEDS.length - 1, k + by))] ?? this.view.speed;
    $<HTMLSelectElement>("speed").value = String(next);
    this.update({ speed: next });
  }

  private jumpKey(forward: boolean): void {
    const { events } = this.model.trace;
    const e = forward ? nextKeyEvent(events, this.model.keyEvents, this.view.t) : previousKeyEvent(events, this.model.keyEvents, this.view.t);
    if (e !== null) this.update({ t: e.t, playing: false });
  }

  /** The time of the next (or previous) event of any kind. */
  private stepEvent(forward: boolean): void {
    const { events } = this.model.trace;
    const k = countAtOrBefore(events, this.view.t);
    const e = forward ? events[k] : events[countAtOrBefore(events, this.view.t - 1e-9) - 1];
    if (e !== undefined) this.update({ t: e.t, playing: false });
  }

  private wireControls(): void {
    $("play").addEventListener("click", () => this.togglePlay());
    $("prev-key").addEventListener("click", () => this.jumpKey(false));
    $("next-key").addEventListener("click", () => this.jumpKey(true));
    const speed = $<HTMLSelectElement>("speed");
    for (const s of SPEEDS) speed.append(new Option(`${s / 1000}×`, String(s), false, s === this.view.speed));
    speed.addEventListener("change", () => this.update({ speed: Number(speed.value) }));
    const scrub = $<HTMLInputElement>("scrubber");
    scrub.max = String(SCRUB_MAX);
    scrub.addEventListener("input", () => this.update({ t: this.model.startT + (Number(scrub.value) / SCRUB_MAX) * (this.model.endT - this.model.startT), playing: false }));
    const search = $<HTMLInputElement>("event-search");
    search.value = this.view.search;
    search.addEventListener("input", () => this.update({ search: search.value }));
    const type = $<HTMLSelectElement>("event-type");
    for (const t of [...new Set(this.model.trace.events.map((e) => e.type))].sort()) type.append(new Option(t, t));
    type.addEventListener("change", () => this.update({ eventType: type.value }));
    const node = $<HTMLSelectElement>("event-node");
    for (const n of [...this.model.trace.nodes, ...this.model.trace.clients, "world"]) node.append(new Option(this.labels.get(n) ?? n, n));
    node.addEventListener("change", () => this.update({ eventNode: node.value }));
    const keyOnly = $<HTMLInputElement>("event-key-only");
    keyOnly.addEventListener("change", () => this.update({ keyOnly: keyOnly.checked }));
  }

  private wireKeys(): void {
    document.addEventListener("keydown", (ev) => {
      const target = ev.target as HTMLElement | null;
      if (target !== null && (target.tagName === "INPUT" || target.tagName === "SELECT") && (target as HTMLInputElement).type !== "range") {
        if (ev.key === "Escape") target.blur();
        return;
      }
      const actions: Record<string, () => void> = {
        " ": () => this.togglePlay(),
        ArrowRight: () => (ev.shiftKey ? this.jumpKey(true) : this.stepEvent(true)),
        ArrowLeft: () => (ev.shiftKey ? this.jumpKey(false) : this.stepEvent(false)),
        Home: () => this.update({ t: this.model.startT, playing: false }),
        End: () => this.update({ t: this.model.endT, playing: false }),
        "+": () => this.stepSpeed(1),
        "=": () => this.stepSpeed(1),
        "-": () => this.stepSpeed(-1),
        "/": () => $<HTMLInputElement>("event-search").focus(),
        z: () => this.update({ window: null }),
        Escape: () => this.update({ selected: null }),
      };
      const act = actions[ev.key];
      if (act === undefined) return;
      ev.preventDefault();
      act();
    });
  }

  private header(): void {
    const { trace } = this.model;
    const h = trace.header;
    $("title").textContent = h.scenario.name === "" ? "Faultline trace" : h.scenario.name;
    const result = trace.end?.["result"];
    const parts = [
      h.tool === "faultline-sim" ? `simulator · ${h.machine} · seed ${h.seed} · detail ${h.detail}` : `real nodes · ${trace.sources.length} logs`,
      `${trace.nodes.length} nodes, ${trace.clients.length} clients`,
      `${trace.events.length.toLocaleString("en")} events`,
      typeof result === "string" ? `result ${result}` : "",
      this.model.findings.length > 0 ? `${this.model.findings.length} findings` : "",
      ...trace.sources.filter((s) => s.skipped > 0).map((s) => `${s.name}: ${s.skipped} lines skipped (${s.firstSkipped ?? ""})`),
    ];
    $("summary").textContent = parts.filter((p) => p !== "").join(" · ");
    $("legend").innerHTML =
      '<span class="lg master">master / leader</span><span class="lg replica">replica / follower</span><span class="lg crashed">crashed</span>' +
      '<span class="lg fail">FAIL</span><span class="lg pfail">PFAIL</span><span class="lg partitioned">partitioned / paused</span><span class="lg handshake">handshake</span>';
  }
}

function clampWindow(w: [number, number], m: Model): [number, number] | null {
  const span = Math.min(w[1] - w[0], m.endT - m.startT);
  const from = Math.min(Math.max(w[0], m.startT), m.endT - span);
  return span >= m.endT - m.startT ? null : [from, from + span];
}

async function start(): Promise<void> {
  try {
    const data = await readData();
    const model = buildModel(data.inputs, data.findings);
    new Viewer(model);
  } catch (e) {
    showError(e instanceof Error ? e.message : String(e));
    document.body.setAttribute("data-ready", "error");
  }
}

void start();
