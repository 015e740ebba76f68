// The `viewer` bench section (issue 6): how long the trace viewer takes to load and paint a trace
// of 10k, 100k and 1M events, and how long a seek takes, in Debian's headless chromium driven by
// playwright-core, on the page `sim view` serves (as test/viz/viewer.test.ts drives it).
//
// Each trace is the master-crash scenario with the `wait` workload (RPUSH + WAIT: its replies stay
// small, where the default workload's LRANGE replies grow with the run), run long enough at
// `messages` detail and cut after exactly N events: a prefix of one run, so it is in time order
// with unique message ids (a send whose delivery falls after the cut is a message still in the
// air). Figures are printed, never asserted.
//
// The timing runs inside the page: load is navigation start → body[data-ready] → the next
// animation frame (that frame's paint is done); a seek is setting the scrubber (an `input` event,
// as a user dragging it) → body[data-t] changes → the next animation frame.

/// <reference lib="dom" />

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { runScenario } from "../sim/run.js";
import { loadScenario } from "../sim/scenario/load.js";
import { FileSink, type TraceSink } from "../sim/trace-sink.js";
import type { RealRow } from "./real.js";
import { loadAverage1m } from "./real-procs.js";

const ROOT = join(import.meta.dirname, "..", "..");
const SIM = join(ROOT, "bin", "sim.js");

/** The targets. */
const LOAD_TARGET_MS = 5000;
const SEEK_TARGET_MS = 100;
const SEEKS = 20;
/** The scrubber's range (viz/page/render/timeline.ts SCRUB_MAX). */
const SCRUB_MAX = 1000;
/** How long a load or a seek may take before the size is reported as failed. */
const LOAD_TIMEOUT_MS = 180_000;
const SEEK_TIMEOUT_MS = 30_000;
/** master-crash's 6 nodes with the wait workload write about 780 events per simulated second; run with margin, then cut. */
const EVENTS_PER_SIM_S_AT_LEAST = 500;

function progress(text: string): void {
  process.stderr.write(`  ${text}\n`);
}

function chromiumPath(): string | null {
  const r = spawnSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Passes the header and the first `events` events to `inner`, drops the rest. */
class CutSink implements TraceSink {
  written = 0;
  constructor(
    private readonly inner: TraceSink,
    private readonly events: number,
  ) {}
  write(line: string): void {
    if (this.written > this.events) return;
    this.inner.write(line);
    this.written += 1;
  }
  close(): void {
    this.inner.close();
  }
}

/** Writes a trace of exactly `events` events (plus the header) to `path`. */
function writeTrace(path: string, events: number): void {
  const source = readFileSync(join(ROOT, "scenarios", "master-crash.yaml"), "utf8");
  const durationMs = 16_000 + Math.ceil(events / EVENTS_PER_SIM_S_AT_LEAST) * 1000;
  const longer = source.replace(/^durationMs: \d+$/m, `durationMs: ${durationMs}`).replace(/^workload:\n/m, "workload:\n  kind: wait\n");
  if (!/^durationMs: \d+$/m.test(source) || !/^workload:\n/m.test(source)) throw new Error("scenarios/master-crash.yaml has no durationMs line or workload block to change");
  const sink = new CutSink(new FileSink(path), events);
  try {
    runScenario(loadScenario("master-crash.yaml", longer), { detail: "messages", sink });
  } finally {
    sink.close();
  }
  if (sink.written !== events + 1) throw new Error(`master-crash for ${durationMs / 1000} simulated s wrote ${sink.written - 1} events, fewer than ${events}`);
}

/** Starts `sim view` on a free port; resolves with the server and its URL. */
function serve(trace: string): Promise<{ server: ChildProcess; url: string }> {
  const server = spawn(process.execPath, [SIM, "view", trace, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const read = (b: Buffer): void => {
      out += b.toString();
      const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
      if (m !== null) resolve({ server, url: m[0] });
    };
    server.stdout?.on("data", read);
    server.stderr?.on("data", read);
    server.once("exit", (code) => reject(new Error(`sim view exited with ${code}: ${out.trim()}`)));
  });
}

/** Stops a `sim view` server and waits for it to exit. */
async function stop(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  server.kill("SIGINT");
  await exited;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** A seeded sequence of scrubber positions, each different from the one before. */
function seekTargets(n: number): number[] {
  let state = 0x9e3779b9;
  const out: number[] = [];
  let last = -1;
  while (out.length < n) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const v = state % (SCRUB_MAX + 1);
    if (v === last) continue;
    out.push(v);
    last = v;
  }
  return out;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Loads one trace in a fresh page, then seeks; the row of figures. */
async function measureTrace(browser: Browser, label: string, events: number, trace: string): Promise<RealRow> {
  const load0 = loadAverage1m();
  const { server, url } = await serve(trace);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
  try {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    // Runs before the page's own script: records when data-ready first appears and when the
    // frame after it starts, in ms since navigation start.
    await page.addInitScript(() => {
      const w = window as unknown as { benchReady?: number; benchPaint?: number };
      const seen = new MutationObserver(() => {
        if (document.body?.getAttribute("data-ready") !== "true") return;
        seen.disconnect();
        w.benchReady = performance.now();
        requestAnimationFrame(() => (w.benchPaint = performance.now()));
      });
      seen.observe(document, { subtree: true, attributes: true, attributeFilter: ["data-ready"] });
    });
    await page.goto(url, { timeout: LOAD_TIMEOUT_MS });
    await page.waitForFunction(() => (window as unknown as { benchPaint?: number }).benchPaint !== undefined, undefined, { timeout: LOAD_TIMEOUT_MS, polling: 100 });
    if (errors.length > 0) throw new Error(`the page reported: ${errors.join("; ")}`);
    const load = await page.evaluate(() => {
      const w = window as unknown as { benchReady: number; benchPaint: number };
      return { ready: w.benchReady, paint: w.benchPaint };
    });
    progress(`viewer ${label}: ready ${round1(load.ready)} ms, first paint ${round1(load.paint)} ms; seeking ${SEEKS}×`);
    const seeks: number[] = [];
    for (const value of seekTargets(SEEKS)) {
      const ms = await page.evaluate(
        ({ value, timeoutMs }) =>
          new Promise<number>((resolve, reject) => {
            const body = document.body;
            const before = body.getAttribute("data-t");
            const scrub = document.querySelector<HTMLInputElement>('[data-testid="scrubber"]');
            if (scrub === null) throw new Error("the page has no scrubber");
            const t0 = performance.now();
            scrub.value = String(value);
            scrub.dispatchEvent(new Event("input", { bubbles: true }));
            const check = (): void => {
              if (body.getAttribute("data-t") !== before) requestAnimationFrame(() => resolve(performance.now() - t0));
              else if (performance.now() - t0 > timeoutMs) reject(new Error(`no new time after ${timeoutMs} ms`));
              else requestAnimationFrame(check);
            };
            requestAnimationFrame(check);
          }),
        { value, timeoutMs: SEEK_TIMEOUT_MS },
      );
      seeks.push(ms);
    }
    if (errors.length > 0) throw new Error(`the page reported: ${errors.join("; ")}`);
    const sorted = [...seeks].sort((a, b) => a - b);
    const seekMax = sorted[sorted.length - 1] as number;
    progress(`viewer ${label}: seek median ${round1(percentile(sorted, 50))} ms, max ${round1(seekMax)} ms`);
    return {
      name: `${label} events`,
      figures: {
        events,
        traceMB: round1(statSync(trace).size / 1e6),
        readyMs: round1(load.ready),
        firstPaintMs: round1(load.paint),
        loadVsTarget: round2(load.paint / LOAD_TARGET_MS),
        loadMet: load.paint < LOAD_TARGET_MS ? "yes" : "no",
        seeks: seeks.length,
        seekP50Ms: round1(percentile(sorted, 50)),
        seekP95Ms: round1(percentile(sorted, 95)),
        seekMaxMs: round1(seekMax),
        seekVsTarget: round2(seekMax / SEEK_TARGET_MS),
        seekMet: seekMax < SEEK_TARGET_MS ? "yes" : "no",
        loadAvg: `${load0}→${loadAverage1m()}`,
      },
    };
  } finally {
    await page.close();
    await stop(server);
  }
}

/** The section: 10k, 100k and 1M events (`quick`: 10k and 100k). */
export async function viewerBench(quick: boolean): Promise<RealRow[]> {
  const executable = chromiumPath();
  if (executable === null) return [{ name: "skipped", figures: { reason: "no chromium on PATH (apt-get install chromium)" } }];
  const sizes: [string, number][] = [
    ["10k", 10_000],
    ["100k", 100_000],
    ...(quick ? [] : ([["1M", 1_000_000]] as [string, number][])),
  ];
  const dir = mkdtempSync(join(tmpdir(), "faultline-bench-viewer-"));
  let browser: Browser | null = null;
  try {
    browser = await chromium.launch({ executablePath: executable, headless: true, args: ["--no-sandbox"] });
    const rows: RealRow[] = [];
    for (const [label, events] of sizes) {
      const trace = join(dir, `master-crash-${label}.jsonl`);
      progress(`viewer ${label}: writing the trace...`);
      writeTrace(trace, events);
      try {
        rows.push(await measureTrace(browser, label, events, trace));
      } catch (e) {
        const reason = e instanceof Error ? e.message.split("\n")[0] ?? e.message : String(e);
        progress(`viewer ${label}: failed: ${reason}`);
        rows.push({ name: `${label} events`, figures: { events, failed: reason } });
      } finally {
        rmSync(trace, { force: true });
      }
    }
    return rows;
  } finally {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
