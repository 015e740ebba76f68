// The `sim` command line.
//
// Exit status: 0 the run (or every seed) passed; 1 an expectation or invariant failed, a replay
// differed, or a shrink could not keep the failure; 2 bad input (usage, unreadable file, invalid
// scenario); 3 an internal error (a bug in faultline: please report it with the command line);
// 130 interrupted.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import cliProgress from "cli-progress";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { TRACE_DETAILS, type TraceDetail } from "../core/trace.js";
import { defaultWorkers, explore, parseSeeds, type SeedOutcome } from "./explore.js";
import { adapterNames } from "./machines/registry.js";
import { ansi, fmtInt, formatRun, reproLine, type Style } from "./report.js";
import { replay, TraceFileError } from "./replay.js";
import { Run } from "./run.js";
import { loadScenario, type Scenario, ScenarioError } from "./scenario/load.js";
import { shrink, ShrinkError } from "./shrink.js";
import { FileSink, HashingSink } from "./trace-sink.js";
import { VERSION } from "./version.js";
import { runView, ViewError, type ViewArgs } from "../viz/serve.js";

const EXIT = { pass: 0, fail: 1, input: 2, internal: 3, interrupted: 130 } as const;

/** An error whose message is for the user as it stands; `code` is the exit status. */
class UserError extends Error {
  constructor(
    message: string,
    readonly code: number = EXIT.input,
  ) {
    super(message);
  }
}

const stdoutStyle = (): Style => ansi(process.stdout.isTTY === true && process.env["NO_COLOR"] === undefined);

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : code === "EACCES" ? "permission denied" : String((e as Error).message);
    throw new UserError(`cannot read ${what} ${path}: ${why}`);
  }
}

function load(path: string): Scenario {
  return loadScenario(path, readText(path, "scenario"));
}

/** A progress bar on stderr for interactive terminals; otherwise occasional plain lines. */
function progress(label: string, total: number, unit: string): { update(done: number, extra?: string): void; stop(): void } {
  if (process.stderr.isTTY === true) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {extra} | eta {eta_formatted}`, stream: process.stderr, hideCursor: true, clearOnComplete: true, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { extra: "" });
    return { update: (done, extra = "") => bar.update(done, { extra }), stop: () => bar.stop() };
  }
  let shown = -1;
  return {
    update(done, extra = "") {
      const tenth = Math.floor((done / Math.max(1, total)) * 10);
      if (tenth > shown) {
        shown = tenth;
        process.stderr.write(`${label}: ${done}/${total} ${unit}${extra === "" ? "" : ` · ${extra}`}\n`);
      }
    },
    stop() {},
  };
}

let interrupted = false;
function onInterrupt(): void {
  if (interrupted) process.exit(EXIT.interrupted); // a second Ctrl-C: leave at once
  interrupted = true;
  process.stderr.write("\ninterrupted: finishing up (Ctrl-C again to quit at once)\n");
}

// ---- sim run ---------------------------------------------------------------------------------

interface RunArgs {
  scenario: string;
  seed: number | undefined;
  trace: string | boolean | undefined;
  detail: TraceDetail | undefined;
  json: boolean;
  verbose: boolean;
}

function defaultTracePath(s: Scenario, seed: number): string {
  return join("traces", `${s.name}-seed${seed}.jsonl`);
}

async function cmdRun(a: RunArgs): Promise<number> {
  const scenario = load(a.scenario);
  const seed = a.seed ?? scenario.data.seed;
  const tracePath = a.trace === false ? null : typeof a.trace === "string" && a.trace !== "" ? a.trace : defaultTracePath(scenario, seed);
  let file: FileSink | null = null;
  if (tracePath !== null) {
    try {
      mkdirSync(dirname(tracePath), { recursive: true });
      file = new FileSink(tracePath);
    } catch (e) {
      throw new UserError(`cannot write the trace to ${tracePath}: ${(e as Error).message}`);
    }
  }
  const sink = new HashingSink(file);
  const run = new Run(scenario, { seed, ...(a.detail === undefined ? {} : { detail: a.detail }), sink });
  const started = performance.now();
  let bar: ReturnType<typeof progress> | null = null;
  process.on("SIGINT", onInterrupt);
  while (run.step(50_000)) {
    if (interrupted) {
      run.world.stop("interrupted by the user");
      break;
    }
    if (bar === null && performance.now() - started > 1500 && !a.json) bar = progress(`simulating ${scenario.name}`, 1000, "‰ of simulated time");
    bar?.update(Math.floor(run.progress * 1000), `${(run.world.nowMs / 1000).toFixed(1)} s simulated`);
    await new Promise((r) => setImmediate(r));
  }
  bar?.stop();
  const result = run.finish();
  const wallMs = performance.now() - started;
  const trace = tracePath === null ? undefined : { path: tracePath, lines: sink.lines, sha256: sink.sha256 };
  if (a.json) {
    const failures = a.verbose ? result.failures : result.failures.map(({ ...f }) => ("stack" in f ? { ...f, stack: undefined } : f));
    process.stdout.write(`${JSON.stringify({ ...result, failures, wallMs: Math.round(wallMs), trace: trace ?? null, reproduce: reproLine(scenario.path, seed) }, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatRun(result, { wallMs, ...(trace === undefined ? {} : { trace }) }, stdoutStyle())}\n`);
    const ex = result.failures.find((f) => f.kind === "exception");
    if (ex !== undefined && ex.kind === "exception") {
      process.stdout.write(a.verbose && ex.stack !== undefined ? `\n${ex.stack}\n` : "  (an exception inside the simulated system; --verbose prints its stack)\n");
    }
  }
  if (interrupted) return EXIT.interrupted;
  return result.pass ? EXIT.pass : EXIT.fail;
}

// ---- sim explore -----------------------------------------------------------------------------

async function cmdExplore(a: { scenario: string; seeds: string; workers: number | undefined; json: boolean; failFast: boolean }): Promise<number> {
  const scenario = load(a.scenario);
  let seeds: number[];
  try {
    seeds = parseSeeds(a.seeds);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const workers = a.workers ?? defaultWorkers(seeds.length);
  if (!Number.isInteger(workers) || workers < 0) throw new UserError(`--workers ${a.workers}: expected a whole number ≥ 0 (0 runs in this process)`);
  const bar = a.json ? null : progress(`exploring ${scenario.name}`, seeds.length, "seeds");
  let failing = 0;
  process.on("SIGINT", onInterrupt);
  const started = performance.now();
  const outcomes = await explore(scenario.path, scenario.source, seeds, {
    workers,
    failFast: a.failFast,
    cancelled: () => interrupted,
    onOutcome: (o, done) => {
      if (!o.pass) failing += 1;
      bar?.update(done, `${failing} failing`);
    },
  });
  bar?.stop();
  const wallMs = performance.now() - started;
  const failed = outcomes.filter((o) => !o.pass);
  if (a.json) {
    process.stdout.write(
      `${JSON.stringify(
        { scenario: scenario.path, seeds: { requested: seeds.length, run: outcomes.length }, workers, passed: outcomes.length - failed.length, failed: failed.length, wallMs: Math.round(wallMs), outcomes, reproduce: failed.map((o) => reproLine(scenario.path, o.seed)) },
        null,
        2,
      )}\n`,
    );
  } else {
    process.stdout.write(`${formatExplore(scenario, seeds.length, workers, outcomes, wallMs, stdoutStyle())}\n`);
  }
  if (interrupted) return EXIT.interrupted;
  return failed.length === 0 ? EXIT.pass : EXIT.fail;
}

function formatExplore(s: Scenario, requested: number, workers: number, outcomes: readonly SeedOutcome[], wallMs: number, st: Style): string {
  const failed = outcomes.filter((o) => !o.pass);
  const events = outcomes.reduce((n, o) => n + o.events, 0);
  const simMs = outcomes.reduce((n, o) => n + o.simMs, 0);
  const lines = [
    st.bold(`explore ${s.name} · ${s.adapter.name} × ${s.nodes.length} nodes · ${fmtInt(outcomes.length)}${outcomes.length < requested ? ` of ${fmtInt(requested)}` : ""} seeds · ${workers === 0 ? "in-process" : `${workers} workers`}`),
    `  ${fmtInt(outcomes.length - failed.length)} passed · ${failed.length === 0 ? "0 failed" : st.bad(`${fmtInt(failed.length)} failed`)} · ${fmtInt(events)} events · ${fmtInt(simMs / 1000)} simulated s · ${(wallMs / 1000).toFixed(1)} s wall (${fmtInt((events / Math.max(1, wallMs)) * 1000)} events/s)`,
  ];
  const conv = outcomes.map((o) => o.convergedAfterMs).filter((x): x is number => typeof x === "number").sort((x, y) => x - y);
  if (conv.length > 0) {
    const q = (p: number): string => (conv[Math.min(conv.length - 1, Math.floor(p * conv.length))] as number).toFixed(0);
    lines.push(`  convergence after faults stopped: median ${q(0.5)} ms · p90 ${q(0.9)} ms · max ${q(1)} ms`);
  }
  if (failed.length > 0) {
    const byName = new Map<string, number[]>();
    for (const o of failed) for (const f of o.failures.slice(0, 1)) byName.set(f.name, [...(byName.get(f.name) ?? []), o.seed]);
    lines.push("", st.bold("Failures by first failure"));
    for (const [name, seeds] of byName) lines.push(`  ${st.bad("✗")} ${name} × ${seeds.length}: seeds ${seeds.slice(0, 12).join(", ")}${seeds.length > 12 ? ", …" : ""}`);
    lines.push("", st.bold("Failing seeds"));
    for (const o of failed.slice(0, 20)) {
      const f = o.failures[0];
      lines.push(`  seed ${o.seed}: ${f === undefined ? "failed" : `at ${f.atMs.toFixed(3)} ms ${f.name}: ${f.message}`}`);
      lines.push(`    ${reproLine(s.path, o.seed)}`);
    }
    if (failed.length > 20) lines.push(st.dim(`  … and ${failed.length - 20} more (--json lists them all)`));
  }
  lines.push("", failed.length === 0 ? st.ok(st.bold("PASS")) : st.bad(st.bold("FAIL")));
  return lines.join("\n");
}

// ---- sim replay ------------------------------------------------------------------------------

async function cmdReplay(a: { trace: string }): Promise<number> {
  readText(a.trace, "trace"); // a clear message for a missing file
  let result;
  try {
    const bar = progress(`replaying ${basename(a.trace)}`, 1000, "‰");
    result = await replay(a.trace, (f) => bar.update(Math.floor(f * 1000)));
    bar.stop();
  } catch (e) {
    if (e instanceof TraceFileError) throw new UserError(e.message);
    if (e instanceof ScenarioError) throw new UserError(`the scenario embedded in ${a.trace} does not load: ${e.message}`);
    throw e;
  }
  const h = result.header;
  const st = stdoutStyle();
  if (result.identical) {
    process.stdout.write(`${st.ok("identical")}: ${fmtInt(result.lines)} lines match, byte for byte (${h.scenario.name}, seed ${h.seed}, ${h.detail} detail, written by faultline ${h.version})\n`);
    return EXIT.pass;
  }
  const m = result.mismatch;
  const clip = (s: string | null): string => (s === null ? "(nothing: the trace ends here)" : s.length > 400 ? `${s.slice(0, 400)}…` : s);
  const lines = [`${st.bad("DIFFERENT")}: the re-run departs from the trace at line ${m?.line ?? "?"}`, `  trace:  ${clip(m?.expected ?? null)}`, `  re-run: ${clip(m?.actual ?? null)}`];
  if (h.version !== VERSION) lines.push(`  The trace was written by faultline ${h.version}; this is ${VERSION}: a code change explains a difference.`);
  else lines.push("  Same version: this is a determinism bug (or the trace file was edited). Please report it with the trace.");
  process.stdout.write(`${lines.join("\n")}\n`);
  return EXIT.fail;
}

// ---- sim shrink ------------------------------------------------------------------------------

async function cmdShrink(a: { scenario: string; seed: number; out: string | undefined }): Promise<number> {
  const scenario = load(a.scenario);
  const out = a.out ?? join(dirname(a.scenario), `${basename(a.scenario).replace(/\.ya?ml$/, "")}.seed${a.seed}.shrunk.yaml`);
  const interactive = process.stderr.isTTY === true;
  let lastLine = 0;
  let result;
  try {
    result = shrink(scenario, a.seed, (p) => {
      const now = performance.now();
      if (now - lastLine < (interactive ? 100 : 2000)) return;
      lastLine = now;
      const text = `shrinking: ${p.runs} runs · ${p.faults} faults left · ${p.phase}`;
      process.stderr.write(interactive ? `\r${text.padEnd(78)}` : `${text}\n`);
    });
  } catch (e) {
    if (e instanceof ShrinkError) throw new UserError(e.message, EXIT.fail);
    throw e;
  } finally {
    if (interactive) process.stderr.write(`\r${" ".repeat(78)}\r`);
  }
  try {
    writeFileSync(out, result.yaml);
  } catch (e) {
    throw new UserError(`cannot write ${out}: ${(e as Error).message}`);
  }
  const st = stdoutStyle();
  const lines = [
    st.bold(`shrunk ${scenario.name} seed ${a.seed}: ${result.faultsBefore} faults → ${result.faultsAfter}`) + (result.durationAfterMs < result.durationBeforeMs ? `, ${result.durationBeforeMs} ms → ${result.durationAfterMs} ms` : ""),
    `  kept failure: ${result.signature} · ${result.runs} runs`,
    result.budgetExhausted ? st.dim("  (the run budget ran out; the schedule may shrink further)") : "",
    `wrote ${out}`,
    `Reproduce: npx sim run ${out}`,
  ].filter((l) => l !== "");
  process.stdout.write(`${lines.join("\n")}\n`);
  return EXIT.pass;
}

// ---- sim check -------------------------------------------------------------------------------

function cmdCheck(a: { scenario: string[] }): number {
  for (const path of a.scenario) {
    const s = load(path);
    const d = s.data;
    const length = d.swarm === undefined ? `${d.durationMs} ms` : `swarm: ${d.swarm.safetyMs} ms of faults + up to ${d.swarm.livenessMs} ms to converge`;
    process.stdout.write(`ok  ${path}: ${s.adapter.name} × ${s.nodes.length} nodes, ${length}, ${s.faults.length} faults, ${s.expectations.length} expectations\n`);
  }
  return EXIT.pass;
}

// ---- sim view --------------------------------------------------------------------------------

async function cmdView(a: ViewArgs): Promise<number> {
  try {
    await runView(a, (line) => process.stdout.write(`${line}\n`));
  } catch (e) {
    throw e instanceof ViewError ? new UserError(e.message) : e;
  }
  return EXIT.pass;
}

// ---- wiring ----------------------------------------------------------------------------------

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.pass;
  const set = (p: Promise<number> | number): Promise<void> => Promise.resolve(p).then((c) => void (code = c));
  const parser = yargs(argv)
    .scriptName("sim")
    .usage("$0 <command> [options]\n\nThe Faultline simulator: runs protocol scenarios under injected faults, deterministically from a seed.")
    .command(
      "run <scenario>",
      "run one scenario and print its summary",
      (y) =>
        y
          .positional("scenario", { type: "string", demandOption: true, describe: "scenario file (YAML)" })
          .option("seed", { type: "number", describe: "override the scenario's seed" })
          .option("trace", { type: "string", describe: "write the trace here (default traces/<name>-seed<N>.jsonl; --no-trace for none)" })
          .option("detail", { choices: TRACE_DETAILS, describe: "trace detail: events (protocol events only), messages (+ every message), full (+ bodies, timers)" })
          .option("json", { type: "boolean", default: false, describe: "print the result as JSON" })
          .option("verbose", { type: "boolean", default: false, describe: "print stacks of exceptions raised inside the simulated system" })
          .example("$0 run scenarios/toy-leader-crash.yaml", "run with the scenario's own seed")
          .example("$0 run scenarios/toy-leader-crash.yaml --seed 7 --trace /tmp/t.jsonl", "another seed, trace elsewhere"),
      (argv) => set(cmdRun({ scenario: argv.scenario, seed: argv.seed, trace: argv.trace as string | boolean | undefined, detail: argv.detail, json: argv.json, verbose: argv.verbose })),
    )
    .command(
      "explore <scenario>",
      "run many seeds in parallel and list the failing ones",
      (y) =>
        y
          .positional("scenario", { type: "string", demandOption: true, describe: "scenario file (YAML)" })
          .option("seeds", { type: "string", demandOption: true, describe: "seeds: A..B (inclusive), N, or A,B,C" })
          .option("workers", { type: "number", describe: "worker threads (default: one per core; 0 runs in this process)" })
          .option("fail-fast", { type: "boolean", default: false, describe: "stop handing out seeds after the first failure" })
          .option("json", { type: "boolean", default: false, describe: "print outcomes as JSON" })
          .example("$0 explore scenarios/toy-swarm.yaml --seeds 1..200", "200 seeds on every core"),
      (argv) => set(cmdExplore({ scenario: argv.scenario, seeds: argv.seeds, workers: argv.workers, json: argv.json, failFast: argv.failFast })),
    )
    .command(
      "replay <trace>",
      "re-run a trace's scenario and seed and check the bytes match (determinism self-check)",
      (y) => y.positional("trace", { type: "string", demandOption: true, describe: "a trace written by sim run" }),
      (argv) => set(cmdReplay({ trace: argv.trace })),
    )
    .command(
      "shrink <scenario>",
      "minimise the fault schedule of a failing seed and write the smaller scenario",
      (y) =>
        y
          .positional("scenario", { type: "string", demandOption: true, describe: "scenario file (YAML)" })
          .option("seed", { type: "number", demandOption: true, describe: "a seed that fails" })
          .option("out", { type: "string", describe: "where to write (default <scenario>.seed<N>.shrunk.yaml beside it)" }),
      (argv) => set(cmdShrink({ scenario: argv.scenario, seed: argv.seed, out: argv.out })),
    )
    .command(
      "check <scenario..>",
      "validate scenario files without running them",
      (y) => y.positional("scenario", { type: "string", array: true, demandOption: true, describe: "scenario files" }),
      (argv) => set(cmdCheck({ scenario: argv.scenario })),
    )
    .command(
      "view <trace..>",
      "open traces in the viewer on 127.0.0.1, or write one self-contained HTML file",
      (y) =>
        y
          .positional("trace", { type: "string", array: true, demandOption: true, describe: "traces (sim run), real nodes' logs, and optionally a sim run --json result for its findings" })
          .option("out", { type: "string", describe: "write one self-contained HTML file here instead of serving" })
          .option("port", { type: "number", describe: "port to serve on (default: any free port)" })
          .example("$0 view traces/master-crash-seed1.jsonl", "serve the viewer and print its URL")
          .example("$0 view traces/master-crash-seed1.jsonl --out report.html", "one file to attach to a bug report"),
      (argv) => set(cmdView({ files: argv.trace, out: argv.out, port: argv.port })),
    )
    .demandCommand(1, "Name a command: run, explore, replay, shrink or check (sim --help lists them).")
    .strict()
    .epilogue(`Protocols: ${adapterNames().join(", ")}. Exit status: 0 pass, 1 a check failed, 2 bad input, 3 internal error.`)
    .version(VERSION)
    .help()
    .alias("h", "help")
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      throw err ?? new UserError(`${msg}\n(sim --help explains the commands)`);
    });
  await parser.parseAsync();
  return code;
}

export async function cli(): Promise<void> {
  try {
    process.exitCode = await main(hideBin(process.argv));
  } catch (e) {
    if (e instanceof ScenarioError) {
      process.stderr.write(`sim: ${e.message}\n`);
      process.exitCode = EXIT.input;
    } else if (e instanceof UserError) {
      process.stderr.write(`sim: ${e.message}\n`);
      process.exitCode = e.code;
    } else {
      const err = e instanceof Error ? e : new Error(String(e));
      process.stderr.write(`sim: internal error: ${err.message}\nThis is a bug in faultline; please report it with the command line.\n${process.env["SIM_DEBUG"] === undefined ? "(SIM_DEBUG=1 prints the stack)" : (err.stack ?? "")}\n`);
      process.exitCode = EXIT.internal;
    }
  }
}
