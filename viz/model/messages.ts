// Messages for the arrows: each `send` paired with its `recv` or `drop` by (sender, id), so an
// arrow runs from the send to the delivery, or ends where the message was dropped.

import type { Ev, Trace } from "./trace.js";

export type Outcome = "recv" | "drop" | "in-flight";

export interface Message {
  /** `from>id`, unique per message (ids are unique per simulator run; logs of several nodes may reuse them). */
  readonly key: string;
  readonly from: string;
  readonly to: string;
  readonly type: string;
  readonly sendT: number;
  /** Delivery or drop time; for a message still in flight at the end, the trace's last time. */
  readonly endT: number;
  readonly outcome: Outcome;
  /** Why it was dropped (partition, loss, crashed, ...). */
  readonly reason: string | null;
  /** Indices of its send and its recv/drop event (−1 if absent). */
  readonly sendI: number;
  readonly endI: number;
}

/** Messages that take longer than this are kept apart, so a window query scans a bounded span. */
const LONG_MS = 1000;

export class MessageIndex {
  /** Sorted by send time (the trace's order). */
  readonly all: readonly Message[];
  private readonly short: readonly Message[];
  private readonly long: readonly Message[];
  /** Message type → count, in first-seen order. */
  readonly types: ReadonlyMap<string, number>;

  constructor(trace: Trace) {
    this.all = pairMessages(trace.events, trace.events.at(-1)?.t ?? 0);
    this.short = this.all.filter((m) => m.endT - m.sendT <= LONG_MS);
    this.long = this.all.filter((m) => m.endT - m.sendT > LONG_MS);
    const types = new Map<string, number>();
    for (const m of this.all) types.set(m.type, (types.get(m.type) ?? 0) + 1);
    this.types = types;
  }

  /** Messages in the air at some point of [t0, t1] whose type `shown` accepts, in send order. */
  between(t0: number, t1: number, shown: (type: string) => boolean = () => true): Message[] {
    const out: Message[] = [];
    let lo = 0;
    let hi = this.short.length;
    const from = t0 - LONG_MS;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.short[mid] as Message).sendT < from) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < this.short.length; k++) {
      const m = this.short[k] as Message;
      if (m.sendT > t1) break;
      if (m.endT >= t0 && shown(m.type)) out.push(m);
    }
    for (const m of this.long) if (m.sendT <= t1 && m.endT >= t0 && shown(m.type)) out.push(m);
    if (this.long.length > 0) out.sort((a, b) => a.sendT - b.sendT || a.sendI - b.sendI);
    return out;
  }
}

function pairMessages(events: readonly Ev[], lastT: number): Message[] {
  const open = new Map<string, { from: string; to: string; type: string; sendT: number; sendI: number; slot: number }>();
  const out: (Message | null)[] = [];
  const close = (key: string, endT: number, endI: number, outcome: Outcome, reason: string | null, fallback: { from: string; to: string; type: string }): void => {
    const s = open.get(key);
    if (s === undefined) {
      // Its send is not in the trace (a log that starts late): an instant arrow at the end.
      out.push({ key, ...fallback, sendT: endT, endT, outcome, reason, sendI: -1, endI });
      return;
    }
    open.delete(key);
    out[s.slot] = { key, from: s.from, to: s.to, type: s.type, sendT: s.sendT, endT, outcome, reason, sendI: s.sendI, endI };
  };
  for (const e of events) {
    const f = e.f;
    const type = typeof f["msg"] === "string" ? f["msg"] : "?";
    if (e.type === "send" && e.node !== null && typeof f["to"] === "string") {
      const key = `${e.node}>${String(f["id"])}`;
      open.set(key, { from: e.node, to: f["to"], type, sendT: e.t, sendI: e.i, slot: out.length });
      out.push(null);
    } else if (e.type === "recv" && e.node !== null && typeof f["from"] === "string") {
      close(`${f["from"]}>${String(f["id"])}`, e.t, e.i, "recv", null, { from: f["from"], to: e.node, type });
    } else if (e.type === "drop" && e.node !== null && typeof f["to"] === "string") {
      const reason = typeof f["reason"] === "string" ? f["reason"] : null;
      if (f["id"] === undefined || f["id"] === null) out.push({ key: `${e.node}>drop${e.i}`, from: e.node, to: f["to"], type, sendT: e.t, endT: e.t, outcome: "drop", reason, sendI: e.i, endI: e.i });
      else close(`${e.node}>${String(f["id"])}`, e.t, e.i, "drop", reason, { from: e.node, to: f["to"], type });
    }
  }
  for (const [key, s] of open) out[s.slot] = { key, from: s.from, to: s.to, type: s.type, sendT: s.sendT, endT: Math.max(lastT, s.sendT), outcome: "in-flight", reason: null, sendI: s.sendI, endI: -1 };
  return (out.filter((m) => m !== null) as Message[]).sort((a, b) => a.sendT - b.sendT || a.sendI - b.sendI);
}
