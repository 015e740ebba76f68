// `faultline local up | down | status`: a whole cluster on this machine in one command.
//
// `up` starts masters × (1 + replicas) `faultline node` processes in the background (detached:
// they outlive the command and ignore the terminal's Ctrl-C), forms the cluster with
// `faultline cluster create`'s code, and waits until every node says cluster_state:ok. `down`
// stops them: SIGTERM, then SIGKILL after a bound. The processes, their records and their stop
// are procs.ts's `ProcGroup`, shared with `faultline raft local`.
//
// Everything lives in one directory (default ./.faultline-local):
//
//   local.json        what was started: ports, pids, files (written before each spawn, so a
//                     failed `up` can still be cleaned up and `down` always knows what is ours)
//   nodes/<port>/     each node's --dir (nodes.conf)
//   logs/<port>.log   each node's JSON-lines log
//   logs/<port>.out   what each process printed (its start line, fatal errors)

import { join } from "node:path";
import { AdminError, clusterCreate, infoFields, type Out } from "./admin.js";
import { MASTERS_MIN } from "./cluster-table.js";
import { type GroupKind, type GroupState, isOurProcess, type MemberFiles, POLL_MS, ProcGroup, sleep, stateStamp, STOP_GRACE_MS } from "./procs.js";
import { ConnectionError, RespClient } from "./resp-client.js";

export const LOCAL_DIR_DEFAULT = ".faultline-local";
/** A node must answer PING this soon after its spawn. */
const START_TIMEOUT_MS = 15_000;
/** How long `up` waits for cluster_state:ok everywhere after the cluster is formed. */
const STATE_OK_TIMEOUT_MS = 30_000;
/** The most nodes `up` starts: enough for any laptop experiment, few enough to notice a typo. */
const NODES_MAX = 100;

interface NodeRecord extends MemberFiles {
  readonly port: number;
}

interface LocalState extends GroupState {
  readonly masters: number;
  readonly replicas: number;
  readonly nodeTimeoutMs: number;
  readonly nodes: NodeRecord[];
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

const NODES: GroupKind<NodeRecord, LocalState> = {
  file: "local.json",
  command: "faultline local",
  title: "local cluster",
  noun: "cluster",
  member: "node",
  dataDir: "nodes",
  keys: "ports",
  rival: "Redis or faultline cluster",
  argv: { words: ["node"], flag: "--port" },
  records: (state) => state.nodes,
  key: (n) => String(n.port),
  name: (n) => `node ${n.port}`,
  label: (n) => `127.0.0.1:${n.port}`,
  ports: (n) => [
    [n.port, "client"],
    [n.port + 10000, "cluster bus"],
  ],
};

/** Whether `pid` is alive and is the faultline node we started on `port` (on Linux its command line is checked). */
export function isOurNode(pid: number, port: number): boolean {
  return isOurProcess(pid, NODES.argv, String(port));
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
  const group = new ProcGroup(opts.dir, NODES);
  const dir = group.dir;
  group.prepare(out);
  const ports = Array.from({ length: count }, (_, i) => opts.portBase + i);
  const nodes: NodeRecord[] = ports.map((port) => ({ port, pid: null, ...group.files(String(port)) }));
  await group.checkPortsFree(nodes);

  const state: LocalState = { ...stateStamp(), masters: opts.masters, replicas: opts.replicas, nodeTimeoutMs: opts.nodeTimeoutMs, nodes, stoppedAt: null };
  out.line(`Starting ${count} nodes (${opts.masters} masters, ${opts.replicas} replica${opts.replicas === 1 ? "" : "s"} each) on 127.0.0.1:${ports[0]}-${ports.at(-1)}, node timeout ${opts.nodeTimeoutMs} ms`);
  const args = (n: NodeRecord) => ["node", "--port", String(n.port), "--cluster-enabled", "yes", "--cluster-node-timeout", String(opts.nodeTimeoutMs), "--dir", join(dir, n.dir), "--logfile", join(dir, n.log)];
  await group.start(state, opts.launcher, args, async (checkExit) => {
    for (const n of nodes) await waitForPing(group, n, checkExit);
    out.line(`All ${count} nodes answer PING.`);
    await clusterCreate({ addresses: ports.map((p) => `127.0.0.1:${p}`), replicas: opts.replicas, yes: true }, stepsOnly(out));
    await waitForStateOk(ports, out);
  }, out);

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

async function waitForPing(group: ProcGroup<NodeRecord, LocalState>, n: NodeRecord, checkExit: (n: NodeRecord) => void): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    checkExit(n);
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
    if (Date.now() >= deadline) throw new AdminError(`node ${n.port} does not answer PING after ${START_TIMEOUT_MS / 1000} s; its log ends:\n${group.tail(n.log)}`);
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

export async function localDown(dirOption: string, out: Out, graceMs = STOP_GRACE_MS): Promise<void> {
  const group = new ProcGroup(dirOption, NODES);
  const stopped = await group.down(out, graceMs);
  if (stopped > 0) out.line(`Stopped ${stopped} node${stopped === 1 ? "" : "s"}. Logs kept in ${join(group.dir, "logs")}; the next faultline local up there replaces them.`);
}

export async function localStatus(dirOption: string, out: Out): Promise<boolean> {
  return new ProcGroup(dirOption, NODES).status(out, (s) => `${s.masters} masters × ${1 + s.replicas}`, (n) => describeNode(n.port));
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
