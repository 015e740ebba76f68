// `faultline local up | down | status`: a whole cluster on this machine in one command.
//
// `up` starts masters × (1 + replicas) `faultline node` processes in the background (detached:
// they outlive the command and ignore the terminal's Ctrl-C), forms the cluster with
// `faultline cluster create`'s code, and waits until every node says cluster_state:ok. `down`
// stops them: SIGTERM, then SIGKILL after a bound.
//
// Everything lives in one directory (default ./.faultline-local):
//
//   local.json        what was started: ports, pids, files (written before each spawn, so a
//                     failed `up` can still be cleaned up and `down` always knows what is ours)
//   nodes/<port>/     each node's --dir (nodes.conf)
//   logs/<port>.log   each node's JSON-lines log
//   logs/<port>.out   what each process printed (its start line, fatal errors)

import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { AdminError, clusterCreate, infoFields, type Out } from "./admin.js";
import { MASTERS_MIN } from "./cluster-table.js";
import { ConnectionError, RespClient } from "./resp-client.js";

export const LOCAL_DIR_DEFAULT = ".faultline-local";
const STATE_FILE = "local.json";
const STATE_VERSION = 1;
/** A node must answer PING this soon after its spawn. */
const START_TIMEOUT_MS = 15_000;
/** How long `up` waits for cluster_state:ok everywhere after the cluster is formed. */
const STATE_OK_TIMEOUT_MS = 30_000;
/** How long `down` waits after SIGTERM before SIGKILL (a node's own shutdown grace is 2 s). */
export const STOP_GRACE_MS = 10_000;
/** The most nodes `up` starts: enough for any laptop experiment, few enough to notice a typo. */
const NODES_MAX = 100;
const POLL_MS = 100;

interface NodeRecord {
  readonly port: number;
  /** null until spawned. */
  pid: number | null;
  /** Relative to the local directory. */
  readonly dir: string;
  readonly log: string;
  readonly out: string;
}

interface LocalState {
  readonly version: number;
  readonly startedAt: string;
  readonly masters: number;
  readonly replicas: number;
  readonly nodeTimeoutMs: number;
  readonly nodes: NodeRecord[];
  stoppedAt: string | null;
}

export interface UpOptions {
  readonly masters: number;
  readonly replicas: number;
  readonly dir: string;
  readonly portBase: number;
  readonly nodeTimeoutMs: number;
  /** How to run faultline: the Node binary and the launcher script. */
  readonly launcher: readonly string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readState(dir: string): LocalState | null {
  const file = join(dir, STATE_FILE);
  if (!existsSync(file)) return null;
  let state: LocalState;
  try {
    state = JSON.parse(readFileSync(file, "utf8")) as LocalState;
  } catch (e) {
    throw new AdminError(`${file} is not a faultline local state file (${e instanceof Error ? e.message : String(e)}); remove ${dir} or choose another --dir`);
  }
  if (state.version !== STATE_VERSION || !Array.isArray(state.nodes)) throw new AdminError(`${file} was written by another version of faultline; stop its nodes by hand and remove ${dir}`);
  return state;
}

/** Replaces the state file atomically, so a crash mid-write never loses the pids. */
function writeState(dir: string, state: LocalState): void {
  const file = join(dir, STATE_FILE);
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + "\n");
  renameSync(`${file}.tmp`, file);
}

/**
 * Whether `pid` is alive and is the faultline node we started on `port`. On Linux the command
 * line is checked, so a pid reused by another process after a crash is left alone.
 */
export function isOurNode(pid: number, port: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false; // ESRCH: gone; EPERM: someone else's process
  }
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync("/proc/self/cmdline")) return true; // no /proc: trust the record
  try {
    const args = readFileSync(cmdline, "latin1").split("\0");
    const i = args.indexOf("--port");
    return args.includes("node") && i >= 0 && args[i + 1] === String(port);
  } catch {
    return false;
  }
}

function running(state: LocalState): NodeRecord[] {
  return state.nodes.filter((n) => n.pid !== null && isOurNode(n.pid, n.port));
}

/** Resolves when `port` can be listened on at 127.0.0.1; rejects with the system error otherwise. */
function probePort(port: number): Promise<void> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolvePort()));
  });
}

async function checkPortsFree(ports: readonly number[]): Promise<void> {
  const taken: string[] = [];
  for (const p of ports) {
    for (const [port, what] of [[p, "client"], [p + 10000, "cluster bus"]] as const) {
      await probePort(port).catch((e: NodeJS.ErrnoException) => taken.push(`${port} (${what} port of node ${p}): ${e.code ?? e.message}`));
    }
  }
  if (taken.length > 0) {
    throw new AdminError(`ports in use on 127.0.0.1:\n  ${taken.join("\n  ")}\nIs another Redis or faultline cluster running? Stop it, or choose another --port-base.`);
  }
}

/**
 * Makes `dir` ready for a new cluster: refuses when one is up there, removes the files of a
 * stopped one (which `down` kept for its logs), refuses files we did not record.
 */
function prepareDir(dir: string, out: Out): void {
  const old = readState(dir);
  if (old !== null) {
    const alive = running(old);
    if (alive.length > 0) {
      throw new AdminError(
        `a local cluster is already up in ${dir} (ports ${alive.map((n) => n.port).join(", ")}).\n` + `Stop it first: faultline local down --dir ${dir}`,
      );
    }
    out.line(`Removing the stopped cluster's files in ${dir} (started ${old.startedAt}).`);
    for (const n of old.nodes) {
      for (const f of [n.dir, n.log, n.out]) rmSync(join(dir, f), { recursive: true, force: true });
    }
    rmSync(join(dir, STATE_FILE), { force: true });
  }
  const stray = ["nodes", "logs"].filter((d) => existsSync(join(dir, d)) && readdirSync(join(dir, d)).length > 0);
  if (stray.length > 0) throw new AdminError(`${dir} holds ${stray.join(" and ")}/ that no faultline local run recorded; remove them or choose another --dir`);
}

export async function localUp(opts: UpOptions, out: Out): Promise<void> {
  const count = opts.masters * (1 + opts.replicas);
  if (!Number.isInteger(opts.masters) || opts.masters < MASTERS_MIN) throw new AdminError(`--masters must be ${MASTERS_MIN} or more (Redis Cluster needs a majority of masters to survive a failure)`);
  if (!Number.isInteger(opts.replicas) || opts.replicas < 0) throw new AdminError("--replicas must be a whole number ≥ 0");
  if (count > NODES_MAX) throw new AdminError(`${count} nodes is more than faultline local starts (${NODES_MAX})`);
  if (!Number.isInteger(opts.portBase) || opts.portBase < 1024 || opts.portBase + count - 1 + 10000 > 65535) {
    throw new AdminError(`--port-base must leave room for ${count} client ports and their bus ports (+10000) within 1024..65535`);
  }
  if (!Number.isInteger(opts.nodeTimeoutMs) || opts.nodeTimeoutMs < 100) throw new AdminError("--node-timeout must be at least 100 ms");
  const dir = resolve(opts.dir);
  prepareDir(dir, out);
  const ports = Array.from({ length: count }, (_, i) => opts.portBase + i);
  await checkPortsFree(ports);

  mkdirSync(join(dir, "nodes"), { recursive: true });
  mkdirSync(join(dir, "logs"), { recursive: true });
  const state: LocalState = {
    version: STATE_VERSION,
    startedAt: new Date().toISOString(),
    masters: opts.masters,
    replicas: opts.replicas,
    nodeTimeoutMs: opts.nodeTimeoutMs,
    nodes: ports.map((port) => ({ port, pid: null, dir: join("nodes", String(port)), log: join("logs", `${port}.log`), out: join("logs", `${port}.out`) })),
    stoppedAt: null,
  };
  writeState(dir, state);
  out.line(`Starting ${count} nodes (${opts.masters} masters, ${opts.replicas} replica${opts.replicas === 1 ? "" : "s"} each) on 127.0.0.1:${ports[0]}-${ports.at(-1)}, node timeout ${opts.nodeTimeoutMs} ms`);

  const exited = new Map<number, string>();
  try {
    for (const n of state.nodes) {
      n.pid = spawnNode(opts, dir, n, (why) => exited.set(n.port, why));
      writeState(dir, state);
    }
    for (const n of state.nodes) await waitForPing(dir, n, exited);
    out.line(`All ${count} nodes answer PING.`);
    await clusterCreate({ addresses: ports.map((p) => `127.0.0.1:${p}`), replicas: opts.replicas, yes: true }, stepsOnly(out));
    await waitForStateOk(ports, out);
  } catch (e) {
    out.line(`Stopping the nodes started: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
    await stopNodes(dir, state, 2_000, () => {});
    throw e;
  }

  const masters = ports.slice(0, opts.masters);
  out.line("");
  out.line(`Faultline cluster up: ${opts.masters} masters, ${opts.replicas} replica${opts.replicas === 1 ? "" : "s"} each, every node cluster_state:ok.`);
  out.line(`  masters   ${masters.map((p) => `127.0.0.1:${p}`).join("  ")}`);
  if (opts.replicas > 0) out.line(`  replicas  ${ports.slice(opts.masters).map((p, i) => `127.0.0.1:${p} (of ${masters[i % opts.masters]})`).join("  ")}`);
  out.line(`  logs      ${join(dir, "logs")}/<port>.log (JSON lines; <port>.out: what each process printed)`);
  out.line(`Try it:     redis-cli -c -p ${ports[0]}`);
  out.line(`Check it:   faultline cluster check 127.0.0.1:${ports[0]}`);
  out.line(`Stop it:    faultline local down${opts.dir === LOCAL_DIR_DEFAULT ? "" : ` --dir ${opts.dir}`}`);
}

/** `out` with only create's steps (`>>> …`) and verdicts (`[OK] …`): the plan and node list are printed at the end. */
function stepsOnly(out: Out): Out {
  return {
    line: (text) => (text.startsWith(">>>") || text.startsWith("[") ? out.line(text) : undefined),
    progress: (text) => out.progress(text),
    confirm: (question) => out.confirm(question),
  };
}

/** Starts one detached node with its output in its .out file; returns its pid. */
function spawnNode(opts: UpOptions, dir: string, n: NodeRecord, onExit: (why: string) => void): number {
  const [exe, ...pre] = opts.launcher as [string, ...string[]];
  const args = [
    ...pre,
    "node",
    "--port",
    String(n.port),
    "--cluster-enabled",
    "yes",
    "--cluster-node-timeout",
    String(opts.nodeTimeoutMs),
    "--dir",
    join(dir, n.dir),
    "--logfile",
    join(dir, n.log),
  ];
  const fd = openSync(join(dir, n.out), "a");
  try {
    const child = spawn(exe, args, { cwd: dir, detached: true, stdio: ["ignore", fd, fd] });
    if (child.pid === undefined) throw new AdminError(`cannot start ${exe} for node ${n.port}`);
    child.once("exit", (code, signal) => onExit(`exited ${code ?? signal}`));
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return "(nothing)";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

async function waitForPing(dir: string, n: NodeRecord, exited: ReadonlyMap<number, string>): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const why = exited.get(n.port);
    if (why !== undefined) throw new AdminError(`node ${n.port} ${why}; it printed:\n${tail(join(dir, n.out), 10)}`);
    try {
      const c = await RespClient.connect("127.0.0.1", n.port, 1_000);
      try {
        const r = await c.call(["PING"], 1_000);
        if (r.type === "simple" && r.value === "PONG") return;
      } finally {
        c.close();
      }
    } catch (e) {
      if (!(e instanceof ConnectionError)) throw e;
    }
    if (Date.now() >= deadline) throw new AdminError(`node ${n.port} does not answer PING after ${START_TIMEOUT_MS / 1000} s; its log ends:\n${tail(join(dir, n.log), 10)}`);
    await sleep(POLL_MS);
  }
}

/** cluster_state of the node at 127.0.0.1:port, or null when it cannot be asked. */
async function clusterState(port: number): Promise<string | null> {
  try {
    const c = await RespClient.connect("127.0.0.1", port, 1_000);
    try {
      return infoFields(await c.text(["CLUSTER", "INFO"], 2_000)).get("cluster_state") ?? null;
    } finally {
      c.close();
    }
  } catch (e) {
    if (e instanceof ConnectionError) return null;
    throw e;
  }
}

async function waitForStateOk(ports: readonly number[], out: Out): Promise<void> {
  const deadline = Date.now() + STATE_OK_TIMEOUT_MS;
  for (;;) {
    const states = await Promise.all(ports.map(clusterState));
    const ok = states.filter((s) => s === "ok").length;
    if (ok === ports.length) return;
    if (Date.now() >= deadline) {
      const bad = ports.filter((_, i) => states[i] !== "ok").map((p, i) => `${p}: ${states[i] ?? "no answer"}`);
      throw new AdminError(`not every node reached cluster_state:ok within ${STATE_OK_TIMEOUT_MS / 1000} s (${bad.join(", ")})`);
    }
    out.progress(`Waiting for cluster_state:ok: ${ok}/${ports.length} nodes`);
    await sleep(POLL_MS * 2);
  }
}

/** SIGTERM to every node still running, SIGKILL to those still up after `graceMs`; records the stop. */
async function stopNodes(dir: string, state: LocalState, graceMs: number, report: (n: NodeRecord, how: string) => void): Promise<number> {
  const alive = running(state);
  for (const n of state.nodes) if (!alive.includes(n)) report(n, "was not running");
  for (const n of alive) process.kill(n.pid as number, "SIGTERM");
  const deadline = Date.now() + graceMs;
  let left = alive;
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(POLL_MS);
    left = left.filter((n) => isOurNode(n.pid as number, n.port));
  }
  for (const n of alive) {
    if (left.includes(n)) {
      process.kill(n.pid as number, "SIGKILL");
      report(n, `did not stop within ${graceMs / 1000} s of SIGTERM: SIGKILL`);
    } else report(n, "stopped (SIGTERM)");
  }
  state.stoppedAt = new Date().toISOString();
  writeState(dir, state);
  return alive.length;
}

export async function localDown(dirOption: string, out: Out, graceMs = STOP_GRACE_MS): Promise<void> {
  const dir = resolve(dirOption);
  const state = readState(dir);
  if (state === null) throw new AdminError(`no local cluster in ${dir} (no ${STATE_FILE}); start one with faultline local up`);
  if (running(state).length === 0) {
    out.line(`Nothing is running in ${dir}${state.stoppedAt === null ? "" : ` (stopped ${state.stoppedAt})`}.`);
    return;
  }
  const stopped = await stopNodes(dir, state, graceMs, (n, how) => out.line(`127.0.0.1:${n.port}${n.pid === null ? "" : ` (pid ${n.pid})`}: ${how}`));
  out.line(`Stopped ${stopped} node${stopped === 1 ? "" : "s"}. Logs kept in ${join(dir, "logs")}; the next faultline local up there replaces them.`);
}

export async function localStatus(dirOption: string, out: Out): Promise<boolean> {
  const dir = resolve(dirOption);
  const state = readState(dir);
  if (state === null) throw new AdminError(`no local cluster in ${dir} (no ${STATE_FILE}); start one with faultline local up`);
  out.line(`${dir}: ${state.masters} masters × ${1 + state.replicas}, started ${state.startedAt}${state.stoppedAt === null ? "" : `, stopped ${state.stoppedAt}`}`);
  let up = 0;
  for (const n of state.nodes) {
    const alive = n.pid !== null && isOurNode(n.pid, n.port);
    if (!alive) {
      out.line(`  127.0.0.1:${n.port}  not running`);
      continue;
    }
    up += 1;
    out.line(`  127.0.0.1:${n.port}  pid ${n.pid}  ${await describeNode(n.port)}`);
  }
  return up === state.nodes.length;
}

/** "master, cluster_state:ok, 5461 slots" or why the node could not say. */
async function describeNode(port: number): Promise<string> {
  try {
    const c = await RespClient.connect("127.0.0.1", port, 1_000);
    try {
      const info = infoFields(await c.text(["CLUSTER", "INFO"], 2_000));
      const role = infoFields(await c.text(["INFO", "replication"], 2_000)).get("role") ?? "?";
      return `${role}, cluster_state:${info.get("cluster_state") ?? "?"}, ${info.get("cluster_slots_assigned") ?? "?"} slots assigned in the cluster`;
    } finally {
      c.close();
    }
  } catch (e) {
    if (e instanceof ConnectionError) return `does not answer: ${e.message}`;
    throw e;
  }
}
