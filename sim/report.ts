// Human-readable run summaries. The same RunResult also prints as JSON (--json).

import type { ExpectationResult } from "./checkers/monitor.js";
import type { KeyEvent, RunResult } from "./run.js";

/** Timeline lines shown before the middle is elided. */
export const TIMELINE_HEAD = 30;
export const TIMELINE_TAIL = 15;

export interface Style {
  ok(s: string): string;
  bad(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export const plain: Style = { ok: (s) => s, bad: (s) => s, dim: (s) => s, bold: (s) => s };

export function ansi(enabled: boolean): Style {
  if (!enabled) return plain;
  const wrap = (code: string) => (s: string) => `\u001b[${code}m${s}\u001b[0m`;
  return { ok: wrap("32"), bad: wrap("31"), dim: wrap("2"), bold: wrap("1") };
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function fmtTime(ms: number): string {
  return ms.toFixed(3).padStart(11);
}

export function reproLine(path: string, seed: number): string {
  return `npx sim run ${shellQuote(path)} --seed ${seed}`;
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/** Merges events at the same time with the same text on several nodes into one line. */
export function condenseTimeline(events: readonly KeyEvent[]): { t: number; nodes: string; text: string }[] {
  const out: { t: number; nodes: string[]; text: string }[] = [];
  for (const e of events) {
    const last = out.at(-1);
    if (last !== undefined && last.t === e.t && last.text === e.text && e.node !== undefined) last.nodes.push(e.node);
    else out.push({ t: e.t, nodes: e.node === undefined ? [] : [e.node], text: e.text });
  }
  return out.map((l) => ({ t: l.t, nodes: l.nodes.join(","), text: l.text }));
}

export function formatRun(r: RunResult, extra: { wallMs: number; trace?: { path: string; lines: number; sha256: string } }, st: Style): string {
  const lines: string[] = [];
  const s = r.stats;
  lines.push(st.bold(`${r.scenario.name} · seed ${r.seed} · ${r.scenario.machine} × ${r.scenario.nodes.length} nodes · ${(s.simMs / 1000).toFixed(3)} s simulated`));
  const dropped = Object.values(s.drops).reduce((a, b) => a + b, 0);
  const dropText = dropped === 0 ? "" : ` (${fmtInt(dropped)} dropped: ${Object.entries(s.drops).map(([k, v]) => `${fmtInt(v)} ${k}`).join(", ")})`;
  lines.push(`  ${fmtInt(s.events)} events · ${fmtInt(s.steps)} steps · ${fmtInt(s.messagesSent)} messages${dropText}`);
  if (s.workload !== undefined) {
    const w = s.workload;
    lines.push(`  clients: ${fmtInt(w.invoked)} operations · ${fmtInt(w.ok)} ok · ${fmtInt(w.fail)} failed · ${fmtInt(w.info)} unknown (timed out)`);
  }
  if (r.swarm !== undefined) {
    const d = r.swarm.draw;
    const rates = Object.entries(d.rates).map(([k, v]) => `${k} ${v}/min`).join(", ") || "none";
    lines.push(`  swarm: faults ${rates} · loss ${d.loss} · duplicate ${d.duplicate} · at most ${d.maxDown} down · core ${d.core.length}/${r.scenario.nodes.length}`);
    const drawn = Object.entries(d.config ?? {}).map(([k, v]) => `${k} ${JSON.stringify(v)}`);
    if (d.syncLatency !== undefined) drawn.push(`fsync ${JSON.stringify(d.syncLatency)}`);
    if (drawn.length > 0) lines.push(`  drawn: ${drawn.join(" · ")}`);
    const conv = r.swarm.convergedAtMs === null ? st.bad("did not converge") : `converged ${(r.swarm.convergedAtMs - r.swarm.livenessStartMs).toFixed(3)} ms after faults stopped`;
    lines.push(`  liveness from ${r.swarm.livenessStartMs} ms: ${conv}`);
  }

  lines.push("", st.bold("Timeline") + st.dim("  (ms  node  event)"));
  const tl = condenseTimeline(r.keyEvents);
  const nodeWidth = Math.min(16, Math.max(4, ...tl.map((l) => l.nodes.length)));
  const row = (l: { t: number; nodes: string; text: string }) => `  ${fmtTime(l.t)}  ${l.nodes.padEnd(nodeWidth)}  ${l.text}`;
  if (tl.length <= TIMELINE_HEAD + TIMELINE_TAIL + 1) lines.push(...tl.map(row));
  else {
    lines.push(...tl.slice(0, TIMELINE_HEAD).map(row));
    lines.push(st.dim(`  … ${fmtInt(tl.length - TIMELINE_HEAD - TIMELINE_TAIL)} more key events (all of them are in the trace) …`));
    lines.push(...tl.slice(-TIMELINE_TAIL).map(row));
  }
  if (r.keyEventsDropped > 0) lines.push(st.dim(`  (${fmtInt(r.keyEventsDropped)} later key events not kept for this summary)`));

  if (r.expectations.length > 0) {
    lines.push("", st.bold("Expectations"));
    for (const e of r.expectations) lines.push(`  ${mark(e, st)} ${e.label}${st.dim(` — ${e.detail}`)}`);
  }
  lines.push("", st.bold("Invariants") + st.dim("  (checked at every step)"));
  if (r.invariants.length === 0) lines.push(st.dim("  (this protocol declares none)"));
  for (const i of r.invariants) lines.push(`  ${i.violated ? st.bad("✗") : st.ok("✓")} ${i.name}${st.dim(` — ${i.description}`)}`);

  if (r.reports.length > 0) {
    lines.push("", st.bold("Figures"));
    for (const rep of r.reports) lines.push(`  ${rep.name}: ${rep.text}`);
  }

  const others = r.failures.filter((f) => f.kind !== "expectation");
  if (others.length > 0) {
    lines.push("", st.bold(st.bad("Failures")));
    for (const f of others) lines.push(`  ${st.bad("✗")} at ${f.atMs.toFixed(3)} ms: ${f.name}: ${f.message}`);
  }
  if (r.stoppedEarly !== null) lines.push(st.dim(`  the run stopped at ${s.simMs.toFixed(3)} ms: ${r.stoppedEarly}`));

  const speed = extra.wallMs > 0 ? `${fmtInt(s.simMs / extra.wallMs)}× real time, ${fmtInt((s.events / extra.wallMs) * 1000)} events/s` : "";
  const verdict = !r.pass ? st.bad(st.bold("FAIL")) : r.stoppedEarly !== null ? st.bold("INCOMPLETE") : st.ok(st.bold("PASS"));
  lines.push("", `${verdict}  ${st.dim(`${(extra.wallMs / 1000).toFixed(2)} s wall · ${speed}`)}`);
  if (extra.trace !== undefined) lines.push(`Trace:     ${extra.trace.path} (${fmtInt(extra.trace.lines)} lines, ${r.detail} detail, sha256 ${extra.trace.sha256.slice(0, 16)}…)`);
  lines.push(`Reproduce: ${reproLine(r.scenario.path, r.seed)}`);
  return lines.join("\n");
}

function mark(e: ExpectationResult, st: Style): string {
  if (e.status === "pass") return st.ok("✓");
  if (e.status === "fail") return st.bad("✗");
  return st.dim("?");
}
