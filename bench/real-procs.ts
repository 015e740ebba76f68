// Real server processes for the `real-*` bench sections: Faultline nodes (`faultline node`) and
// redis-server 7, on 127.0.0.1 free ports, each in its own temp dir; redis-benchmark, redis-cli and
// `faultline cluster` runs; readings from /proc. Everything started goes into a `Scope`, whose
// `close()` kills what is still running and deletes the temp dir; an exit or Ctrl-C hook does the
// same for scopes a crash left open, so a failed section leaves no server behind.
//
// Programs on PATH, free port pairs and bounded program runs come from test/real/support.ts
// (built into dist/ for this); this file adds redis-server and the bench's measurements.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { infoFields } from "../node-runtime/admin.js";
import { ask, faultline, freeClusterPort, onPath, type Out as Ran, run } from "../test/real/support.js";
export { faultline, run, type Ran };
import { integerOf, RespClient } from "../node-runtime/resp-client.js";

const ROOT = join(import.meta.dirname, "..", "..");
const FAULTLINE_BIN = join(ROOT, "bin", "faultline.js");

export type ServerKind = "faultline" | "redis-server";

/** Why a real section cannot run here (a missing program, an unbuilt dist/), or null when it can. */
export function missingTools(programs: readonly string[]): string | null {
  const missing = programs.filter((p) => onPath(p) === null);
  if (missing.length > 0) return `${missing.join(", ")} not on PATH (Debian: apt-get install redis-server redis-tools)`;
  if (!existsSync(join(ROOT, "dist", "node-runtime", "cli.js"))) return "dist/ is not built (npm run build)";
  return null;
}

// ---- ports ----------------------------------------------------------------------------------------

// ---- processes ------------------------------------------------------------------------------------

export interface ServerOptions {
  readonly nodeTimeoutMs: number;
  /** "no": appendonly no; otherwise appendonly yes with this appendfsync. */
  readonly appendfsync: "no" | "everysec";
}

/** One server process. `output` keeps the tail of what it printed, for error messages. */
export interface Server {
  readonly kind: ServerKind;
  readonly port: number;
  readonly address: string;
  readonly dir: string;
  readonly logfile: string;
  readonly child: ChildProcess;
  output: string;
}

const OUTPUT_KEEP_CHARS = 4000;

export function alive(s: Server): boolean {
  return s.child.exitCode === null && s.child.signalCode === null;
}

/** The program and arguments that start `kind` on 127.0.0.1:port with its files in `dir`. */
function commandLine(kind: ServerKind, port: number, dir: string, logfile: string, o: ServerOptions): [string, string[]] {
  const aof = o.appendfsync === "no" ? ["--appendonly", "no"] : ["--appendonly", "yes", "--appendfsync", o.appendfsync];
  const common = ["--port", String(port), "--cluster-enabled", "yes", "--cluster-node-timeout", String(o.nodeTimeoutMs), "--dir", dir, "--logfile", logfile, ...aof];
  if (kind === "faultline") return [process.execPath, [FAULTLINE_BIN, "node", ...common]];
  // No RDB snapshots (save ""), as the task's redis-server settings say; nodes.conf in its own dir.
  return ["redis-server", [...common, "--bind", "127.0.0.1", "--cluster-config-file", "nodes.conf", "--daemonize", "no", "--save", ""]];
}

/** Scopes not closed yet: the exit hook kills their processes and removes their dirs. */
const openScopes = new Set<Scope>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", () => {
    for (const s of openScopes) s.closeNow();
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      for (const s of openScopes) s.closeNow();
      process.exit(130);
    });
  }
}

/** What one measurement starts: server processes and a temp dir, all gone after `close()`. */
export class Scope {
  readonly root: string;
  private readonly servers: Server[] = [];
  private readonly ports = new Set<number>();

  constructor(label: string) {
    installExitHooks();
    this.root = mkdtempSync(join(tmpdir(), `faultline-bench-${label}-`));
    openScopes.add(this);
  }

  /** Free client ports whose bus ports are free too, none handed out before by this scope. */
  async freePorts(count: number): Promise<number[]> {
    const out: number[] = [];
    while (out.length < count) {
      const p = await freeClusterPort(this.ports);
      this.ports.add(p);
      out.push(p);
    }
    return out;
  }

  start(kind: ServerKind, port: number, options: ServerOptions): Server {
    const dir = join(this.root, `${kind}-${port}`);
    const logfile = join(this.root, `${kind}-${port}.log`);
    mkdirSync(dir, { recursive: true }); // redis-server refuses a missing dir
    const [file, args] = commandLine(kind, port, dir, logfile, options);
    const child = spawn(file, args, { cwd: this.root, stdio: ["ignore", "pipe", "pipe"] });
    const server: Server = { kind, port, address: `127.0.0.1:${port}`, dir, logfile, child, output: "" };
    const keep = (b: Buffer) => (server.output = (server.output + b.toString("utf8")).slice(-OUTPUT_KEEP_CHARS));
    child.on("error", (e) => keep(Buffer.from(`spawn failed: ${e.message}\n`)));
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.servers.push(server);
    return server;
  }

  /** SIGKILL to every server still running, waiting for each to exit; then the temp dir goes. */
  async close(): Promise<void> {
    const running = this.servers.filter(alive);
    const exited = running.map((s) => new Promise((r) => s.child.once("exit", r)));
    for (const s of running) s.child.kill("SIGKILL");
    await Promise.all(exited);
    this.closeNow();
  }

  /** The synchronous half of `close`, also what the exit hook runs. */
  closeNow(): void {
    for (const s of this.servers) if (alive(s)) s.child.kill("SIGKILL");
    rmSync(this.root, { recursive: true, force: true });
    openScopes.delete(this);
  }
}

/** The server's output and log tail, for an error message. */
export function diagnostics(s: Server): string {
  const log = existsSync(s.logfile) ? readFileSync(s.logfile, "utf8").trimEnd().split("\n").slice(-10).join("\n") : "(no log)";
  const status = s.child.exitCode ?? s.child.signalCode ?? "running";
  return `${s.kind} ${s.address} (exit ${status}):\n${s.output}--- log tail:\n${log}`;
}

// ---- talking to servers ---------------------------------------------------------------------------

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every `everyMs` until it returns non-null; throws after `timeoutMs`, with the last error and what `servers` printed. */
export async function waitFor<T>(what: string, timeoutMs: number, servers: readonly Server[], probe: () => Promise<T | null>, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    const dead = servers.find((s) => !alive(s));
    if (dead !== undefined) throw new Error(`${what}: the server exited\n${diagnostics(dead)}`);
    try {
      const v = await probe();
      if (v !== null) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  const why = last === null ? "" : ` (last error: ${last instanceof Error ? last.message : String(last)})`;
  throw new Error(`${what}: not within ${timeoutMs} ms${why}\n${servers.map(diagnostics).join("\n")}`);
}

/** One command on a fresh connection; a text reply as text (test/real/support.ts's). */
export { ask };

export async function askInteger(port: number, command: readonly string[]): Promise<number> {
  const c = await RespClient.connect("127.0.0.1", port, 2_000);
  try {
    return integerOf(await c.ok(command, 5_000));
  } finally {
    c.close();
  }
}

export async function infoField(port: number, command: readonly string[], field: string): Promise<string | undefined> {
  return infoFields(await ask(port, command)).get(field);
}

/** Waits until every server answers PING (a server that exits fails at once). */
export async function waitForPing(servers: readonly Server[], timeoutMs = 15_000): Promise<void> {
  for (const s of servers) await waitFor(`${s.kind} ${s.address} answers PING`, timeoutMs, [s], async () => ((await ask(s.port, ["PING"])) === "PONG" ? true : null));
}

/** A one-node cluster: all 16384 slots on `s`, then cluster_state:ok. */
export async function ownAllSlots(s: Server): Promise<void> {
  await ask(s.port, ["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
  await waitFor(`${s.address} cluster_state:ok`, 15_000, [s], async () => ((await infoField(s.port, ["CLUSTER", "INFO"], "cluster_state")) === "ok" ? true : null));
}

/** One test's line of `redis-benchmark --csv`. */
export interface BenchFigures {
  readonly rps: number;
  readonly p50Ms: number;
}

/**
 * `redis-benchmark -t <tests> -n <n> -c <clients> -P <pipeline> --csv` against 127.0.0.1:port;
 * its figures by test name (upper case, as it prints them: "SET", "GET").
 */
export async function redisBenchmark(port: number, tests: string, n: number, pipeline: number, clients = 50): Promise<Map<string, BenchFigures>> {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-t", tests, "-n", String(n), "-c", String(clients), "-P", String(pipeline), "--csv"];
  const r = await run("redis-benchmark", args, 600_000);
  if (r.code !== 0) throw new Error(`redis-benchmark ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  const lines = r.stdout.split("\n").filter((l) => l.startsWith('"'));
  const header = (lines[0] ?? "").split(",").map(unquote);
  const rpsAt = header.indexOf("rps");
  const p50At = header.indexOf("p50_latency_ms");
  if (rpsAt < 0 || p50At < 0) throw new Error(`redis-benchmark printed no CSV header: ${r.stdout}`);
  const out = new Map<string, BenchFigures>();
  for (const line of lines.slice(1)) {
    const cells = line.split(",").map(unquote);
    out.set(cells[0] as string, { rps: Number(cells[rpsAt]), p50Ms: Number(cells[p50At]) });
  }
  return out;
}

function unquote(cell: string): string {
  return cell.replace(/^"|"$/g, "");
}

// ---- /proc ----------------------------------------------------------------------------------------

/** USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 a second on Linux). */
const TICKS_PER_S = 100;

/** CPU time the process has used so far (all threads, user + system), in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return (ticks * 1000) / TICKS_PER_S;
}

/** A `kB` line of /proc/<pid>/status (VmRSS, VmHWM) in bytes. */
export function statusBytes(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** The 1-minute load average: these figures mean little when other work shares the cores. */
export function loadAverage1m(): number {
  return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
}

// ---- bulk load ------------------------------------------------------------------------------------

/** Commands per write of the loader, and writes it keeps unanswered (like redis-benchmark -P 1000 on 16 clients). */
const LOAD_BATCH = 1000;
const LOAD_BATCHES_IN_FLIGHT = 16;

/**
 * SET key:<i> <i as 8 digits> for i in [0, count) on one pipelined connection; resolves when every
 * reply is in, and rejects on any reply other than +OK. The values are 8 bytes with leading zeros,
 * so neither server can store them as small integers.
 */
export function loadKeys(port: number, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port, noDelay: true });
    let sent = 0;
    let answered = 0;
    const fail = (e: Error) => {
      socket.destroy();
      reject(e);
    };
    const sendMore = () => {
      while (sent < count && sent - answered < LOAD_BATCH * LOAD_BATCHES_IN_FLIGHT) {
        const end = Math.min(count, sent + LOAD_BATCH);
        let text = "";
        for (let i = sent; i < end; i++) {
          const key = `key:${i}`;
          text += `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$8\r\n${String(i).padStart(8, "0")}\r\n`;
        }
        socket.write(text, "latin1");
        sent = end;
      }
    };
    socket.on("connect", sendMore);
    socket.on("error", (e) => fail(new Error(`loading keys into 127.0.0.1:${port}: ${e.message}`)));
    socket.on("close", () => {
      if (answered < count) fail(new Error(`127.0.0.1:${port} closed the connection after ${answered} of ${count} SETs`));
    });
    socket.on("data", (chunk: Buffer) => {
      // Every reply is "+OK\r\n": any other byte is an error reply.
      for (const byte of chunk) {
        if (byte === 0x0a) answered++;
        else if (byte !== 0x2b && byte !== 0x4f && byte !== 0x4b && byte !== 0x0d) {
          return fail(new Error(`127.0.0.1:${port} answered a SET with something other than +OK: ${chunk.toString("latin1").slice(0, 200)}`));
        }
      }
      if (answered === count) {
        socket.end();
        resolve();
      } else sendMore();
    });
  });
}
