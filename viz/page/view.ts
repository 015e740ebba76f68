// What the user is looking at (time, selection, hidden message types, zoom, event filter), and
// how it is written to and read from the URL's hash so that a link reproduces the view.

export interface View {
  /** Current time, in the trace's own ms. */
  t: number;
  playing: boolean;
  /** Trace ms per wall-clock second. */
  speed: number;
  selected: string | null;
  hiddenTypes: Set<string>;
  /** The space-time diagram's visible time window; null: the whole trace. */
  window: [number, number] | null;
  search: string;
  eventType: string;
  eventNode: string;
  keyOnly: boolean;
}

export const SPEEDS = [1, 10, 100, 250, 1000, 4000] as const;
const DEFAULT_SPEED = 250;

export function initialView(startT: number): View {
  return { t: startT, playing: false, speed: DEFAULT_SPEED, selected: null, hiddenTypes: new Set(), window: null, search: "", eventType: "", eventNode: "", keyOnly: false };
}

/** `#t=7368.367&node=n4&hide=ping,pong&win=5000,8000&speed=250` */
export function toHash(v: View): string {
  const p = new URLSearchParams();
  p.set("t", String(Number(v.t.toFixed(3))));
  if (v.selected !== null) p.set("node", v.selected);
  if (v.hiddenTypes.size > 0) p.set("hide", [...v.hiddenTypes].sort().join(","));
  if (v.window !== null) p.set("win", v.window.map((x) => Number(x.toFixed(3))).join(","));
  if (v.speed !== DEFAULT_SPEED) p.set("speed", String(v.speed));
  if (v.search !== "") p.set("q", v.search);
  return `#${p.toString()}`;
}

/** Applies what the hash says to `v`; unknown or malformed parts are ignored. */
export function fromHash(hash: string, v: View, nodes: readonly string[]): View {
  const p = new URLSearchParams(hash.replace(/^#/, ""));
  const t = Number(p.get("t"));
  if (p.has("t") && Number.isFinite(t)) v.t = t;
  const node = p.get("node");
  if (node !== null && nodes.includes(node)) v.selected = node;
  const hide = p.get("hide");
  if (hide !== null) v.hiddenTypes = new Set(hide.split(",").filter((x) => x !== ""));
  const win = (p.get("win") ?? "").split(",").map(Number);
  if (win.length === 2 && win.every(Number.isFinite) && (win[0] as number) < (win[1] as number)) v.window = [win[0] as number, win[1] as number];
  const speed = Number(p.get("speed"));
  if ((SPEEDS as readonly number[]).includes(speed)) v.speed = speed;
  v.search = p.get("q") ?? "";
  return v;
}
