// `faultline raft local up | down | status`: a Raft store of N members on this machine in one
// command, as `faultline local` does for the Redis cluster (local.ts).
//
// `up` starts N `faultline raft node` processes in the background (detached: they outlive the
// command and ignore the terminal's Ctrl-C) on 127.0.0.1 — member i's Raft port is port-base + i
// − 1 and its HTTP port port-base + 100 + i − 1 — and waits until one leads and every member
// follows it. `down` stops them: SIGTERM, then SIGKILL after a bound.
//
// Everything lives in one directory (default ./.faultline-raft):
//
//   raft-local.json   what was started: ids, ports, pids, files (written before each spawn, so a
//                     failed `up` can still be cleaned up and `down` always knows what is ours)
//   members/<id>/     each member's --dir (raft-log, raft-snapshot)
//   logs/<id>.log     each member's JSON-lines log
//   logs/<id>.out     what each process printed (its start line, fatal errors)

import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { AdminError, type Out } from "./admin.js";

export const RAFT_LOCAL_DIR_DEFAULT = ".faultline-raft";
const STATE_FILE = "raft-local.json";
const STATE_VERSION = 1;
/** The HTTP ports start this far above the Raft ports. */
const HTTP_PORT_OFFSET = 100;
const MEMBERS_MAX = 15;
/** How long `up` waits for a leader that every member follows. */
const LEADER_TIMEOUT_MS = 30_000;
/** How long `down` waits after SIGTERM before SIGKILL (a member's own shutdown grace is 2 s). */
const STOP_GRACE_MS = 10_000;
const POLL_MS = 100;

interface MemberRecord {
  readonly id: string;
  readonly raftPort: number;
  readonly httpPort: number;
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
  readonly members: MemberRecord[];
  stoppedAt: string | null;
}

export interface RaftUpOptions {
  readonly members: number;
  readonly dir: string;
  readonly portBase: number;
  /** More `raft node` options for every member (`--election-timeout 300-600`). */
  readonly extraArgs: readonly string[];
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
    throw new AdminError(`${file} is not a faultline raft local state file (${e instanceof Error ? e.message : String(e)}); remove ${dir} or choose another --dir`);
  }
  if (state.version !== STATE_VERSION || !Array.isArray(state.members)) throw new AdminError(`${file} was written by another version of faultline; stop its members by hand and remove ${dir}`);
  return state;
}

/** Replaces the state file atomically, so a crash mid-write never loses the pids. */
function writeState(dir: string, state: LocalState): void {
  const file = join(dir, STATE_FILE);
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + "\n");
  renameSync(`${file}.tmp`, file);
}

/** Whether `pid` is alive and is the `raft node --id <id>` we started (on Linux its command line is checked). */
function isOurMember(pid: number, id: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (!existsSync("/proc/self/cmdline")) return true;
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0");
    const i = args.indexOf("--id");
    return args.includes("raft") && args.includes("node") && i >= 0 && args[i + 1] === id;
  } catch {
    return false;
  }
}

function running(state: LocalState): MemberRecord[] {
  return state.members.filter((m) => m.pid !== null && isOurMember(m.pid, m.id));
}

function probePort(port: number): Promise<void> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolvePort()));
  });
}

function prepareDir(dir: string, out: Out): void {
  const old = readState(dir);
  if (old !== null) {
    const alive = running(old);
    if (alive.length > 0) throw new AdminError(`a Raft store is already up in ${dir} (members ${alive.map((m) => m.id).join(", ")}).\nStop it first: faultline raft local down --dir ${dir}`);
    out.line(`Removing the stopped store's files in ${dir} (started ${old.startedAt}).`);
    for (const m of old.members) for (const f of [m.dir, m.log, m.out]) rmSync(join(dir, f), { recursive: true, force: true });
    rmSync(join(dir, STATE_FILE), { force: true });
  }
  const stray = ["members", "logs"].filter((d) => existsSync(join(dir, d)) && readdirSync(join(dir, d)).length > 0);
  if (stray.length > 0) throw new AdminError(`${dir} holds ${stray.join(" and ")}/ that no faultline raft local run recorded; remove them or choose another --dir`);
}

export async function raftLocalUp(opts: RaftUpOptions, out: Out): Promise<void> {
  if (!Number.isInteger(opts.members) || opts.members < 1 || opts.members > MEMBERS_MAX) throw new AdminError(`--members must be 1 to ${MEMBERS_MAX} (odd sizes tolerate the most failures: 3, 5, 7)`);
  if (!Number.isInteger(opts.portBase) || opts.portBase < 1024 || opts.portBase + HTTP_PORT_OFFSET + opts.members > 65535) throw new AdminError(`--port-base must leave room for ${opts.members} Raft ports and their HTTP ports (+${HTTP_PORT_OFFSET}) within 1024..65535`);
  const dir = resolve(opts.dir);
  prepareDir(dir, out);
  const members: MemberRecord[] = Array.from({ length: opts.members }, (_, i) => ({
    id: `n${i + 1}`,
    raftPort: opts.portBase + i,
    httpPort: opts.portBase + HTTP_PORT_OFFSET + i,
    pid: null,
    dir: join("members", `n${i + 1}`),
    log: join("logs", `n${i + 1}.log`),
    out: join("logs", `n${i + 1}.out`),
  }));
  const taken: string[] = [];
  for (const m of members) {
    for (const [port, what] of [[m.raftPort, "Raft"], [m.httpPort, "HTTP"]] as const) {
      await probePort(port).catch((e: NodeJS.ErrnoException) => taken.push(`${port} (${what} port of ${m.id}): ${e.code ?? e.message}`));
    }
  }
  if (taken.length > 0) throw new AdminError(`ports in use on 127.0.0.1:\n  ${taken.join("\n  ")}\nIs another store running? Stop it, or choose another --port-base.`);
  mkdirSync(join(dir, "members"), { recursive: true });
  mkdirSync(join(dir, "logs"), { recursive: true });
  const state: LocalState = { version: STATE_VERSION, startedAt: new Date().toISOString(), members, stoppedAt: null };
  writeState(dir, state);
  const peers = members.map((m) => `${m.id}=127.0.0.1:${m.raftPort}/${m.httpPort}`).join(",");
  out.line(`Starting ${opts.members} Raft members on 127.0.0.1: Raft ports ${members[0]?.raftPort}-${members.at(-1)?.raftPort}, HTTP ports ${members[0]?.httpPort}-${members.at(-1)?.httpPort}`);
  const exited = new Map<string, string>();
  let leader: { id: string; term: number };
  try {
    for (const m of members) {
      m.pid = spawnMember(opts, dir, m, peers, (why) => exited.set(m.id, why));
      writeState(dir, state);
    }
    leader = await waitForLeader(dir, members, exited, out);
  } catch (e) {
    out.line(`Stopping the members started: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
    await stopMembers(dir, state, 2_000, () => {});
    throw e;
  }
  const first = members[0] as MemberRecord;
  out.line("");
  out.line(`Raft store up: ${opts.members} member${opts.members === 1 ? "" : "s"}, ${leader.id} leads term ${leader.term}, every member follows it.`);
  for (const m of members) out.line(`  ${m.id}  raft 127.0.0.1:${m.raftPort}  http://127.0.0.1:${m.httpPort}`);
  out.line(`  logs      ${join(dir, "logs")}/<id>.log (JSON lines; <id>.out: what each process printed)`);
  out.line(`Try it:     curl -sL -X PUT --data hello http://127.0.0.1:${first.httpPort}/kv/greeting`);
  out.line(`            curl -sL http://127.0.0.1:${first.httpPort}/kv/greeting`);
  out.line(`Stop it:    faultline raft local down${opts.dir === RAFT_LOCAL_DIR_DEFAULT ? "" : ` --dir ${opts.dir}`}`);
}

function spawnMember(opts: RaftUpOptions, dir: string, m: MemberRecord, peers: string, onExit: (why: string) => void): number {
  const [exe, ...pre] = opts.launcher as [string, ...string[]];
  const args = [...pre, "raft", "node", "--id", m.id, "--listen", `127.0.0.1:${m.raftPort}`, "--http", `127.0.0.1:${m.httpPort}`, "--peers", peers, "--dir", join(dir, m.dir), "--logfile", join(dir, m.log), ...opts.extraArgs];
  const fd = openSync(join(dir, m.out), "a");
  try {
    const child = spawn(exe, args, { cwd: dir, detached: true, stdio: ["ignore", fd, fd] });
    if (child.pid === undefined) throw new AdminError(`cannot start ${exe} for ${m.id}`);
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

/** GET /status of a member, or null when it does not answer. */
async function statusOf(httpPort: number): Promise<{ [key: string]: unknown } | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${httpPort}/status`, { signal: AbortSignal.timeout(1_000) });
    return r.status === 200 ? ((await r.json()) as { [key: string]: unknown }) : null;
  } catch {
    return null;
  }
}

async function waitForLeader(dir: string, members: readonly MemberRecord[], exited: ReadonlyMap<string, string>, out: Out): Promise<{ id: string; term: number }> {
  const deadline = Date.now() + LEADER_TIMEOUT_MS;
  for (;;) {
    for (const m of members) {
      const why = exited.get(m.id);
      if (why !== undefined) throw new AdminError(`${m.id} ${why}; it printed:\n${tail(join(dir, m.out), 10)}`);
    }
    const statuses = await Promise.all(members.map((m) => statusOf(m.httpPort)));
    const leader = statuses.find((s) => s?.["role"] === "leader") ?? null;
    if (leader !== null && statuses.every((s) => s !== null && s["leader"] === leader["id"] && s["term"] === leader["term"])) {
      return { id: String(leader["id"]), term: Number(leader["term"]) };
    }
    if (Date.now() >= deadline) {
      const views = members.map((m, i) => `${m.id}: ${statuses[i] === null ? "no answer" : `${String(statuses[i]?.["role"])} of term ${String(statuses[i]?.["term"])}`}`);
      throw new AdminError(`no leader that every member follows within ${LEADER_TIMEOUT_MS / 1000} s (${views.join(", ")})`);
    }
    out.progress(`Waiting for a leader: ${statuses.filter((s) => s !== null).length}/${members.length} members answer`);
    await sleep(POLL_MS);
  }
}

/** SIGTERM to every member still running, SIGKILL to those still up after `graceMs`; records the stop. */
async function stopMembers(dir: string, state: LocalState, graceMs: number, report: (m: MemberRecord, how: string) => void): Promise<number> {
  const alive = running(state);
  for (const m of state.members) if (!alive.includes(m)) report(m, "was not running");
  for (const m of alive) process.kill(m.pid as number, "SIGTERM");
  const deadline = Date.now() + graceMs;
  let left = alive;
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(POLL_MS);
    left = left.filter((m) => isOurMember(m.pid as number, m.id));
  }
  for (const m of alive) {
    if (left.includes(m)) {
      process.kill(m.pid as number, "SIGKILL");
      report(m, `did not stop within ${graceMs / 1000} s of SIGTERM: SIGKILL`);
    } else report(m, "stopped (SIGTERM)");
  }
  state.stoppedAt = new Date().toISOString();
  writeState(dir, state);
  return alive.length;
}

export async function raftLocalDown(dirOption: string, out: Out, graceMs = STOP_GRACE_MS): Promise<void> {
  const dir = resolve(dirOption);
  const state = readState(dir);
  if (state === null) throw new AdminError(`no Raft store in ${dir} (no ${STATE_FILE}); start one with faultline raft local up`);
  if (running(state).length === 0) {
    out.line(`Nothing is running in ${dir}${state.stoppedAt === null ? "" : ` (stopped ${state.stoppedAt})`}.`);
    return;
  }
  const stopped = await stopMembers(dir, state, graceMs, (m, how) => out.line(`${m.id}${m.pid === null ? "" : ` (pid ${m.pid})`}: ${how}`));
  out.line(`Stopped ${stopped} member${stopped === 1 ? "" : "s"}. Data and logs kept in ${dir}; the next faultline raft local up there replaces them.`);
}

/** Each member: running or not, its role, term and commit index. True when all run. */
export async function raftLocalStatus(dirOption: string, out: Out): Promise<boolean> {
  const dir = resolve(dirOption);
  const state = readState(dir);
  if (state === null) throw new AdminError(`no Raft store in ${dir} (no ${STATE_FILE}); start one with faultline raft local up`);
  out.line(`${dir}: ${state.members.length} members, started ${state.startedAt}${state.stoppedAt === null ? "" : `, stopped ${state.stoppedAt}`}`);
  let up = 0;
  for (const m of state.members) {
    if (m.pid === null || !isOurMember(m.pid, m.id)) {
      out.line(`  ${m.id}  not running`);
      continue;
    }
    up += 1;
    const s = await statusOf(m.httpPort);
    out.line(`  ${m.id}  pid ${m.pid}  http://127.0.0.1:${m.httpPort}  ${s === null ? "does not answer" : `${String(s["role"])}, term ${String(s["term"])}, leader ${String(s["leader"])}, commit index ${String(s["commitIndex"])}`}`);
  }
  return up === state.members.length;
}
