// Helpers for the tests that run real `faultline` processes on 127.0.0.1: free ports, node
// processes, the faultline and redis-cli commands, bounded waits. Every process started through
// here is tracked, so a suite's afterAll can kill it whatever happened.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { basename, delimiter, join } from "node:path";
import type { RespValue } from "../../core/resp/codec.js";
import { RespClient, textOf } from "../../node-runtime/resp-client.js";
import { infoFields } from "../../node-runtime/admin.js";
import { type NodeEntry, parseClusterNodes } from "../../node-runtime/cluster-table.js";
import type { TlsSettings } from "../../node-runtime/tls.js";

/** The checkout: two folders up from test/real/, three from dist/test/real/ (the bench runs the built copy). */
export const repo = join(import.meta.dirname, "..", "..", ...(basename(join(import.meta.dirname, "..", "..")) === "dist" ? [".."] : []));
export const faultlineBin = join(repo, "bin", "faultline.js");

export function onPath(name: string): string | null {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    if (dir === "") continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return null;
}

/** Throws unless dist/ is built: the processes run bin/faultline.js, which loads dist/. */
export function assertBuilt(): void {
  if (!existsSync(join(repo, "dist", "node-runtime", "cli.js"))) throw new Error("dist/ is missing: run `npm run build` (npm test does it for you)");
}

export interface Out {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion (bounded); never rejects: the exit status is in the result. */
export function run(file: string, args: readonly string[], timeoutMs: number): Promise<Out> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: { ...process.env, REDISCLI_HISTFILE: "/dev/null" } }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `faultline <args>` as a user runs it. */
export function faultline(args: readonly string[], timeoutMs = 60_000): Promise<Out> {
  return run(process.execPath, [faultlineBin, ...args], timeoutMs);
}

/** Whether 127.0.0.1:port can be listened on now. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The lowest and past-the-highest client port picked: bus ports (+10000) stay below 32768, Linux's ephemeral range. */
const PORT_MIN = 12000;
const PORT_END = 22768;

/** A free port whose bus port (+10000) is free too, out of the ephemeral range (see PORT_END). */
export async function freeClusterPort(taken: ReadonlySet<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_MIN + Math.floor(Math.random() * (PORT_END - PORT_MIN));
    if (taken.has(port)) continue;
    if ((await isFree(port)) && (await isFree(port + 10000))) return port;
  }
  throw new Error("no free port pair found");
}

/**
 * A first port of `count` consecutive free ports whose bus ports are free too (for `local up
 * --port-base`), out of the ephemeral range, so no outgoing connection takes one between this
 * check and the node's listen.
 */
export async function freePortBase(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = PORT_MIN + Math.floor(Math.random() * (PORT_END - PORT_MIN - count));
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = (await isFree(p)) && (await isFree(p + 10000));
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free port pairs found`);
}

export interface NodeProcess {
  readonly port: number;
  readonly dir: string;
  readonly logfile: string;
  child: ChildProcess;
  output: string;
}

/** Starts `faultline node` on 127.0.0.1:port with node timeout `nodeTimeoutMs`. */
export function startNode(root: string, port: number, nodeTimeoutMs: number): NodeProcess {
  return startNodeWith(root, port, nodeTimeoutMs, {});
}

export interface NodeOptions {
  /** More `faultline node` options (`--appendonly yes`). */
  readonly args?: readonly string[];
  /** A command that runs node in its place, the node command line appended (`nsenter --net=…`). */
  readonly launcher?: readonly string[];
}

/**
 * `startNode` with more options. The dir and log file depend only on root and port, so starting
 * the same port again restarts that node from its files.
 */
export function startNodeWith(root: string, port: number, nodeTimeoutMs: number, options: NodeOptions): NodeProcess {
  const dir = join(root, String(port));
  const logfile = join(root, `${port}.log`);
  const args = [faultlineBin, "node", "--port", String(port), "--cluster-enabled", "yes", "--cluster-node-timeout", String(nodeTimeoutMs), "--dir", dir, "--logfile", logfile, ...(options.args ?? [])];
  const [file, ...pre] = options.launcher === undefined ? [process.execPath] : [...options.launcher, process.execPath];
  const child = spawn(file as string, [...pre, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  const node: NodeProcess = { port, dir, logfile, child, output: "" };
  child.on("error", (e) => (node.output += `spawn failed: ${e.message}\n`));
  child.stdout?.on("data", (b: Buffer) => (node.output += b.toString("utf8")));
  child.stderr?.on("data", (b: Buffer) => (node.output += b.toString("utf8")));
  return node;
}

export function alive(n: NodeProcess): boolean {
  return n.child.exitCode === null && n.child.signalCode === null;
}

export async function killNodes(nodes: readonly NodeProcess[]): Promise<void> {
  for (const n of nodes) if (alive(n)) n.child.kill("SIGKILL");
  await Promise.all(nodes.map((n) => (alive(n) ? new Promise((r) => n.child.once("exit", r)) : null)));
}

/** Each node's output and the tail of its log, for a failure message. */
export function diagnostics(nodes: readonly NodeProcess[]): string {
  return nodes
    .map((n) => {
      const log = existsSync(n.logfile) ? readFileSync(n.logfile, "utf8").trimEnd().split("\n").slice(-15).join("\n") : "(no log)";
      return `--- node ${n.port} (exit ${n.child.exitCode ?? n.child.signalCode ?? "running"}) output:\n${n.output}--- log tail:\n${log}`;
    })
    .join("\n");
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An error no retry can fix (a node process died): `waitFor` rethrows it at once. */
export class Fatal extends Error {}

/** Polls `probe` every 100 ms until it returns non-null; throws after `timeoutMs` with the last error. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== null) return v;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last === null ? "" : ` (last error: ${String(last)})`}`);
}

/** One command on a fresh connection to 127.0.0.1:port; text replies as text. */
export async function ask(port: number, command: readonly string[]): Promise<string> {
  const c = await RespClient.connect("127.0.0.1", port, 2_000);
  try {
    return await c.text(command, 5_000);
  } finally {
    c.close();
  }
}

export async function clusterState(port: number): Promise<string | undefined> {
  return infoFields(await ask(port, ["CLUSTER", "INFO"])).get("cluster_state");
}

/** Waits until every node answers PING (a node that exits fails at once, with what it printed). */
export async function waitForPing(nodes: readonly NodeProcess[], timeoutMs: number): Promise<void> {
  for (const n of nodes) {
    await waitFor(`node ${n.port} answers PING`, timeoutMs, async () => {
      if (!alive(n)) throw new Fatal(`node ${n.port} exited: ${n.output}`);
      return (await ask(n.port, ["PING"])) === "PONG" ? true : null;
    });
  }
}

/** CLUSTER NODES of the node at `port`, parsed. */
export async function tableOf(port: number): Promise<NodeEntry[]> {
  return parseClusterNodes(await ask(port, ["CLUSTER", "NODES"]));
}

/**
 * `faultline cluster create` on `ports` (the first third masters, one replica each), then waits
 * until every node says cluster_state:ok and sees 3 masters with slots and 3 replicas.
 */
export async function formCluster(ports: readonly number[], timeoutMs: number): Promise<void> {
  const create = await faultline(["cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--replicas", "1", "--yes"]);
  if (create.code !== 0) throw new Error(`faultline cluster create exited ${create.code}:\n${create.stdout}${create.stderr}`);
  for (const p of ports) {
    await waitFor(`${p} is ok and sees 3 masters and 3 replicas`, timeoutMs, async () => {
      if ((await clusterState(p)) !== "ok") return null;
      const t = await tableOf(p);
      return t.filter((e) => e.master && e.slots.size > 0).length === 3 && t.filter((e) => !e.master && e.masterId !== null).length === 3 ? true : null;
    });
  }
}

/** Where MOVED sends a command: at most this many hops before giving up. */
const MOVED_HOPS_MAX = 5;

/**
 * Sends `command` to 127.0.0.1:port and follows MOVED replies (as `redis-cli -c` does) to the
 * node serving the key; returns the final reply, an error reply (CLUSTERDOWN, …) included.
 */
export async function callFollowingMoved(port: number, command: readonly string[]): Promise<RespValue> {
  let at = port;
  for (let hop = 0; hop <= MOVED_HOPS_MAX; hop++) {
    const c = await RespClient.connect("127.0.0.1", at, 2_000);
    let reply: RespValue;
    try {
      reply = await c.call(command, 5_000);
    } finally {
      c.close();
    }
    const moved = reply.type === "error" ? /^MOVED \d+ [^ ]+:(\d+)$/.exec(reply.value) : null;
    if (moved === null) return reply;
    at = Number(moved[1]);
  }
  throw new Error(`${command.join(" ")}: more than ${MOVED_HOPS_MAX} MOVED hops from ${port}`);
}

/** A reply as text for assertions: `OK`, a bulk's text, an integer's digits, `(nil)`, or `-ERR …` for an error. */
export function replyText(v: RespValue): string {
  if (v.type === "error") return `-${v.value}`;
  if (v.type === "null") return "(nil)";
  if (v.type === "integer") return String(v.value);
  return textOf(v);
}

/** One line of a node's JSON-lines log. */
export interface LogLine {
  readonly t: number;
  readonly node: string;
  readonly type: string;
  readonly [field: string]: unknown;
}

/** A node's log, line by line; a last line still being written is left out. */
export function readLog(logfile: string): LogLine[] {
  if (!existsSync(logfile)) return [];
  const out: LogLine[] = [];
  for (const line of readFileSync(logfile, "utf8").split("\n")) {
    if (line === "") continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // torn: the node is writing it
    }
  }
  return out;
}

/** Throwaway PEM files for TLS tests (see `makeCerts`). */
export interface Certs {
  readonly caCert: string;
  /** Signed by the CA, for 127.0.0.1: what nodes present. */
  readonly cert: string;
  readonly key: string;
  /** Signed by the CA: what clients present. */
  readonly clientCert: string;
  readonly clientKey: string;
  /** The client key encrypted with KEY_PASSPHRASE. */
  readonly clientKeyEncrypted: string;
  /** Another CA, and a certificate it signed: trusted by nobody else. */
  readonly otherCaCert: string;
  readonly otherCert: string;
  readonly otherKey: string;
}

export const KEY_PASSPHRASE = "pass phrase";

/** TLS settings as the tls-* directives give them by default, with this certificate, key and CA. */
export function tlsSettingsFor(certFile: string, keyFile: string, caCertFile: string): TlsSettings {
  return {
    certFile,
    keyFile,
    keyFilePass: null,
    clientCertFile: null,
    clientKeyFile: null,
    clientKeyFilePass: null,
    caCertFile,
    caCertDir: null,
    dhParamsFile: null,
    authClients: "yes",
    minVersion: "TLSv1.2",
    maxVersion: "TLSv1.3",
    ciphers: null,
    ciphersuites: null,
    preferServerCiphers: false,
  };
}

/** Why TLS tests cannot run here (no openssl), or null. */
export function opensslMissing(): string | null {
  return onPath("openssl") === null ? "the openssl command is not on PATH (apt-get install openssl)" : null;
}

/**
 * A CA, server and client certificates signed by it, and a second CA with its own certificate,
 * made with the openssl command in `dir` (EC P-256 keys: fast to make, valid for two days).
 */
export async function makeCerts(dir: string): Promise<Certs> {
  const openssl = async (args: readonly string[]) => {
    const out = await run("openssl", args, 30_000);
    if (out.code !== 0) throw new Error(`openssl ${args.join(" ")} exited ${out.code}:\n${out.stderr}`);
  };
  const file = (name: string) => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  writeFileSync(file("leaf.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  const ca = async (name: string) => openssl(["req", "-x509", ...ec, "-keyout", file(`${name}.key`), "-out", file(`${name}.crt`), "-days", "2", "-subj", `/CN=Faultline test ${name}`]);
  const leaf = async (name: string, caName: string) => {
    await openssl(["req", ...ec, "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`), "-subj", `/CN=${name}`]);
    await openssl(["x509", "-req", "-in", file(`${name}.csr`), "-CA", file(`${caName}.crt`), "-CAkey", file(`${caName}.key`), "-CAcreateserial", "-out", file(`${name}.crt`), "-days", "2", "-extfile", file("leaf.ext")]);
  };
  await ca("ca");
  await ca("other-ca");
  await leaf("server", "ca");
  await leaf("client", "ca");
  await leaf("other", "other-ca");
  await openssl(["pkey", "-in", file("client.key"), "-aes256", "-passout", `pass:${KEY_PASSPHRASE}`, "-out", file("client-encrypted.key")]);
  return {
    caCert: file("ca.crt"),
    cert: file("server.crt"),
    key: file("server.key"),
    clientCert: file("client.crt"),
    clientKey: file("client.key"),
    clientKeyEncrypted: file("client-encrypted.key"),
    otherCaCert: file("other-ca.crt"),
    otherCert: file("other.crt"),
    otherKey: file("other.key"),
  };
}

/** A connection whose bytes the test writes and reads as they are (see `rawConnect`). */
export interface RawConn {
  readonly socket: Socket;
  /** Everything received so far, as latin1 text. */
  received: string;
  closed: boolean;
  /** The socket's last error (a TLS refusal, a reset), or null. */
  error: string | null;
  send(text: string): void;
  close(): void;
}

/**
 * Connects to 127.0.0.1:port, over TLS with `tlsOptions` (the peer's name is not checked, as
 * redis-cli does not), and records what comes back and whether the server closed.
 */
export function rawConnect(port: number, tlsOptions?: ConnectionOptions): RawConn {
  const socket = tlsOptions === undefined ? connect({ host: "127.0.0.1", port }) : tlsConnect({ host: "127.0.0.1", port, checkServerIdentity: () => undefined, ...tlsOptions });
  const conn: RawConn = {
    socket,
    received: "",
    closed: false,
    error: null,
    send: (text) => void socket.write(Buffer.from(text, "latin1")),
    close: () => void socket.destroy(),
  };
  socket.on("data", (b: Buffer) => (conn.received += b.toString("latin1")));
  socket.on("error", (e: Error) => (conn.error = e.message));
  socket.on("close", () => (conn.closed = true));
  return conn;
}

/** A command in RESP, as clients send it. */
export function resp(...args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a, "latin1")}\r\n${a}\r\n`).join("")}`;
}

// ---- Raft store members (`faultline raft node`) ------------------------------------------------

/** `count` distinct free ports on 127.0.0.1, out of the ephemeral range (see PORT_END). */
export async function freePorts(count: number): Promise<number[]> {
  const out: number[] = [];
  for (let attempt = 0; attempt < 400 && out.length < count; attempt++) {
    const port = PORT_MIN + Math.floor(Math.random() * (PORT_END - PORT_MIN));
    if (!out.includes(port) && (await isFree(port))) out.push(port);
  }
  if (out.length < count) throw new Error(`no ${count} free ports found`);
  return out;
}

/** Where one Raft member listens. */
export interface RaftMemberSpec {
  readonly id: string;
  readonly raftPort: number;
  readonly httpPort: number;
}

/** A running `faultline raft node`; `port` is its HTTP port, so killNodes and diagnostics take it. */
export interface RaftMemberProcess extends NodeProcess {
  readonly id: string;
  readonly http: string;
  /** The command line it was started with (after the node binary), to restart it the same way. */
  readonly args: readonly string[];
}

/** `--peers` for these members: n1=127.0.0.1:P/H,… */
export function raftPeers(specs: readonly RaftMemberSpec[]): string {
  return specs.map((s) => `${s.id}=127.0.0.1:${s.raftPort}/${s.httpPort}`).join(",");
}

/** Ids n1…nN on fresh free ports (two per member). */
export async function raftSpecs(count: number): Promise<RaftMemberSpec[]> {
  const ports = await freePorts(count * 2);
  return Array.from({ length: count }, (_, i) => ({ id: `n${i + 1}`, raftPort: ports[2 * i] as number, httpPort: ports[2 * i + 1] as number }));
}

/**
 * Starts `faultline raft node` for `spec` under `root` (its dir `root/<id>`, its log
 * `root/<id>.log`), with `peers` and more options in `args`. Starting the same spec again under
 * the same root restarts the member from its files.
 */
export function startRaftMember(root: string, spec: RaftMemberSpec, peers: string, args: readonly string[] = []): RaftMemberProcess {
  const dir = join(root, spec.id);
  const logfile = join(root, `${spec.id}.log`);
  const all = [faultlineBin, "raft", "node", "--id", spec.id, "--listen", `127.0.0.1:${spec.raftPort}`, "--http", `127.0.0.1:${spec.httpPort}`, "--peers", peers, "--dir", dir, "--logfile", logfile, ...args];
  return spawnRaftMember(spec, dir, logfile, all);
}

/** The same member again, with the same command line (after a kill: it recovers from its files). */
export function restartRaftMember(m: RaftMemberProcess): RaftMemberProcess {
  return spawnRaftMember({ id: m.id, raftPort: 0, httpPort: m.port }, m.dir, m.logfile, m.args);
}

function spawnRaftMember(spec: RaftMemberSpec, dir: string, logfile: string, args: readonly string[]): RaftMemberProcess {
  const child = spawn(process.execPath, [...args], { stdio: ["ignore", "pipe", "pipe"] });
  const m: RaftMemberProcess = { id: spec.id, port: spec.httpPort, http: `127.0.0.1:${spec.httpPort}`, dir, logfile, child, output: "", args };
  child.on("error", (e) => (m.output += `spawn failed: ${e.message}\n`));
  child.stdout?.on("data", (b: Buffer) => (m.output += b.toString("utf8")));
  child.stderr?.on("data", (b: Buffer) => (m.output += b.toString("utf8")));
  return m;
}

/** GET /status of a member (null when it does not answer within 1 s). */
export async function raftStatus(http: string): Promise<Record<string, unknown> | null> {
  try {
    const r = await fetch(`http://${http}/status`, { signal: AbortSignal.timeout(1_000) });
    return r.status === 200 ? ((await r.json()) as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Waits until one of `members` says it leads and every other live one follows it in its term; the leader. */
export async function waitForRaftLeader(members: readonly RaftMemberProcess[], timeoutMs: number, otherThan: string | null = null): Promise<{ member: RaftMemberProcess; term: number }> {
  return waitFor(`a Raft leader${otherThan === null ? "" : ` other than ${otherThan}`} followed by every live member`, timeoutMs, async () => {
    const live = members.filter(alive);
    const statuses = await Promise.all(live.map((m) => raftStatus(m.http)));
    const i = statuses.findIndex((s) => s?.["role"] === "leader" && s["id"] !== otherThan);
    if (i < 0) return null;
    const leader = statuses[i] as Record<string, unknown>;
    const agree = statuses.every((s) => s !== null && s["leader"] === leader["id"] && s["term"] === leader["term"]);
    return agree ? { member: live[i] as RaftMemberProcess, term: leader["term"] as number } : null;
  });
}

/** A port base for `faultline raft local up --members count`: base…base+count-1 and base+100… all free. */
export async function freeRaftLocalBase(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = PORT_MIN + Math.floor(Math.random() * (PORT_END - PORT_MIN - 100 - count));
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = (await isFree(base + i)) && (await isFree(base + 100 + i));
    if (ok) return base;
  }
  throw new Error(`no free port base for ${count} Raft members`);
}
