// Real nodes on real TCP, driven by the real redis-cli: six `faultline node` processes become a
// cluster with `redis-cli --cluster create`, serve keys across slots, move slots with
// `redis-cli --cluster reshard` while ioredis writes into them, take a `redis-benchmark --cluster`
// run, survive a master's SIGKILL by promoting its replica, and shrug off malformed requests.
//
// Needs redis-cli and redis-benchmark (Debian's redis-tools, which redis-server brings). Without it the suite is
// skipped with the reason in its name, except on CI (CI=true), where it must run. Needs dist/
// (`npm test` builds first). Every wait is bounded; every process started here is killed in
// afterAll, whatever happened.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "ioredis";
import { keySlot } from "../../core/cluster/slots.js";
import { Fatal, onPath, type Out, waitFor } from "./support.js";

const repo = join(import.meta.dirname, "..", "..");
const bin = join(repo, "bin", "faultline.js");
const NODE_COUNT = 6;
const NODE_TIMEOUT_MS = 1000;
const START_TIMEOUT_MS = 15_000;
const CLI_TIMEOUT_MS = 60_000;
/** node timeout 1 s: PFAIL after 1 s, FAIL soon after, an election within a second or two. */
const FAILOVER_TIMEOUT_MS = 20_000;
const STATE_OK_TIMEOUT_MS = 15_000;


const redisCli = onPath("redis-cli");
const redisBenchmark = onPath("redis-benchmark");
const mustRun = process.env["CI"] === "true";
const skipReason =
  (redisCli === null || redisBenchmark === null) && !mustRun ? "redis-cli or redis-benchmark is not on PATH (apt-get install redis-server; CI=true makes this suite required)" : null;
/** Slots `redis-cli --cluster reshard` moves while a client writes into them. */
const RESHARD_SLOTS = 200;
if (skipReason !== null) console.warn(`test/real/cluster.test.ts skipped: ${skipReason}`);

interface Node {
  readonly port: number;
  readonly dir: string;
  readonly logfile: string;
  child: ChildProcess;
  output: string;
}


const nodes: Node[] = [];
let root = "";

/** redis-cli with `args`; never rejects (the exit status is in the result). */
function cli(args: readonly string[], timeoutMs = CLI_TIMEOUT_MS): Promise<Out> {
  if (redisCli === null) throw new Error("redis-cli is not on PATH, and CI=true requires this suite to run");
  return new Promise((resolve) => {
    execFile(redisCli, args, { timeout: timeoutMs, encoding: "utf8", env: { ...process.env, REDISCLI_HISTFILE: "/dev/null" } }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

function startNode(port: number, dir: string, logfile: string): Node {
  const args = [bin, "node", "--port", String(port), "--cluster-enabled", "yes", "--cluster-node-timeout", String(NODE_TIMEOUT_MS), "--dir", dir, "--logfile", logfile];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  const node: Node = { port, dir, logfile, child, output: "" };
  child.on("error", (e) => (node.output += `spawn failed: ${e.message}\n`));
  child.stdout?.on("data", (b: Buffer) => (node.output += b.toString("utf8")));
  child.stderr?.on("data", (b: Buffer) => (node.output += b.toString("utf8")));
  return node;
}

/** Sends raw bytes on a new connection; resolves with what came back and whether the server closed. */
function raw(port: number, bytes: string, waitMs: number): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply, closed });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on("connect", () => socket.write(Buffer.from(bytes, "latin1")));
    socket.on("data", (b: Buffer) => (reply += b.toString("latin1")));
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
  });
}

/** An error no retry can fix: a node process died. `waitFor` rethrows it at once (a Fatal). */
class NodeDied extends Fatal {}

/** Throws NodeDied, with what the process printed (a crash's stack), when the node at `port` has exited. */
function assertAlive(port: number): void {
  const n = nodes.find((x) => x.port === port);
  if (n !== undefined && (n.child.exitCode !== null || n.child.signalCode !== null)) {
    throw new NodeDied(`node ${port} exited (${n.child.exitCode ?? n.child.signalCode}):\n${n.output}`);
  }
}

/** One line of CLUSTER NODES, as redis-server 7 prints it. */
interface NodeLine {
  readonly id: string;
  readonly port: number;
  readonly flags: readonly string[];
  readonly master: string;
  readonly configEpoch: number;
  readonly link: string;
  readonly slots: readonly string[];
}

function parseNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split("\n")
    .map((line) => {
      const f = line.trim().split(" ");
      expect(f.length, `CLUSTER NODES line has at least 8 fields: ${line}`).toBeGreaterThanOrEqual(8);
      const [id, addr, flags, master, ping, pong, epoch, link, ...slots] = f as [string, string, string, string, string, string, string, string, ...string[]];
      expect(id, line).toMatch(/^[0-9a-f]{40}$/);
      expect(addr, line).toMatch(/^127\.0\.0\.1:\d+@\d+$/);
      const [, portText, busText] = /^[^:]+:(\d+)@(\d+)$/.exec(addr) as RegExpExecArray;
      expect(Number(busText), line).toBe(Number(portText) + 10000);
      expect(master === "-" || /^[0-9a-f]{40}$/.test(master), line).toBe(true);
      expect(ping, line).toMatch(/^\d+$/);
      expect(pong, line).toMatch(/^\d+$/);
      expect(link, line).toMatch(/^(connected|disconnected)$/);
      for (const s of slots) expect(s, line).toMatch(/^\d+(-\d+)?$/);
      return { id, port: Number(portText), flags: flags.split(","), master, configEpoch: Number(epoch), link, slots };
    });
}

function slotCount(ranges: readonly string[]): number {
  let n = 0;
  for (const r of ranges) {
    const [a, b] = r.split("-").map(Number) as [number, number | undefined];
    n += (b ?? a) - a + 1;
  }
  return n;
}

function owns(line: NodeLine, slot: number): boolean {
  return line.slots.some((r) => {
    const [a, b] = r.split("-").map(Number) as [number, number | undefined];
    return slot >= a && slot <= (b ?? a);
  });
}

async function clusterNodes(port: number): Promise<NodeLine[]> {
  assertAlive(port);
  const r = await cli(["-p", String(port), "cluster", "nodes"], 5_000);
  if (r.code !== 0) throw new Error(`redis-cli -p ${port} cluster nodes exited ${r.code}: ${r.stderr}`);
  return parseNodes(r.stdout);
}

/** The value of `field` in CLUSTER INFO of the node at `port`. */
async function clusterInfo(port: number, field: string): Promise<string | null> {
  assertAlive(port);
  const r = await cli(["-p", String(port), "cluster", "info"], 5_000);
  if (r.code !== 0 || r.stdout.trim() === "") throw new Error(`redis-cli -p ${port} cluster info: exit ${r.code}, ${JSON.stringify(r.stdout + r.stderr)}`);
  return new RegExp(`^${field}:(.*)$`, "m").exec(r.stdout.replace(/\r/g, ""))?.[1] ?? null;
}

/** A node's log and output, for failure messages. */
function diagnostics(): string {
  return nodes
    .map((n) => {
      const log = existsSync(n.logfile) ? readFileSync(n.logfile, "utf8").trimEnd().split("\n").slice(-15).join("\n") : "(no log)";
      return `--- node ${n.port} (exit ${n.child.exitCode ?? n.child.signalCode ?? "running"}) output:\n${n.output}--- log tail:\n${log}`;
    })
    .join("\n");
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => {
      const got = (server.address() as { port: number }).port;
      server.close(() => resolve(got));
    });
  });
}

/** A free port whose bus port (+10000) is free too. */
async function freeClusterPort(taken: ReadonlySet<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = await listenOnce(0);
    if (port > 55535 || taken.has(port)) continue;
    if (await listenOnce(port + 10000).then(() => true, () => false)) return port;
  }
  throw new Error("no free port pair found");
}

function killAll(): void {
  for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill("SIGKILL");
}

/** Keys spread over the three masters' ranges of `redis-cli --cluster create` (0-5460, 5461-10922, 10923-16383), two each. */
function keysPerShard(): string[][] {
  const shards: string[][] = [[], [], []];
  for (let i = 0; shards.some((s) => s.length < 2); i++) {
    const key = `key:${i}`;
    const slot = keySlot(key);
    const shard = slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2;
    if ((shards[shard] as string[]).length < 2) (shards[shard] as string[]).push(key);
  }
  return shards;
}

describe.skipIf(skipReason !== null)(`faultline node × ${NODE_COUNT} driven by redis-cli${skipReason === null ? "" : ` (skipped: ${skipReason})`}`, () => {
  const shards = keysPerShard();
  let ports: number[] = [];
  /** The master the failover test killed and the replica that replaced it. */
  let failover: { victim: NodeLine; replica: NodeLine } | null = null;

  beforeAll(async () => {
    if (redisCli === null) throw new Error("redis-cli is not on PATH, and CI=true requires this suite: apt-get install redis-server");
    if (!existsSync(join(repo, "dist", "node-runtime", "cli.js"))) throw new Error("dist/ is missing: run `npm run build` (npm test does it for you)");
    process.once("exit", killAll);
    root = mkdtempSync(join(tmpdir(), "faultline-real-"));
    const taken = new Set<number>();
    for (let i = 0; i < NODE_COUNT; i++) {
      const port = await freeClusterPort(taken);
      taken.add(port);
      const dir = join(root, String(port));
      nodes.push(startNode(port, dir, join(root, `${port}.log`)));
    }
    ports = nodes.map((n) => n.port);
    for (const n of nodes) {
      await waitFor(`node ${n.port} answers PING`, START_TIMEOUT_MS, async () => {
        if (n.child.exitCode !== null) throw new Error(`node ${n.port} exited ${n.child.exitCode}: ${n.output}`);
        const r = await raw(n.port, "PING\r\n", 1000);
        return r.reply === "+PONG\r\n" ? true : null;
      });
      expect(n.output).toMatch(new RegExp(`^faultline node 127\\.0\\.0\\.1:${n.port} listening on 127\\.0\\.0\\.1:${n.port} \\(cluster bus 127\\.0\\.0\\.1:${n.port + 10000}\\)`));
    }
  });

  afterEach(({ task }) => {
    if (task.result?.state === "fail") console.error(`${task.name} failed; nodes in ${root}\n${diagnostics()}`);
  });

  afterAll(async () => {
    killAll();
    await Promise.all(nodes.map((n) => (n.child.exitCode !== null || n.child.signalCode !== null ? null : new Promise((r) => n.child.once("exit", r)))));
    if (root !== "") rmSync(root, { recursive: true, force: true });
  });

  it("redis-cli --cluster create forms a 3×2 cluster and --cluster check finds every slot covered", async () => {
    const create = await cli(["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "1", "--cluster-yes"]);
    expect(create.code, `redis-cli --cluster create:\n${create.stdout}${create.stderr}`).toBe(0);
    expect(create.stdout).toContain("[OK] All 16384 slots covered.");
    const check = await cli(["--cluster", "check", `127.0.0.1:${ports[0]}`]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain("[OK] All nodes agree about slots configuration.");
    expect(check.stdout).toContain("[OK] All 16384 slots covered.");
  });

  it("every node says cluster_state:ok, and CLUSTER NODES parses into 3 masters and 3 replicas", async () => {
    for (const p of ports) await waitFor(`cluster_state:ok on ${p}`, STATE_OK_TIMEOUT_MS, async () => ((await clusterInfo(p, "cluster_state")) === "ok" ? true : null));
    expect(await clusterInfo(ports[0] as number, "cluster_slots_assigned")).toBe("16384");
    expect(await clusterInfo(ports[0] as number, "cluster_known_nodes")).toBe("6");
    // Every node's table converges on the same 3 masters and 3 replicas (REPLICATE spreads by gossip).
    for (const p of ports) {
      await waitFor(`CLUSTER NODES on ${p} shows 3 masters with all slots and 3 replicas`, STATE_OK_TIMEOUT_MS, async () => {
        const lines = await clusterNodes(p);
        expect(lines.length).toBe(NODE_COUNT);
        expect(lines.filter((l) => l.flags.includes("myself")).map((l) => l.port)).toEqual([p]);
        expect(lines.every((l) => l.link === "connected")).toBe(true);
        const masters = lines.filter((l) => l.flags.includes("master"));
        const replicas = lines.filter((l) => l.flags.includes("slave"));
        const settled =
          masters.length === 3 &&
          replicas.length === 3 &&
          masters.reduce((n, m) => n + slotCount(m.slots), 0) === 16384 &&
          replicas.map((r) => r.master).sort().join() === masters.map((m) => m.id).sort().join();
        return settled ? true : null;
      });
    }
  });

  it("redis-cli -c sets and gets keys in every shard, following MOVED from any node", async () => {
    const all = shards.flat();
    for (const [i, key] of all.entries()) {
      const set = await cli(["-c", "-p", String(ports[i % NODE_COUNT]), "set", key, `value of ${key}`]);
      expect(set.stdout.trim(), set.stderr).toBe("OK");
    }
    for (const [i, key] of all.entries()) {
      const get = await cli(["-c", "-p", String(ports[(i + 3) % NODE_COUNT]), "get", key]);
      expect(get.stdout.trim(), get.stderr).toBe(`value of ${key}`);
    }
    // Without -c, a node that does not serve the slot redirects.
    const lines = await clusterNodes(ports[0] as number);
    const key = (shards[2] as string[])[0] as string;
    const notOwner = lines.find((l) => l.flags.includes("master") && !owns(l, keySlot(key))) as NodeLine;
    const owner = lines.find((l) => l.flags.includes("master") && owns(l, keySlot(key))) as NodeLine;
    const moved = await cli(["-p", String(notOwner.port), "get", key]);
    expect(moved.stdout.trim()).toBe(`MOVED ${keySlot(key)} 127.0.0.1:${owner.port}`);
  });

  it(`redis-cli --cluster reshard moves ${RESHARD_SLOTS} slots while ioredis writes into them; every acknowledged write is readable`, async () => {
    // From the last shard (the failover tests below kill the master of the first one and expect
    // its layout unchanged) to the middle one.
    const before = await clusterNodes(ports[0] as number);
    const source = before.find((l) => l.flags.includes("master") && owns(l, 16383)) as NodeLine;
    const target = before.find((l) => l.flags.includes("master") && !owns(l, 0) && l.id !== source.id) as NodeLine;
    let first = 0;
    while (!owns(source, first)) first++;
    const moving = (slot: number) => slot >= first && slot < first + RESHARD_SLOTS;
    // One hash tag per moving slot (the source's lowest, which redis-cli moves from a single source).
    const tags: string[] = [];
    for (let n = 0; tags.length < RESHARD_SLOTS && n < 5_000_000; n++) if (moving(keySlot(`r${n}`)) && !tags.some((t) => keySlot(t) === keySlot(`r${n}`))) tags.push(`{r${n}}`);
    expect(tags).toHaveLength(RESHARD_SLOTS);
    const client = new Cluster([{ host: "127.0.0.1", port: ports[0] as number }], {
      retryDelayOnMoved: 0,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      clusterRetryStrategy: (times) => (times > 50 ? null : 100),
      redisOptions: { connectTimeout: 2000, commandTimeout: 2000, maxRetriesPerRequest: 3 },
    });
    client.on("error", () => {});
    const acked = new Map<string, string>();
    let failed = 0;
    let writing = true;
    // One writer, each key written once: an acknowledged value is the value the key must have.
    const writer = (async () => {
      for (let i = 0; writing || i < RESHARD_SLOTS; i++) {
        const key = `${tags[i % RESHARD_SLOTS]}k${i}`;
        try {
          if ((await client.set(key, `v${i}`)) === "OK") acked.set(key, `v${i}`);
        } catch {
          failed++;
        }
      }
    })();
    try {
      const reshard = await cli(["--cluster", "reshard", `127.0.0.1:${ports[0]}`, "--cluster-from", source.id, "--cluster-to", target.id, "--cluster-slots", String(RESHARD_SLOTS), "--cluster-yes"], 120_000);
      writing = false;
      await writer;
      expect(reshard.code, `redis-cli --cluster reshard:\n${reshard.stdout}${reshard.stderr}`).toBe(0);
      const after = await clusterNodes(ports[0] as number);
      const moved = after.find((l) => l.id === target.id) as NodeLine;
      for (let slot = first; slot < first + RESHARD_SLOTS; slot++) expect(owns(moved, slot), `slot ${slot} now on the target`).toBe(true);
      const check = await cli(["--cluster", "check", `127.0.0.1:${ports[0]}`]);
      expect(check.stdout).toContain("[OK] All 16384 slots covered.");
      const lost: string[] = [];
      for (const [key, value] of acked) if ((await client.get(key)) !== value) lost.push(key);
      console.log(`redis-cli --cluster reshard of ${RESHARD_SLOTS} slots under writes: ${acked.size} writes acknowledged, ${failed} failed, ${lost.length} acknowledged writes not readable`);
      expect(acked.size).toBeGreaterThan(RESHARD_SLOTS);
      expect(lost).toEqual([]);
    } finally {
      writing = false;
      await writer;
      client.disconnect();
    }
  });

  it("redis-benchmark --cluster runs SET and GET against the nodes without errors", async () => {
    if (redisBenchmark === null) throw new Error("redis-benchmark is not on PATH, and CI=true requires this suite: apt-get install redis-server");
    const run = await new Promise<Out>((resolve) => {
      execFile(redisBenchmark, ["--cluster", "-h", "127.0.0.1", "-p", String(ports[0]), "-t", "set,get", "-n", "20000", "-c", "20", "-r", "1000", "--csv"], { timeout: 120_000, encoding: "utf8" }, (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr });
      });
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const rps = new Map(
      run.stdout
        .split("\n")
        .filter((l) => /^"(SET|GET)"/.test(l))
        .map((l) => {
          const [test, value] = l.split(",") as [string, string];
          return [test.replaceAll('"', ""), Number(value.replaceAll('"', ""))];
        }),
    );
    console.log(`redis-benchmark --cluster (20 clients, 20000 requests, 1000 keys): SET ${rps.get("SET")}/s, GET ${rps.get("GET")}/s`);
    expect(rps.get("SET")).toBeGreaterThan(0);
    expect(rps.get("GET")).toBeGreaterThan(0);
    expect(run.stderr).not.toMatch(/error/i);
    // redis-benchmark --cluster spreads its clients over the masters, each writing keys tagged for
    // that master's slots (`key:{<tag>}:<n>`): every master now holds some.
    for (const m of (await clusterNodes(ports[0] as number)).filter((l) => l.flags.includes("master") && l.slots.length > 0)) {
      const keys = (await cli(["-p", String(m.port), "--scan", "--pattern", "key:{*"])).stdout.trim().split("\n").filter((k) => k !== "");
      expect(keys.length, `keys redis-benchmark wrote on ${m.port}`).toBeGreaterThan(0);
      for (const k of keys.slice(0, 20)) expect(owns(m, keySlot(k)), `${k} is in a slot of ${m.port}`).toBe(true);
    }
  });

  it("a malformed request gets Redis's protocol error and a closed connection; the node keeps serving others", async () => {
    const port = ports[1] as number;
    const idle = connect({ host: "127.0.0.1", port });
    await new Promise((r) => idle.once("connect", r));
    try {
      expect(await raw(port, "*1\r\n$-5\r\n", 5000)).toEqual({ reply: "-ERR Protocol error: invalid bulk length\r\n", closed: true });
      expect(await raw(port, "PING\r\n*2\r\n$3\r\nGET\r\nxyz\r\n", 5000)).toEqual({ reply: "+PONG\r\n-ERR Protocol error: expected '$', got 'x'\r\n", closed: true });
      expect(await raw(port, '"unbalanced\r\n', 5000)).toEqual({ reply: "-ERR Protocol error: unbalanced quotes in request\r\n", closed: true });
      // Garbage that parses as an inline command is just an unknown command; the connection stays.
      const garbage = await raw(port, "\x00\xff garbage \x01\r\n", 500);
      expect(garbage.closed).toBe(false);
      // Redis prints argv[0] with %s, which stops at the NUL.
      expect(garbage.reply).toMatch(/^-ERR unknown command '', with args beginning with: 'garbage' /);
      // The connection opened before all that still works.
      const pong = new Promise<string>((resolve) => idle.once("data", (b: Buffer) => resolve(b.toString("latin1"))));
      idle.write("PING\r\n");
      expect(await pong).toBe("+PONG\r\n");
      expect((await cli(["-p", String(port), "ping"])).stdout.trim()).toBe("PONG");
    } finally {
      idle.destroy();
    }
  });

  it("SIGKILL of a master: its replica is promoted, the cluster returns to ok, and the other shards still serve", async () => {
    // Kill the master of shard 0; ask through the master of shard 1 (a survivor).
    const before = await clusterNodes(ports[0] as number);
    const slot0 = keySlot((shards[0] as string[])[0] as string);
    const victim = before.find((l) => l.flags.includes("master") && owns(l, slot0)) as NodeLine;
    const replica = before.find((l) => l.master === victim.id) as NodeLine;
    const survivor = before.find((l) => l.flags.includes("master") && l.id !== victim.id) as NodeLine;
    const victimNode = nodes.find((n) => n.port === victim.port) as Node;
    const killedAt = Date.now();
    victimNode.child.kill("SIGKILL");
    failover = { victim, replica };

    const promoted = await waitFor(`replica ${replica.port} promoted in place of ${victim.port}`, FAILOVER_TIMEOUT_MS, async () => {
      const lines = await clusterNodes(survivor.port);
      const r = lines.find((l) => l.id === replica.id);
      const v = lines.find((l) => l.id === victim.id);
      return r !== undefined && r.flags.includes("master") && owns(r, slot0) && v !== undefined && v.flags.includes("fail") ? Date.now() - killedAt : null;
    });
    console.log(`failover: replica ${replica.port} promoted ${promoted} ms after SIGKILL of ${victim.port} (node timeout ${NODE_TIMEOUT_MS} ms)`);

    for (const p of ports.filter((p) => p !== victim.port)) {
      await waitFor(`cluster_state:ok on ${p} after the failover`, STATE_OK_TIMEOUT_MS, async () => ((await clusterInfo(p, "cluster_state")) === "ok" ? true : null));
    }
    for (const key of [...(shards[1] as string[]), ...(shards[2] as string[])]) {
      const get = await cli(["-c", "-p", String(survivor.port), "get", key]);
      expect(get.stdout.trim(), get.stderr).toBe(`value of ${key}`);
    }
    // The promoted replica had replicated shard 0's keys before the crash (seconds earlier).
    for (const key of shards[0] as string[]) {
      const get = await cli(["-c", "-p", String(survivor.port), "get", key]);
      expect(get.stdout.trim(), get.stderr).toBe(`value of ${key}`);
    }
  });

  it("the killed master restarts from its nodes.conf and rejoins as a replica of its replacement", async () => {
    expect(failover, "the failover test ran").not.toBeNull();
    const { victim, replica } = failover as { victim: NodeLine; replica: NodeLine };
    const i = nodes.findIndex((n) => n.port === victim.port);
    const old = nodes[i] as Node;
    nodes[i] = startNode(old.port, old.dir, old.logfile);
    await waitFor(`node ${victim.port} rejoins as a replica of ${replica.port}`, FAILOVER_TIMEOUT_MS, async () => {
      const back = (await clusterNodes(replica.port)).find((l) => l.id === victim.id);
      return back !== undefined && back.flags.includes("slave") && !back.flags.includes("fail") && back.master === replica.id ? true : null;
    });
    expect(readFileSync(old.logfile, "utf8")).toMatch(/"type":"recovered-file","file":"nodes.conf","records":1,"droppedBytes":0/);
  });

  it("SIGTERM stops a node gracefully with exit status 0", async () => {
    const n = nodes[nodes.length - 1] as Node;
    const exited = new Promise<number | null>((resolve) => n.child.once("exit", (code) => resolve(code)));
    n.child.kill("SIGTERM");
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("timeout"), 10_000))]);
    expect(code).toBe(0);
    expect(readFileSync(n.logfile, "utf8")).toMatch(/"type":"stopped"/);
  });
});
