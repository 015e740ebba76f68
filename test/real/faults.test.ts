// Real faults on real `faultline node` processes, each suite on its own six-node cluster (3 masters,
// 1 replica each, node timeout 1000 ms, formed by `faultline cluster create`):
//
// - SIGSTOP of a master for longer than the node timeout, then SIGCONT: its replica is promoted
//   meanwhile; the resumed master refuses writes to its old slots (MOVED or CLUSTERDOWN, never
//   OK), whether the SET waited in its socket while it was stopped or came right after SIGCONT,
//   and it steps down to a replica of its replacement.
// - SIGKILL of all six nodes under `--appendonly yes --appendfsync always`, then a restart on the
//   same ports and dirs: the cluster comes back ok and every acknowledged key is served.
// - A partition: the nodes run in a network namespace of their own, and iptables there drops the
//   bus traffic of one master. The majority promotes its replica; the isolated master refuses
//   writes; once the rules are gone it rejoins as a replica. Needs root, `ip netns`, nsenter and
//   iptables; without them the suite is skipped with the reason in its name.
//
// Needs dist/ (`npm test` builds). 127.0.0.1 only; every wait is bounded; every process, rule and
// namespace made here is removed in afterAll, whatever happened.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../../core/cluster/slots.js";
import type { SlotSet } from "../../core/cluster/slots.js";
import type { NodeEntry } from "../../node-runtime/cluster-table.js";
import { RespClient } from "../../node-runtime/resp-client.js";
import {
  alive,
  assertBuilt,
  callFollowingMoved,
  clusterState,
  diagnostics,
  formCluster,
  freeClusterPort,
  killNodes,
  type NodeOptions,
  type NodeProcess,
  onPath,
  replyText,
  sleep,
  startNodeWith,
  tableOf,
  waitFor,
  waitForPing,
} from "./support.js";

const NODE_TIMEOUT_MS = 1000;
const START_TIMEOUT_MS = 15_000;
const SETTLE_TIMEOUT_MS = 15_000;
/** Generous for node timeout 1 s: PFAIL after 1 s, FAIL soon after, an election within 1–2 s. */
const FAILOVER_TIMEOUT_MS = 10_000;
/** How long the master stays stopped at least: three node timeouts. */
const STOP_MS = 3_000;
/** How long a resumed or healed master may take to become a replica of its replacement. */
const STEP_DOWN_TIMEOUT_MS = 10_000;
/** Keys written before the full restart. */
const RESTART_KEYS = 200;
/** A write the old master must refuse: a redirect to the new owner, or the cluster is down for it. */
const REFUSED = /^-(MOVED \d+ 127\.0\.0\.1:\d+|CLUSTERDOWN .*)$/;

/** Starts six nodes on free ports under a new temporary root; resolves once all answer PING. */
async function startSix(prefix: string, nodes: NodeProcess[], options: (i: number) => NodeOptions = () => ({})): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const taken = new Set<number>();
  for (let i = 0; i < 6; i++) {
    const port = await freeClusterPort(taken);
    taken.add(port);
    nodes.push(startNodeWith(root, port, NODE_TIMEOUT_MS, options(i)));
  }
  await waitForPing(nodes, START_TIMEOUT_MS);
  return root;
}

/** The master of slot 0, its replica and another master, as `port` sees them. */
async function shardOfSlot0(port: number): Promise<{ victim: NodeEntry; replica: NodeEntry; survivor: NodeEntry }> {
  const table = await tableOf(port);
  const victim = table.find((e) => e.master && e.slots.has(0));
  const replica = victim === undefined ? undefined : table.find((e) => e.masterId === victim.id);
  const survivor = table.find((e) => e.master && e.slots.size > 0 && e !== victim);
  if (victim === undefined || replica === undefined || survivor === undefined) throw new Error(`no master of slot 0 with a replica in ${port}'s table`);
  return { victim, replica, survivor };
}

/** A key whose slot is in `slots`. */
function keyIn(slots: SlotSet, prefix: string): string {
  for (let i = 0; ; i++) if (slots.has(keySlot(`${prefix}:${i}`))) return `${prefix}:${i}`;
}

/** Waits until `port` sees `replica` as the master of slot 0 and `victim` as failed. */
async function waitForPromotion(port: number, victim: NodeEntry, replica: NodeEntry): Promise<void> {
  await waitFor(`${port} sees ${replica.address} promoted in place of ${victim.address}`, FAILOVER_TIMEOUT_MS, async () => {
    const t = await tableOf(port);
    const r = t.find((e) => e.id === replica.id);
    const v = t.find((e) => e.id === victim.id);
    return r !== undefined && r.master && r.slots.has(0) && v !== undefined && v.flags.has("fail") ? true : null;
  });
}

/** Waits until the old master, in its own table and in its replacement's, is a replica of it. */
async function waitForStepDown(victim: NodeEntry, replica: NodeEntry): Promise<void> {
  for (const [port, whose] of [
    [victim.port, "its own"],
    [replica.port, "the new master's"],
  ] as const) {
    await waitFor(`${victim.address} is a replica of ${replica.address} in ${whose} CLUSTER NODES`, STEP_DOWN_TIMEOUT_MS, async () => {
      const v = (await tableOf(port)).find((e) => e.id === victim.id);
      return v !== undefined && !v.master && v.flags.has("slave") && !v.flags.has("fail") && v.masterId === replica.id && v.slots.size === 0 ? true : null;
    });
  }
}

function killOnExit(nodes: readonly NodeProcess[]): void {
  process.once("exit", () => {
    for (const n of nodes) if (alive(n)) n.child.kill("SIGKILL");
  });
}

describe("SIGSTOP of a master for 3 node timeouts, then SIGCONT", () => {
  const nodes: NodeProcess[] = [];
  let root = "";
  const clients: RespClient[] = [];

  beforeAll(async () => {
    assertBuilt();
    killOnExit(nodes);
    root = await startSix("faultline-sigstop-", nodes);
    await formCluster(
      nodes.map((n) => n.port),
      SETTLE_TIMEOUT_MS,
    );
  });

  afterEach(({ task }) => {
    if (task.result?.state === "fail") console.error(`${task.name} failed; nodes in ${root}\n${diagnostics(nodes)}`);
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await killNodes(nodes);
    if (root !== "") rmSync(root, { recursive: true, force: true });
  });

  it("the replica is promoted meanwhile; the resumed master refuses writes to its old slots and steps down", async () => {
    const { victim, replica, survivor } = await shardOfSlot0((nodes[0] as NodeProcess).port);
    const key = keyIn(victim.slots, "paused");
    expect(replyText(await callFollowingMoved(survivor.port, ["SET", key, "before"]))).toBe("OK");
    // Both connections are open before the stop: one SET waits in the socket while the node is
    // stopped, the other is sent right after SIGCONT.
    const queued = await RespClient.connect("127.0.0.1", victim.port, 2_000);
    const direct = await RespClient.connect("127.0.0.1", victim.port, 2_000);
    clients.push(queued, direct);
    const proc = nodes.find((n) => n.port === victim.port) as NodeProcess;

    const stoppedMs = Date.now();
    proc.child.kill("SIGSTOP");
    const queuedReply = queued.call(["SET", key, "sent while stopped"], STOP_MS + FAILOVER_TIMEOUT_MS);
    await waitForPromotion(survivor.port, victim, replica);
    const promotedMs = Date.now() - stoppedMs;
    await sleep(Math.max(0, stoppedMs + STOP_MS - Date.now()));
    const stopMs = Date.now() - stoppedMs;
    proc.child.kill("SIGCONT");
    const afterReply = replyText(await direct.call(["SET", key, "sent after SIGCONT"], 5_000));
    const whileReply = replyText(await queuedReply);
    console.log(`SIGSTOP ${victim.address}: replica ${replica.address} promoted (seen by ${survivor.address}) ${promotedMs} ms after the stop; SIGCONT after ${stopMs} ms; SET sent while stopped -> ${whileReply}; SET right after SIGCONT -> ${afterReply}`);
    expect(whileReply, "the SET that waited in the socket while the master was stopped").toMatch(REFUSED);
    expect(afterReply, "the SET sent right after SIGCONT").toMatch(REFUSED);

    const resumedMs = Date.now();
    await waitForStepDown(victim, replica);
    console.log(`${victim.address} is a replica of ${replica.address} ${Date.now() - resumedMs} ms after SIGCONT`);
    expect(replyText(await callFollowingMoved(survivor.port, ["GET", key]))).toBe("before");
    for (const n of nodes) await waitFor(`cluster_state:ok on ${n.port}`, SETTLE_TIMEOUT_MS, async () => ((await clusterState(n.port)) === "ok" ? true : null));
  });
});

describe("SIGKILL of all six nodes with --appendonly yes --appendfsync always, then a restart from their dirs", () => {
  const nodes: NodeProcess[] = [];
  const options: NodeOptions = { args: ["--appendonly", "yes", "--appendfsync", "always"] };
  let root = "";

  beforeAll(async () => {
    assertBuilt();
    killOnExit(nodes);
    root = await startSix("faultline-restart-", nodes, () => options);
    await formCluster(
      nodes.map((n) => n.port),
      SETTLE_TIMEOUT_MS,
    );
  });

  afterEach(({ task }) => {
    if (task.result?.state === "fail") console.error(`${task.name} failed; nodes in ${root}\n${diagnostics(nodes)}`);
  });

  afterAll(async () => {
    await killNodes(nodes);
    if (root !== "") rmSync(root, { recursive: true, force: true });
  });

  it("the cluster comes back ok on the same ports and every acknowledged key is served by its master", async () => {
    const ports = nodes.map((n) => n.port);
    const acked = new Map<string, string>();
    for (let i = 0; i < RESTART_KEYS; i++) {
      const key = `durable:${i}`;
      const reply = replyText(await callFollowingMoved(ports[i % ports.length] as number, ["SET", key, `value ${i}`]));
      if (reply === "OK") acked.set(key, `value ${i}`);
    }
    expect(acked.size, "every SET was acknowledged").toBe(RESTART_KEYS);

    const killedMs = Date.now();
    await killNodes(nodes);
    for (const [i, n] of nodes.entries()) nodes[i] = startNodeWith(root, n.port, NODE_TIMEOUT_MS, options);
    await waitForPing(nodes, START_TIMEOUT_MS);
    for (const p of ports) {
      await waitFor(`${p} is ok again and sees 3 masters and 3 replicas`, SETTLE_TIMEOUT_MS, async () => {
        if ((await clusterState(p)) !== "ok") return null;
        const t = await tableOf(p);
        return t.filter((e) => e.master && e.slots.size > 0).length === 3 && t.filter((e) => !e.master && e.masterId !== null).length === 3 ? true : null;
      });
    }
    console.log(`full restart: all six ok ${Date.now() - killedMs} ms after the SIGKILL`);

    const lost: string[] = [];
    for (const [i, [key, value]] of [...acked.entries()].entries()) {
      const got = replyText(await callFollowingMoved(ports[(i + 3) % ports.length] as number, ["GET", key]));
      if (got !== value) lost.push(`${key}: ${got}`);
    }
    expect(lost, "acknowledged keys not served after the restart").toEqual([]);
    // Nothing but those keys either: the masters' DBSIZEs add up to the keys written.
    const masters = (await tableOf(ports[0] as number)).filter((e) => e.master && e.slots.size > 0);
    let keys = 0;
    for (const m of masters) keys += Number(replyText(await callFollowingMoved(m.port, ["DBSIZE"])));
    expect(keys).toBe(RESTART_KEYS);
  });
});

// ---- partition in a network namespace -----------------------------------------------------------

/** The group the isolated master runs as: iptables matches its outgoing bus connections by it. */
const ISOLATED_GID = 65534;

/** Runs a command to completion; returns its stderr and stdout when it fails, null when it succeeds. */
function tryRun(file: string, args: readonly string[]): string | null {
  const r = spawnSync(file, args, { encoding: "utf8", timeout: 10_000 });
  if (r.error !== undefined) return `${file} ${args.join(" ")}: ${r.error.message}`;
  return r.status === 0 ? null : `${file} ${args.join(" ")} exited ${r.status}: ${(r.stderr + r.stdout).trim()}`;
}

/** Why the partition suite cannot run here, or null: root, ip netns, nsenter, and iptables with the owner match inside a namespace. */
function netnsUnavailable(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root (ip netns and iptables need it)";
  for (const tool of ["ip", "nsenter", "iptables"]) if (onPath(tool) === null) return `${tool} is not on PATH (apt-get install iproute2 util-linux iptables)`;
  const probe = `faultline-probe-${process.pid}`;
  const failed =
    tryRun("ip", ["netns", "add", probe]) ??
    tryRun("ip", ["netns", "exec", probe, "iptables", "-A", "OUTPUT", "-p", "tcp", "-m", "owner", "--gid-owner", String(ISOLATED_GID), "--dport", "1", "-j", "DROP"]);
  tryRun("ip", ["netns", "del", probe]);
  return failed;
}

const netnsSkip = netnsUnavailable();
if (netnsSkip !== null) console.warn(`test/real/faults.test.ts: the partition suite is skipped: ${netnsSkip}`);

/**
 * Inside the namespace: one Unix socket per client port, each piped to 127.0.0.1:port there.
 * Socket files are not per namespace, so the test (outside) reaches the nodes through them.
 */
const FORWARDER = `
const net = require("node:net");
const [dir, ...ports] = process.argv.slice(1);
let listening = 0;
for (const port of ports) {
  net.createServer((c) => {
    const up = net.connect(Number(port), "127.0.0.1");
    const end = () => { c.destroy(); up.destroy(); };
    c.pipe(up); up.pipe(c);
    for (const s of [c, up]) { s.on("error", end); s.on("close", end); }
  }).listen(dir + "/fwd-" + port + ".sock", () => { if (++listening === ports.length) console.log("ready"); });
}
`;

/** Outside: 127.0.0.1:port piped to the forwarder's socket for that port, so every helper (and faultline cluster create) works unchanged. */
function proxy(root: string, port: number): Promise<Server> {
  const server = createServer((c: Socket) => {
    const up = connect({ path: join(root, `fwd-${port}.sock`) });
    const end = () => {
      c.destroy();
      up.destroy();
    };
    c.pipe(up);
    up.pipe(c);
    for (const s of [c, up]) {
      s.on("error", end);
      s.on("close", end);
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => resolve(server));
  });
}

describe.skipIf(netnsSkip !== null)(`a partition by iptables in a network namespace${netnsSkip === null ? "" : ` (skipped: ${netnsSkip})`}`, () => {
  const ns = `faultline-test-${process.pid}`;
  const nsPath = `/run/netns/${ns}`;
  const nodes: NodeProcess[] = [];
  const proxies: Server[] = [];
  let forwarder: ChildProcess | null = null;
  let root = "";
  let nsMade = false;

  /** iptables inside the namespace; throws with its output when it fails. */
  function iptables(args: readonly string[]): void {
    const failed = tryRun("ip", ["netns", "exec", ns, "iptables", ...args]);
    if (failed !== null) throw new Error(failed);
  }

  function cleanUp(): void {
    for (const n of nodes) if (alive(n)) n.child.kill("SIGKILL");
    if (forwarder !== null && forwarder.exitCode === null && forwarder.signalCode === null) forwarder.kill("SIGKILL");
    // Deleting the namespace drops its rules with it.
    if (nsMade) tryRun("ip", ["netns", "del", ns]);
  }

  beforeAll(async () => {
    assertBuilt();
    process.once("exit", cleanUp);
    const added = tryRun("ip", ["netns", "add", ns]);
    if (added !== null) throw new Error(added);
    nsMade = true;
    const up = tryRun("ip", ["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
    if (up !== null) throw new Error(up);
    root = mkdtempSync(join(tmpdir(), "faultline-netns-"));
    const taken = new Set<number>();
    const ports: number[] = [];
    for (let i = 0; i < 6; i++) {
      const port = await freeClusterPort(taken);
      taken.add(port);
      ports.push(port);
    }
    const fwd = spawn("nsenter", [`--net=${nsPath}`, process.execPath, "-e", FORWARDER, root, ...ports.map(String)], { stdio: ["ignore", "pipe", "pipe"] });
    forwarder = fwd;
    let fwdOutput = "";
    fwd.stdout?.on("data", (b: Buffer) => (fwdOutput += b.toString("utf8")));
    fwd.stderr?.on("data", (b: Buffer) => (fwdOutput += b.toString("utf8")));
    await waitFor("the forwarder in the namespace listens", START_TIMEOUT_MS, async () => (fwdOutput.includes("ready") ? true : null));
    for (const p of ports) proxies.push(await proxy(root, p));
    // The first node becomes the master of slot 0 (cluster create's order): it runs as its own group.
    for (const [i, port] of ports.entries()) {
      const launcher = ["nsenter", `--net=${nsPath}`, ...(i === 0 ? [`--setgid=${ISOLATED_GID}`] : [])];
      nodes.push(startNodeWith(root, port, NODE_TIMEOUT_MS, { launcher }));
    }
    await waitForPing(nodes, START_TIMEOUT_MS);
    await formCluster(ports, SETTLE_TIMEOUT_MS);
  });

  afterEach(({ task }) => {
    if (task.result?.state === "fail") console.error(`${task.name} failed; nodes in ${root}\n${diagnostics(nodes)}`);
  });

  afterAll(async () => {
    await Promise.all(proxies.map((s) => new Promise((r) => s.close(r))));
    cleanUp();
    await killNodes(nodes);
    if (root !== "") rmSync(root, { recursive: true, force: true });
  });

  it("the majority promotes the isolated master's replica; once healed, the old master rejoins as a replica", async () => {
    const { victim, replica, survivor } = await shardOfSlot0((nodes[1] as NodeProcess).port);
    expect(victim.port, "the master of slot 0 is the node started with its own group").toBe((nodes[0] as NodeProcess).port);
    const key = keyIn(victim.slots, "partitioned");
    expect(replyText(await callFollowingMoved(survivor.port, ["SET", key, "before"]))).toBe("OK");
    const victimBus = victim.port + 10000;
    const otherBuses = nodes.filter((n) => n.port !== victim.port).map((n) => String(n.port + 10000));
    const rules = [
      // What the others send to its bus port (their links to it) …
      ["INPUT", "-p", "tcp", "--dport", String(victimBus), "-j", "DROP"],
      // … and what it sends on its own links to their bus ports.
      ["OUTPUT", "-p", "tcp", "-m", "owner", "--gid-owner", String(ISOLATED_GID), "-m", "multiport", "--dports", otherBuses.join(","), "-j", "DROP"],
    ];

    const cutMs = Date.now();
    for (const r of rules) iptables(["-A", ...r]);
    await waitForPromotion(survivor.port, victim, replica);
    const promotedMs = Date.now() - cutMs;
    // The isolated master hears no majority: it says so, and refuses writes to its slots.
    await waitFor(`${victim.address} reports cluster_state:fail while isolated`, FAILOVER_TIMEOUT_MS, async () => ((await clusterState(victim.port)) === "fail" ? true : null));
    const c = await RespClient.connect("127.0.0.1", victim.port, 2_000);
    let isolatedReply: string;
    try {
      isolatedReply = replyText(await c.call(["SET", key, "sent while isolated"], 5_000));
    } finally {
      c.close();
    }
    expect(isolatedReply).toMatch(/^-CLUSTERDOWN /);

    for (const r of rules) iptables(["-D", ...r]);
    const healedMs = Date.now();
    await waitForStepDown(victim, replica);
    const rejoinedMs = Date.now() - healedMs;
    for (const n of nodes) await waitFor(`cluster_state:ok on ${n.port} after the heal`, SETTLE_TIMEOUT_MS, async () => ((await clusterState(n.port)) === "ok" ? true : null));
    console.log(`partition of ${victim.address}: replica ${replica.address} promoted ${promotedMs} ms after the cut; isolated SET -> ${isolatedReply}; rejoined as a replica ${rejoinedMs} ms after the heal`);
    expect(replyText(await callFollowingMoved(survivor.port, ["GET", key]))).toBe("before");
  });
});
