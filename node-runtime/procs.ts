// A group of detached member processes recorded in a state file: what `faultline local` (Redis
// Cluster nodes, local.ts) and `faultline raft local` (Raft members, raft-local.ts) share. Each
// says in a `GroupKind` what its group and members are called and how to recognise a member.
//
// A group lives in one directory:
//
//   <state file>      what was started: each member's pid and files (rewritten atomically before
//                     each spawn, so a failed start can still be cleaned up and `down` always
//                     knows what is ours)
//   <data>/<key>/     each member's --dir
//   logs/<key>.log    each member's JSON-lines log
//   logs/<key>.out    what each process printed (its start line, fatal errors)
//
// Members are detached: they outlive the command and ignore the terminal's Ctrl-C. A recorded pid
// is signalled only while it is still that member (on Linux its command line is checked), so a
// pid reused by another process after a crash is left alone. Stopping is SIGTERM to every member,
// then SIGKILL to those still up after a grace period.

import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { AdminError, type Out } from "./admin.js";

const STATE_VERSION = 1;
/** How long `down` waits after SIGTERM before SIGKILL (a member's own shutdown grace is 2 s). */
export const STOP_GRACE_MS = 10_000;
/** The same after a failed start. */
const FAILED_START_GRACE_MS = 2_000;
/** How often the waits (stopping, and the commands' own) look again. */
export const POLL_MS = 100;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What every member's record holds. */
export interface MemberFiles {
  /** null until spawned. */
  pid: number | null;
  /** Relative to the group's directory. */
  readonly dir: string;
  readonly log: string;
  readonly out: string;
}

export interface GroupState {
  readonly version: number;
  readonly startedAt: string;
  stoppedAt: string | null;
}

/** A new state's first fields (its `stoppedAt` is null). */
export function stateStamp(): Pick<GroupState, "version" | "startedAt"> {
  return { version: STATE_VERSION, startedAt: new Date().toISOString() };
}

/** A member's command line holds every one of `words`, and `flag <its key>`. */
export interface MemberArgv {
  readonly words: readonly string[];
  readonly flag: string;
}

/** What one kind of group is called, where its records are, and how a member is recognised. */
export interface GroupKind<R extends MemberFiles, S extends GroupState> {
  /** The state file's name: "local.json". */
  readonly file: string;
  /** The command, in messages: "faultline local". */
  readonly command: string;
  /** The group: "local cluster" ("a local cluster is already up"), and in short: "cluster". */
  readonly title: string;
  readonly noun: string;
  /** One member: "node". */
  readonly member: string;
  /** Where the members' --dirs are: "nodes". */
  readonly dataDir: string;
  /** What the keys are, listing running members: "ports". */
  readonly keys: string;
  /** What else might hold the ports: "Redis or faultline cluster". */
  readonly rival: string;
  readonly argv: MemberArgv;
  records(state: S): R[];
  /** Names the member's files and follows `argv.flag` on its command line: "7000", "n1". */
  key(r: R): string;
  /** The member in errors ("node 7000") and in down's and status's lines ("127.0.0.1:7000"). */
  name(r: R): string;
  label(r: R): string;
  /** The ports it listens on, each with what it is for: [7000, "client"]. */
  ports(r: R): readonly (readonly [number, string])[];
}

/**
 * Whether `pid` is alive and is the member started with `argv` and `value`. On Linux the command
 * line is checked, so a pid reused by another process after a crash is left alone.
 */
export function isOurProcess(pid: number, argv: MemberArgv, value: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false; // ESRCH: gone; EPERM: someone else's process
  }
  if (!existsSync("/proc/self/cmdline")) return true; // no /proc: trust the record
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0");
    const i = args.indexOf(argv.flag);
    return argv.words.every((w) => args.includes(w)) && i >= 0 && args[i + 1] === value;
  } catch {
    return false;
  }
}

/** Resolves when `port` can be listened on at 127.0.0.1; rejects with the system error otherwise. */
function probePort(port: number): Promise<void> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolvePort()));
  });
}

export class ProcGroup<R extends MemberFiles, S extends GroupState> {
  readonly dir: string;

  constructor(
    dirOption: string,
    private readonly kind: GroupKind<R, S>,
  ) {
    this.dir = resolve(dirOption);
  }

  /** A member's files, relative to the group's directory. */
  files(key: string): Pick<MemberFiles, "dir" | "log" | "out"> {
    return { dir: join(this.kind.dataDir, key), log: join("logs", `${key}.log`), out: join("logs", `${key}.out`) };
  }

  /** The recorded state, or null when there is none. */
  read(): S | null {
    const file = join(this.dir, this.kind.file);
    if (!existsSync(file)) return null;
    let state: S;
    try {
      state = JSON.parse(readFileSync(file, "utf8")) as S;
    } catch (e) {
      throw new AdminError(`${file} is not a ${this.kind.command} state file (${e instanceof Error ? e.message : String(e)}); remove ${this.dir} or choose another --dir`);
    }
    if (state.version !== STATE_VERSION || !Array.isArray(this.kind.records(state))) {
      throw new AdminError(`${file} was written by another version of faultline; stop its ${this.kind.member}s by hand and remove ${this.dir}`);
    }
    return state;
  }

  /** The recorded state; an AdminError when there is none. */
  load(): S {
    const state = this.read();
    if (state === null) throw new AdminError(`no ${this.kind.title} in ${this.dir} (no ${this.kind.file}); start one with ${this.kind.command} up`);
    return state;
  }

  /** Replaces the state file atomically, so a crash mid-write never loses the pids. */
  write(state: S): void {
    const file = join(this.dir, this.kind.file);
    writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + "\n");
    renameSync(`${file}.tmp`, file);
  }

  isRunning(r: R): boolean {
    return r.pid !== null && isOurProcess(r.pid, this.kind.argv, this.kind.key(r));
  }

  running(state: S): R[] {
    return this.kind.records(state).filter((r) => this.isRunning(r));
  }

  /** The last lines of one of the group's files (relative to its directory). */
  tail(file: string, lines = 10): string {
    const path = join(this.dir, file);
    if (!existsSync(path)) return "(nothing)";
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  }

  /**
   * Makes the directory ready for a new group: refuses when one is up there, removes the files of
   * a stopped one (which `down` kept for its logs), refuses files no run recorded.
   */
  prepare(out: Out): void {
    const { kind, dir } = this;
    const old = this.read();
    if (old !== null) {
      const alive = this.running(old);
      if (alive.length > 0) {
        throw new AdminError(`a ${kind.title} is already up in ${dir} (${kind.keys} ${alive.map((r) => kind.key(r)).join(", ")}).\nStop it first: ${kind.command} down --dir ${dir}`);
      }
      out.line(`Removing the stopped ${kind.noun}'s files in ${dir} (started ${old.startedAt}).`);
      for (const r of kind.records(old)) for (const f of [r.dir, r.log, r.out]) rmSync(join(dir, f), { recursive: true, force: true });
      rmSync(join(dir, kind.file), { force: true });
    }
    const stray = [kind.dataDir, "logs"].filter((d) => existsSync(join(dir, d)) && readdirSync(join(dir, d)).length > 0);
    if (stray.length > 0) throw new AdminError(`${dir} holds ${stray.join(" and ")}/ that no ${kind.command} run recorded; remove them or choose another --dir`);
  }

  /** Refuses, naming each, the members' ports that cannot be listened on at 127.0.0.1. */
  async checkPortsFree(records: readonly R[]): Promise<void> {
    const taken: string[] = [];
    for (const r of records) {
      for (const [port, what] of this.kind.ports(r)) {
        await probePort(port).catch((e: NodeJS.ErrnoException) => taken.push(`${port} (${what} port of ${this.kind.name(r)}): ${e.code ?? e.message}`));
      }
    }
    if (taken.length > 0) throw new AdminError(`ports in use on 127.0.0.1:\n  ${taken.join("\n  ")}\nIs another ${this.kind.rival} running? Stop it, or choose another --port-base.`);
  }

  /**
   * Records `state`, spawns every member (`launcher` then `argsOf`; each pid recorded before the
   * next spawn), then waits with `ready`, which is given a check that throws for a member that
   * has exited (with what it printed). If anything fails, stops the members started and rethrows.
   */
  async start<T>(state: S, launcher: readonly string[], argsOf: (r: R) => string[], ready: (checkExit: (r: R) => void) => Promise<T>, out: Out): Promise<T> {
    mkdirSync(join(this.dir, this.kind.dataDir), { recursive: true });
    mkdirSync(join(this.dir, "logs"), { recursive: true });
    this.write(state);
    const exited = new Map<R, string>();
    const checkExit = (r: R) => {
      const why = exited.get(r);
      if (why !== undefined) throw new AdminError(`${this.kind.name(r)} ${why}; it printed:\n${this.tail(r.out)}`);
    };
    try {
      for (const r of this.kind.records(state)) {
        r.pid = this.spawn(r, launcher, argsOf(r), (why) => exited.set(r, why));
        this.write(state);
      }
      return await ready(checkExit);
    } catch (e) {
      out.line(`Stopping the ${this.kind.member}s started: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
      await this.stop(state, FAILED_START_GRACE_MS, () => {});
      throw e;
    }
  }

  /** Starts one detached member with its output in its .out file; returns its pid. */
  private spawn(r: R, launcher: readonly string[], args: readonly string[], onExit: (why: string) => void): number {
    const [exe, ...pre] = launcher as [string, ...string[]];
    const fd = openSync(join(this.dir, r.out), "a");
    try {
      const child = spawn(exe, [...pre, ...args], { cwd: this.dir, detached: true, stdio: ["ignore", fd, fd] });
      if (child.pid === undefined) throw new AdminError(`cannot start ${exe} for ${this.kind.name(r)}`);
      child.once("exit", (code, signal) => onExit(`exited ${code ?? signal}`));
      child.unref();
      return child.pid;
    } finally {
      closeSync(fd);
    }
  }

  /** SIGTERM to every member still running, SIGKILL to those still up after `graceMs`; records the stop. */
  async stop(state: S, graceMs: number, report: (r: R, how: string) => void): Promise<number> {
    const alive = this.running(state);
    for (const r of this.kind.records(state)) if (!alive.includes(r)) report(r, "was not running");
    for (const r of alive) process.kill(r.pid as number, "SIGTERM");
    const deadline = Date.now() + graceMs;
    let left = alive;
    while (left.length > 0 && Date.now() < deadline) {
      await sleep(POLL_MS);
      left = left.filter((r) => this.isRunning(r));
    }
    for (const r of alive) {
      if (left.includes(r)) {
        process.kill(r.pid as number, "SIGKILL");
        report(r, `did not stop within ${graceMs / 1000} s of SIGTERM: SIGKILL`);
      } else report(r, "stopped (SIGTERM)");
    }
    state.stoppedAt = new Date().toISOString();
    this.write(state);
    return alive.length;
  }

  /** `down`: stops the recorded group, a line for each member; how many were running (0: it says nothing is). */
  async down(out: Out, graceMs: number): Promise<number> {
    const state = this.load();
    if (this.running(state).length === 0) {
      out.line(`Nothing is running in ${this.dir}${state.stoppedAt === null ? "" : ` (stopped ${state.stoppedAt})`}.`);
      return 0;
    }
    return this.stop(state, graceMs, (r, how) => out.line(`${this.kind.label(r)}${r.pid === null ? "" : ` (pid ${r.pid})`}: ${how}`));
  }

  /** `status`: `summary` of the group, then each member, running (`describe`) or not. True when all run. */
  async status(out: Out, summary: (state: S) => string, describe: (r: R) => Promise<string>): Promise<boolean> {
    const state = this.load();
    out.line(`${this.dir}: ${summary(state)}, started ${state.startedAt}${state.stoppedAt === null ? "" : `, stopped ${state.stoppedAt}`}`);
    let up = 0;
    for (const r of this.kind.records(state)) {
      if (!this.isRunning(r)) {
        out.line(`  ${this.kind.label(r)}  not running`);
        continue;
      }
      up += 1;
      out.line(`  ${this.kind.label(r)}  pid ${r.pid}  ${await describe(r)}`);
    }
    return up === this.kind.records(state).length;
  }
}
